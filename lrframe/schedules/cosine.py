"""Cosine annealing (Loshchilov & Hutter, SGDR): CosineAnnealingLR and CosineAnnealingWarmRestarts (torch)."""

from __future__ import annotations

import math

from lrframe.config.errors import integer, number
from lrframe.schedules.base import Schedule, schedule


def _annealed(floor: float, progress: float) -> float:
    """From 1 at progress 0 to ``floor`` at progress 1, along half a cosine."""
    return floor + (1.0 - floor) * (1.0 + math.cos(math.pi * progress)) / 2.0


@schedule(to_end=("T_max",), covers_run=("T_max",))
def cosine(*, T_max: float, eta_min: float, lr: float) -> Schedule:
    """lr(t) = eta_min + (lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    >>> f = cosine(T_max=10, eta_min=0.0, lr=0.1)
    >>> round(f(0), 6), round(f(5), 6), round(f(10), 6)
    (1.0, 0.5, 0.0)
    """
    T_max = number("T_max", T_max, gt=0)
    floor = number("eta_min", eta_min, ge=0, lt=lr) / lr
    return lambda t: _annealed(floor, t / T_max)


@schedule()
def cosine_restarts(*, T_0: int, T_mult: int, eta_min: float, lr: float) -> Schedule:
    """CosineAnnealingWarmRestarts: cosine annealing restarted every T_i, with T_i = T_0 * T_mult ** i

        lr(t) = eta_min + (lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2
        T_cur = the time since the last restart

    >>> f = cosine_restarts(T_0=10, T_mult=2, eta_min=0.0, lr=1.0)
    >>> f(0), round(f(5), 6), f(10), round(f(20), 6)
    (1.0, 0.5, 1.0, 0.5)
    """
    T_0 = integer("T_0", T_0, ge=1)
    T_mult = integer("T_mult", T_mult, ge=1)
    floor = number("eta_min", eta_min, ge=0, lt=lr) / lr

    def restarted(t: float) -> float:
        if T_mult == 1:
            return _annealed(floor, (t % T_0) / T_0)
        since_restart, period = t, T_0
        while since_restart >= period:  # a few iterations: periods grow geometrically
            since_restart, period = since_restart - period, period * T_mult
        return _annealed(floor, since_restart / period)

    return restarted
