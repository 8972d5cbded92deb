"""Warmup shapes: linear against Paddle's LinearWarmup formula; exponential and constant by definition."""

import math

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
