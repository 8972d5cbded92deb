"""Warmup shapes: linear against Paddle's LinearWarmup formula; exponential and constant by definition."""

import math
from pathlib import Path

import pytest

from curves import LR, TOTAL, node, ours

from lrframe.config.errors import ConfigError

EXPONENTIAL = node("exponential", "step", "step", gamma=0.95)


def paddle_linear_warmup(step, *, warmup_steps, start_lr, end_lr, inner):
    """paddle.optimizer.lr.LinearWarmup: start_lr + (end_lr - start_lr) * step / warmup_steps while warming up,
    then the wrapped scheduler, stepped from its own beginning (step - warmup_steps)."""
    if step < warmup_steps:
        return start_lr + (end_lr - start_lr) * step / warmup_steps
    return inner(step - warmup_steps)


@pytest.mark.parametrize("warmup_steps", [1, 5, 20])
@pytest.mark.parametrize("start_factor", [0.0, 0.1, 1.0])
def test_linear_warmup_equals_paddle_linear_warmup_around_exponential_decay(warmup_steps, start_factor):
    warmup = {"name": "linear", "steps": warmup_steps, "start_factor": start_factor}
    expected = [paddle_linear_warmup(s, warmup_steps=warmup_steps, start_lr=start_factor * LR, end_lr=LR,
                                     inner=lambda t: LR * 0.95 ** t)  # Paddle's ExponentialDecay
                for s in range(TOTAL)]
    assert ours(EXPONENTIAL, warmup=warmup)[0] == pytest.approx(expected, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("start_factor", [0.01, 0.5])
def test_exponential_warmup_grows_geometrically_to_the_lr(start_factor):
    lrs = ours(EXPONENTIAL, warmup={"name": "exponential", "steps": 8, "start_factor": start_factor})[0]
    assert lrs[:8] == pytest.approx([LR * start_factor ** (1 - s / 8) for s in range(8)], rel=1e-6)
    ratios = [b / a for a, b in zip(lrs[:8], lrs[1:9])]
    assert ratios == pytest.approx([start_factor ** -(1 / 8)] * 8)  # a constant ratio, reaching LR at step 8
    assert lrs[8] == pytest.approx(LR)


def test_constant_warmup_holds_a_low_lr_then_the_schedule_starts():
    lrs = ours(EXPONENTIAL, warmup={"name": "constant", "steps": 4, "start_factor": 0.1})[0]
    assert lrs[:6] == pytest.approx([0.01] * 4 + [LR, LR * 0.95])


@pytest.mark.parametrize("warmup, message", [
    ({"name": "linear", "steps": 3, "start_factor": 1.5}, "warmup.start_factor=1.5: expected a number >= 0 and <= 1"),
    ({"name": "exponential", "steps": 3, "start_factor": 0.0}, "warmup.start_factor=0.0: expected a number > 0"),
    ({"name": "linear", "steps": 66, "start_factor": 0.0}, "warmup.steps=66: expected a warmup shorter than the run"),
    ({"name": "linear", "steps": None, "epochs": -1, "start_factor": 0.0}, "warmup.epochs=-1: expected a number >= 0"),
    ({"name": "cubic", "steps": 3}, "warmup.name=cubic: expected one of none, linear, exponential, constant"),
])
def test_bad_warmups_are_one_line_errors(warmup, message):
    with pytest.raises(ConfigError) as error:
        ours(EXPONENTIAL, warmup=warmup)
    assert str(error.value).startswith(message)


def test_warmup_in_epochs_counts_optimizer_steps():
    lrs = ours(EXPONENTIAL, warmup={"name": "linear", "steps": None, "epochs": 2, "start_factor": 0.0})[0]
    assert lrs[13] == pytest.approx(LR * 13 / 14) and lrs[14] == pytest.approx(LR) and not math.isclose(lrs[12], LR)


@pytest.mark.parametrize("warmup_steps", [1, 5, 20])
@pytest.mark.parametrize("start_lr, end_lr", [(0.0, 0.05), (0.01, 0.2), (0.02, 0.02)])
def test_linear_warmup_with_its_own_end_lr_equals_paddle_linear_warmup(warmup_steps, start_lr, end_lr):
    # Paddle's LinearWarmup(ExponentialDecay(lr, 0.95), warmup_steps, start_lr, end_lr): the ramp ends at end_lr,
    # then the wrapped schedule starts at lr; end_lr directly, or as end_factor = end_lr / lr
    expected = [paddle_linear_warmup(s, warmup_steps=warmup_steps, start_lr=start_lr, end_lr=end_lr,
                                     inner=lambda t: LR * 0.95 ** t) for s in range(TOTAL)]
    by_lr = {"name": "linear", "steps": warmup_steps, "start_factor": start_lr / LR, "end_factor": 1.0, "end_lr": end_lr}
    by_factor = {"name": "linear", "steps": warmup_steps, "start_factor": start_lr / LR, "end_factor": end_lr / LR}
    assert ours(EXPONENTIAL, warmup=by_lr)[0] == pytest.approx(expected, rel=1e-6, abs=1e-15)
    assert ours(EXPONENTIAL, warmup=by_factor)[0] == pytest.approx(expected, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("shape", ["linear", "exponential", "cosine", "1-sqrt"])
def test_end_lr_is_an_lr_even_where_the_schedule_starts_below_lr(shape):
    # onecycle starts at max_lr / div_factor = lr / 25; the ramp still ends at end_lr itself
    onecycle = node("onecycle", "step", "step", max_lr=None, total_steps=None, pct_start=0.3, anneal_strategy="cos",
                    cycle_momentum=False, base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
                    final_div_factor=1e4, three_phase=False)
    W = 10
    lrs = ours(onecycle, warmup={"name": shape, "steps": W, "start_factor": 0.5, "end_lr": 0.01})[0]
    p = (W - 1) / W
    at_end = {"linear": lambda a, b: a + (b - a) * p, "exponential": lambda a, b: a * (b / a) ** p,
              "cosine": lambda a, b: a + (b - a) * (1 - math.cos(math.pi * p)) / 2,
              "1-sqrt": lambda a, b: a + (b - a) * (1 - math.sqrt(1 - p))}[shape]
    assert lrs[0] == pytest.approx(0.5 * LR / 25)
    assert lrs[W - 1] == pytest.approx(at_end(0.5 * LR / 25, 0.01), rel=1e-9)
    assert lrs[W] == pytest.approx(LR / 25)


@pytest.mark.parametrize("shape", ["cosine", "1-sqrt", "linear"])
@pytest.mark.parametrize("min_lr_ratio", [0.0, 0.3])
def test_warmup_shapes_equal_transformers_warmup_types(shape, min_lr_ratio):
    # transformers' get_wsd_schedule warmup: factor(p) * (1 - min_lr_ratio) + min_lr_ratio, p = step / W
    W = 16
    lrs = ours(EXPONENTIAL, warmup={"name": shape, "steps": W, "start_factor": min_lr_ratio})[0]
    factor = {"linear": lambda p: p, "cosine": lambda p: 0.5 * (1.0 - math.cos(math.pi * p)),
              "1-sqrt": lambda p: 1.0 - math.sqrt(1.0 - p)}[shape]
    expected = [LR * (factor(s / W) * (1 - min_lr_ratio) + min_lr_ratio) for s in range(W)]
    assert lrs[:W] == pytest.approx(expected, rel=1e-9, abs=1e-15) and lrs[W] == pytest.approx(LR)


def test_exponential_warmup_grows_geometrically_to_its_end_factor():
    lrs = ours(EXPONENTIAL, warmup={"name": "exponential", "steps": 8, "start_factor": 0.01, "end_factor": 0.5})[0]
    assert lrs[:8] == pytest.approx([LR * 0.01 * 50 ** (s / 8) for s in range(8)], rel=1e-9)


@pytest.mark.parametrize("warmup, message", [
    ({"name": "constant", "steps": 3, "start_factor": 0.1, "end_factor": 0.5},
     "warmup.end_factor=0.5: unknown key for warmup=constant; allowed: name, steps, epochs, start_factor"),
    ({"name": "constant", "steps": 3, "start_factor": 0.1, "end_lr": 0.05},
     "warmup.end_lr=0.05: Paddle's key, not taken by warmup=constant (warmup=linear, exponential, cosine, 1-sqrt "
     "take it); allowed: name, steps, epochs, start_factor"),
    ({"name": "linear", "steps": 3, "start_factor": 0.0, "end_lr": -1}, "warmup.end_lr=-1: expected a number >= 0"),
    ({"name": "cosine", "steps": 3, "start_factor": 0.0, "end_factor": -0.5},
     "warmup.end_factor=-0.5: expected a number >= 0"),
    ({"name": "exponential", "steps": 3, "start_factor": 0.1, "end_factor": 0.0},
     "warmup.end_factor=0.0: expected a number > 0"),
    ({"name": "linear", "steps": 3, "start_factor": 0.0, "warmup_type": "cosine"},
     "warmup.warmup_type=cosine: transformers' key; here the warmup's shape is its name: warmup=linear | cosine | 1-sqrt"),
])
def test_bad_warmup_ends_are_one_line_errors(warmup, message):
    with pytest.raises(ConfigError) as error:
        ours(EXPONENTIAL, warmup=warmup)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


USER_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "user_project"


@pytest.fixture
def user_code(monkeypatch):
    monkeypatch.syspath_prepend(str(USER_PROJECT))


@pytest.mark.parametrize("warmup", [
    {"_target_": "my_warmup.quadratic", "steps": 8, "power": 3.0},
    {"_target_": "my_warmup.polynomial_factor", "_partial_": True, "steps": 8, "power": 3.0},
])
def test_a_warmup_of_ones_own_ramps_by_its_formula_then_the_schedule_starts(user_code, warmup):
    lrs = ours(EXPONENTIAL, warmup=warmup)[0]
    assert lrs[:8] == pytest.approx([LR * (s / 8) ** 3 for s in range(8)], rel=1e-12, abs=0)
    assert lrs[8:11] == pytest.approx([LR, LR * 0.95, LR * 0.95 ** 2])


@pytest.mark.parametrize("warmup, message", [
    ({"_target_": "my_warmup.quadratic", "power": 2.0},
     "warmup.steps=null: missing; a warmup given by _target_ needs its length (warmup.steps or warmup.epochs)"),
    ({"_target_": "my_warmup.quadratic", "steps": 4, "powr": 2.0},
     "warmup.powr=2.0: my_warmup.quadratic takes no argument powr; it takes: steps, power"),
    ({"_target_": "my_warmup.quadratic", "steps": 4, "power": -1.0},
     "warmup._target_=my_warmup.quadratic: failed at step 0: ZeroDivisionError: "),
    ({"_target_": "my_warmup.polynomial_factor", "steps": 4, "power": 0.5, "_partial_": True, "name": "linear"},
     "warmup._target_=my_warmup.polynomial_factor: given on top of warmup=linear"),
    ({"_target_": "my_warmup.polynomial_factor", "steps": 4, "power": 2.0},
     "warmup.s=null: missing; my_warmup.polynomial_factor requires it"),  # a function of the step: _partial_
    ({"_target_": "operator.neg", "_partial_": True, "steps": 4},
     "warmup._target_=operator.neg: gives the factor -1.0 at step 1; expected a finite number >= 0"),
])
def test_a_bad_warmup_of_ones_own_is_one_line(user_code, warmup, message):
    with pytest.raises(ConfigError) as error:
        ours(EXPONENTIAL, warmup=warmup)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
