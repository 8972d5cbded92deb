"""One clock for every schedule: the optimizer step.

A run is `total_steps` optimizer steps, `steps_per_epoch` of them per epoch. Durations written in
epochs are converted to steps here, once, from the data size, batch size, gradient accumulation
and device count. A schedule written in `unit` (steps or epochs) sees the time

    t = s                          (unit: step)
    t = s / steps_per_epoch        (unit: epoch)

where `s` is the optimizer step, floored to the start of its epoch when `interval: epoch` (the lr
then changes only at epoch boundaries).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

UNITS = ("step", "epoch")


def steps_per_epoch(*, train_size: int, batch_size: int, drop_last: bool,
                    accumulate: int, devices: int) -> int:
    """Optimizer steps in one epoch of `train_size` samples.

    Each device sees its shard of ceil(n / devices) samples (floor with `drop_last`, as torch's
    DistributedSampler does); the last, partial accumulation window of an epoch still steps.
    """
    per_device = train_size // devices if drop_last else math.ceil(train_size / devices)
    batches = per_device // batch_size if drop_last else math.ceil(per_device / batch_size)
    return math.ceil(batches / accumulate)


@dataclass(frozen=True)
class Clock:
    """The optimizer steps of one run."""

    steps_per_epoch: int
    total_steps: int

    @property
    def epochs(self) -> float:
        return self.total_steps / self.steps_per_epoch

    def to_steps(self, amount: float, unit: str) -> int:
        """A duration in `unit` as a whole number of optimizer steps (epochs are rounded)."""
        return round(amount * self.steps_per_epoch) if unit == "epoch" else int(amount)

    def in_unit(self, steps: int, unit: str) -> float:
        """A number of optimizer steps expressed in `unit`."""
        return steps / self.steps_per_epoch if unit == "epoch" else steps

    def timer(self, unit: str, interval: str) -> Callable[[int], float]:
        """Map an optimizer step to a schedule's time `t` (see the module docstring)."""
        spe = self.steps_per_epoch
        if interval == "epoch":
            return (lambda s: s // spe) if unit == "epoch" else (lambda s: s // spe * spe)
        return (lambda s: s / spe) if unit == "epoch" else (lambda s: s)
