"""The largest batch that fits, searched as Lightning's ``Tuner.scale_batch_size`` searches it (torch-free).

``fits(batch)`` says whether a training step at that batch size fits (``lrframe.batch_size.measure``).
Starting at ``init_val``:

- ``power``: double the batch while it fits; the largest that fitted is the answer.
- ``binsearch``: double while it fits; after the first failure, bisect between the last batch that
  fitted and the first that did not, until they are neighbours.

Both stop at ``upper`` (the training set: a batch cannot hold more samples than there are) and after
``max_trials`` trials. ``limited_by`` says what stopped the search: ``memory`` (a batch did not fit),
``training set``, or ``max_trials``.

    >>> largest_batch(lambda b: b <= 100, init_val=2, max_trials=25, mode="binsearch", upper=1000)[:2]
    (100, 'memory')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MODES = ("power", "binsearch")


@dataclass(frozen=True)
class Trial:
    batch_size: int
    fits: bool


def largest_batch(fits: Callable[[int], bool], *, init_val: int, max_trials: int, mode: str,
                  upper: int) -> tuple[int | None, str, list[Trial]]:
    """``(the largest batch that fitted or None, what limited it, the trials in order)``."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    trials: list[Trial] = []

    def trial(batch: int) -> bool:
        trials.append(Trial(batch, fits(batch)))
        return trials[-1].fits

    low, high, batch = None, None, min(init_val, upper)
    while len(trials) < max_trials:  # grow: double while it fits
        if not trial(batch):
            high = batch
            break
        low = batch
        if batch >= upper:
            return low, "training set", trials
        batch = min(2 * batch, upper)
    else:
        return low, "max_trials", trials
    if mode == "binsearch" and low is not None:
        while high - low > 1:
            if len(trials) >= max_trials:
                return low, "max_trials", trials
            middle = (low + high) // 2
            if trial(middle):
                low = middle
            else:
                high = middle
    return low, "memory", trials
