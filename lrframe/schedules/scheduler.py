"""A torch LRScheduler that follows a run's closed-form schedules, so Lightning can step it.

After ``k`` optimizer steps, parameter group ``g`` has ``lr = base_lr[g] * schedule[g](k)`` (and the
scheduled momentum, where there is one; with SWA, SWALR's lr once it has started:
``RunSchedule.lr``): one schedule for every group, or one per group (as torch's ``LambdaLR`` takes
one ``lr_lambda`` per group), all on the one clock ``k``. Its state is the step counter plus, for a
history-dependent schedule (ReduceLROnPlateau), that schedule's small state: resuming from a
checkpoint gives exactly the lrs the uninterrupted run would have had.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lrframe.schedules import RunSchedule


def _momentum_key(optimizer: torch.optim.Optimizer) -> str:
    """Where momentum lives: ``momentum`` (SGD, RMSprop) or ``betas[0]`` (Adam family)."""
    return "betas" if "betas" in optimizer.defaults else "momentum"


class ScheduledLR(torch.optim.lr_scheduler.LRScheduler):
    """Set each group's lr (and momentum) from its schedule at every optimizer step.

    ``schedule``: one ``RunSchedule`` for every parameter group, or a list of one per group (groups may
    share one: a shared schedule is evaluated, and fed metrics, once a step).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: RunSchedule | Sequence[RunSchedule]):
        count = len(optimizer.param_groups)
        schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule] * count
        if len(schedules) != count:
            raise ValueError(f"{len(schedules)} schedules for {count} parameter groups")
        self.schedules = schedules
        #: each schedule once, in the order of the groups' first use: what is evaluated and checkpointed
        self.distinct = list({id(s): s for s in schedules}.values())
        self._cycled = [s for s in self.distinct if s.schedules_momentum]  # those that set momentum
        self.momentum_key = _momentum_key(optimizer)
        self._averaged = any(s.swa is not None for s in self.distinct)  # SWA: RunSchedule.lr
        names = [group.get("name", str(i)) for i, group in enumerate(optimizer.param_groups)]
        for averaged in self.distinct:
            if averaged.swa is not None:
                averaged.swa.check_groups(names)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        """The lrs at the current step (torch's LRScheduler API)."""
        step = self.last_epoch
        if self._averaged:  # SWALR's anneal from its start on
            return [s.lr(step, base, i) for i, (base, s) in enumerate(zip(self.base_lrs, self.schedules))]
        if len(self.distinct) == 1:
            factor = self.distinct[0](step)
            return [base * factor for base in self.base_lrs]
        factors = {id(s): s(step) for s in self.distinct}
        return [base * factors[id(s)] for base, s in zip(self.base_lrs, self.schedules)]

    def step(self, epoch: None = None) -> None:
        """Advance one optimizer step and apply its lr and momentum. A closed form needs none of
        the bookkeeping of torch's recursive ``LRScheduler.step`` (~10 us a step)."""
        self.last_epoch += 1
        self._apply_lr()
        self._apply_momentum()

    def _apply_momentum(self) -> None:
        if not self._cycled:
            return
        momenta = {id(s): s.momentum(self.last_epoch) for s in self._cycled}
        for group, schedule in zip(self.optimizer.param_groups, self.schedules):
            momentum = momenta.get(id(schedule))
            if momentum is None:
                continue
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
        return any(s.observes_metric for s in self.distinct)

    def observe(self, metrics: dict[str, float]) -> None:
        """Feed validation metrics to the schedules and apply the lrs they now give."""
        for schedule in self.distinct:
            schedule.observe(self.last_epoch, metrics)
        self._apply_lr()

    def rebase(self, base_lrs: list[float]) -> None:
        """Continue at the current step with new base lrs (a resumed run whose config changed)."""
        self.base_lrs = list(base_lrs)
        self._apply_lr()
        self._apply_momentum()

    def state_dict(self) -> dict[str, Any]:
        """``schedule``: the one schedule's state, or a list, one per distinct schedule; ``base_lr``:
        the optimizer's own lr (the run's base lr, which a group's is a multiple of)."""
        states = [s.state_dict() for s in self.distinct]
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                "base_lr": self.optimizer.defaults.get("lr"), "schedule": states[0] if len(states) == 1 else states}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_epoch = state_dict["last_epoch"]
        self.base_lrs = list(state_dict["base_lrs"])
        states = state_dict["schedule"]
        states = states if isinstance(states, list) else [states]
        if len(states) != len(self.distinct):
            raise ValueError(f"the checkpoint has the state of {len(states)} schedules, this run {len(self.distinct)}")
        for schedule, state in zip(self.distinct, states):
            schedule.load_state_dict(state)
        self._last_lr = self.get_lr()
