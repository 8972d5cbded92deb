"""Cosine annealing (Loshchilov & Hutter, SGDR; torch.optim.lr_scheduler.CosineAnnealingLR)."""

from __future__ import annotations

import math

from lrframe.errors import number
from lrframe.schedules.base import Schedule, schedule


@schedule(to_end=("T_max",), covers_run=("T_max",))
def cosine(*, T_max: float, eta_min: float, lr: float) -> Schedule:
    """lr(t) = eta_min + (lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    >>> f = cosine(T_max=10, eta_min=0.0, lr=0.1)
    >>> round(f(0), 6), round(f(5), 6), round(f(10), 6)
    (1.0, 0.5, 0.0)
    """
    T_max = number("T_max", T_max, gt=0)
    floor = number("eta_min", eta_min, ge=0, lt=lr) / lr
    return lambda t: floor + (1.0 - floor) * (1.0 + math.cos(math.pi * t / T_max)) / 2.0
