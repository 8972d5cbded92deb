"""Invariants of every schedule in the catalogue, built from its own conf/scheduler/NAME.yaml."""

import doctest
import importlib
import inspect
import io
import math

import pytest
import torch
import yaml

from conftest import CONFIG_DIR, make_plan
from curves import dummy_optimizer

from lrframe.schedules.scheduler import ScheduledLR
from lrframe.schedules import CATALOGUE
from lrframe.schedules import warmup as warmups
from lrframe.schedules.run import warmup_keys

NAMES = sorted(CATALOGUE)
#: the schedules that take timm's lr noise
NOISY = [name for name in NAMES if "noise_range_t" in inspect.signature(CATALOGUE[name]).parameters]


def test_every_scheduler_config_is_in_the_catalogue_and_back():
    assert sorted(path.stem for path in (CONFIG_DIR / "scheduler").glob("*.yaml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("overrides", [(), ("warmup=exponential", "scheduler.interval=epoch"),
                                       ("warmup=none", "trainer.max_epochs=3", "data.batch_size=16")])
def test_defaults_give_a_finite_non_negative_lr_at_every_step(name, overrides):
    if name == "noam" and overrides and overrides[0] != "warmup=none":
        overrides = ("warmup=none", *overrides[1:])  # noam warms up by itself (it starts at 0)
    if name == "inverse_sqrt" and "warmup=none" in overrides:
        overrides = (*overrides, "scheduler.timescale=50")  # its null timescale is the warmup's length
    plan = make_plan(f"scheduler={name}", *overrides)
    schedule = plan.schedule()
    factors = [schedule(s) for s in range(plan.clock.total_steps)]
    assert all(math.isfinite(f) and f >= 0 for f in factors)
    if schedule.schedules_momentum:
        assert all(0 <= schedule.momentum(s) < 1 for s in range(plan.clock.total_steps))


@pytest.mark.parametrize("name", NOISY)
def test_with_noise_from_the_start_the_lr_is_finite_and_positive_at_every_step(name):
    plan = make_plan(f"scheduler={name}", "scheduler.noise_range_t=0", "scheduler.noise_type=uniform",
                     "scheduler.noise_pct=1.0", "warmup=none")
    schedule = plan.schedule()
    factors = [schedule(s) for s in range(plan.clock.total_steps)]
    assert all(math.isfinite(f) and f >= 0 for f in factors) and len(set(factors)) == len(factors)


@pytest.mark.parametrize("name, noise", [(name, ()) for name in NAMES] +
                         [(name, ("scheduler.noise_range_t=0",)) for name in NOISY])
def test_scheduled_lr_state_round_trips_through_a_weights_only_checkpoint(name, noise):
    plan = make_plan(f"scheduler={name}", "scheduler.interval=step", *noise)
    metrics = [{"val/loss": 1.0 / (1 + k % 5), "val/acc": 0.5} for k in range(40)]
    first = ScheduledLR(dummy_optimizer(lr=plan.lr), plan.schedule())

    def advance(scheduler, steps, start):
        lrs = []
        for k in range(start, start + steps):
            lrs.append(scheduler.optimizer.param_groups[0]["lr"])
            scheduler.optimizer.step()
            scheduler.step()
            if k % 23 == 22:
                scheduler.observe(metrics[k // 23])
        return lrs

    advance(first, 150, 0)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = ScheduledLR(dummy_optimizer(lr=plan.lr), plan.schedule())
    second.load_state_dict(torch.load(buffer, weights_only=True))
    second.optimizer.param_groups[0]["lr"] = first.optimizer.param_groups[0]["lr"]  # Lightning restores this
    assert advance(second, 150, 150) == advance(first, 150, 150)


@pytest.mark.parametrize("module", ["base", "constant", "cosine", "cycles", "cyclic", "exponential", "lambdas", "noise",
                                    "polynomial", "step", "tanh", "transformer", "warmup", "wsd"])
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(importlib.import_module(f"lrframe.schedules.{module}"))
    assert failures == 0 and (tried > 0 or module == "base")


def read_yaml(path) -> dict:
    """A config file's own keys (its defaults list left out, interpolations unresolved)."""
    return {key: value for key, value in yaml.safe_load(path.read_text()).items() if key != "defaults"}


@pytest.mark.parametrize("name", NAMES)
def test_the_config_lists_every_key_its_schedule_takes_and_the_added_ones_leave_its_curve_as_it_was(name):
    # a key added later (timm's k_decay on torch's cosine) may be absent from a node; the YAML, where the
    # default lives, has it at the value a node without it gets, so both give the same curve
    constructor = CATALOGUE[name]
    config = read_yaml(CONFIG_DIR / "scheduler" / f"{name}.yaml")
    takes = [key for key in inspect.signature(constructor).parameters if key not in ("lr", "pieces")]
    assert set(config) - {"name", "interval", "unit"} == set(takes)
    # (the noise's own parameters are read only once noise_range_t turns it on: they have no such value)
    extras = {key: value for key, value in getattr(constructor, "extras", {}).items()
              if key not in ("noise_type", "noise_pct", "noise_std", "noise_seed")}
    assert {key: config[key] for key in extras} == extras


@pytest.mark.parametrize("shape", sorted(warmups.SHAPES))
def test_the_warmup_configs_list_their_keys_and_the_added_ones_leave_the_ramp_as_it_was(shape):
    config = read_yaml(CONFIG_DIR / "warmup" / f"{shape}.yaml")
    assert set(config) == set(warmup_keys(shape))
    assert {key: config[key] for key in warmups.EXTRAS if key in config} == (
        warmups.EXTRAS if "end_factor" in config else {})


def test_the_guides_schedule_table_lists_every_scheduler():
    guide = (CONFIG_DIR.parent / "docs" / "guide.md").read_text()
    table = guide[guide.index("| `scheduler=` |"):guide.index("![Every schedule family")]
    assert sorted(line.split("`")[1] for line in table.splitlines()[2:] if line.startswith("| `")) == NAMES
