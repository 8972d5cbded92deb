"""Stochastic weight averaging's lr (Izmailov et al. 2018): torch's ``SWALR`` once SWA starts.

``swa=default`` uses Lightning's ``StochasticWeightAveraging`` key names and meanings:

- ``swa_epoch_start``: an int ``N >= 1`` starts SWA with the ``N``-th epoch (0-based epoch ``N - 1``);
  a float ``f`` in [0, 1] starts it with the ``int(f * E)``-th (``E``: the epochs of the run).
- ``swa_lrs``: the lr SWA anneals to (one number, or one per parameter group), absolute.
- ``annealing_epochs``, ``annealing_strategy`` (``cos`` | ``linear``): SWALR's ``anneal_epochs``
  and ``anneal_strategy``.

From SWA's first optimizer step ``s0`` on, SWALR (stepped once per epoch, as Lightning steps it)
replaces the schedule. With ``L`` the lr the schedule gives at ``s0`` and ``j`` the whole epochs
since ``s0``::

    lr = swa_lr * a + L * (1 - a),   a = anneal(min(1, j / annealing_epochs))   (a = 1 if annealing_epochs = 0)
    anneal(t) = (1 - cos(pi t)) / 2   (cos)   |   t   (linear)

Scheduled momentum (OneCycle, Cyclic) is held at its value at ``s0``.

    >>> from lrframe.schedules.clock import Clock
    >>> phase = swa_phase({"name": "default", "swa_epoch_start": 3, "swa_lrs": 0.05, "annealing_epochs": 2,
    ...                    "annealing_strategy": "linear"}, Clock(steps_per_epoch=10, total_steps=50))
    >>> phase.start_step, [phase.alpha(s) for s in (20, 29, 30, 40, 49)]
    (20, [0.0, 0.0, 0.5, 1.0, 1.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lrframe.config.errors import ConfigError, choice, integer, known_keys, number
from lrframe.schedules.clock import Clock

KEYS = ("name", "swa_epoch_start", "swa_lrs", "annealing_epochs", "annealing_strategy")
STRATEGIES = ("cos", "linear")


@dataclass(frozen=True)
class SwaPhase:
    """When SWA starts (0-based epoch, optimizer step) and the lr it anneals to."""

    start_epoch: int
    start_step: int
    steps_per_epoch: int
    swa_lrs: float | tuple[float, ...]
    annealing_epochs: int
    annealing_strategy: str

    def alpha(self, step: int) -> float:
        """SWALR's weight of ``swa_lr`` at optimizer ``step`` (>= ``start_step``)."""
        if self.annealing_epochs == 0:
            return 1.0
        t = min(1.0, ((step - self.start_step) // self.steps_per_epoch) / self.annealing_epochs)
        return (1 - math.cos(math.pi * t)) / 2 if self.annealing_strategy == "cos" else t

    def swa_lr(self, group: int) -> float:
        """The lr parameter group ``group`` anneals to."""
        return self.swa_lrs if isinstance(self.swa_lrs, float) else self.swa_lrs[group]

    def check_groups(self, names: list[str]) -> None:
        """A list of ``swa_lrs`` has one lr per parameter group."""
        if not isinstance(self.swa_lrs, float) and len(self.swa_lrs) != len(names):
            raise ConfigError("swa.swa_lrs", list(self.swa_lrs), f"expected one number, or one per parameter group "
                              f"({len(names)}: {', '.join(names)})")


def swa_phase(node: dict, clock: Clock) -> SwaPhase | None:
    """The SWA phase the ``swa`` node asks for on ``clock`` (None for ``swa=none``); one-line ConfigErrors."""
    name = node.get("name")
    if name == "none":
        known_keys(node, ("name",), "swa=none", "swa")
        return None
    choice("swa.name", name, ("none", "default"))
    known_keys(node, KEYS, f"swa={name}", "swa")
    epochs = math.ceil(clock.total_steps / clock.steps_per_epoch)  # the epochs the run trains in (Lightning's max_epochs)
    start = node.get("swa_epoch_start")
    expected = f"an epoch from 1 to {epochs} (an int), or a fraction of training in [0, 1] (a float)"
    if isinstance(start, float):
        number("swa.swa_epoch_start", start, ge=0, le=1)
        nth = int(start * epochs)
    elif isinstance(start, int) and not isinstance(start, bool):
        if start < 1:
            raise ConfigError("swa.swa_epoch_start", start, f"expected {expected}")
        nth = start
    else:
        raise ConfigError("swa.swa_epoch_start", start, f"expected {expected}")
    if nth > epochs:
        raise ConfigError("swa.swa_epoch_start", start, f"SWA would start after the end of training ({epochs} "
                                                        f"epochs); expected {expected}")
    lrs = node.get("swa_lrs")
    positive = "expected a number > 0 (the lr SWA anneals to), or a list of them, one per parameter group"
    if isinstance(lrs, list) and lrs:
        swa_lrs: float | tuple[float, ...] = tuple(_positive(lrs, value, positive) for value in lrs)
    else:
        swa_lrs = _positive(lrs, lrs, positive)
    start_epoch = max(nth - 1, 0)
    return SwaPhase(start_epoch, start_epoch * clock.steps_per_epoch, clock.steps_per_epoch, swa_lrs,
                    integer("swa.annealing_epochs", node.get("annealing_epochs"), ge=0),
                    choice("swa.annealing_strategy", node.get("annealing_strategy"), STRATEGIES))


def _positive(given, value, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ConfigError("swa.swa_lrs", given, expected)
    return float(value)
