"""Monitoring callbacks: what a run writes to TensorBoard at the logging cadence."""

from __future__ import annotations


import lightning.pytorch as pl
import torch



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
