"""Warmup shapes: the factor at step ``s`` of a warmup of ``W`` steps, reaching 1 at ``s = W``.

The builder multiplies it by the main schedule's starting factor, so warmup ramps to the lr the
main schedule starts from (``lr`` itself for every decay schedule).
"""

from __future__ import annotations

from lrframe.config.errors import number
from lrframe.schedules.base import Schedule


def linear(*, start_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor + (1 - start_factor) * s / W   (Paddle's LinearWarmup, transformers)"""
    start = number("start_factor", start_factor, ge=0, le=1)
    return lambda s: start + (1.0 - start) * s / steps


def exponential(*, start_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor ** (1 - s / W)   (a geometric ramp; needs start_factor > 0)"""
    start = number("start_factor", start_factor, gt=0, le=1)
    return lambda s: start ** (1.0 - s / steps)


def constant(*, start_factor: float, steps: int) -> Schedule:
    """f(s) = start_factor   (a low constant lr, then the full one; Goyal et al.'s constant warmup)"""
    start = number("start_factor", start_factor, gt=0, le=1)
    return lambda s: start


SHAPES = {"linear": linear, "exponential": exponential, "constant": constant}
