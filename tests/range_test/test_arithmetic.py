"""The range test's arithmetic on synthetic curves with known answers, and against the references:
the seed's formulas, torch-lr-finder's lr schedulers, fastai's definition of ``valley``."""

import math
import random

import pytest
import torch

from lrframe.range_test.arithmetic import (MIN_STEPS, NoSuggestion, Recorder, SmoothedLoss, minimum, ramp, steepest, suggest,
                                valley)


def recorded(lrs, losses, smoothing=0.0, diverge_factor=4.0):
    curve = Recorder(smoothing=smoothing, diverge_factor=diverge_factor)
    for lr, loss in zip(lrs, losses):
        if curve.record(lr, loss):
            break
    return curve


def sigmoid_curve(lrs, centre, width=0.3, high=2.5, low=0.5):
    """A loss that falls from ``high`` to ``low`` around lr = 10**centre, fastest exactly there."""
    return [low + (high - low) / (1 + math.exp((math.log10(lr) - centre) / width)) for lr in lrs]


# -- the ramp ---------------------------------------------------------------------------------------

def test_exponential_ramp_is_the_seeds_geometric_sequence():
    lrs = ramp(1e-7, 10.0, 100, "exponential")
    q = (10.0 / 1e-7) ** (1 / 99)  # the seed: q = (lr_{N-1} / lr_0) ** (1 / (N - 1))
    assert lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(10.0)
    assert lrs == pytest.approx([1e-7 * q ** i for i in range(100)], rel=1e-12)
    # log(lr_i) = log(lr_0) + i (log(lr_{N-1}) - log(lr_0)) / (N - 1): evenly spaced on a log axis
    steps = [math.log(b) - math.log(a) for a, b in zip(lrs, lrs[1:])]
    assert steps == pytest.approx([math.log(q)] * 99)


@pytest.mark.parametrize("mode, reference", [("exponential", "ExponentialLR"), ("linear", "LinearLR")])
def test_ramp_equals_torch_lr_finders_schedulers(mode, reference):
    import torch_lr_finder.lr_finder as tlf

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-5)
    scheduler = getattr(tlf, reference)(optimizer, end_lr=3.0, num_iter=30)
    expected = []
    for _ in range(30):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert ramp(1e-5, 3.0, 30, mode) == pytest.approx(expected, rel=1e-9)


def test_linear_ramp_has_equal_steps():
    lrs = ramp(1e-3, 1.0, 11, "linear")
    assert [b - a for a, b in zip(lrs, lrs[1:])] == pytest.approx([0.0999] * 10)


@pytest.mark.parametrize("start, end, n", [(0.0, 1.0, 10), (1.0, 1.0, 10), (2.0, 1.0, 10), (1e-3, 1.0, 1)])
def test_ramp_rejects_what_is_not_a_range(start, end, n):
    with pytest.raises(ValueError, match="0 < start < end"):
        ramp(start, end, n, "exponential")


# -- smoothing and the stop -------------------------------------------------------------------------

@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.98])
def test_smoothed_loss_is_the_bias_corrected_weighted_average(beta):
    rng = random.Random(1)
    losses = [rng.uniform(0.5, 3.0) for _ in range(40)]
    smooth = SmoothedLoss(beta)
    got = [smooth(x) for x in losses]
    # closed form: s_i = sum_k (1 - beta) beta^(i - k) x_k / (1 - beta^(i + 1)), weights summing to 1
    expected = [sum((1 - beta) * beta ** (i - k) * losses[k] for k in range(i + 1)) / (1 - beta ** (i + 1))
                for i in range(40)]
    assert got == pytest.approx(expected, rel=1e-12)


def test_bias_correction_leaves_a_constant_loss_unchanged_from_the_first_step():
    smooth = SmoothedLoss(0.98)
    assert [smooth(2.0) for _ in range(5)] == pytest.approx([2.0] * 5)


def test_stops_once_the_smoothed_loss_exceeds_four_times_the_best():
    curve = recorded(range(1, 9), [2.0, 1.0, 0.5, 1.9, 2.0, 2.1, 5.0, 9.0])
    assert curve.diverged_at == 5  # 2.1 > 4 x 0.5 (2.0 itself is not above it)
    assert curve.losses == [2.0, 1.0, 0.5, 1.9, 2.0, 2.1]  # the stopping step is recorded


def test_divergence_compares_smoothed_losses():
    losses = [1.0] * 10 + [5.0, 5.0, 5.0]  # three 5x steps raise the 0.9-smoothed loss to only ~2.5
    curve = recorded(range(13), losses, smoothing=0.9)
    assert curve.diverged_at is None
    assert curve.smoothed[10] == pytest.approx((0.9 * (1 - 0.9 ** 10) + 0.1 * 5) / (1 - 0.9 ** 11))


def test_a_non_finite_loss_stops_even_without_a_diverge_factor():
    assert recorded(range(5), [1.0, 9.0, 99.0, float("nan"), 1.0], diverge_factor=None).diverged_at == 3
    assert recorded(range(3), [1.0, float("inf"), 1.0], diverge_factor=None).diverged_at == 1


# -- the suggestion methods on curves with known answers ----------------------------------------------

def valley_by_dynamic_programming(lrs, losses):
    """fastai's ``valley`` (fastai PR #3377) as the plain O(n^2) recurrence it is defined by:
    lds[i] = 1 + max(lds[j] for j < i with losses[j] > losses[i]); the valley ends at the first
    index of the longest, starts its length before, and the suggestion is a third plus a sixth in."""
    lds = []
    for i, loss in enumerate(losses):
        lds.append(1 + max([lds[j] for j in range(i) if losses[j] > loss], default=0))
    length = max(lds)
    end = lds.index(length)
    start = max(end - length, 0)
    return lrs[start + int(length / 3) + int(length / 6)]


@pytest.mark.parametrize("seed", range(20))
def test_valley_equals_fastais_definition_on_noisy_curves(seed):
    rng = random.Random(seed)
    n = rng.randint(15, 120)
    lrs = ramp(1e-6, 1.0, n, "exponential")
    losses = [x + rng.gauss(0, 0.05) for x in sigmoid_curve(lrs, rng.uniform(-5, -1))]
    assert valley(lrs, losses) == valley_by_dynamic_programming(lrs, losses)


def test_valley_lies_halfway_down_the_descent():
    lrs = ramp(1e-6, 1.0, 100, "exponential")
    losses = [3.0] * 30 + [3.0 - 2.5 * i / 40 for i in range(1, 41)] + [0.5 + 0.1 * i for i in range(30)]
    # the longest valley is the flat's last step then the 40 falling ones (indices 29..69)
    index = lrs.index(valley(lrs, losses))
    assert 45 <= index <= 52


def test_steepest_finds_the_inflection_on_a_log_axis():
    lrs = ramp(1e-6, 1.0, 121, "exponential")  # 20 steps a decade
    assert math.log10(steepest(lrs, sigmoid_curve(lrs, centre=-3.0))) == pytest.approx(-3.0, abs=0.051)


def test_steepest_measures_the_slope_against_log_lr_also_for_a_linear_ramp():
    lrs = ramp(1e-4, 1.0, 400, "linear")  # dense in lr, sparse in log lr at the low end
    assert math.log10(steepest(lrs, sigmoid_curve(lrs, centre=-1.0))) == pytest.approx(-1.0, abs=0.02)


def test_minimum_is_a_tenth_of_the_minimum_loss_lr():
    lrs = ramp(1e-6, 1.0, 61, "exponential")
    losses = [(math.log10(lr) + 2.0) ** 2 + 0.3 for lr in lrs]  # lowest at lr = 1e-2
    assert minimum(lrs, losses) == pytest.approx(1e-3)


def test_suggest_reads_the_falling_part_and_every_method_lies_below_the_minimum():
    lrs = ramp(1e-7, 10.0, 100, "exponential")
    losses = [x if lr < 0.3 else 0.5 * (lr / 0.3) ** 3 for x, lr in zip(sigmoid_curve(lrs, -2.0), lrs)]
    curve = recorded(lrs, losses, smoothing=0.5)
    result = suggest(curve.lrs, curve.smoothed, 100)
    first, last = result.falling
    assert first == 10  # the first tenth is skipped
    assert curve.smoothed[last] == min(curve.smoothed)
    assert result.min_loss_lr == curve.lrs[last]
    assert all(lr < result.min_loss_lr for lr in result.values.values())
    assert math.log10(result.values["steepest"]) == pytest.approx(-2.0, abs=0.2)
    assert math.log10(result.values["minimum"]) == pytest.approx(math.log10(result.min_loss_lr) - 1)


# -- no reliable suggestion ---------------------------------------------------------------------------

def test_a_run_that_diverges_at_once_has_no_suggestion():
    lrs = ramp(1.0, 100.0, 100, "exponential")
    curve = recorded(lrs, [2.3, 2.0, 5.0, 40.0, 1e4])
    assert curve.diverged_at == 3
    with pytest.raises(NoSuggestion, match=r"^the loss diverged at step 3 of 100 \(lr 1\.15\), too early"):
        suggest(curve.lrs, curve.smoothed, 100)


@pytest.mark.parametrize("shape", ["flat", "rising", "barely falling"])
def test_a_curve_without_a_descent_has_no_suggestion(shape):
    lrs = ramp(1e-9, 1e-8, MIN_STEPS, "exponential")
    losses = {"flat": [2.3] * MIN_STEPS, "rising": [2.3 + 0.01 * i for i in range(MIN_STEPS)],
              "barely falling": [2.3 - 0.002 * i for i in range(MIN_STEPS)]}[shape]
    with pytest.raises(NoSuggestion, match=r"^the smoothed loss falls by only \d+\.\d% over \d+ steps between lr"):
        suggest(lrs, recorded(lrs, losses).smoothed, MIN_STEPS)



def test_the_docstring_examples_run():
    import doctest

    import lrframe.range_test.arithmetic

    assert doctest.testmod(lrframe.range_test.arithmetic).failed == 0
