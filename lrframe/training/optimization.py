"""lrframe's optimizer and schedule for any LightningModule: ``configure_optimizers`` built from the plan.

The optimizer (``optimizer`` group, parameter groups, lr scaling) covers ``module``'s trainable
parameters; its lr follows the run's closed-form schedule (``ScheduledLR``), stepped after every
optimizer step exactly as ``task=preview`` shows, or a user's torch scheduler (``scheduler._target_``)
stepped by Lightning every ``scheduler.interval``.
"""

from __future__ import annotations

from functools import partial

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate

from lrframe.config.validate import Plan
from lrframe.optim.optimizer import build_optimizer
from lrframe.config.groups import is_schedule_free
from lrframe.schedules import RunSchedule, schedule_free
from lrframe.schedules.scheduler import ScheduledLR
from lrframe.schedules.target import lightning_scheduler, target_arguments


def configure_optimizers(parameters: torch.nn.Module, plan: Plan, lr: float) -> dict:
    """What a LightningModule's ``configure_optimizers`` returns, for the parameters of ``parameters``."""
    optimizer = build_optimizer(parameters, plan.config["optimizer"], lr, plan.optimizer_warmup_steps)
    node = plan.config["scheduler"]
    if "_target_" in node:  # the user's own torch LRScheduler, stepped by Lightning every `interval`
        scheduler = instantiate(target_arguments(node), optimizer=optimizer, _convert_="all")
        return {"optimizer": optimizer, "lr_scheduler": lightning_scheduler(node, scheduler)}
    # a schedule-free optimizer warms up by itself (warmup_steps): the groups keep their base lr
    scheduler = ScheduledLR(optimizer, schedule_free.held() if is_schedule_free(plan.config["optimizer"])
                            else group_schedules(optimizer, plan, lr))
    # stepped after every optimizer step: the schedule itself knows about epochs
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def group_schedules(optimizer: torch.optim.Optimizer, plan: Plan, lr: float) -> list[RunSchedule]:
    """The schedule of each of ``optimizer``'s parameter groups: its pattern's own
    (``optimizer.param_groups``), or the run's, shared."""
    run, own = plan.schedule(lr), plan.group_schedules(lr)
    return [own.get(str(group.get("name", "")).removesuffix("/no_decay"), run) for group in optimizer.param_groups]


def _tapped_training_step(module: pl.LightningModule, step, *args, **kwargs):
    """The user's ``training_step``, keeping its loss as ``module.last_loss`` for lrframe's callbacks."""
    output = step(*args, **kwargs)
    loss = output["loss"] if isinstance(output, dict) else output
    if torch.is_tensor(loss):
        module.last_loss = loss.detach()
    return output


def _adopted_configure_optimizers(module: pl.LightningModule, plan: Plan) -> dict:
    return configure_optimizers(module, plan, module.lrframe_lr)


def adopt(module: pl.LightningModule, plan: Plan, lr: float | None) -> pl.LightningModule:
    """Give a user's LightningModule lrframe's optimizer and schedule (base lr ``lrframe_lr``), and let
    lrframe's callbacks read its loss (``last_loss``). The module must not define
    ``configure_optimizers`` (validation refused it). Set on the instance: the user's class stays as it is."""
    module.last_loss = None
    module.lrframe_lr = lr
    module.configure_optimizers = partial(_adopted_configure_optimizers, module, plan)
    module.training_step = partial(_tapped_training_step, module, module.training_step)
    return module
