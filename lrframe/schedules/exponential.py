"""Exponential-type decays: ExponentialLR (torch); NaturalExpDecay, InverseTimeDecay (Paddle)."""

from __future__ import annotations

import math

from lrframe.config.errors import number
from lrframe.schedules.base import Schedule, schedule


@schedule()
def exponential(*, gamma: float) -> Schedule:
    """ExponentialLR: lr(t) = lr * gamma ** t

    >>> exponential(gamma=0.5)(3)
    0.125
    """
    gamma = number("gamma", gamma, gt=0)
    return lambda t: gamma ** t


@schedule()
def natural_exp(*, gamma: float) -> Schedule:
    """NaturalExpDecay (Paddle): lr(t) = lr * exp(-gamma * t)

    >>> round(natural_exp(gamma=0.5)(2), 6)
    0.367879
    """
    gamma = number("gamma", gamma, ge=0)
    return lambda t: math.exp(-gamma * t)


@schedule()
def inverse_time(*, gamma: float) -> Schedule:
    """InverseTimeDecay (Paddle): lr(t) = lr / (1 + gamma * t)

    >>> inverse_time(gamma=0.5)(2)
    0.5
    """
    gamma = number("gamma", gamma, ge=0)
    return lambda t: 1.0 / (1.0 + gamma * t)
