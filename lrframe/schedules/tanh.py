"""The hyperbolic-tangent decay (Hsueh et al. 2019): TanhLRScheduler (timm), restarting."""

from __future__ import annotations

import math

from lrframe.config.errors import ConfigError, number
from lrframe.schedules import noise
from lrframe.schedules.base import Schedule, schedule
from lrframe.schedules.cycles import cycle_arguments, cycled


@schedule(to_end=("t_initial",))
def tanh(*, t_initial: float, lb: float, ub: float, lr_min: float, cycle_mul: float, cycle_decay: float,
         cycle_limit: int | None, noise_range_t, noise_type, noise_pct, noise_std, noise_seed,
         lr: float) -> Schedule:
    """TanhLRScheduler (timm): a tanh from lb to ub, restarted every T_i = t_initial * cycle_mul ** i

        lr(t) = lr_min + (lr * cycle_decay ** i - lr_min) * (1 - tanh(lb * (1 - r) + ub * r)) / 2
        r = T_cur / T_i, T_cur = the time since the last restart, i = the number of restarts so far;
        after cycle_limit cycles (null: never) lr(t) = lr_min

    times ``1 + noise`` in ``noise_range_t`` (see ``noise``). With timm's lb = -7, ub = 3 the lr
    starts at 0.9999992 lr, is still 0.98 lr at r = 0.5 and 0.5 lr at r = 0.7, and ends at
    0.0025 lr. ``t_initial: null`` lasts to the end of training.

    >>> f = tanh(t_initial=10, lb=-7.0, ub=3.0, lr_min=0.0, cycle_mul=1.0, cycle_decay=1.0, cycle_limit=None,
    ...          noise_range_t=None, noise_type="normal", noise_pct=0.67, noise_std=1.0, noise_seed=42, lr=1.0)
    >>> round(f(0), 6), round(f(7), 6), round(f(10), 6)
    (0.999999, 0.5, 0.999999)
    """
    period, mul, decay, limit = cycle_arguments(length=("t_initial", t_initial), mul=("cycle_mul", cycle_mul),
                                                cycle_decay=cycle_decay, cycle_limit=cycle_limit)
    lb, ub = number("lb", lb), number("ub", ub)
    if ub <= lb:
        raise ConfigError("ub", ub, f"expected a number > lb ({lb:g})")
    floor = number("lr_min", lr_min, ge=0, lt=lr) / lr

    def shape(t_curr: float, t_i: float) -> float:
        r = t_curr / t_i
        return (1.0 - math.tanh(lb * (1.0 - r) + ub * r)) / 2.0

    f = cycled(shape, length=period, mul=mul, decay=decay, limit=limit, floor=floor)
    return noise.noisy(f, noise_range_t=noise_range_t, noise_type=noise_type, noise_pct=noise_pct,
                       noise_std=noise_std, noise_seed=noise_seed)
