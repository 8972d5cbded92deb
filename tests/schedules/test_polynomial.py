"""linear against torch's LinearLR; polynomial against Paddle's PolynomialDecay formula (with and without cycle)."""

import math

import pytest
import torch

from curves import CLOCKS, LR, TOTAL, in_unit, node, ours, reference, schedule_time


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("start, end, total_iters", [(1 / 3, 1.0, 5), (1.0, 0.0, 9), (0.5, 0.1, 2), (0.2, 0.8, 20)])
def test_linear_equals_torch_linear_lr(unit, interval, start, end, total_iters):
    iters = round(in_unit(total_iters, unit))
    make = lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=start, end_factor=end, total_iters=iters)  # noqa: E731
    expected, _ = reference(make, unit, interval)
    got = ours(node("linear", unit, interval, start_factor=start, end_factor=end, total_iters=iters))[0]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


def paddle_polynomial(t, lr, decay_steps, end_lr, power, cycle):
    """paddle.optimizer.lr.PolynomialDecay, as its documentation writes it (decay_steps stays 1x at t = 0)."""
    if cycle:
        decay_steps = decay_steps * max(math.ceil(t / decay_steps), 1)
    else:
        t = min(t, decay_steps)
    return (lr - end_lr) * (1 - t / decay_steps) ** power + end_lr


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("decay_steps, end_lr, power", [(4, 0.0001, 1.0), (9.43, 0.0, 2.0), (2, 0.01, 0.5)])
@pytest.mark.parametrize("cycle", [False, True])
def test_polynomial_equals_paddle_polynomial_decay(unit, interval, decay_steps, end_lr, power, cycle):
    steps = in_unit(decay_steps, unit)
    expected = [paddle_polynomial(schedule_time(s, unit, interval), LR, steps, end_lr, power, cycle) for s in range(TOTAL)]
    got = ours(node("polynomial", unit, interval, decay_steps=steps, end_lr=end_lr, power=power, cycle=cycle))[0]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_polynomial_with_null_decay_steps_reaches_end_lr_at_the_end_of_the_run():
    got = ours(node("polynomial", "step", "step", decay_steps=None, end_lr=0.001, power=1.0, cycle=False))[0]
    assert got == pytest.approx([paddle_polynomial(s, LR, TOTAL, 0.001, 1.0, False) for s in range(TOTAL)], rel=1e-6)
