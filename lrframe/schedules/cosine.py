"""Cosine annealing (Loshchilov & Hutter, SGDR): CosineAnnealingLR and CosineAnnealingWarmRestarts (torch),
with transformers' ``num_cycles`` and timm's ``k_decay``, cycle keys and noise."""

from __future__ import annotations

import math

from lrframe.config.errors import number
from lrframe.schedules import noise
from lrframe.schedules.base import Schedule, schedule
from lrframe.schedules.cycles import cycle_arguments, cycled


def _annealed(floor: float, progress: float, waves: float = 0.5) -> float:
    """From 1 at progress 0 down to ``floor`` along a cosine: ``waves`` of its periods per unit of progress."""
    return floor + (1.0 - floor) * (1.0 + math.cos(2.0 * math.pi * waves * progress)) / 2.0


def _k_decay(k_decay: float) -> float:
    return number("k_decay", k_decay, gt=0)


@schedule(to_end=("T_max",), covers_run=("T_max",), extras={"num_cycles": 0.5, "k_decay": 1.0})
def cosine(*, T_max: float, eta_min: float, num_cycles: float, k_decay: float, lr: float) -> Schedule:
    """lr(t) = eta_min + (lr - eta_min) * (1 + cos(2 pi * num_cycles * (t / T_max) ** k_decay)) / 2

    torch's CosineAnnealingLR at num_cycles 0.5 and k_decay 1 (half a wave, from lr down to
    eta_min). ``num_cycles`` is transformers' (get_cosine_schedule_with_warmup, with T_max the
    steps after warmup: 1 goes down and back up); ``k_decay`` is timm's (Zhang & Li 2020: above 1
    the lr stays high longer, below 1 it drops sooner).

    >>> f = cosine(T_max=10, eta_min=0.0, num_cycles=0.5, k_decay=1.0, lr=0.1)
    >>> round(f(0), 6), round(f(5), 6), round(f(10), 6)
    (1.0, 0.5, 0.0)
    >>> round(cosine(T_max=10, eta_min=0.0, num_cycles=1.0, k_decay=1.0, lr=0.1)(10), 6)
    1.0
    """
    T_max = number("T_max", T_max, gt=0)
    floor = number("eta_min", eta_min, ge=0, lt=lr) / lr
    waves = number("num_cycles", num_cycles, gt=0)
    k = _k_decay(k_decay)
    return lambda t: _annealed(floor, (t / T_max) ** k, waves)


@schedule(to_end=("T_0",), extras={"cycle_decay": 1.0, "cycle_limit": None, "k_decay": 1.0, **noise.KEYS})
def cosine_restarts(*, T_0: float, T_mult: float, eta_min: float, cycle_decay: float, cycle_limit: int | None,
                    k_decay: float, noise_range_t, noise_type, noise_pct, noise_std, noise_seed,
                    lr: float) -> Schedule:
    """CosineAnnealingWarmRestarts: cosine annealing restarted every T_i, with T_i = T_0 * T_mult ** i

        lr(t) = eta_min + (lr * cycle_decay ** i - eta_min) * (1 + cos(pi * T_cur ** k / T_i ** k)) / 2
        T_cur = the time since the last restart, i = the number of restarts so far, k = k_decay;
        after cycle_limit cycles (null: never) lr(t) = eta_min

    times ``1 + noise`` in ``noise_range_t`` (see ``noise``). This is timm's CosineLRScheduler with
    t_initial = T_0, cycle_mul = T_mult (a number >= 1, not only a whole one), lr_min = eta_min;
    torch's at cycle_decay 1, cycle_limit null, k_decay 1. ``T_0: null`` lasts to the end of training.

    >>> f = cosine_restarts(T_0=10, T_mult=2, eta_min=0.0, cycle_decay=0.5, cycle_limit=None, k_decay=1.0,
    ...                     noise_range_t=None, noise_type=None, noise_pct=None, noise_std=None,
    ...                     noise_seed=None, lr=1.0)
    >>> f(0), round(f(5), 6), f(10), round(f(20), 6), f(30)
    (1.0, 0.5, 0.5, 0.25, 0.25)
    """
    period, mul, decay, limit = cycle_arguments(length=("T_0", T_0), mul=("T_mult", T_mult),
                                                cycle_decay=cycle_decay, cycle_limit=cycle_limit)
    floor = number("eta_min", eta_min, ge=0, lt=lr) / lr
    k = _k_decay(k_decay)
    f = cycled(lambda t_curr, t_i: _annealed(0.0, (t_curr / t_i) ** k), length=period, mul=mul, decay=decay,
               limit=limit, floor=floor)
    return noise.noisy(f, noise_range_t=noise_range_t, noise_type=noise_type, noise_pct=noise_pct,
                       noise_std=noise_std, noise_seed=noise_seed)
