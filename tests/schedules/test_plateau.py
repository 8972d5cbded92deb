"""plateau against torch's ReduceLROnPlateau fed the same metric sequence; its state; warmup + plateau."""

import random

import pytest
import torch

from curves import LR, dummy_optimizer, node

from lrframe.schedules import Clock, run_schedule

TORCH_DEFAULTS = dict(mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel", cooldown=0,
                      min_lr=0.0, eps=1e-8)


def metric_sequence(seed: int, length: int = 60) -> list[float]:
    """A noisy loss that improves, stalls, and improves again (and some exact repeats)."""
    rng = random.Random(seed)
    values, level = [], 1.0
    for i in range(length):
        level *= 0.97 if (i // 12) % 2 == 0 else 1.0
        values.append(values[-1] if rng.random() < 0.1 and values else level * (1 + 0.02 * rng.gauss(0, 1)))
    return values


def plateau_node(**arguments) -> dict:
    return node("plateau", "step", "epoch", **{"monitor": "val/loss", **TORCH_DEFAULTS, **arguments})


@pytest.mark.parametrize("arguments", [
    {},
    dict(patience=0, factor=0.5),
    dict(patience=2, cooldown=3, factor=0.3, min_lr=0.004),
    dict(patience=1, threshold=0.05, threshold_mode="abs"),
    dict(patience=3, threshold=0.01, eps=0.02),
    dict(mode="max", patience=2, factor=0.5),
    dict(mode="max", patience=0, threshold=0.001, threshold_mode="abs", cooldown=1),
])
@pytest.mark.parametrize("seed", [0, 1])
def test_plateau_equals_torch_reduce_lr_on_plateau_on_the_same_metrics(arguments, seed):
    metrics = metric_sequence(seed)
    if arguments.get("mode") == "max":
        metrics = [-m for m in metrics]  # an accuracy-like metric
    optimizer = dummy_optimizer()
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **{**TORCH_DEFAULTS, **arguments})
    schedule = run_schedule(plateau_node(**arguments), {"name": "none"}, Clock(10, 1000), LR)
    expected, got = [], []
    for i, value in enumerate(metrics):
        reference.step(value)
        expected.append(optimizer.param_groups[0]["lr"])
        schedule.observe(i * 10, {"val/loss": value, "val/acc": 0.0})
        got.append(LR * schedule(i * 10 + 5))
    assert got == pytest.approx(expected, rel=1e-6)
    assert len(set(expected)) > 1 or not arguments  # the metrics do make most of these cut the lr


def test_plateau_monitors_the_configured_metric():
    schedule = run_schedule(plateau_node(monitor="val/acc", mode="max", patience=0, factor=0.5), {"name": "none"},
                            Clock(10, 100), LR)
    for acc in (0.5, 0.6, 0.6):
        schedule.observe(20, {"val/loss": 9.0, "val/acc": acc})
    assert LR * schedule(30) == pytest.approx(LR * 0.5)  # the third, no better than 0.6, cut it once


def test_plateau_state_is_plain_values_and_resumes_the_same_decisions():
    metrics = metric_sequence(3)
    arguments = dict(patience=1, cooldown=2, factor=0.5)
    first = run_schedule(plateau_node(**arguments), {"name": "none"}, Clock(10, 1000), LR)
    for value in metrics[:30]:
        first.observe(0, {"val/loss": value})
    state = first.state_dict()
    assert all(type(v) in (int, float) for v in state.values())
    second = run_schedule(plateau_node(**arguments), {"name": "none"}, Clock(10, 1000), LR)
    second.load_state_dict(dict(state))
    for value in metrics[30:]:
        first.observe(0, {"val/loss": value})
        second.observe(0, {"val/loss": value})
        assert second(0) == first(0)


def test_warmup_then_plateau_ramps_then_holds_and_ignores_metrics_during_warmup():
    schedule = run_schedule(plateau_node(patience=0, factor=0.5), {"name": "linear", "steps": 8, "start_factor": 0.0},
                            Clock(4, 40), LR)
    schedule.observe(3, {"val/loss": 1.0})  # during warmup: ignored
    schedule.observe(5, {"val/loss": 2.0})
    assert [schedule(s) for s in range(8)] == pytest.approx([s / 8 for s in range(8)])
    assert [schedule(s) for s in range(8, 20)] == [1.0] * 12
    schedule.observe(20, {"val/loss": 1.0})  # the first observed value is the baseline
    schedule.observe(24, {"val/loss": 1.5})  # worse, patience 0: cut
    assert schedule(25) == 0.5
