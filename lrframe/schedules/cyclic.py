"""Cyclical schedules with cyclical momentum (Smith 2017, 2018): CyclicLR and OneCycleLR (torch).

Both carry ``momentum(t)`` unless ``cycle_momentum`` is false: the momentum of SGD/RMSprop, or
beta1 of the Adam family, moves opposite to the lr.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lrframe.config.errors import ConfigError, boolean, choice, number
from lrframe.schedules.base import Schedule, schedule
from lrframe.schedules.lambdas import user_function

#: CyclicLR's built-in policies: mode -> (scale_fn(x), scale_mode); exp_range uses gamma
POLICIES = {
    "triangular": (lambda gamma: lambda x: 1.0, "cycle"),
    "triangular2": (lambda gamma: lambda x: 1.0 / 2.0 ** (x - 1), "cycle"),
    "exp_range": (lambda gamma: lambda x: gamma ** x, "iterations"),
}
ANNEALING = {
    "cos": lambda start, end, pct: end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1),
    "linear": lambda start, end, pct: (end - start) * pct + start,
}


def _momenta(base_momentum: Any, max_momentum: Any) -> tuple[float, float]:
    return (number("base_momentum", base_momentum, ge=0, lt=1),
            number("max_momentum", max_momentum, ge=0, lt=1))


def _with_momentum(lr_factor: Schedule, momentum: Callable[[float], float] | None) -> Schedule:
    if momentum is not None:
        lr_factor.momentum = momentum
    return lr_factor


@schedule()
def cyclic(*, base_lr: float | None, max_lr: float | None, step_size_up: float, step_size_down: float | None,
           mode: str, gamma: float, scale_fn: Any, scale_mode: str, cycle_momentum: bool,
           base_momentum: float, max_momentum: float, lr: float) -> Schedule:
    """CyclicLR: the lr goes from base_lr up to max_lr in step_size_up, back down in step_size_down.

        cycle = floor(1 + t / (up + down));  x = 1 + t / (up + down) - cycle
        h = x / r if x <= r else (x - 1) / (r - 1),   r = up / (up + down)
        lr(t) = base_lr + (max_lr - base_lr) * h * scale_fn(cycle or t, per scale_mode)
        momentum(t) = max_momentum - (max_momentum - base_momentum) * h * scale_fn(...)

    ``max_lr: null`` is the optimizer's lr; ``base_lr: null`` is max_lr / 4 (Smith's rule of thumb:
    base_lr 1/3 to 1/4 of max_lr). ``scale_fn`` (null: the ``mode``'s) is an expression in ``x`` or a
    dotted path, as ``lr_lambda``.

    >>> f = cyclic(base_lr=0.1, max_lr=1.0, step_size_up=2, step_size_down=None, mode="triangular",
    ...            gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=False,
    ...            base_momentum=0.8, max_momentum=0.9, lr=1.0)
    >>> [round(f(t), 6) for t in range(5)]
    [0.1, 0.55, 1.0, 0.55, 0.1]
    """
    top = lr if max_lr is None else number("max_lr", max_lr, gt=0)
    bottom = top / 4 if base_lr is None else number("base_lr", base_lr, ge=0)
    up = number("step_size_up", step_size_up, gt=0)
    down = up if step_size_down is None else number("step_size_down", step_size_down, gt=0)
    choice("mode", mode, POLICIES)
    gamma = number("gamma", gamma, gt=0)
    choice("scale_mode", scale_mode, ("cycle", "iterations"))
    if scale_fn is None:  # the mode's policy, with its own scale_mode (as torch)
        make_scale, scale_mode = POLICIES[mode]
        scale = make_scale(gamma)
    else:
        scale = user_function("scale_fn", scale_fn, "x")
    base_m, max_m = _momenta(base_momentum, max_momentum)
    total, ratio = up + down, up / (up + down)

    def height(t: float) -> float:
        """Where in the cycle t is (0 at base, 1 at the peak), times the scaling policy."""
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        h = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        return h * scale(cycle if scale_mode == "cycle" else t)

    momentum = (lambda t: max_m - (max_m - base_m) * height(t)) if boolean("cycle_momentum", cycle_momentum) else None
    return _with_momentum(lambda t: (bottom + (top - bottom) * height(t)) / lr, momentum)


@schedule(to_end=("total_steps",), covers_run=("total_steps",))
def onecycle(*, max_lr: float | None, total_steps: float, pct_start: float, anneal_strategy: str,
             cycle_momentum: bool, base_momentum: float, max_momentum: float, div_factor: float,
             final_div_factor: float, three_phase: bool, lr: float) -> Schedule:
    """OneCycleLR (super-convergence): up from max_lr / div_factor to max_lr, then down to a tiny lr.

    Phases (T = total_steps, p = pct_start; each anneals with ``anneal_strategy``, cos or linear):

        two-phase:   [0, pT - 1]: initial -> max_lr;  [pT - 1, T - 1]: max_lr -> min
        three_phase: [0, pT - 1]: initial -> max_lr;  [pT - 1, 2pT - 2]: max_lr -> initial;
                     [2pT - 2, T - 1]: initial -> min
        initial = max_lr / div_factor;  min = initial / final_div_factor

    momentum runs the other way, between max_momentum and base_momentum. ``max_lr: null`` is the
    optimizer's lr, so its lr is the peak.

    >>> f = onecycle(max_lr=None, total_steps=11, pct_start=0.2, anneal_strategy="linear",
    ...              cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=10.0,
    ...              final_div_factor=1.0, three_phase=False, lr=1.0)
    >>> round(f(0), 6), round(f(1.2), 6), round(f(10), 6), round(f.momentum(1.2), 6)
    (0.1, 1.0, 0.1, 0.85)
    """
    peak = lr if max_lr is None else number("max_lr", max_lr, gt=0)
    T = number("total_steps", total_steps, gt=0)
    p = number("pct_start", pct_start, ge=0, le=1)
    anneal = ANNEALING[choice("anneal_strategy", anneal_strategy, ANNEALING)]
    initial = peak / number("div_factor", div_factor, gt=0)
    minimum = initial / number("final_div_factor", final_div_factor, gt=0)
    base_m, max_m = _momenta(base_momentum, max_momentum)
    if boolean("three_phase", three_phase):
        phases = [(p * T - 1, initial, peak, max_m, base_m), (2 * p * T - 2, peak, initial, base_m, max_m),
                  (T - 1, initial, minimum, max_m, max_m)]
    else:
        phases = [(p * T - 1, initial, peak, max_m, base_m), (T - 1, peak, minimum, base_m, max_m)]
    ends = [0.0] + [phase[0] for phase in phases]
    if any(b <= a for a, b in zip(ends, ends[1:])):
        raise ConfigError("pct_start", pct_start, f"gives an empty phase with total_steps={T:g}: expected "
                                                  "pct_start x total_steps > 1 and a last phase longer than 0")

    def phase_of(t: float) -> tuple[float, tuple]:
        """The phase t falls in and how far into it t is (0 to 1; beyond 1 past the end)."""
        start = 0.0
        for i, phase in enumerate(phases):
            if t <= phase[0] or i == len(phases) - 1:
                return (t - start) / (phase[0] - start), phase
            start = phase[0]

    def lr_factor(t: float) -> float:
        pct, (_, start_lr, end_lr, _, _) = phase_of(t)
        return anneal(start_lr, end_lr, pct) / lr

    def momentum(t: float) -> float:
        pct, (_, _, _, start_m, end_m) = phase_of(t)
        return anneal(start_m, end_m, pct)

    return _with_momentum(lr_factor, momentum if boolean("cycle_momentum", cycle_momentum) else None)
