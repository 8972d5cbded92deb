"""Warmup-stable-decay (Hu et al. 2024, MiniCPM; Hägele et al. 2024): hold the lr, then cool down.

The warmup is the run's ``warmup`` group; this is the stable phase and the decay after it.
"""

from __future__ import annotations

import math

from lrframe.config.errors import ConfigError, choice, number
from lrframe.schedules.base import Schedule, schedule

#: decay shapes (p, num_cycles) -> factor, from 1 at p = 0 to 0 at p = 1 (transformers' get_wsd_schedule names)
DECAYS = {
    "linear": lambda p, cycles: 1.0 - p,
    "cosine": lambda p, cycles: 0.5 * (1.0 + math.cos(2.0 * math.pi * cycles * p)),
    "1-sqrt": lambda p, cycles: 1.0 - math.sqrt(p),
}
#: num_cycles of the half-wave cosine decay (transformers' default); the other shapes take no other
HALF_WAVE = 0.5


@schedule(to_end=("total_iters",), covers_run=("total_iters",), extras={"num_cycles": HALF_WAVE})
def wsd(*, total_iters: float, decay_fraction: float, decay_type: str, min_lr_ratio: float,
        num_cycles: float) -> Schedule:
    """lr(t) = lr for t < T - D, then decays over the last D = decay_fraction * T to min_lr_ratio * lr

        p = clip((t - (T - D)) / D, 0, 1);   lr(t) = lr * (m + (1 - m) * shape(p))
        shape(p) = 1 - p (linear) | (1 + cos(2 pi c p)) / 2 (cosine) | 1 - sqrt(p) (1-sqrt)

    T is ``total_iters`` (null = to the end of training, after warmup), m is ``min_lr_ratio``, c is
    ``num_cycles`` (transformers': 0.5 is half a wave, down to m; 1 comes back up to lr).

    >>> f = wsd(total_iters=10, decay_fraction=0.2, decay_type="linear", min_lr_ratio=0.0, num_cycles=0.5)
    >>> f(7), f(8), f(9), f(10)
    (1.0, 1.0, 0.5, 0.0)
    """
    total = number("total_iters", total_iters, gt=0)
    decay = number("decay_fraction", decay_fraction, gt=0, le=1) * total
    decay_type = choice("decay_type", decay_type, DECAYS)
    floor = number("min_lr_ratio", min_lr_ratio, ge=0, le=1)
    cycles = number("num_cycles", num_cycles, gt=0)
    if decay_type != "cosine" and cycles != HALF_WAVE:
        raise ConfigError("num_cycles", num_cycles, f"shapes only decay_type=cosine; expected {HALF_WAVE} "
                                                    f"with decay_type={decay_type}")
    shape = DECAYS[decay_type]
    start = total - decay
    return lambda t: floor + (1.0 - floor) * shape(min(max(t - start, 0.0) / decay, 1.0), cycles)
