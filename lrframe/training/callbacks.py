"""Monitoring callbacks: what a run writes to TensorBoard at the logging cadence."""

from __future__ import annotations

from functools import partial

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from lrframe.optim.step_sizes import QUANTILES, Sampler, is_adaptive, step_sizes
from lrframe.schedules.schedule_free import group_lr

#: equal bins between the smallest and largest log10 step size (TensorBoard's default, ~1500
#: exponential buckets, takes four times as long to write)
HISTOGRAM_BINS = 64


def group_tags(optimizer: torch.optim.Optimizer, prefix: str) -> list[str]:
    """``prefix`` for a single parameter group, ``prefix/<group name>`` for several (``lr``, ``lr/head``)."""
    groups = optimizer.param_groups
    if len(groups) == 1:
        return [prefix]
    return [f"{prefix}/{group.get('name', i)}" for i, group in enumerate(groups)]


def cycles_momentum(scheduler) -> bool:
    """Whether ``scheduler`` sets the momentum (beta1) every step: lrframe's OneCycle and Cyclic with
    ``cycle_momentum``, or torch's OneCycleLR and CyclicLR given by ``scheduler._target_``."""
    schedules = getattr(scheduler, "schedules", None)  # lrframe's ScheduledLR: one per parameter group
    if schedules is not None:
        return any(schedule.schedules_momentum for schedule in schedules)
    return bool(getattr(scheduler, "cycle_momentum", False))


def step_metrics(optimizer: torch.optim.Optimizer, momentum: bool) -> dict[str, float]:
    """The lr of every group as the next optimizer step uses it (``lr``, ``lr/<group>``: the group's lr,
    a schedule-free optimizer's warmup included) and, with ``momentum``, the momentum it uses
    (``momentum``, ``momentum/<group>``: ``momentum``, or ``betas[0]`` for the Adam family)."""
    groups = optimizer.param_groups
    metrics = {tag: group_lr(group) for tag, group in zip(group_tags(optimizer, "lr"), groups)}
    if momentum:
        metrics |= {tag: group["betas"][0] if "betas" in group else group["momentum"]
                    for tag, group in zip(group_tags(optimizer, "momentum"), groups)}
    return metrics


class StepLogger(pl.Callback):
    """Every ``every_n_steps`` optimizer steps, log the lr of every group and ``train/loss``; and the
    momentum of every group when the schedule cycles it (OneCycle, Cyclic: ``cycles_momentum``).

    Logged just before the optimizer step at ``step = trainer.global_step`` (0-based), so the
    value at step ``s`` is the lr that step ``s`` used. Nothing is read back from the device on
    the other steps. (The run's constants, ``effective_lr`` and ``global_batch``, are text and
    HParams, written by ``record.RunRecord``: not one-point charts.)

    With an adaptive optimizer (``lrframe.optim.step_sizes``), every ``step_sizes_every_n_steps``
    optimizer steps (0: never) it also logs the distribution of the per-parameter step size
    ``lr / (sqrt(v) + eps)`` of every group, as that step used it: quantiles ``step_size/p05`` ...
    ``step_size/p95`` (``step_size/<group>/p50`` with several groups) and a histogram of its log10,
    ``step_size/log10`` (while the lr is > 0), over a fixed random sample of at most ``SAMPLE_SIZE``
    parameters per group.
    It runs from an optimizer step hook, which costs Lightning no hook dispatch on the other steps.
    """

    def __init__(self, every_n_steps: int, step_sizes_every_n_steps: int):
        self.every_n_steps = every_n_steps
        self.step_sizes_every_n_steps = step_sizes_every_n_steps
        self.sample = Sampler()
        self._hook = None
        self.momentum = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.loggers:
            return
        configs = trainer.lr_scheduler_configs
        self.momentum = bool(configs) and cycles_momentum(configs[0].scheduler)
        optimizer = trainer.optimizers[0]
        if self.step_sizes_every_n_steps and is_adaptive(optimizer):
            self._hook = optimizer.register_step_post_hook(partial(self._log_step_sizes, trainer))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        step = trainer.global_step
        if step % self.every_n_steps or not trainer.loggers:
            return
        metrics = step_metrics(optimizer, self.momentum)
        metrics["train/loss"] = pl_module.last_loss.item()
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)

    def _log_step_sizes(self, trainer: pl.Trainer, optimizer: torch.optim.Optimizer, *hook_args) -> None:
        step = trainer.global_step  # not yet counted: the index of the step that just ran
        if step % self.step_sizes_every_n_steps:
            return
        scalars, histograms = {}, {}
        tags, groups = group_tags(optimizer, "step_size"), optimizer.param_groups
        for tag, group, values in zip(tags, groups, step_sizes(optimizer)):
            if len(values):
                sample = self.sample(values).float()
                quantiles = torch.quantile(sample, torch.tensor(QUANTILES, device=sample.device)).tolist()
                scalars |= {f"{tag}/p{round(q * 100):02d}": value for q, value in zip(QUANTILES, quantiles)}
                if group["lr"] > 0:  # (an lr of 0, at the start of a warmup, has no logarithm)
                    histograms[f"{tag}/log10"] = sample.log10()
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)
            if isinstance(logger, TensorBoardLogger):
                for tag, values in histograms.items():
                    logger.experiment.add_histogram(tag, values, step, bins=HISTOGRAM_BINS)


def newest_metrics(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, float]:
    """The newest validation and training metrics: lrframe's module keeps them (checkpointed); a
    user's module logs them with ``self.log``, and Lightning keeps the newest in ``callback_metrics``."""
    kept = getattr(pl_module, "last_metrics", None)
    if kept is not None:
        return kept
    return {name: float(value) for name, value in trainer.callback_metrics.items()
            if torch.is_tensor(value) and value.numel() == 1}


class ObserveMetrics(pl.Callback):
    """Feed each validation's metrics to a schedule that watches one (ReduceLROnPlateau), any module's."""

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        scheduler = trainer.lr_scheduler_configs[0].scheduler if trainer.lr_scheduler_configs else None
        if not trainer.sanity_checking and getattr(scheduler, "observes_metric", False):
            scheduler.observe(newest_metrics(trainer, pl_module))
