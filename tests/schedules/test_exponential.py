"""exponential against torch's ExponentialLR; natural_exp and inverse_time against Paddle's formulas."""

import math

import pytest
import torch

from curves import CLOCKS, LR, TOTAL, SPE, node, ours, reference, schedule_time


def per_unit(gamma_per_epoch: float, unit: str) -> float:
    """A per-epoch rate as the per-step rate of the same curve, for unit: step."""
    return gamma_per_epoch ** (1 / SPE) if unit == "step" else gamma_per_epoch


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_exponential_equals_torch_exponential_lr(unit, interval, gamma):
    rate = per_unit(gamma, unit)
    expected, _ = reference(lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=rate), unit, interval)
    assert ours(node("exponential", unit, interval, gamma=rate))[0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.7])
def test_natural_exp_equals_paddle_natural_exp_decay(unit, interval, gamma):
    # paddle.optimizer.lr.NaturalExpDecay: new_lr = learning_rate * e^(-gamma * epoch)
    rate = gamma / SPE if unit == "step" else gamma
    expected = [LR * math.exp(-rate * schedule_time(s, unit, interval)) for s in range(TOTAL)]
    assert ours(node("natural_exp", unit, interval, gamma=rate))[0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("gamma", [0.0, 0.1, 2.0])
def test_inverse_time_equals_paddle_inverse_time_decay(unit, interval, gamma):
    # paddle.optimizer.lr.InverseTimeDecay: new_lr = learning_rate / (1 + gamma * epoch)
    rate = gamma / SPE if unit == "step" else gamma
    expected = [LR / (1 + rate * schedule_time(s, unit, interval)) for s in range(TOTAL)]
    assert ours(node("inverse_time", unit, interval, gamma=rate))[0] == pytest.approx(expected, rel=1e-6)
