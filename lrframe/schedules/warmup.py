"""Warmup shapes: the factor at step ``s`` of a warmup of ``W`` steps, from ``start_factor`` to ``end_factor``.

The builder multiplies it by the main schedule's starting factor, so warmup ramps to the lr the
main schedule starts from (``lr`` itself for every decay schedule). With ``end_factor`` below 1
(Paddle's LinearWarmup with an ``end_lr`` of its own) the warmup stops short of it, and the
schedule starts at step W. With p = s / W, a = start_factor, b = end_factor:

    linear       a + (b - a) * p                       Paddle's LinearWarmup, transformers
    exponential  a * (b / a) ** p                      a geometric ramp (a, b > 0)
    cosine       a + (b - a) * (1 - cos(pi p)) / 2     transformers' warmup_type=cosine
    1-sqrt       a + (b - a) * (1 - sqrt(1 - p))       transformers' warmup_type=1-sqrt
    constant     a                                     Goyal et al.'s constant warmup (no end_factor)
"""

from __future__ import annotations

import math

from lrframe.config.errors import number
from lrframe.schedules.base import Schedule

#: keys added to the shapes that ramp, with the value that ends the ramp where the schedule starts;
#: a warmup node without them gets it (``end_lr``, Paddle's, is an lr: if set it gives ``end_factor``)
EXTRAS = {"end_factor": 1.0, "end_lr": None}


def linear(*, start_factor: float, end_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor + (end_factor - start_factor) * s / W   (Paddle's LinearWarmup, transformers)

    >>> [linear(start_factor=0.0, end_factor=0.5, steps=4)(s) for s in range(4)]
    [0.0, 0.125, 0.25, 0.375]
    """
    start, end = number("start_factor", start_factor, ge=0, le=1), number("end_factor", end_factor, ge=0)
    return lambda s: start + (end - start) * s / steps


def exponential(*, start_factor: float, end_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor * (end_factor / start_factor) ** (s / W)   (a geometric ramp; needs both > 0)

    >>> [round(exponential(start_factor=0.01, end_factor=1.0, steps=2)(s), 6) for s in range(2)]
    [0.01, 0.1]
    """
    start, end = number("start_factor", start_factor, gt=0, le=1), number("end_factor", end_factor, gt=0)
    return lambda s: start * (end / start) ** (s / steps)


def cosine(*, start_factor: float, end_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor + (end_factor - start_factor) * (1 - cos(pi s / W)) / 2   (transformers' cosine)

    >>> [round(cosine(start_factor=0.0, end_factor=1.0, steps=4)(s), 6) for s in range(4)]
    [0.0, 0.146447, 0.5, 0.853553]
    """
    start, end = number("start_factor", start_factor, ge=0, le=1), number("end_factor", end_factor, ge=0)
    return lambda s: start + (end - start) * (1.0 - math.cos(math.pi * s / steps)) / 2.0


def one_minus_sqrt(*, start_factor: float, end_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor + (end_factor - start_factor) * (1 - sqrt(1 - s / W))   (transformers' 1-sqrt)

    >>> [round(one_minus_sqrt(start_factor=0.0, end_factor=1.0, steps=4)(s), 6) for s in range(4)]
    [0.0, 0.133975, 0.292893, 0.5]
    """
    start, end = number("start_factor", start_factor, ge=0, le=1), number("end_factor", end_factor, ge=0)
    return lambda s: start + (end - start) * (1.0 - math.sqrt(1.0 - s / steps))


def constant(*, start_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor   (a low constant lr, then the full one; Goyal et al.'s constant warmup)"""
    start = number("start_factor", start_factor, gt=0, le=1)
    return lambda s: start


SHAPES = {"linear": linear, "exponential": exponential, "constant": constant, "cosine": cosine,
          "1-sqrt": one_minus_sqrt}
