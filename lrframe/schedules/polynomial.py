"""Polynomial decays: LinearLR (torch); PolynomialDecay (Paddle, with cycle)."""

from __future__ import annotations

import math

from lrframe.config.errors import boolean, number
from lrframe.schedules.base import Schedule, schedule


@schedule(to_end=("total_iters",))
def linear(*, start_factor: float, end_factor: float, total_iters: float) -> Schedule:
    """LinearLR: lr(t) = lr * (start + (end - start) * min(t, total_iters) / total_iters)

    >>> f = linear(start_factor=1.0, end_factor=0.0, total_iters=4)
    >>> f(0), f(1), f(8)
    (1.0, 0.75, 0.0)
    """
    start = number("start_factor", start_factor, gt=0, le=1)
    end = number("end_factor", end_factor, ge=0, le=1)
    total_iters = number("total_iters", total_iters, gt=0)
    return lambda t: start + (end - start) * min(t, total_iters) / total_iters


@schedule(to_end=("decay_steps",))
def polynomial(*, decay_steps: float, end_lr: float, power: float, cycle: bool, lr: float) -> Schedule:
    """PolynomialDecay (Paddle): from lr to end_lr over decay_steps as (1 - t / decay_steps) ** power

        cycle=False: t' = min(t, decay_steps);  D = decay_steps
        cycle=True:  t' = t;  D = decay_steps * ceil(t / decay_steps)   (D = decay_steps at t = 0)
        lr(t) = (lr - end_lr) * (1 - t' / D) ** power + end_lr

    >>> f = polynomial(decay_steps=10, end_lr=0.0, power=1.0, cycle=False, lr=1.0)
    >>> f(0), f(5), f(20)
    (1.0, 0.5, 0.0)
    """
    decay_steps = number("decay_steps", decay_steps, gt=0)
    floor = number("end_lr", end_lr, ge=0) / lr
    power = number("power", power, gt=0)
    cycle = boolean("cycle", cycle)

    def decayed(t: float) -> float:
        if cycle:
            span = decay_steps * max(math.ceil(t / decay_steps), 1)
        else:
            t, span = min(t, decay_steps), decay_steps
        return (1.0 - floor) * (1.0 - t / span) ** power + floor

    return decayed
