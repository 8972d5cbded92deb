"""wsd (with the run's warmup) against transformers' get_wsd_schedule, written out."""

import math

import pytest

from curves import CLOCKS, LR, SPE, TOTAL, node, ours, schedule_time

from lrframe.config.errors import ConfigError


def transformers_wsd(step, *, num_warmup_steps, num_stable_steps, num_decay_steps, decay_type, min_lr_ratio,
                     num_cycles=0.5):
    """transformers.optimization._get_wsd_scheduler_lambda with warmup_type="linear"."""
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps) * (1.0 - min_lr_ratio) + min_lr_ratio
    if step < num_warmup_steps + num_stable_steps:
        return 1.0
    if step < num_warmup_steps + num_stable_steps + num_decay_steps:
        progress = (step - num_warmup_steps - num_stable_steps) / max(1, num_decay_steps)
        factor = {"linear": 1.0 - progress, "cosine": 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress)),
                  "1-sqrt": 1.0 - math.sqrt(progress)}[decay_type]
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warmup_steps, decay_fraction, min_lr_ratio", [(6, 0.25, 0.0), (0, 0.5, 0.1), (16, 1.0, 0.02)])
def test_wsd_with_warmup_equals_transformers_wsd_schedule(decay_type, warmup_steps, decay_fraction, min_lr_ratio):
    decay_steps = decay_fraction * (TOTAL - warmup_steps)  # 15, 33, 50: whole steps
    warmup = ({"name": "linear", "steps": warmup_steps, "start_factor": min_lr_ratio} if warmup_steps
              else {"name": "none"})
    got = ours(node("wsd", "step", "step", total_iters=None, decay_fraction=decay_fraction, decay_type=decay_type,
                    min_lr_ratio=min_lr_ratio), warmup=warmup)[0]
    expected = [LR * transformers_wsd(s, num_warmup_steps=warmup_steps, num_decay_steps=decay_steps,
                                      num_stable_steps=TOTAL - warmup_steps - decay_steps, decay_type=decay_type,
                                      min_lr_ratio=min_lr_ratio) for s in range(TOTAL)]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("unit, interval", CLOCKS)
def test_wsd_on_every_clock_decays_over_the_last_fraction_of_its_length(unit, interval):
    total = 12 if unit == "epoch" else 12 * SPE  # longer than the run: it is still decaying when the run stops
    got = ours(node("wsd", unit, interval, total_iters=total, decay_fraction=0.5, decay_type="linear",
                    min_lr_ratio=0.0))[0]
    expected = [LR * min(1.0, 1.0 - (schedule_time(s, unit, interval) - total / 2) / (total / 2)) for s in range(TOTAL)]
    assert got == pytest.approx(expected, rel=1e-6)


def test_wsd_decay_type_is_checked():
    with pytest.raises(ConfigError, match=r"^scheduler.decay_type=sqrt: expected one of linear, cosine, 1-sqrt"):
        ours(node("wsd", "step", "step", total_iters=None, decay_fraction=0.2, decay_type="sqrt", min_lr_ratio=0.0))


@pytest.mark.parametrize("num_cycles", [0.25, 1.0, 1.5])
def test_wsd_cosine_decay_with_num_cycles_equals_transformers_wsd_schedule(num_cycles):
    warmup = {"name": "linear", "steps": 6, "start_factor": 0.05}  # transformers warms up from min_lr_ratio
    got = ours(node("wsd", "step", "step", total_iters=None, decay_fraction=0.5, decay_type="cosine",
                    min_lr_ratio=0.05, num_cycles=num_cycles), warmup=warmup)[0]
    expected = [LR * transformers_wsd(s, num_warmup_steps=6, num_decay_steps=30, num_stable_steps=30,
                                      decay_type="cosine", min_lr_ratio=0.05, num_cycles=num_cycles)
                for s in range(TOTAL)]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-15)
