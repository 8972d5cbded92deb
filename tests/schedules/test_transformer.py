"""noam against Paddle's NoamDecay formula; inverse_sqrt against transformers' get_inverse_sqrt_schedule."""

import math

import pytest

from conftest import make_plan
from curves import CLOCKS, LR, TOTAL, in_unit, node, ours, schedule_time

from lrframe.config.errors import ConfigError


def paddle_noam(t, lr, d_model, warmup_steps):
    """paddle.optimizer.lr.NoamDecay: lr * d_model^-0.5 * min(t^-0.5, t * warmup_steps^-1.5), t^-0.5 := 1 at t = 0."""
    return lr * d_model ** -0.5 * min(t ** -0.5 if t else 1.0, t * warmup_steps ** -1.5)


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("d_model, warmup_steps", [(512, 4), (0.01, 1.5), (64, 20)])
def test_noam_equals_paddle_noam_decay(unit, interval, d_model, warmup_steps):
    warmup = in_unit(warmup_steps, unit)
    expected = [paddle_noam(schedule_time(s, unit, interval), LR, d_model, warmup) for s in range(TOTAL)]
    got = ours(node("noam", unit, interval, d_model=d_model, warmup_steps=warmup))[0]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-15)


def transformers_inverse_sqrt(step, num_warmup_steps, timescale=None):
    """transformers.optimization._get_inverse_sqrt_schedule_lr_lambda (timescale defaults to the warmup)."""
    timescale = timescale or num_warmup_steps
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    return 1.0 / math.sqrt((step + timescale - num_warmup_steps) / timescale)


@pytest.mark.parametrize("warmup_steps, timescale", [(10, None), (4, None), (10, 25), (1, 3)])
def test_warmup_plus_inverse_sqrt_equals_transformers_inverse_sqrt_schedule(warmup_steps, timescale):
    warmup = {"name": "linear", "steps": warmup_steps, "start_factor": 0.0}
    got = ours(node("inverse_sqrt", "step", "step", timescale=timescale), warmup=warmup)[0]
    expected = [LR * transformers_inverse_sqrt(s, warmup_steps, timescale) for s in range(TOTAL)]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("unit, interval", CLOCKS)
def test_inverse_sqrt_on_every_clock_is_its_formula(unit, interval):
    timescale = in_unit(2, unit)
    expected = [LR / math.sqrt(1 + schedule_time(s, unit, interval) / timescale) for s in range(TOTAL)]
    assert ours(node("inverse_sqrt", unit, interval, timescale=timescale))[0] == pytest.approx(expected, rel=1e-6)


def test_inverse_sqrt_timescale_null_needs_a_warmup():
    with pytest.raises(ConfigError, match=r"^scheduler.timescale=null: null means as long as the warmup"):
        ours(node("inverse_sqrt", "step", "step", timescale=None))


def test_noam_starts_at_zero_so_a_warmup_before_it_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^warmup.name=linear: .* expected warmup=none"):
        ours(node("noam", "step", "step", d_model=512, warmup_steps=4),
             warmup={"name": "linear", "steps": 3, "start_factor": 0.0})


def test_choosing_noam_makes_no_warmup_the_default():
    assert make_plan("scheduler=noam").config["warmup"]["name"] == "none"
    assert make_plan("scheduler=cosine").config["warmup"]["name"] == "linear"
