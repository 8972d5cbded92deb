"""Learning-rate noise (timm's ``noise_*`` keys): the lr times ``1 + noise(t)`` while t is in a range.

    lr(t) = f(t) * (1 + n(t))       if t is in noise_range_t, else f(t)
    t in noise_range_t:  t >= a (a number a)  |  a <= t < b (a list [a, b])

    n(t) = noise_std * z, z ~ N(0, 1) drawn again while |n(t)| >= noise_pct    (noise_type: normal)
    n(t) = noise_pct * (2u - 1), u ~ U[0, 1)                                     (noise_type: uniform)

as timm's ``Scheduler._add_noise`` (where ``noise_std`` is stored but unused: its draws have std 1;
here it scales them, as its name says). The draw at time t is a pure function of
``(noise_seed, t)``: a counter-based generator (a BLAKE2b hash of the pair) rather than timm's
``torch.Generator`` seeded with ``noise_seed + t``, so the noise is the same in a preview, in
training and after a resume, with no state to checkpoint. The normal draw, a normal truncated to
``|n| < noise_pct``, comes from the inverse CDF in one step instead of timm's redraws.

t is the schedule's own time (its unit, counted from the end of the warmup, as every duration
of the schedule): with ``interval: epoch`` the noise changes once an epoch, as timm's per-epoch
schedulers; with ``interval: step`` every step.
"""

from __future__ import annotations

import hashlib
import math
import struct
from statistics import NormalDist
from typing import Any

from lrframe.config.errors import ConfigError, choice, integer, number
from lrframe.schedules.base import Schedule

#: noise_type: the distribution of the relative noise
TYPES = ("normal", "uniform")
#: the keys, with the value that turns the noise off (``noise_range_t: null``) where a schedule
#: had no noise before (the others are read only when it is on)
KEYS = {"noise_range_t": None, "noise_type": None, "noise_pct": None, "noise_std": None, "noise_seed": None}
_STANDARD = NormalDist()
_BELOW_ONE = 1.0 - 2.0 ** -53


def uniform(seed: int, t: float) -> float:
    """A uniform number in (0, 1), the same for the same ``(seed, t)`` on every machine."""
    digest = hashlib.blake2b(struct.pack("<qd", seed, float(t)), digest_size=8).digest()
    return ((int.from_bytes(digest, "little") >> 11) + 0.5) * 2.0 ** -53


def _in_range(key: str, value: Any) -> tuple[float, float]:
    """noise_range_t as [start, end): a number a is [a, inf); a list [a] too; [a, b] with a < b."""
    expected = "expected null, a time t from which the lr is noisy, or a range [start, end) of times"
    items = value if isinstance(value, (list, tuple)) else [value]
    if not 1 <= len(items) <= 2:
        raise ConfigError(key, value, expected)
    bounds = [number(key, item, ge=0) if not isinstance(item, (list, tuple)) else None for item in items]
    if None in bounds:
        raise ConfigError(key, value, expected)
    start, end = (bounds[0], math.inf) if len(bounds) == 1 else bounds
    if end <= start:
        raise ConfigError(key, value, "expected a range [start, end) with start < end")
    return start, end


def noisy(f: Schedule, *, noise_range_t: Any, noise_type: Any, noise_pct: Any, noise_std: Any,
          noise_seed: Any) -> Schedule:
    """``f`` with timm's lr noise (see the module docstring); ``f`` itself when ``noise_range_t`` is null.

    >>> g = noisy(lambda t: 1.0, noise_range_t=[2, 4], noise_type="uniform", noise_pct=0.5,
    ...           noise_std=1.0, noise_seed=42)
    >>> [g(t) == 1.0 for t in range(6)]
    [True, True, False, False, True, True]
    >>> g(3) == g(3) and 0.5 < g(3) < 1.5
    True
    """
    if noise_range_t is None:
        return f
    start, end = _in_range("noise_range_t", noise_range_t)
    kind = choice("noise_type", noise_type, TYPES)
    pct = number("noise_pct", noise_pct, gt=0, le=1)  # |noise| < pct <= 1: the lr stays positive
    std = number("noise_std", noise_std, gt=0)
    seed = integer("noise_seed", noise_seed, ge=0, le=2 ** 63 - 1)
    # a normal truncated to (-pct, pct): z = Phi^-1(u) for u uniform in (Phi(-pct/std), Phi(pct/std))
    half_mass = _STANDARD.cdf(pct / std) - 0.5

    def noise(t: float) -> float:
        u = uniform(seed, t)
        if kind == "uniform":
            return pct * (2.0 * u - 1.0)
        p = min(0.5 + (2.0 * u - 1.0) * half_mass, _BELOW_ONE)
        return std * _STANDARD.inv_cdf(max(p, 1.0 - _BELOW_ONE))

    return lambda t: f(t) * (1.0 + noise(t)) if start <= t < end else f(t)
