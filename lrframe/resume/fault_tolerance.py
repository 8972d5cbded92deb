"""Callbacks that make a run crash-safe and exactly resumable.

- ``LastCheckpoint`` writes ``checkpoints/last.ckpt`` every ``checkpoint.every_n_steps`` optimizer
  steps and at every epoch end, with the state of every random-number generator the run may draw
  from; it ends training at the planned step (see ``lightning_limits``), and on SIGTERM/SIGINT
  saves at the end of the current step and stops.
- ``DivergenceGuard`` stops at a non-finite loss, and no checkpoint is ever written from a
  non-finite state, so the last good one stays.
- ``ConfigChanges`` applies a changed config to a resumed run (``resume_allow_changes=true``).

Where a checkpoint is taken decides what a resumed run redoes. Saves happen only right after an
optimizer step (never in the middle of a gradient-accumulation window, whose gradients are not
saved) and never on an epoch's last batch: that state is saved at the epoch end instead, after
validation. So a resumed run re-logs nothing at a step before its checkpoint's, and TensorBoard's
``purge_step`` (set to the checkpoint's step) discards exactly the points it redoes.
"""

from __future__ import annotations

import logging
import math
import random
import signal
import threading
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint

from lrframe.training.callbacks import group_tags
from lrframe.resume.checkpoint import ResumePoint, last_checkpoint
from lrframe.config.validate import Plan
from lrframe.config.errors import Diverged, Interrupted, Stopped, WriteFailed
from lrframe.schedules.scheduler import ScheduledLR
from lrframe.training.schedule_free import GROUP_STATE

log = logging.getLogger(__name__)


class DivergenceGuard(pl.Callback):
    """Stop the run at the first non-finite loss, with no device synchronisation per step.

    Each micro-batch's detached loss (a reference to a tensor the step computed anyway) is kept
    with its step and lr. Every ``every_n_steps`` optimizer steps (the logging cadence, where the
    loss is read back anyway) and before every checkpoint they are checked at once: one
    ``isfinite`` over the stacked losses and one read-back. ``check_weights`` (before a checkpoint)
    catches an update that overflowed although its loss was finite.
    """

    def __init__(self, every_n_steps: int):
        self.every_n_steps = every_n_steps
        self._losses: list[torch.Tensor] = []
        self._steps: list[tuple[int, tuple[float, ...]]] = []  # (optimizer step, lr of each group)

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           loss: torch.Tensor) -> None:
        self._losses.append(pl_module.last_loss)
        self._steps.append((trainer.global_step, tuple(g["lr"] for g in trainer.optimizers[0].param_groups)))

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.check(trainer)

    def check(self, trainer: pl.Trainer) -> None:
        """Raise ``Diverged`` if a loss since the last check was NaN or infinite."""
        if not self._losses:
            return
        finite = torch.isfinite(torch.stack(self._losses))
        if not bool(finite.all()):
            first = int((~finite).nonzero()[0, 0])
            raise self._diverged(trainer, first)
        del self._losses[:-1], self._steps[:-1]  # the newest stays, to name it if the weights fail

    def check_weights(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Raise ``Diverged`` if a parameter is no longer finite (checked before each checkpoint)."""
        finite = torch.stack([torch.isfinite(p).all() for p in pl_module.parameters()])
        if not bool(finite.all()):
            raise self._diverged(trainer, -1, "; the weights are no longer finite")

    def _diverged(self, trainer: pl.Trainer, index: int, detail: str = "") -> Diverged:
        step, lrs = self._steps[index]
        tags = group_tags(trainer.optimizers[0], "lr")
        return Diverged(step, float(self._losses[index]), dict(zip(tags, lrs)), detail)


class LastCheckpoint(Checkpoint):
    """Keep ``path`` the newest good state; stop at the planned end; save and stop at the next step
    on SIGTERM or SIGINT.

    Saves after every ``every_n_steps``-th optimizer step (0: epoch ends only) and at every epoch
    end; each save first checks that the losses since the last check and the weights are finite
    and flushes the loggers, so everything logged before the checkpoint is on disk with it.

    A first SIGTERM or SIGINT (Ctrl-C) is noted; at the next save point (the end of the current
    optimizer step, or the epoch end when that step was the epoch's last) a checkpoint is saved
    and ``Interrupted`` is raised; under DDP every process does so at the same step, whichever of
    them got the signal. A second Ctrl-C interrupts at once, as Ctrl-C usually does.

    Its own state in the checkpoint is that of the random generators (torch, CUDA, numpy,
    Python), restored when training starts, after everything else is restored, so a resumed run
    draws from the point where the checkpointed run drew next. (One callback, not several: each
    callback costs every training step a hook dispatch per hook, ~5 us, even when it does nothing.)
    """

    def __init__(self, path: Path, every_n_steps: int, total_steps: int, guard: DivergenceGuard,
                 resumed: ResumePoint | None):
        self.path, self.every_n_steps, self.total_steps, self.guard = path, every_n_steps, total_steps, guard
        self.saved: tuple[str, int] | None = (str(resumed.path), resumed.step) if resumed else None
        # the save before ``saved``: whole on disk once ``saved`` is being written (writes are in
        # order), so it is the one kept when writing ``saved`` fails
        self.kept: tuple[str, int] | None = self.saved
        self._signal: int | None = None
        self._step_at_batch_start = 0
        self._random_state: dict | None = None  # to restore when training starts

    def state_dict(self) -> dict:
        return {"random_state": random_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        self._random_state = state_dict["random_state"]

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._random_state is not None:
            set_random_state(self._random_state)
            self._random_state = None
        # Lightning registers its own SIGTERM handler just before training starts and restores
        # the previous handlers of every signal when the run ends; ours replaces it in between.
        # A signal the process was started to ignore (SIGINT in a shell's background job) stays
        # ignored, as Python itself leaves it.
        if trainer.received_sigterm:
            self._signal = signal.SIGTERM
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame) -> None:
        if signum == signal.SIGINT and self._signal == signal.SIGINT:
            signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt
        self._signal = signum

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch,
                             batch_idx: int) -> None:
        self._step_at_batch_start = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        if trainer.global_step >= self.total_steps:
            trainer.should_stop = True  # the planned end (see lightning_limits); saved at the epoch end
        stepped = trainer.global_step > self._step_at_batch_start
        ends_epoch = batch_idx + 1 >= trainer.num_training_batches or trainer.should_stop
        if not stepped or ends_epoch:
            return
        signalled = self._agreed_signal(trainer, pl_module)
        if signalled or (self.every_n_steps and trainer.global_step % self.every_n_steps == 0):
            self._save(trainer, pl_module)
        self._stop_if(signalled)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # a Checkpoint callback: Lightning calls it after the module's own hook, so the epoch's
        # metrics (train/loss_epoch) are logged when this saves
        self._save(trainer, pl_module)
        self._stop_if(self._agreed_signal(trainer, pl_module))

    def _agreed_signal(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> int | None:
        """The signal that this process, or under DDP any process of the run, has received (the
        largest number if several); read once per save point, so a signal that arrives meanwhile
        counts at the next one.

        Under DDP every process must stop at the same step: one that went on alone would wait for
        the others in its next gradient all-reduce. The processes of a run get a signal at
        slightly different times (torchrun and srun forward it to each), so they agree on it at
        every save point: one all-reduce of one number per optimizer step, only when several
        processes train.
        """
        received = self._signal
        if trainer.world_size > 1:
            agreed = trainer.strategy.reduce(torch.tensor(received or 0, device=pl_module.device), reduce_op="max")
            received = int(agreed) or None
        return received

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if isinstance(exception, WriteFailed) and exception.path == self.path:
            exception.checkpoint = self.kept  # the newest save is the write that failed
        elif isinstance(exception, Stopped) and exception.checkpoint is None:
            exception.checkpoint = self.saved

    def _save(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.saved == (str(self.path), trainer.global_step):
            return
        self.guard.check(trainer)
        self.guard.check_weights(trainer, pl_module)
        for logger in trainer.loggers:
            logger.save()
        trainer.save_checkpoint(self.path)
        self.kept, self.saved = self.saved, (str(self.path), trainer.global_step)

    def _stop_if(self, signum: int | None) -> None:
        if signum:
            stop = Interrupted(signum)
            stop.checkpoint = self.saved
            raise stop


def random_state() -> dict:
    """The state of every generator a run may draw from, as plain containers and tensors."""
    keys, position, has_gauss, cached_gaussian = np.random.get_state()[1:]
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Put every generator back where ``random_state`` found it."""
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


class ConfigChanges(pl.Callback):
    """Resume with the new config where it differs from the checkpoint's (``resume_allow_changes``).

    What the new values mean for a resumed run at step ``k``:

    - the schedule is the new config's, planned over the new run (new ``max_epochs``, warmup, ...)
      and continued at step ``k``: ``lr(s) = new base lr x new f(s)`` for ``s >= k``; its state
      (ReduceLROnPlateau's) is kept unless the scheduler itself changed;
    - the optimizer's hyper-parameters (lr, momentum, weight decay, betas, ...) are the new ones,
      its state (momentum buffers, Adam moments) is kept, unless the optimizer itself or its
      parameter groups changed, in which case it starts fresh;
    - the data settings apply from the resume point on, and the position within the epoch is kept
      as a number of batches;
    - the loops (epoch, step) and the random generators continue from the checkpoint.
    """

    def __init__(self, point: ResumePoint, plan: Plan):
        self.point, self.plan = point, plan
        self._checkpoint: dict = {}
        self._fresh: list[dict] = []

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict) -> None:
        self._checkpoint = checkpoint  # Lightning restores optimizer and scheduler from it later

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the optimizer exists now, built from the new config; its state is not restored yet
        optimizer = trainer.optimizers[0]
        self._fresh = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
        old, new = self.point.config, self.plan.config
        saved = self._checkpoint["optimizer_states"][0]["param_groups"]
        same_groups = [len(g["params"]) for g in saved] == [len(g["params"]) for g in optimizer.param_groups]
        if old["optimizer"]["name"] != new["optimizer"]["name"] or not same_groups:
            self._checkpoint["optimizer_states"] = []  # nothing to restore: the optimizer starts fresh
            log.warning("resume: the optimizer or its parameter groups changed; it starts with fresh state")
        scheduler = trainer.lr_scheduler_configs[0].scheduler
        saved_schedule = self._checkpoint["lr_schedulers"][0].get("schedule")
        count = len(saved_schedule) if isinstance(saved_schedule, list) else 1
        if isinstance(scheduler, ScheduledLR) and (_scheduler_kind(old) != _scheduler_kind(new)
                                                   or count != len(scheduler.distinct)):
            # another schedule (or other groups with schedules of their own): fresh state, at the checkpoint's step
            self._checkpoint["lr_schedulers"][0] = {**scheduler.state_dict(), "last_epoch": self.point.step}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # everything is restored now: put the new hyper-parameters and base lrs over the old ones
        for group, fresh in zip(trainer.optimizers[0].param_groups, self._fresh):
            # (a schedule-free optimizer's step count, average weight and mode are state, not hyper-parameters)
            group.update({key: value for key, value in fresh.items() if key != "lr" and key not in GROUP_STATE})
        scheduler = trainer.lr_scheduler_configs[0].scheduler
        if isinstance(scheduler, ScheduledLR):  # a _target_ scheduler keeps its state (see check_target_changes)
            scheduler.rebase([fresh["initial_lr"] for fresh in self._fresh])


def _scheduler_kind(config: dict) -> tuple:
    return config["scheduler"].get("name"), config["scheduler"].get("_target_")


def lightning_limits(plan: Plan) -> dict:
    """The Trainer's ``max_epochs``/``max_steps``: epochs only; ``LastCheckpoint`` stops at the planned step.

    Lightning 2.6 treats a run with ``max_steps`` as iteration-based and restarts it wrongly from
    a checkpoint taken at an epoch end (it runs that epoch's end again and stops early). So
    Lightning gets the number of epochs the plan starts and lrframe stops at the planned step; a
    run that ends mid-epoch validates at its last step.
    """
    return {"max_epochs": math.ceil(plan.clock.total_steps / plan.clock.steps_per_epoch), "max_steps": -1}


def fault_tolerance(plan: Plan, run_dir: Path, point: ResumePoint | None) -> list[pl.Callback]:
    """The callbacks of a crash-safe, exactly resumable run."""
    guard = DivergenceGuard(plan.config["trainer"]["log_every_n_steps"])
    every_n_steps = plan.config["checkpoint"]["every_n_steps"]
    callbacks = [guard, LastCheckpoint(last_checkpoint(run_dir), every_n_steps, plan.clock.total_steps, guard, point)]
    if point is not None and point.changes:
        callbacks.append(ConfigChanges(point, plan))
    return callbacks
