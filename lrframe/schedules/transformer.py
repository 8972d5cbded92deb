"""Transformer schedules: NoamDecay (Vaswani et al. 2017; Paddle) and the inverse square root."""

from __future__ import annotations

from lrframe.config.errors import number
from lrframe.schedules.base import Schedule, schedule


@schedule()
def noam(*, d_model: float, warmup_steps: float) -> Schedule:
    """NoamDecay (Paddle): lr(t) = lr * d_model ** -0.5 * min(t ** -0.5, t * warmup_steps ** -1.5)

    The optimizer's lr is Noam's ``learning_rate`` scale (Paddle's default is 1.0). At t = 0 the
    lr is 0 (Paddle takes t ** -0.5 as 1 there); it rises linearly to its peak at t = warmup_steps.

    >>> f = noam(d_model=1, warmup_steps=4)
    >>> f(0), f(2), f(4), f(16)
    (0.0, 0.25, 0.5, 0.25)
    """
    scale = number("d_model", d_model, gt=0) ** -0.5
    ramp = number("warmup_steps", warmup_steps, gt=0) ** -1.5
    return lambda t: scale * min(t ** -0.5 if t > 0 else 1.0, t * ramp)


@schedule(from_warmup=("timescale",))
def inverse_sqrt(*, timescale: float) -> Schedule:
    """lr(t) = lr / sqrt(1 + t / timescale)

    After a warmup of W steps and ``timescale: null`` (= W), the lr at step s >= W is
    lr * sqrt(W / s): fairseq's inverse_sqrt and transformers' get_inverse_sqrt_schedule.

    >>> f = inverse_sqrt(timescale=4)
    >>> f(0), f(12)
    (1.0, 0.5)
    """
    timescale = number("timescale", timescale, gt=0)
    return lambda t: (1.0 + t / timescale) ** -0.5
