"""Restarting schedules as timm's cycle family has them (CosineLRScheduler, PolyLRScheduler, TanhLRScheduler).

Time is cut into cycles. Cycle i (from 0) lasts T_i = length * mul ** i and starts where the
previous ones end; ``t_curr`` is the time since its start. Within it the lr falls along a
``shape`` from the cycle's peak to the floor, and after ``limit`` cycles it stays at the floor:

    lr(t) = floor + (lr * decay ** i - floor) * shape(t_curr, T_i)     for i < limit
    lr(t) = floor                                                      for i >= limit

(timm: length = ``t_initial``, mul = ``cycle_mul``, decay = ``cycle_decay``, limit = ``cycle_limit``,
floor = ``lr_min``; torch's CosineAnnealingWarmRestarts is the cosine with decay 1 and no limit.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrframe.config.errors import integer, number
from lrframe.schedules.base import Schedule

#: shape(t_curr, T_i): 1 at the start of a cycle, down to 0 (or near it) at its end
Shape = Callable[[float, float], float]


def cycle(t: float, length: float, mul: float) -> tuple[int, float, float]:
    """(i, t_curr, T_i): which cycle t falls in, the time since that cycle started, and its length.

    Summed exactly cycle by cycle (timm solves a logarithm, which can put a restart one step off).

    >>> cycle(25, 10, 1.0), cycle(25, 10, 2.0)
    ((2, 5, 10), (1, 15.0, 20.0))
    """
    if mul == 1:
        return int(t // length), t % length, length
    i, start, period = 0, 0.0, float(length)
    while t >= start + period:  # a few iterations: the periods grow geometrically
        i, start, period = i + 1, start + period, period * mul
    return i, t - start, period


def cycled(shape: Shape, *, length: float, mul: float, decay: float, limit: int | None,
           floor: float) -> Schedule:
    """The factor of the module docstring's formula (``floor`` as a fraction of lr)."""

    def restarted(t: float) -> float:
        i, t_curr, period = cycle(t, length, mul)
        if limit is not None and i >= limit:
            return floor
        return floor + (decay ** i - floor) * shape(t_curr, period)

    return restarted


def cycle_arguments(*, length: tuple[str, Any], mul: tuple[str, Any], cycle_decay: Any,
                    cycle_limit: Any) -> tuple[float, float, float, int | None]:
    """Check the cycle keys; ``length`` and ``mul`` are (key, value): torch and timm name them differently."""
    return (number(length[0], length[1], gt=0),
            number(mul[0], mul[1], ge=1),
            number("cycle_decay", cycle_decay, gt=0),
            None if cycle_limit is None else integer("cycle_limit", cycle_limit, ge=1))
