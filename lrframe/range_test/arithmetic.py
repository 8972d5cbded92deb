"""The arithmetic of the LR range test (Smith 2017, "Cyclical Learning Rates"; fastai's ``lr_find``).

Torch-free: the lr ramp, the smoothed loss, the divergence stop and the suggestions are pure
functions of numbers, tested on synthetic curves (``lrframe.range_test.loop`` runs the training steps).

Over ``N`` optimizer steps the lr rises from ``start`` to ``end``::

    exponential:  lr_i = start * (end / start) ** (i / (N - 1))
    linear:       lr_i = start + (end - start) * i / (N - 1)

The loss of each step is smoothed by a bias-corrected exponential moving average (fastai, Lightning)::

    avg_i = beta * avg_{i-1} + (1 - beta) * loss_i,   avg_{-1} = 0
    smoothed_i = avg_i / (1 - beta ** (i + 1))

and the test stops once ``smoothed_i > diverge_factor * min(smoothed_0 .. smoothed_{i-1})`` (the
seed's "current loss > 4 x minimum loss"), or at the first non-finite loss.

A suggestion is read off the falling part of the smoothed curve: the steps from ``N // 10`` (the
first tenth is start-up noise, as fastai skips it) up to the minimum of the smoothed loss. Every
method gives an lr below the minimum-loss lr:

    steepest  the step where the smoothed loss falls fastest against log(lr).
    valley    fastai's default since 2021 (fastai PR #3377): the longest valley (the longest strictly
              decreasing run of the smoothed loss), taken halfway down.
    minimum   the minimum-loss lr / 10 (lrframe's default: ``conf/task/lr_find.yaml`` says why).

    >>> curve = Recorder(smoothing=0.0, diverge_factor=4.0)
    >>> for lr, loss in zip(ramp(1e-3, 1.0, 4, "exponential"), [2.0, 1.5, 1.0, 9.0]):
    ...     stop = curve.record(lr, loss)
    >>> stop, curve.diverged_at, [round(lr, 6) for lr in curve.lrs]
    (True, 3, [0.001, 0.01, 0.1, 1.0])
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: the fewest steps a test may have: suggestions skip the first tenth and need 5 falling steps after it
MIN_STEPS = 20
#: the first ``num_steps // SKIP_START_DIVISOR`` steps are not used for suggestions (as fastai's)
SKIP_START_DIVISOR = 10
#: a suggestion needs at least this many steps of falling loss before the minimum...
MIN_FALLING_STEPS = 5
#: ...and the smoothed loss to fall by at least this fraction of its starting value
MIN_RELATIVE_DROP = 0.05


def exponential_ramp(start: float, end: float, num_steps: int) -> list[float]:
    """lr_i = start * (end / start) ** (i / (N - 1)); lr_0 = start, lr_{N-1} = end"""
    return [start * (end / start) ** (i / (num_steps - 1)) for i in range(num_steps)]


def linear_ramp(start: float, end: float, num_steps: int) -> list[float]:
    """lr_i = start + (end - start) * i / (N - 1)"""
    return [start + (end - start) * i / (num_steps - 1) for i in range(num_steps)]


RAMPS: dict[str, Callable[[float, float, int], list[float]]] = {
    "exponential": exponential_ramp,
    "linear": linear_ramp,
}


def ramp(start: float, end: float, num_steps: int, mode: str) -> list[float]:
    """The lr of each of ``num_steps`` steps, from ``start`` to ``end`` (``mode``: exponential or linear)."""
    if not 0 < start < end or num_steps < 2:
        raise ValueError(f"a ramp needs 0 < start < end and 2 steps or more, got {start}, {end}, {num_steps}")
    return RAMPS[mode](start, end, num_steps)


class SmoothedLoss:
    """Bias-corrected exponential moving average: ``smoothed_i = avg_i / (1 - beta ** (i + 1))``.

    ``beta = 0`` gives the raw loss; the first value is always the first loss itself.
    """

    def __init__(self, beta: float):
        self.beta, self.average, self.count = beta, 0.0, 0

    def __call__(self, loss: float) -> float:
        self.count += 1
        self.average = self.beta * self.average + (1 - self.beta) * loss
        return self.average / (1 - self.beta ** self.count)


class Recorder:
    """The curve of a range test, fed one ``(lr, loss)`` per optimizer step.

    ``record`` returns True when the test must stop: a non-finite loss, or a smoothed loss above
    ``diverge_factor`` times the best one before it (``diverge_factor=None`` never stops early).
    The step that triggered the stop is recorded, and its index kept as ``diverged_at``.
    """

    def __init__(self, *, smoothing: float, diverge_factor: float | None):
        self.smooth = SmoothedLoss(smoothing)
        self.diverge_factor = diverge_factor
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.diverged_at: int | None = None

    def record(self, lr: float, loss: float) -> bool:
        best = min(self.smoothed, default=math.inf)
        self.lrs.append(lr)
        self.losses.append(loss)
        self.smoothed.append(self.smooth(loss) if math.isfinite(loss) else math.nan)
        smoothed = self.smoothed[-1]
        blown_up = self.diverge_factor is not None and smoothed > self.diverge_factor * best
        if not math.isfinite(smoothed) or blown_up:
            self.diverged_at = len(self.lrs) - 1
            return True
        return False


def valley(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """fastai's ``valley``: halfway down the longest valley of the curve.

    ``L`` is the length of the longest strictly decreasing subsequence of ``losses`` and ``e`` the
    first index where one of that length ends; the valley is taken as the ``L`` steps before ``e``
    and the suggestion is ``lrs[s + int(L / 3) + int(L / 6)]`` with ``s = max(e - L, 0)``.

    >>> valley([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 5, 5, 4.5, 4, 3, 2, 1.5, 1, 3])
    5
    """
    ends_here = _decreasing_run_lengths(losses)
    longest = max(ends_here)
    end = ends_here.index(longest)
    start = max(end - longest, 0)
    return lrs[start + int(longest / 3) + int(longest / 6)]


def _decreasing_run_lengths(values: Sequence[float]) -> list[int]:
    """For each ``i``, the length of the longest strictly decreasing subsequence ending at ``i``.

    Patience sorting on the negated values, O(n log n): ``tails[k]`` is the smallest possible last
    element (negated) of a decreasing subsequence of length ``k + 1`` seen so far.
    """
    tails: list[float] = []
    lengths = []
    for value in values:
        position = bisect.bisect_left(tails, -value)
        tails[position:position + 1] = [-value]
        lengths.append(position + 1)
    return lengths


def steepest(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """The lr where the loss falls fastest against log(lr) (fastai's ``steep``).

    With ``g_i = (loss_{i+1} - loss_i) / (log lr_{i+1} - log lr_i)``, returns ``lrs[argmin g]``.

    >>> steepest([1, 10, 100, 1000], [3.0, 2.9, 1.0, 0.9])
    10
    """
    slopes = [(b - a) / (math.log(lr_b) - math.log(lr_a))
              for a, b, lr_a, lr_b in zip(losses, losses[1:], lrs, lrs[1:])]
    return lrs[slopes.index(min(slopes))]


def minimum(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """The minimum-loss lr divided by 10 (fastai's ``minimum``; the seed: an lr below the minimum's).

    >>> minimum([0.1, 1.0, 10.0], [2.0, 1.0, 3.0])
    0.1
    """
    return lrs[losses.index(min(losses))] / 10


SUGGESTIONS: dict[str, Callable[[Sequence[float], Sequence[float]], float]] = {
    "steepest": steepest,
    "valley": valley,
    "minimum": minimum,
}


class NoSuggestion(ValueError):
    """The curve does not support a suggestion; the message says why and what to change."""


@dataclass(frozen=True)
class Suggestions:
    """Every method's lr, the minimum-loss lr and the falling part they were read from."""

    values: dict[str, float]
    min_loss_lr: float
    falling: tuple[int, int]  # first and last (the minimum) index of the falling part of the curve


def falling_part(lrs: Sequence[float], smoothed: Sequence[float], num_steps: int) -> tuple[int, int]:
    """The indices ``(first, last)`` of the part of the curve that suggestions read.

    From ``num_steps // 10`` to the minimum of the smoothed loss (before any non-finite value).
    Raises NoSuggestion when that part is too short or the loss does not fall over it.
    """
    first = num_steps // SKIP_START_DIVISOR
    stop = len(smoothed)
    finite = [math.isfinite(value) for value in smoothed]
    if False in finite:
        stop = min(stop, finite.index(False))
    if stop - first < MIN_FALLING_STEPS:
        raise NoSuggestion(f"the loss diverged at step {len(smoothed) - 1} of {num_steps} "
                           f"(lr {lrs[-1]:.3g}), too early to see it fall")
    window = smoothed[first:stop]
    last = first + window.index(min(window))
    drop = (smoothed[first] - smoothed[last]) / abs(smoothed[first]) if smoothed[first] else 0.0
    if last - first < MIN_FALLING_STEPS or drop < MIN_RELATIVE_DROP:
        raise NoSuggestion(f"the smoothed loss falls by only {max(drop, 0):.1%} over {last - first} steps "
                           f"between lr {lrs[first]:.3g} and {lrs[stop - 1]:.3g} (a suggestion needs "
                           f"{MIN_RELATIVE_DROP:.0%} over {MIN_FALLING_STEPS} steps or more)")
    return first, last


def suggest(lrs: Sequence[float], smoothed: Sequence[float], num_steps: int) -> Suggestions:
    """Every suggestion method's lr for a recorded curve of a ``num_steps`` test (see the module doc)."""
    first, last = falling_part(lrs, smoothed, num_steps)
    part_lrs, part_losses = list(lrs[first:last + 1]), list(smoothed[first:last + 1])
    values = {name: float(method(part_lrs, part_losses)) for name, method in SUGGESTIONS.items()}
    return Suggestions(values, float(lrs[last]), (first, last))
