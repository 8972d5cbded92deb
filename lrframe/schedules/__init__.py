"""Closed-form learning-rate schedules, named as in the configs (``scheduler=NAME``).

Every entry is a pure-Python constructor (no torch): config validation builds the schedule, so a
bad argument is reported before torch is imported, and ``task=preview`` evaluates it directly.
"""

from lrframe.schedules.base import Schedule, join, schedule
from lrframe.schedules.clock import Clock
from lrframe.schedules.constant import unscheduled
from lrframe.schedules.cosine import cosine
from lrframe.schedules.run import RunSchedule, build_run_schedule
from lrframe.schedules.step import step

CATALOGUE = {
    "cosine": cosine,
    "step": step,
    "none": unscheduled,
}


def run_schedule(scheduler: dict, warmup: dict, clock: Clock, lr: float) -> RunSchedule:
    """The run's schedule from its ``scheduler`` and ``warmup`` config nodes."""
    return build_run_schedule(scheduler, warmup, clock, lr, CATALOGUE)


__all__ = ["CATALOGUE", "Clock", "RunSchedule", "Schedule", "join", "run_schedule", "schedule"]
