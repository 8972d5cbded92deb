"""A member's checkpoint in the format of a solo run's ``last.ckpt`` (Lightning's, plus lrframe's keys).

A solo run saves right after optimizer step ``s`` (mid-epoch, from ``on_train_batch_end``) or at
an epoch end after validation; ``lightning_loops`` writes Lightning 2.6's loop progress as it stands
at those two points, so ``train.py ... resume=PATH`` continues a member alone exactly where the
group was (the tests compare every key with a solo run's checkpoint at the same step).
"""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import torch

from lrframe.run_files import write_atomically


def _progress(total: int, current: int, *, started: bool = True, processed: bool = True,
              completed_lag: int = 0) -> dict:
    def counts(n: int) -> dict:
        out = {"ready": n, "completed": n - completed_lag}
        if started:
            out["started"] = n
        if processed:
            out["processed"] = n
        return out
    return {"total": counts(total), "current": counts(current)}


def _epoch_progress(epoch: int, validated: bool) -> dict:
    """Lightning's epoch progress in epoch ``epoch``, before or after its validation."""
    done = {"ready": epoch + 1, "completed": epoch, "started": epoch + 1, "processed": epoch + validated}
    return {"total": dict(done), "current": dict(done)}


def _eval_loop(batches: bool = True) -> dict:
    zero = {"ready": 0, "completed": 0, "started": 0, "processed": 0}
    progress = {"total": dict(zero), "current": dict(zero)}
    return {"state_dict": {}, "batch_progress": {**progress, "is_last_batch": False} if batches else progress}


def lightning_loops(step: int, steps_per_epoch: int, val_batches: int, epoch_end: bool) -> dict:
    """``checkpoint["loops"]`` of a solo run saved after ``step`` optimizer steps.

    ``epoch_end``: saved at the end of the epoch whose last step is ``step`` (after validation);
    otherwise saved right after step ``step`` in the middle of an epoch.
    """
    if epoch_end:
        epoch, position = (step - 1) // steps_per_epoch, steps_per_epoch - (-step % steps_per_epoch)
    else:
        epoch, position = divmod(step, steps_per_epoch)
    lag = 0 if epoch_end else 1  # mid-epoch, the batch that just stepped is not "completed" yet
    validated_total = val_batches if epoch_end else 0
    validated_current = val_batches if (epoch_end or epoch > 0) else 0
    val_counts = {"ready": validated_total, "completed": validated_total, "started": validated_total,
                  "processed": validated_total}
    val_current = {key: validated_current for key in val_counts}
    step_counts = _progress(step, position, started=False, processed=False)
    zero_grad = _progress(step, position, processed=False)
    fit_loop = {
        "state_dict": {"combined_loader": [{"epoch": epoch, "position": position}]},
        "epoch_loop.state_dict": {"_batches_that_stepped": step - lag},
        "epoch_loop.batch_progress": {**_progress(step, position, completed_lag=lag), "is_last_batch": epoch_end},
        "epoch_loop.scheduler_progress": _progress(step, position, started=False, processed=False),
        "epoch_loop.automatic_optimization.state_dict": {},
        "epoch_loop.automatic_optimization.optim_progress": {"optimizer": {"step": step_counts,
                                                                           "zero_grad": zero_grad}},
        "epoch_loop.manual_optimization.state_dict": {},
        "epoch_loop.manual_optimization.optim_step_progress": _progress(0, 0, started=False, processed=False),
        "epoch_loop.val_loop.state_dict": {},
        "epoch_loop.val_loop.batch_progress": {"total": val_counts, "current": val_current,
                                               "is_last_batch": validated_current > 0},
        "epoch_progress": _epoch_progress(epoch, epoch_end),
    }
    return {"fit_loop": fit_loop, "validate_loop": _eval_loop(), "test_loop": _eval_loop(),
            "predict_loop": _eval_loop(batches=False)}


class Writer:
    """Writes a batch of checkpoints in one background thread (each atomically: temporary file,
    fsync, rename): the group serializes every member's checkpoint where it is taken, hands the
    batch over and trains on; the next batch (or ``close``) waits for the previous one."""

    def __init__(self):
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def save(self, checkpoints: list[tuple[dict, Path]]) -> None:
        serialized = []
        for checkpoint, path in checkpoints:
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            serialized.append((buffer.getbuffer(), path))
        self.wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fused-checkpoints")
        self._pending = self._pool.submit(lambda: [write_atomically(data, path) for data, path in serialized])

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
