"""transformers' scheduler names, composed from their conf/scheduler files as a user picks them, against the
lr lambdas of transformers.optimization written out (N = num_training_steps, W = num_warmup_steps)."""

import functools
import math

import pytest

from conftest import compose_config, make_plan

from lrframe.config.errors import ConfigError
from lrframe.schedules import run_schedule

N = 460  # the default run: 20 epochs of 23 steps


def warmup(step, W):
    return step / max(1, W)


def hf_linear(step, W, N):
    """_get_linear_schedule_with_warmup_lr_lambda"""
    return warmup(step, W) if step < W else max(0.0, (N - step) / max(1, N - W))


def hf_constant_with_warmup(step, W, N):
    """_get_constant_schedule_with_warmup_lr_lambda"""
    return warmup(step, W) if step < W else 1.0


def hf_cosine(step, W, N, num_cycles=0.5, min_lr_rate=0.0):
    """_get_cosine_schedule_with_warmup_lr_lambda (with min_lr_rate: get_cosine_with_min_lr_schedule_with_warmup)"""
    if step < W:
        return warmup(step, W)
    progress = (step - W) / max(1, N - W)
    factor = 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress))
    return max(0.0, factor * (1 - min_lr_rate) + min_lr_rate)


def hf_hard_restarts(step, W, N, num_cycles=1):
    """_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda"""
    if step < W:
        return warmup(step, W)
    progress = (step - W) / max(1, N - W)
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((num_cycles * progress) % 1.0))))


def hf_polynomial(step, W, N, lr_end=1e-7, power=1.0, lr_init=0.1):
    """_get_polynomial_decay_schedule_with_warmup_lr_lambda"""
    if step < W:
        return warmup(step, W)
    if step > N:
        return lr_end / lr_init
    pct_remaining = 1 - (step - W) / (N - W)
    return ((lr_init - lr_end) * pct_remaining ** power + lr_end) / lr_init


def hf_inverse_sqrt(step, W, N, timescale=None):
    """_get_inverse_sqrt_schedule_lr_lambda (timescale: num_warmup_steps unless given)"""
    timescale = timescale or W
    if step < W:
        return warmup(step, W)
    return 1.0 / math.sqrt((step + timescale - W) / timescale)


def hf_wsd(step, W, N, num_decay_steps, num_stable_steps=None, warmup_type="linear", decay_type="cosine",
           min_lr_ratio=0.0, num_cycles=0.5):
    """_get_wsd_scheduler_lambda (get_wsd_schedule: num_stable_steps = N - W - num_decay_steps if not given)"""
    if num_stable_steps is None:
        num_stable_steps = N - W - num_decay_steps
    if step < W:
        progress = step / max(1, W)
        factor = {"linear": progress, "cosine": 0.5 * (1.0 - math.cos(math.pi * progress)),
                  "1-sqrt": 1.0 - math.sqrt(1.0 - progress)}[warmup_type]
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    if step < W + num_stable_steps:
        return 1.0
    if step < W + num_stable_steps + num_decay_steps:
        progress = (step - W - num_stable_steps) / max(1, num_decay_steps)
        factor = {"linear": 1.0 - progress, "cosine": 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)),
                  "1-sqrt": 1.0 - math.sqrt(progress)}[decay_type]
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


@functools.lru_cache
def plan(*overrides):
    return make_plan(*overrides)


def factors(*overrides, warmup_steps=None):
    """The run's factor at every step of ``python train.py OVERRIDES``, with ``warmup.steps`` if given."""
    composed = plan(*overrides)
    warmup = composed.config["warmup"] | ({} if warmup_steps is None else {"steps": warmup_steps})
    schedule = run_schedule(composed.config["scheduler"], warmup, composed.clock, composed.lr)
    return [schedule(s) for s in range(N)]


@pytest.mark.parametrize("W", [23, 5, 100])
@pytest.mark.parametrize("name, overrides, hf, kwargs", [
    ("constant_with_warmup", (), hf_constant_with_warmup, {}),
    ("cosine_with_restarts", (), hf_hard_restarts, {}),
    ("cosine_with_restarts", ("scheduler.num_cycles=3",), hf_hard_restarts, dict(num_cycles=3)),
    ("cosine_with_restarts", ("scheduler.num_cycles=6",), hf_hard_restarts, dict(num_cycles=6)),
    ("cosine_with_min_lr", ("scheduler.min_lr=0.001",), hf_cosine, dict(min_lr_rate=0.01)),
    ("cosine_with_min_lr", ("scheduler.min_lr_rate=0.2", "scheduler.num_cycles=1.0"), hf_cosine,
     dict(min_lr_rate=0.2, num_cycles=1.0)),
    ("warmup_stable_decay", ("scheduler.num_decay_steps=60",), hf_wsd, dict(num_decay_steps=60)),
    ("warmup_stable_decay", ("scheduler.num_decay_steps=50", "scheduler.num_stable_steps=200",
                             "scheduler.decay_type=1-sqrt", "scheduler.min_lr_ratio=0.1", "warmup.start_factor=0.1"),
     hf_wsd, dict(num_decay_steps=50, num_stable_steps=200, decay_type="1-sqrt", min_lr_ratio=0.1)),
    ("warmup_stable_decay", ("scheduler.num_decay_steps=80", "scheduler.num_cycles=0.8", "warmup=cosine"), hf_wsd,
     dict(num_decay_steps=80, num_cycles=0.8, warmup_type="cosine")),
    ("warmup_stable_decay", ("scheduler.num_decay_steps=40", "scheduler.decay_type=linear", "warmup=1-sqrt"), hf_wsd,
     dict(num_decay_steps=40, decay_type="linear", warmup_type="1-sqrt")),
    # transformers' names that are lrframe's already (inverse_sqrt, polynomial, cosine) or a setting of it (linear)
    ("inverse_sqrt", (), hf_inverse_sqrt, {}),
    ("polynomial", ("scheduler.end_lr=1e-7",), hf_polynomial, {}),
    ("polynomial", ("scheduler.end_lr=0.001", "scheduler.power=2.0"), hf_polynomial, dict(lr_end=0.001, power=2.0)),
    ("cosine", (), hf_cosine, {}),
    ("cosine", ("scheduler.num_cycles=1.5",), hf_cosine, dict(num_cycles=1.5)),
    ("linear", ("scheduler.interval=step", "scheduler.start_factor=1.0", "scheduler.end_factor=0.0",
                "scheduler.total_iters=null"), hf_linear, {}),
])
def test_transformers_names_equal_transformers_schedules(W, name, overrides, hf, kwargs):
    got = factors(f"scheduler={name}", *overrides, warmup_steps=W)
    assert got == pytest.approx([hf(s, W, N, **kwargs) for s in range(N)], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["constant_with_warmup", "cosine_with_restarts", "cosine_with_min_lr",
                                  "warmup_stable_decay"])
def test_a_transformers_name_selects_its_linear_warmup(name):
    assert compose_config(f"scheduler={name}")["warmup"] == {"name": "linear", "epochs": 1, "steps": None,
                                                             "start_factor": 0.0, "end_factor": 1.0, "end_lr": None}


def test_a_warmup_on_the_command_line_wins_over_the_one_a_transformers_name_selects():
    assert compose_config("scheduler=constant_with_warmup", "warmup=exponential")["warmup"]["name"] == "exponential"
    assert compose_config("warmup=cosine", "scheduler=constant_with_warmup")["warmup"]["name"] == "cosine"


def test_warmup_stable_decay_null_decay_steps_decay_over_the_last_fifth():
    got = factors("scheduler=warmup_stable_decay", "warmup.steps=60")
    assert got == pytest.approx([hf_wsd(s, 60, N, num_decay_steps=80) for s in range(N)], rel=1e-9, abs=1e-12)


def test_transformers_names_can_be_parts_of_a_sequence():
    # a part's length is its share of the run: num_cycles restarts within it
    got = factors("scheduler=sequential", "warmup=none", "scheduler.interval=step", "scheduler.milestones=[200]",
                  "scheduler.schedulers=[{name:cosine_with_restarts,num_cycles:2},{name:constant_with_warmup}]")
    assert got == pytest.approx([hf_hard_restarts(s, 0, 200, 2) for s in range(200)] + [1.0] * 260, abs=1e-12)


@pytest.mark.parametrize("overrides, message", [
    (("scheduler=cosine_with_restarts", "scheduler.num_cycles=1.5"),
     "scheduler.num_cycles=1.5: expected an integer >= 1"),
    (("scheduler=cosine_with_min_lr", "scheduler.min_lr=0.5"), "scheduler.min_lr=0.5: expected a number >= 0 and < 0.1"),
    (("scheduler=cosine_with_min_lr", "scheduler.min_lr_rate=1"), "scheduler.min_lr_rate=1: expected a number >= 0"),
    (("scheduler=warmup_stable_decay", "scheduler.num_decay_steps=500"),
     "scheduler.num_decay_steps=500: longer than the schedule (437 steps after warmup)"),
    (("scheduler=warmup_stable_decay", "scheduler.num_stable_steps=-5", "scheduler.num_decay_steps=5"),
     "scheduler.num_stable_steps=-5: expected a number >= 0"),
    (("scheduler=warmup_stable_decay", "scheduler.decay_type=linear", "scheduler.num_cycles=1"),
     "scheduler.num_cycles=1: shapes only decay_type=cosine; expected 0.5 with decay_type=linear"),
])
def test_bad_transformers_keys_are_one_line_errors(overrides, message):
    with pytest.raises(ConfigError) as error:
        make_plan(*overrides)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
