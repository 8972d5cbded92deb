"""ScheduledLR against torch's own scheduler classes, stepped on a dummy optimizer."""

import math

import pytest
import torch

from lrframe.schedules.scheduler import ScheduledLR
from lrframe.schedules import Clock, run_schedule


def _optimizer(lr=0.1, name="SGD"):
    param = torch.nn.Parameter(torch.zeros(1))
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    return getattr(torch.optim, name)([param, ], lr=lr, **kwargs)


def _lrs(scheduler, steps):
    out = []
    for _ in range(steps):
        out.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return out


CLOCK = Clock(steps_per_epoch=10, total_steps=100)
NO_WARMUP = {"name": "none"}


def test_cosine_per_step_equals_torch_cosine_annealing():
    ours = ScheduledLR(_optimizer(), run_schedule({"name": "cosine", "interval": "step", "T_max": None,
                                                   "eta_min": 0.001}, NO_WARMUP, CLOCK, lr=0.1))
    optimizer = _optimizer()
    torch_lrs = _lrs(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100, eta_min=0.001), 100)
    assert _lrs(ours, 100) == pytest.approx(torch_lrs, rel=1e-6)


def test_step_per_epoch_equals_torch_step_lr_stepped_each_epoch():
    ours = ScheduledLR(_optimizer(), run_schedule({"name": "step", "interval": "epoch", "step_size": 3,
                                                   "gamma": 0.5}, NO_WARMUP, CLOCK, lr=0.1))
    optimizer = _optimizer()
    reference = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    expected = []
    for _ in range(10):  # epochs
        expected += [optimizer.param_groups[0]["lr"]] * 10
        optimizer.step()
        reference.step()
    assert _lrs(ours, 100) == pytest.approx(expected, rel=1e-6)


def test_state_dict_round_trips_and_holds_only_plain_values():
    schedule = run_schedule({"name": "cosine", "interval": "step", "T_max": None, "eta_min": 0.0},
                            NO_WARMUP, CLOCK, lr=0.1)
    first = ScheduledLR(_optimizer(), schedule)
    _lrs(first, 37)
    state = first.state_dict()
    assert set(state) == {"last_epoch", "base_lrs", "base_lr", "schedule"} and state["last_epoch"] == 37
    assert state["base_lr"] == 0.1

    second = ScheduledLR(_optimizer(), schedule)
    second.load_state_dict(state)
    second.optimizer.param_groups[0]["lr"] = first.optimizer.param_groups[0]["lr"]  # Lightning restores this
    assert _lrs(second, 63) == _lrs(first, 63)


def test_rebase_continues_the_schedule_at_the_current_step_with_new_base_lrs():
    cosine = {"name": "cosine", "interval": "step", "T_max": None, "eta_min": 0.0}
    scheduler = ScheduledLR(_optimizer(lr=0.1), run_schedule(cosine, NO_WARMUP, CLOCK, lr=0.1))
    _lrs(scheduler, 40)
    scheduler.rebase([0.3])
    expected = [0.3 * (1 + math.cos(math.pi * s / 100)) / 2 for s in range(40, 100)]
    assert _lrs(scheduler, 60) == pytest.approx(expected, rel=1e-9)
    assert scheduler.state_dict()["base_lrs"] == [0.3]


def test_scheduled_momentum_sets_adam_beta1_as_torch_one_cycle_lr_does():
    schedule = run_schedule({"name": "onecycle", "interval": "step", "max_lr": None, "total_steps": None,
                             "pct_start": 0.3, "anneal_strategy": "cos", "cycle_momentum": True,
                             "base_momentum": 0.85, "max_momentum": 0.95, "div_factor": 25.0,
                             "final_div_factor": 1e4, "three_phase": False}, NO_WARMUP, CLOCK, lr=0.1)
    ours = ScheduledLR(_optimizer(name="Adam"), schedule)
    optimizer = _optimizer(name="Adam")
    reference = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=100)
    for _ in range(100):
        assert ours.optimizer.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-6)
        assert ours.optimizer.param_groups[0]["betas"] == pytest.approx(optimizer.param_groups[0]["betas"], rel=1e-6)
        for opt, scheduler in ((ours.optimizer, ours), (optimizer, reference)):
            opt.step()
            scheduler.step()
