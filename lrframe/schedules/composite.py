"""Schedules made of schedules: SequentialLR and ChainedScheduler (torch).

Their ``schedulers`` are config nodes like any scheduler's (``{name: exponential, gamma: 0.9}``)
on the parent's clock; an error in one is reported under ``schedulers.<i>.<key>``. Durations
left null in a part last to the end of that part.
"""

from __future__ import annotations

import math
from typing import Any

from lrframe.config.errors import ConfigError, sorted_integers
from lrframe.schedules.base import Schedule, join, schedule


def _nodes(schedulers: Any) -> list:
    if not isinstance(schedulers, list) or not schedulers:
        raise ConfigError("schedulers", schedulers, "expected a list of scheduler configs, "
                                                    "e.g. [{name: constant, factor: 0.1, total_iters: 2}]")
    return schedulers


def _parts(nodes: list, pieces, lengths: list[float]) -> list[Schedule]:
    """Build each node lasting its length; closed-form lr schedules only."""
    parts = [pieces(f"schedulers.{i}", node, length) for i, (node, length) in enumerate(zip(nodes, lengths))]
    for i, part in enumerate(parts):
        if hasattr(part, "observe"):
            raise ConfigError(f"schedulers.{i}.name", nodes[i]["name"],
                              "depends on a metric, so it cannot be part of a sequence or chain (as in torch)")
        if hasattr(part, "momentum"):
            raise ConfigError(f"schedulers.{i}.cycle_momentum", True,
                              "momentum is not scheduled inside sequential or chained; expected false")
    return parts


@schedule()
def sequential(*, schedulers: list, milestones: list[int], pieces) -> Schedule:
    """SequentialLR: schedulers[i] runs from milestones[i-1] on, restarted from its own t = 0

        lr(t) = schedulers[i](t - milestones[i-1])   for milestones[i-1] <= t < milestones[i]

    (``base.join``, as optax's join_schedules.)
    """
    nodes = _nodes(schedulers)
    milestones = sorted_integers("milestones", milestones, ge=1)
    if len(milestones) != len(nodes) - 1:
        raise ConfigError("milestones", milestones, f"expected {len(nodes) - 1} milestones, one fewer than schedulers")
    if milestones and milestones[-1] >= pieces.length:
        raise ConfigError("milestones", milestones,
                          f"expected milestones inside the run ({pieces.length:g} {pieces.unit}s after warmup)")
    bounds = [0, *milestones, pieces.length]
    return join(_parts(nodes, pieces, [end - start for start, end in zip(bounds, bounds[1:])]), milestones)


@schedule()
def chained(*, schedulers: list, pieces) -> Schedule:
    """ChainedScheduler: the product of the schedulers' factors, lr(t) = lr * prod_i f_i(t)

    torch's ChainedScheduler multiplies the updates of chainable schedulers; for those whose update
    is a ratio (all but cosine with eta_min > 0) that is this product.
    """
    nodes = _nodes(schedulers)
    parts = _parts(nodes, pieces, [pieces.length] * len(nodes))
    return lambda t: math.prod(part(t) for part in parts)
