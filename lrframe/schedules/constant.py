"""No schedule: the optimizer's learning rate throughout."""

from __future__ import annotations

from lrframe.schedules.base import Schedule, schedule


@schedule()
def unscheduled() -> Schedule:
    """lr(t) = lr"""
    return lambda t: 1.0
