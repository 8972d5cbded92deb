"""task=batch_size_find end to end: the largest batch and the gradient noise scale, written, printed, in
TensorBoard; its options checked in one line before anything runs."""

import json
import math
import re

import pytest
import torch

from conftest import make_plan, train_cli
from lrframe.config.errors import ConfigError
from lrframe.tasks import run_task


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("batch_size_find")
    result = train_cli("task=batch_size_find", "task.noise_batches=10", f"hydra.run.dir={run_dir}")
    return run_dir, result


@pytest.mark.slow
def test_the_cli_writes_both_numbers_and_prints_one_line(cli_run):
    run_dir, result = cli_run
    assert result.returncode == 0, result.stderr
    found = json.loads((run_dir / "batch_size_find.json").read_text())
    # digits: 1437 training samples, and a step of the default MLP needs a few MiB: the training set bounds it
    assert found["largest_batch_size"] == 1437 and found["limited_by"] == "training set"
    assert [t["batch_size"] for t in found["trials"]] == [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1437]
    assert all(t["fits"] and t["step_mb"] <= found["memory_limit_mb"] for t in found["trials"])
    noise = found["noise"]
    assert (noise["small_batch"], noise["big_batch"], noise["pairs"]) == (64, 512, 10)
    assert found["gradient_noise_scale"] == pytest.approx(noise["trace_sigma"] / noise["grad_sq"])
    assert 1 < found["gradient_noise_scale"] < 1437
    assert found["suggested_batch_size"] == math.ceil(found["gradient_noise_scale"])
    assert found["suggested_global_batch"] == found["suggested_batch_size"]
    line = result.stdout.strip()
    assert "\n" not in line and line.startswith("batch_size_find: largest batch 1437 (limited by training set; its step ")
    assert f"gradient noise scale B_simple {found['gradient_noise_scale']:.4g}" in line
    assert f"suggested data.batch_size {found['suggested_batch_size']} " in line
    assert (run_dir / "batch_size_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run_dir / "checkpoints").exists()


@pytest.mark.slow
def test_both_numbers_and_the_figure_are_in_tensorboard(cli_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, _ = cli_run
    found = json.loads((run_dir / "batch_size_find.json").read_text())
    events = EventAccumulator(str(run_dir / "tensorboard" / "batch_size_find"), size_guidance={"images": 0})
    events.Reload()
    for tag in ("largest_batch_size", "gradient_noise_scale", "suggested_batch_size"):
        assert events.Scalars(f"batch_size_find/{tag}")[0].value == pytest.approx(found[tag], rel=1e-6)
    assert events.Images("batch_size_find")[0].width >= 800


@pytest.mark.slow
def test_a_memory_limit_bounds_the_batch_and_binsearch_finds_the_largest_under_it(tmp_path):
    """A limit set between the steps' memory the power search measured: binsearch stops where it crosses it."""
    first = run_task(make_plan("task=batch_size_find", "task.noise_batches=2"), tmp_path / "a")
    peaks = {t["batch_size"]: t["step_mb"] for t in first["trials"]}
    if peaks[1437] - peaks[64] < 2:  # the step's own memory must stand out of the measurement's jitter
        pytest.skip(f"step memory too close to bound a batch: {peaks}")
    limit = (peaks[256] + peaks[1437]) / 2
    found = run_task(make_plan("task=batch_size_find", "task.mode=binsearch", f"task.memory_limit_mb={limit}",
                               "task.noise_batches=2"), tmp_path / "b")
    assert found["limited_by"] == "memory" and 256 <= found["largest_batch_size"] < 1437
    fitted = [t for t in found["trials"] if t["fits"]]
    failed = [t for t in found["trials"] if not t["fits"]]
    assert all(t["step_mb"] <= limit for t in fitted) and all(t["step_mb"] > limit for t in failed)
    assert min(t["batch_size"] for t in failed) == found["largest_batch_size"] + 1  # bisected to neighbours


def test_accumulation_bounds_the_batch_by_the_global_batch_and_scales_the_suggestion(tmp_path):
    found = run_task(make_plan("task=batch_size_find", "trainer.accumulate_grad_batches=4", "task.init_val=300",
                               "task.noise_batches=4"), tmp_path)
    assert found["largest_batch_size"] == 1437 // 4 and found["upper"] == 359
    assert found["suggested_global_batch"] == 4 * found["suggested_batch_size"]


def test_noise_after_training_steps_is_measured_at_the_trained_weights(tmp_path):
    """The noise scale grows as training lowers the gradient (McCandlish et al., section 3)."""
    at_start = run_task(make_plan("task=batch_size_find", "task.max_trials=1", "task.noise_batches=30"), tmp_path / "a")
    trained = run_task(make_plan("task=batch_size_find", "task.max_trials=1", "task.noise_batches=30",
                                 "task.after_steps=230"), tmp_path / "b")
    assert trained["noise"]["grad_sq"] < at_start["noise"]["grad_sq"] / 10
    assert trained["gradient_noise_scale"] > 3 * at_start["gradient_noise_scale"]


def test_random_state_is_restored(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run_task(make_plan("task=batch_size_find", "task.max_trials=2", "task.noise_batches=2"), tmp_path)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("overrides, message", [
    (["task.mode=linear"], r"^task\.mode=linear: expected one of power, binsearch$"),
    (["task.init_val=0"], r"^task\.init_val=0: expected an integer >= 1$"),
    (["task.max_trials=0"], r"^task\.max_trials=0: expected an integer >= 1$"),
    (["task.memory_limit_mb=-5"], r"^task\.memory_limit_mb=-5: expected a number > 0$"),
    (["task.memory_fraction=1.5"], r"^task\.memory_fraction=1\.5: expected a number > 0 and <= 1$"),
    (["task.noise_batches=0"], r"^task\.noise_batches=0: expected an integer >= 1$"),
    (["task.after_steps=-1"], r"^task\.after_steps=-1: expected an integer >= 0 and <= 460$"),
    (["task.small_batch=1437"], r"^task\.small_batch=1437: expected an integer >= 1 and < 1437$"),
    (["task.big_batch=2000"], r"^task\.big_batch=2000: expected an integer >= 1 and <= 1437$"),
    (["task.big_batch=64"], r"^task\.big_batch=64: expected more than B_small \(64: task\.small_batch, or "
                            r"data\.batch_size\)"),
    (["data.batch_size=1437"], r"^task\.small_batch=null: B_small is data\.batch_size \(1437\), the whole training "
                               r"set \(1437\): set task\.small_batch below it$"),
    (["optimizer.lr=auto"], r"^optimizer\.lr=auto: task=batch_size_find needs a number"),
    (["scheduler=none", "warmup=none", "+scheduler._target_=torch.optim.lr_scheduler.StepLR", "+scheduler.step_size=2",
      "task.after_steps=5"], r"^task\.after_steps=5: trains with lrframe's own schedules"),
    (["+task.nope=1"], r"^task\.nope=1: unknown key for task=batch_size_find; allowed: name, mode, init_val"),
])
def test_options_out_of_range_are_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError) as error:
        make_plan("task=batch_size_find", *overrides)
    assert re.search(message, str(error.value)), str(error.value)


def test_the_cli_refuses_a_bad_option_in_one_line_without_a_traceback(tmp_path):
    result = train_cli("task=batch_size_find", "task.big_batch=10", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 1
    assert result.stderr == ("error: task.big_batch=10: expected more than B_small (64: task.small_batch, or "
                             "data.batch_size); the noise scale needs two batch sizes\n")
