"""ReduceLROnPlateau (torch): cut the lr by ``factor`` when a validation metric stops improving.

The one schedule that depends on history: it holds its current factor, changed only by
``observe(metrics)`` (called after each validation), and its state is a few plain numbers.
"""

from __future__ import annotations

import math
from typing import Any

from lrframe.config.errors import choice, integer, number
from lrframe.schedules.base import schedule

MONITORED = ("val/loss", "val/acc")


class Plateau:
    """torch's ReduceLROnPlateau, as a factor of the base lr.

    After each observed metric ``m`` (``best`` starts at +inf for ``mode=min``, -inf for ``max``):

        better = m < best * (1 - threshold)   (min, rel)   |  m < best - threshold   (min, abs)
                 m > best * (1 + threshold)   (max, rel)   |  m > best + threshold   (max, abs)
        bad epochs reset on a better value and during cooldown;
        when bad epochs > patience:  lr <- max(lr * factor, min_lr) if that lowers it by more than eps,
                                     then cooldown for ``cooldown`` observations.
    """

    STATE = ("factor_now", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, *, monitor, mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps, lr):
        self.monitor = choice("monitor", monitor, MONITORED)
        self.mode = choice("mode", mode, ("min", "max"))
        self.factor = number("factor", factor, gt=0, lt=1)
        self.patience = integer("patience", patience, ge=0)
        self.threshold = number("threshold", threshold, ge=0)
        self.threshold_mode = choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = integer("cooldown", cooldown, ge=0)
        self.floor = number("min_lr", min_lr, ge=0) / lr
        self.eps = number("eps", eps, ge=0) / lr
        self.factor_now = 1.0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0

    def __call__(self, t: float) -> float:
        return self.factor_now

    def is_better(self, value: float) -> bool:
        if self.threshold_mode == "rel":
            scale = 1.0 - self.threshold if self.mode == "min" else 1.0 + self.threshold
            bar = self.best * scale
        else:
            bar = self.best - self.threshold if self.mode == "min" else self.best + self.threshold
        return value < bar if self.mode == "min" else value > bar

    def observe(self, metrics: dict[str, float]) -> None:
        value = float(metrics[self.monitor])
        if self.is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            reduced = max(self.factor_now * self.factor, self.floor)
            if self.factor_now - reduced > self.eps:
                self.factor_now = reduced
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def state_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in self.STATE:
            setattr(self, key, state[key])


plateau = schedule()(Plateau)
