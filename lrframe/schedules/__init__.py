"""Closed-form learning-rate schedules, named as in the configs (``scheduler=NAME``).

Every entry is a pure-Python constructor (no torch): config validation builds the schedule, so a
bad argument is reported before torch is imported, and ``task=preview`` evaluates it directly.
"""

from lrframe.schedules.aliases import (constant_with_warmup, cosine_with_min_lr, cosine_with_restarts,
                                       warmup_stable_decay)
from lrframe.schedules.base import Schedule, join, schedule
from lrframe.schedules.clock import Clock
from lrframe.schedules.composite import chained, sequential
from lrframe.schedules.constant import constant, unscheduled
from lrframe.schedules.cosine import cosine, cosine_restarts
from lrframe.schedules.cyclic import cyclic, onecycle
from lrframe.schedules.exponential import exponential, inverse_time, natural_exp
from lrframe.schedules.lambdas import lambda_lr, multiplicative
from lrframe.schedules.plateau import plateau
from lrframe.schedules.polynomial import linear, poly, polynomial
from lrframe.schedules.run import RunSchedule, build_run_schedule
from lrframe.schedules.step import multistep, piecewise, step
from lrframe.schedules.tanh import tanh
from lrframe.schedules.transformer import inverse_sqrt, noam
from lrframe.schedules.wsd import wsd

CATALOGUE = {
    # torch.optim.lr_scheduler, with torch's argument names
    "lambda": lambda_lr,
    "multiplicative": multiplicative,
    "step": step,
    "multistep": multistep,
    "constant": constant,
    "linear": linear,
    "exponential": exponential,
    "cosine": cosine,
    "chained": chained,
    "sequential": sequential,
    "plateau": plateau,
    "cyclic": cyclic,
    "onecycle": onecycle,
    "cosine_restarts": cosine_restarts,
    # paddle.optimizer.lr, with Paddle's argument names
    "piecewise": piecewise,
    "natural_exp": natural_exp,
    "inverse_time": inverse_time,
    "polynomial": polynomial,
    "noam": noam,
    # timm.scheduler, with timm's argument names (its cosine is cosine_restarts, which takes its cycle keys)
    "poly": poly,
    "tanh": tanh,
    # modern
    "inverse_sqrt": inverse_sqrt,
    "wsd": wsd,
    "none": unscheduled,
    # transformers' get_scheduler names, with its keys (cosine, inverse_sqrt, polynomial: the entries above)
    "constant_with_warmup": constant_with_warmup,
    "cosine_with_restarts": cosine_with_restarts,
    "cosine_with_min_lr": cosine_with_min_lr,
    "warmup_stable_decay": warmup_stable_decay,
}


def run_schedule(scheduler: dict, warmup: dict, clock: Clock, lr: float) -> RunSchedule:
    """The run's schedule from its ``scheduler`` and ``warmup`` config nodes."""
    return build_run_schedule(scheduler, warmup, clock, lr, CATALOGUE)


__all__ = ["CATALOGUE", "Clock", "RunSchedule", "Schedule", "join", "run_schedule", "schedule"]
