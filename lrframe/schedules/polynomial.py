"""Polynomial decays: LinearLR (torch); PolynomialDecay (Paddle, with cycle); PolyLRScheduler (timm, restarting)."""

from __future__ import annotations

import math

from lrframe.config.errors import boolean, number
from lrframe.schedules import noise
from lrframe.schedules.base import Schedule, schedule
from lrframe.schedules.cycles import cycle_arguments, cycled


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


@schedule(to_end=("t_initial",))
def poly(*, t_initial: float, power: float, lr_min: float, cycle_mul: float, cycle_decay: float,
         cycle_limit: int | None, k_decay: float, noise_range_t, noise_type, noise_pct, noise_std, noise_seed,
         lr: float) -> Schedule:
    """PolyLRScheduler (timm): a polynomial decay, restarted every T_i = t_initial * cycle_mul ** i

        lr(t) = lr_min + (lr * cycle_decay ** i - lr_min) * (1 - T_cur ** k / T_i ** k) ** power
        T_cur = the time since the last restart, i = the number of restarts so far, k = k_decay;
        after cycle_limit cycles (null: never) lr(t) = lr_min

    times ``1 + noise`` in ``noise_range_t`` (see ``noise``). ``t_initial: null`` lasts to the end of
    training: one decay from lr to lr_min, as timm's with t_initial = its epochs.

    >>> f = poly(t_initial=10, power=1.0, lr_min=0.0, cycle_mul=1.0, cycle_decay=0.5, cycle_limit=2,
    ...          k_decay=1.0, noise_range_t=None, noise_type="normal", noise_pct=0.67, noise_std=1.0,
    ...          noise_seed=42, lr=1.0)
    >>> f(0), f(5), f(10), f(15), f(20)
    (1.0, 0.5, 0.5, 0.25, 0.0)
    """
    period, mul, decay, limit = cycle_arguments(length=("t_initial", t_initial), mul=("cycle_mul", cycle_mul),
                                                cycle_decay=cycle_decay, cycle_limit=cycle_limit)
    power = number("power", power, gt=0)
    floor = number("lr_min", lr_min, ge=0, lt=lr) / lr
    k = number("k_decay", k_decay, gt=0)
    f = cycled(lambda t_curr, t_i: (1.0 - (t_curr / t_i) ** k) ** power, length=period, mul=mul, decay=decay,
               limit=limit, floor=floor)
    return noise.noisy(f, noise_range_t=noise_range_t, noise_type=noise_type, noise_pct=noise_pct,
                       noise_std=noise_std, noise_seed=noise_seed)
