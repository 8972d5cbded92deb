"""timm's lr noise: where it applies, its bounds and distribution (against the truncated normal's and the
uniform's moments, from their formulas), and that it is a function of (noise_seed, t): deterministic for a
seed, the same after a resume, in a preview and in training."""

import csv
import io
import math
import statistics

import pytest
import torch

from conftest import fit_in_process, make_plan, read_scalars
from curves import TOTAL, dummy_optimizer, node, ours

from lrframe.config.errors import ConfigError
from lrframe.schedules.scheduler import ScheduledLR
from lrframe.schedules.noise import noisy

CLEAN = dict(T_0=20, T_mult=1, eta_min=0.0, cycle_decay=1.0, cycle_limit=None, k_decay=1.0)


def noise_keys(noise_range_t=(10, 50), noise_type="normal", noise_pct=0.67, noise_std=1.0, noise_seed=42):
    return dict(noise_range_t=list(noise_range_t) if isinstance(noise_range_t, tuple) else noise_range_t,
                noise_type=noise_type, noise_pct=noise_pct, noise_std=noise_std, noise_seed=noise_seed)


def relative_noise(**keys) -> list[float]:
    """lr / the noiseless lr - 1 at every step of the run."""
    noisy_lrs = ours(node("cosine_restarts", "step", "step", **CLEAN, **noise_keys(**keys)))[0]
    clean = ours(node("cosine_restarts", "step", "step", **CLEAN, **noise_keys(noise_range_t=None)))[0]
    return [a / b - 1 for a, b in zip(noisy_lrs, clean)]


@pytest.mark.parametrize("noise_range_t, noisy_steps", [((10, 50), range(10, 50)), (30, range(30, TOTAL)),
                                                        ([0], range(TOTAL))])
def test_noise_applies_in_noise_range_t_only_as_timm(noise_range_t, noisy_steps):
    # timm: a <= t < b for a range, t >= a for a number
    noise = relative_noise(noise_range_t=noise_range_t)
    assert [s for s, n in enumerate(noise) if n != 0] == list(noisy_steps)


@pytest.mark.parametrize("noise_type, noise_pct", [("normal", 0.67), ("normal", 0.05), ("uniform", 0.3)])
def test_noise_stays_within_noise_pct(noise_type, noise_pct):
    noise = relative_noise(noise_range_t=0, noise_type=noise_type, noise_pct=noise_pct)
    assert all(abs(n) < noise_pct * (1 + 1e-9) for n in noise) and len(set(noise)) == TOTAL


def test_noise_is_a_function_of_the_seed_and_the_time():
    first, again = relative_noise(noise_seed=7), relative_noise(noise_seed=7)
    assert first == again != relative_noise(noise_seed=8)


def truncated_normal_std(std, bound):
    """The standard deviation of N(0, std^2) truncated to (-bound, bound): std * sqrt(1 - 2a phi(a) / (2 Phi(a) - 1))."""
    a = bound / std
    phi, Phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(a / math.sqrt(2)))
    return std * math.sqrt(1 - 2 * a * phi / (2 * Phi - 1))


@pytest.mark.parametrize("noise_type, noise_pct, noise_std, want_std", [
    ("normal", 0.67, 1.0, truncated_normal_std(1.0, 0.67)),   # timm's defaults: std 1, redrawn beyond 0.67
    ("normal", 0.9, 0.1, truncated_normal_std(0.1, 0.9)),     # noise_std scales the draws (9 sigma: hardly cut)
    ("normal", 0.2, 0.25, truncated_normal_std(0.25, 0.2)),
    ("uniform", 0.5, 1.0, 0.5 / math.sqrt(3)),                # uniform on [-pct, pct)
])
def test_the_noise_has_the_distribution_timm_draws_from(noise_type, noise_pct, noise_std, want_std):
    f = noisy(lambda t: 1.0, noise_range_t=0, noise_type=noise_type, noise_pct=noise_pct, noise_std=noise_std,
              noise_seed=3)
    draws = [f(t) - 1.0 for t in range(20000)]
    assert max(abs(d) for d in draws) < noise_pct
    assert statistics.fmean(draws) == pytest.approx(0.0, abs=4 * want_std / math.sqrt(len(draws)))
    assert statistics.pstdev(draws) == pytest.approx(want_std, rel=0.03)


def test_noise_at_fractional_times_is_drawn_per_time():
    f = noisy(lambda t: 1.0, noise_range_t=0, noise_type="uniform", noise_pct=0.5, noise_std=1.0, noise_seed=0)
    assert len({f(s / 7) for s in range(70)}) == 70 and f(10 / 7) == f(10 / 7)


@pytest.mark.parametrize("name", ["cosine_restarts", "poly", "tanh"])
def test_a_noisy_schedule_resumes_exactly_from_a_weights_only_checkpoint(name):
    plan = make_plan(f"scheduler={name}", "scheduler.noise_range_t=1", "scheduler.noise_seed=5")
    first = ScheduledLR(dummy_optimizer(lr=plan.lr), plan.schedule())

    def advance(scheduler, steps):
        lrs = []
        for _ in range(steps):
            lrs.append(scheduler.optimizer.param_groups[0]["lr"])
            scheduler.optimizer.step()
            scheduler.step()
        return lrs

    advance(first, 150)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = ScheduledLR(dummy_optimizer(lr=plan.lr), make_plan(f"scheduler={name}", "scheduler.noise_range_t=1",
                                                                "scheduler.noise_seed=5").schedule())
    second.load_state_dict(torch.load(buffer, weights_only=True))
    second.optimizer.param_groups[0]["lr"] = first.optimizer.param_groups[0]["lr"]  # Lightning restores this
    resumed, straight = advance(second, 150), advance(first, 150)
    assert resumed == straight
    assert len(set(resumed)) == 150  # noisy all along


def test_noise_seed_defaults_to_the_run_seed():
    schedule = make_plan("scheduler=poly", "scheduler.noise_range_t=0", "seed=3").schedule()
    same = make_plan("scheduler=poly", "scheduler.noise_range_t=0", "scheduler.noise_seed=3").schedule()
    other = make_plan("scheduler=poly", "scheduler.noise_range_t=0", "seed=4").schedule()
    assert [schedule(s) for s in range(50)] == [same(s) for s in range(50)] != [other(s) for s in range(50)]


@pytest.mark.parametrize("keys, message", [
    (dict(noise_range_t=[5, 2]), "scheduler.noise_range_t=[5,2]: expected a range [start, end) with start < end"),
    (dict(noise_range_t=[1, 2, 3]), "scheduler.noise_range_t=[1,2,3]: expected null, a time t from which"),
    (dict(noise_range_t="late"), "scheduler.noise_range_t=late: expected a number >= 0"),
    (dict(noise_pct=1.5), "scheduler.noise_pct=1.5: expected a number > 0 and <= 1"),
    (dict(noise_std=0), "scheduler.noise_std=0: expected a number > 0"),
    (dict(noise_type="gaussian"), "scheduler.noise_type=gaussian: expected one of normal, uniform"),
    (dict(noise_seed=-1), "scheduler.noise_seed=-1: expected an integer >= 0"),
])
def test_bad_noise_keys_are_one_line_errors(keys, message):
    with pytest.raises(ConfigError) as error:
        ours(node("cosine_restarts", "step", "step", **CLEAN, **{**noise_keys(), **keys}))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_node_without_the_noise_keys_is_noiseless_and_turning_it_on_names_what_is_missing():
    # a part of sequential, or a config from before the keys existed, may leave them out
    assert relative_noise(noise_range_t=None) == [0.0] * TOTAL
    assert ours(node("cosine_restarts", "step", "step", **CLEAN))[0] == ours(
        node("cosine_restarts", "step", "step", **CLEAN, **noise_keys(noise_range_t=None)))[0]
    with pytest.raises(ConfigError, match=r"^scheduler.noise_type=null: expected one of normal, uniform"):
        ours(node("cosine_restarts", "step", "step", **CLEAN, noise_range_t=5))


@pytest.mark.slow
def test_training_logs_the_noisy_lrs_its_preview_planned(tmp_path):
    overrides = ("scheduler=poly", "scheduler.noise_range_t=[4,30]", "trainer.max_epochs=3", "data.batch_size=128",
                 "trainer.log_every_n_steps=1", "warmup.steps=4")
    fit_in_process(tmp_path, *overrides)
    with open(tmp_path / "schedule.csv") as file:
        planned = [float(row["lr"]) for row in csv.DictReader(file)]
    clean = make_plan(*overrides, "scheduler.noise_range_t=null").schedule()
    assert [lr for _, lr in read_scalars(tmp_path, "lr")] == pytest.approx(planned, rel=1e-6, abs=1e-12)
    assert [s for s, lr in enumerate(planned) if lr != pytest.approx(0.1 * clean(s), rel=1e-9)] == list(range(8, 34))
