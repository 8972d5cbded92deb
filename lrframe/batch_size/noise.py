"""The gradient noise scale (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training"), torch-free.

With ``G`` the true gradient (the mean over the data of the per-example gradients) and ``Sigma`` their
covariance, a batch of ``B`` examples drawn with replacement gives a mean gradient ``G_B`` with

    E |G_B|^2 = |G|^2 + tr(Sigma) / B                                          (appendix A)

so the norms at two batch sizes ``B_small < B_big`` give unbiased estimates of both terms:

    |G|^2    ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
    tr Sigma ~ (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)

Each is averaged over several pairs before their ratio is taken (as the paper does):
``B_simple = tr(Sigma) / |G|^2``, the batch size at which the noise and the signal of a step are
equal, and about the critical batch (below it, doubling the batch nearly halves the steps; above it,
it buys little).

    >>> b_simple = noise_scale(16, 256, [(3.0 + 64 / 16, 3.0 + 64 / 256)]).b_simple
    >>> round(b_simple, 9)
    21.333333333
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def pair_estimates(b_small: int, b_big: int, small_sq: float, big_sq: float) -> tuple[float, float]:
    """Unbiased ``(|G|^2, tr Sigma)`` from the squared gradient norms of one small and one big batch."""
    if not 0 < b_small < b_big:
        raise ValueError(f"expected 0 < B_small < B_big, got {b_small} and {b_big}")
    g_sq = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
    trace = (small_sq - big_sq) / (1 / b_small - 1 / b_big)
    return g_sq, trace


@dataclass(frozen=True)
class NoiseScale:
    """The averaged estimates; ``b_simple`` is None when the |G|^2 estimate is not positive (the
    gradient is lost in the noise of the measurement: more pairs or a bigger B_big are needed)."""

    b_small: int
    b_big: int
    g_sq: float  # |G|^2, averaged over the pairs
    trace: float  # tr(Sigma), averaged over the pairs
    g_sq_stderr: float  # their standard errors over the pairs (0 with one pair)
    trace_stderr: float
    pairs: int

    @property
    def b_simple(self) -> float | None:
        return self.trace / self.g_sq if self.g_sq > 0 and self.trace >= 0 else None


def _mean_and_stderr(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def noise_scale(b_small: int, b_big: int, norms: list[tuple[float, float]]) -> NoiseScale:
    """``B_simple`` from ``(|G_small|^2, |G_big|^2)`` pairs measured at batch sizes ``b_small``, ``b_big``."""
    if not norms:
        raise ValueError("no gradient norms to estimate from")
    estimates = [pair_estimates(b_small, b_big, small, big) for small, big in norms]
    g_sq, g_err = _mean_and_stderr([g for g, _ in estimates])
    trace, t_err = _mean_and_stderr([t for _, t in estimates])
    return NoiseScale(b_small, b_big, g_sq, trace, g_err, t_err, len(norms))
