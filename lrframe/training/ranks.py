"""The processes of a DDP run must train one run: the same directory, plan and starting point.

Under torchrun or srun every process composes its own config from its own command line, finds
its own checkpoint and plans its own clock. If a node was given other overrides, cannot see the
run directory (no shared file system, so it starts fresh while rank 0 resumes), or counts another
data size, the processes would silently train different schedules or hang in a collective. So
before anything is restored, the processes exchange what they are about to do (one
``all_gather_object`` when training starts) and all stop with the same one-line error if they
differ.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch

from lrframe.config.errors import ConfigError


def facts(run_dir: Path, resume: str | None, resumed_step: int | None, batch_size: int, steps_per_epoch: int,
          total_steps: int, global_batch: int, lr: float) -> dict[str, tuple[object, str]]:
    """What must be the same in every process: config key -> (this process's value, what it does)."""
    where = str(run_dir.resolve())
    return {
        "hydra.run.dir": (where, f"runs in {where}"),
        "resume": (resume, "starts fresh" if resumed_step is None else f"resumes from step {resumed_step}"),
        "data.batch_size": (batch_size, f"plans {steps_per_epoch} optimizer steps an epoch, {total_steps} in all, "
                                        f"global batch {global_batch}"),
        "optimizer.lr": (lr, f"trains with base lr {lr:g}"),
    }


def disagreement(gathered: list[dict[str, tuple[object, str]]]) -> ConfigError | None:
    """The first fact in which a process differs from rank 0, as a one-line error; None if all agree."""
    for rank, theirs in enumerate(gathered[1:], 1):
        for key, (_, ours) in gathered[0].items():
            value, what = theirs[key]
            if what != ours:
                hint = (" (every node must see the run directory: a shared file system)" if key == "resume" else
                        "; start every process with the same command line and data")
                return ConfigError(key, value, f"rank {rank} {what}, rank 0 {ours}{hint}")
    return None


class RanksAgree(pl.Callback):
    """Stop every process of a DDP run, in one line, where they would not train the same run."""

    def __init__(self, facts: dict[str, tuple[str, object]]):
        self.facts = facts

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # the processes have met (the process group exists); nothing is restored yet
        if trainer.world_size < 2 or not torch.distributed.is_initialized():
            return
        gathered: list = [None] * trainer.world_size
        torch.distributed.all_gather_object(gathered, self.facts)
        error = disagreement(gathered)
        if error is not None:
            raise error
