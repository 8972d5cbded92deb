"""Constant factors: no schedule at all, and ConstantLR (torch)."""

from __future__ import annotations

from lrframe.config.errors import number
from lrframe.schedules.base import Schedule, schedule


@schedule()
def unscheduled() -> Schedule:
    """lr(t) = lr"""
    return lambda t: 1.0


@schedule(to_end=("total_iters",))
def constant(*, factor: float, total_iters: float) -> Schedule:
    """ConstantLR: lr(t) = lr * factor for t < total_iters, then lr

    >>> f = constant(factor=0.5, total_iters=4)
    >>> f(3), f(4)
    (0.5, 1.0)
    """
    factor = number("factor", factor, ge=0, le=1)
    total_iters = number("total_iters", total_iters, gt=0)
    return lambda t: factor if t < total_iters else 1.0
