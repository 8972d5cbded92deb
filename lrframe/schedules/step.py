"""Piecewise-constant decays: StepLR, MultiStepLR (torch); PiecewiseDecay (Paddle)."""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

from lrframe.config.errors import ConfigError, number, sorted_integers
from lrframe.schedules.base import Schedule, schedule


@schedule()
def step(*, step_size: float, gamma: float) -> Schedule:
    """StepLR: lr(t) = lr * gamma ** floor(t / step_size)

    >>> f = step(step_size=30, gamma=0.1)
    >>> f(29), f(30), round(f(60), 6)
    (1.0, 0.1, 0.01)
    """
    step_size = number("step_size", step_size, gt=0)
    gamma = number("gamma", gamma, gt=0)
    return lambda t: gamma ** math.floor(t / step_size)


@schedule()
def multistep(*, milestones: list[int], gamma: float) -> Schedule:
    """MultiStepLR: lr(t) = lr * gamma ** (number of milestones <= t)

    >>> f = multistep(milestones=[30, 80], gamma=0.1)
    >>> f(29), f(30), round(f(80), 6)
    (1.0, 0.1, 0.01)
    """
    milestones = sorted_integers("milestones", milestones, ge=1)
    gamma = number("gamma", gamma, gt=0)
    return lambda t: gamma ** bisect_right(milestones, t)


@schedule()
def piecewise(*, boundaries: list[int], values: list[Any], lr: float) -> Schedule:
    """PiecewiseDecay (Paddle): lr(t) = values[i] for boundaries[i-1] <= t < boundaries[i]

    ``values`` are learning rates (one more than ``boundaries``); the factor is ``values[i] / lr``.

    >>> f = piecewise(boundaries=[100, 200], values=[1.0, 0.5, 0.1], lr=1.0)
    >>> f(99), f(100), f(250)
    (1.0, 0.5, 0.1)
    """
    boundaries = sorted_integers("boundaries", boundaries, ge=1)
    if not isinstance(values, list) or len(values) != len(boundaries) + 1:
        raise ConfigError("values", values, f"expected a list of {len(boundaries) + 1} learning rates, "
                                            "one more than boundaries")
    factors = [number("values", value, ge=0) / lr for value in values]
    return lambda t: factors[bisect_right(boundaries, t)]
