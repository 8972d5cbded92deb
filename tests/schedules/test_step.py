"""step, multistep against torch's StepLR / MultiStepLR; piecewise against Paddle's PiecewiseDecay formula."""

import pytest
import torch

from curves import CLOCKS, LR, TOTAL, in_unit, node, ours, reference, schedule_time

from lrframe.config.errors import ConfigError
from lrframe.schedules import Clock, run_schedule

lr_scheduler = torch.optim.lr_scheduler


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("step_size, gamma", [(1, 0.5), (2, 0.1), (3.5, 0.9)])
def test_step_equals_torch_step_lr(unit, interval, step_size, gamma):
    size = in_unit(step_size, unit)
    if unit == "step" or interval == "epoch":
        size = round(size)  # torch's StepLR counts whole steps when stepped one at a time
    expected, _ = reference(lambda opt: lr_scheduler.StepLR(opt, step_size=size, gamma=gamma), unit, interval)
    assert ours(node("step", unit, interval, step_size=size, gamma=gamma))[0] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("milestones, gamma", [([1, 3, 4], 0.5), ([2, 7], 0.1), ([9], 0.3)])
def test_multistep_equals_torch_multistep_lr(unit, interval, milestones, gamma):
    marks = [round(in_unit(m, unit)) for m in milestones]
    expected, _ = reference(lambda opt: lr_scheduler.MultiStepLR(opt, milestones=marks, gamma=gamma), unit, interval)
    assert ours(node("multistep", unit, interval, milestones=marks, gamma=gamma))[0] == pytest.approx(expected, rel=1e-6)


def paddle_piecewise(t, boundaries, values):
    """paddle.optimizer.lr.PiecewiseDecay (its docs): values[i] while t < boundaries[i], else values[-1]."""
    for boundary, value in zip(boundaries, values):
        if t < boundary:
            return value
    return values[-1]


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("boundaries, values", [([2, 5], [0.1, 0.05, 0.01]), ([1], [0.3, 0.02]),
                                                ([1, 2, 3, 8], [1.0, 0.5, 0.25, 0.125, 0.0])])
def test_piecewise_equals_paddle_piecewise_decay(unit, interval, boundaries, values):
    marks = [round(in_unit(b, unit)) for b in boundaries]
    expected = [paddle_piecewise(schedule_time(s, unit, interval), marks, values) for s in range(TOTAL)]
    got = ours(node("piecewise", unit, interval, boundaries=marks, values=values))[0]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_piecewise_values_are_learning_rates_whatever_the_optimizer_lr():
    got, _ = ours(node("piecewise", "step", "step", boundaries=[3], values=[0.5, 0.05]), lr=0.001)
    assert got[:3] == pytest.approx([0.5] * 3) and got[3:6] == pytest.approx([0.05] * 3)


def test_step_of_epochs_evaluated_every_step_changes_exactly_at_the_epoch_boundary_after_warmup():
    # 7 steps an epoch, a 5-step warmup, then StepLR with step_size 2 epochs on the smooth clock
    clock, warmup = Clock(steps_per_epoch=7, total_steps=40), {"name": "linear", "steps": 5, "start_factor": 0.0}
    schedule = run_schedule(node("step", "epoch", "step", step_size=2, gamma=0.5), warmup, clock, LR)
    changes = [s for s in range(6, 40) if schedule(s) != schedule(s - 1)]
    assert changes == [5 + 14, 5 + 28]  # 2 and 4 epochs of 7 steps after warmup, not at 14, 28


@pytest.mark.parametrize("scheduler, message", [
    (dict(name="multistep", milestones=[3, 2], gamma=0.1), "scheduler.milestones=[3,2]: expected strictly increasing"),
    (dict(name="piecewise", boundaries=[2], values=[0.1]), "scheduler.values=[0.1]: expected a list of 2 learning"),
    (dict(name="step", step_size=0, gamma=0.1), "scheduler.step_size=0: expected a number > 0"),
    (dict(name="step", step_size=2, gamma=0.1, T_max=3),
     "scheduler.T_max=3: torch's key, not taken by scheduler=step (scheduler=cosine takes it); allowed: interval"),
    (dict(name="step", step_size=2), "scheduler.gamma=null: missing; scheduler=step needs it"),
])
def test_bad_arguments_are_one_line_errors_naming_the_key(scheduler, message):
    with pytest.raises(ConfigError) as error:
        run_schedule({"interval": "step", **scheduler}, {"name": "none"}, Clock(7, 66), LR)
    assert str(error.value).startswith(message)
