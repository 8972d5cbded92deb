"""Step decay (torch.optim.lr_scheduler.StepLR; Paddle's StepDecay)."""

from __future__ import annotations

import math

from lrframe.errors import number
from lrframe.schedules.base import Schedule, schedule


@schedule()
def step(*, step_size: float, gamma: float) -> Schedule:
    """lr(t) = lr * gamma ** floor(t / step_size)

    >>> f = step(step_size=30, gamma=0.1)
    >>> f(29), f(30), round(f(60), 6)
    (1.0, 0.1, 0.01)
    """
    step_size = number("step_size", step_size, gt=0)
    gamma = number("gamma", gamma, gt=0)
    return lambda t: gamma ** math.floor(t / step_size)
