"""What a schedule is, and how schedules join.

A schedule is a pure function ``f(t) -> factor``: the learning rate at time ``t`` (in the schedule's
unit) is ``base_lr * f(t)``. A constructor validates its arguments and returns such a function
(the optax style). Absolute learning rates in a schedule's arguments (``eta_min``, ``max_lr``, ...)
are given relative to ``lr``, the optimizer's learning rate, which the builder passes in.

A schedule may also carry ``momentum(t)`` (cyclic momentum) and, when it depends on history
(ReduceLROnPlateau), ``observe(metrics)`` (a dict with ``val/loss`` and ``val/acc``),
``state_dict()`` and ``load_state_dict()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Schedule = Callable[[float], float]


def schedule(*, to_end: Sequence[str] = (), covers_run: Sequence[str] = (), from_warmup: Sequence[str] = (),
             extras: Mapping[str, Any] | None = None):
    """Mark a schedule constructor with the meaning of its duration arguments.

    to_end:      arguments that may be null, meaning "to the end of training" (after warmup).
    covers_run:  arguments that, when given, must last at least as long as the run (the curve
                 is not defined, or not meant, beyond them).
    from_warmup: arguments that may be null, meaning "as long as the warmup".
    extras:      keys another library added to a schedule that existed without them (timm's
                 ``k_decay`` on the cosine), each with the value that leaves the curve the original's
                 (``k_decay: 1``). The YAML lists them with that value; a node without them (a part
                 of ``sequential``, a config written before they existed) gets it.
    """

    def mark(constructor):
        constructor.to_end = tuple(to_end)
        constructor.covers_run = tuple(covers_run)
        constructor.from_warmup = tuple(from_warmup)
        constructor.extras = dict(extras or {})
        return constructor

    return mark


def join(pieces: Sequence[Schedule], boundaries: Sequence[float]) -> Schedule:
    """Run ``pieces[i]`` from ``boundaries[i-1]`` on, each restarted from its own ``t = 0``.

    As optax's ``join_schedules`` and torch's ``SequentialLR``: with boundaries ``[b]``,
    ``f(t) = pieces[0](t)`` for ``t < b`` and ``pieces[1](t - b)`` after.
    """
    if len(pieces) != len(boundaries) + 1:
        raise ValueError("join needs one more piece than boundaries")

    def joined(t: float) -> float:
        start = 0.0
        for piece, boundary in zip(pieces, boundaries):
            if t < boundary:
                return piece(t - start)
            start = boundary
        return pieces[-1](t - start)

    return joined
