"""Monitoring callbacks: what a run writes to TensorBoard at the logging cadence."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch

from lrframe.errors import Diverged


def lr_tags(optimizer: torch.optim.Optimizer) -> list[str]:
    """``lr`` for a single parameter group, ``lr/<group name>`` for several."""
    groups = optimizer.param_groups
    return ["lr"] if len(groups) == 1 else [f"lr/{group.get('name', i)}" for i, group in enumerate(groups)]


class StepLogger(pl.Callback):
    """Every ``every_n_steps`` optimizer steps, log the lr of every group and ``train/loss``.

    Logged just before the optimizer step at ``step = trainer.global_step`` (0-based), so the
    value at step ``s`` is the lr that step ``s`` used. Nothing is read back from the device on
    the other steps.
    """

    def __init__(self, every_n_steps: int):
        self.every_n_steps = every_n_steps

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        step = trainer.global_step
        if step % self.every_n_steps or not trainer.loggers:
            return
        metrics = {tag: group["lr"] for tag, group in zip(lr_tags(optimizer), optimizer.param_groups)}
        metrics["train/loss"] = pl_module.last_loss.item()
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)


class DivergenceCheck(pl.Callback):
    """Stop a run whose validation loss is no longer finite (nan or inf), with ``errors.Diverged``.

    It reads the ``val/loss`` already computed after each validation, so it costs nothing per step.
    Every rank sees the same reduced value, so under DDP all ranks stop together. The checkpoint
    of the last finite epoch is kept.
    """

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val/loss")
        if loss is None or trainer.sanity_checking or math.isfinite(float(loss)):
            return
        raise Diverged(f"training diverged: val/loss={float(loss)} at the end of epoch "
                       f"{trainer.current_epoch + 1} (step {trainer.global_step}); "
                       "try a lower optimizer.lr or a warmup")
