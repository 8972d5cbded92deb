"""A torch LRScheduler that follows a run's closed-form schedule, so Lightning can step it.

After ``k`` optimizer steps, every parameter group has ``lr = base_lr * schedule(k)`` (and the
scheduled momentum, where there is one; with SWA, SWALR's lr once it has started:
``RunSchedule.lr``). Its state is the step counter plus, for a history-dependent schedule
(ReduceLROnPlateau), that schedule's small state: resuming from a
checkpoint gives exactly the lr the uninterrupted run would have had.
"""

from __future__ import annotations

from typing import Any

import torch

from lrframe.schedules import RunSchedule


def _momentum_key(optimizer: torch.optim.Optimizer) -> str:
    """Where momentum lives: ``momentum`` (SGD, RMSprop) or ``betas[0]`` (Adam family)."""
    return "betas" if "betas" in optimizer.defaults else "momentum"


class ScheduledLR(torch.optim.lr_scheduler.LRScheduler):
    """Set each group's lr (and momentum) from ``schedule`` at every optimizer step."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: RunSchedule):
        self.schedule = schedule
        self.momentum_key = _momentum_key(optimizer)
        if schedule.swa is not None:
            schedule.swa.check_groups([group.get("name", str(i)) for i, group in enumerate(optimizer.param_groups)])
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        """The lrs at the current step (torch's LRScheduler API)."""
        if self.schedule.swa is not None:  # SWALR's anneal from its start on
            return [self.schedule.lr(self.last_epoch, base, i) for i, base in enumerate(self.base_lrs)]
        factor = self.schedule(self.last_epoch)
        return [base * factor for base in self.base_lrs]

    def step(self, epoch: None = None) -> None:
        """Advance one optimizer step and apply its lr and momentum. A closed form needs none of
        the bookkeeping of torch's recursive ``LRScheduler.step`` (~10 us a step)."""
        self.last_epoch += 1
        self._apply_lr()
        self._apply_momentum()

    def _apply_momentum(self) -> None:
        if self.schedule.schedules_momentum:
            momentum = self.schedule.momentum(self.last_epoch)
            for group in self.optimizer.param_groups:
                if self.momentum_key == "betas":
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum

    def _apply_lr(self) -> None:
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    @property
    def observes_metric(self) -> bool:
        return self.schedule.observes_metric

    def observe(self, metrics: dict[str, float]) -> None:
        """Feed validation metrics to the schedule and apply the lr it now gives."""
        self.schedule.observe(self.last_epoch, metrics)
        self._apply_lr()

    def rebase(self, base_lrs: list[float]) -> None:
        """Continue at the current step with new base lrs (a resumed run whose config changed)."""
        self.base_lrs = list(base_lrs)
        self._apply_lr()
        self._apply_momentum()

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                "schedule": self.schedule.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_epoch = state_dict["last_epoch"]
        self.base_lrs = list(state_dict["base_lrs"])
        self.schedule.load_state_dict(state_dict["schedule"])
        self._last_lr = self.get_lr()
