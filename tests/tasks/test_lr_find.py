"""task=lr_find and optimizer.lr=auto end to end, in process: real data, files, TensorBoard events."""

import csv
import json
import random

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
import torch

from conftest import fit_in_process, make_plan, read_scalars, train_cli
from lrframe.config.errors import ConfigError
from lrframe.tasks import run_task
from lrframe.tasks.lr_find import find_lr


def lr_find_in_process(run_dir, *overrides):
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_task(make_plan("task=lr_find", *overrides), run_dir)


def read_curve(run_dir):
    with open(run_dir / "lr_find.csv") as file:
        rows = list(csv.reader(file))
    return rows[0], [[float(v) for v in row] for row in rows[1:]]


@pytest.fixture(scope="module")
def default_test(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("lr_find")
    lr_find_in_process(run_dir)
    return run_dir


def test_writes_the_curve_the_figure_and_the_suggestions_but_no_checkpoint(default_test):
    header, rows = read_curve(default_test)
    summary = json.loads((default_test / "lr_find.json").read_text())
    assert header == ["lr", "loss", "smoothed_loss"]
    assert len(rows) == summary["steps_run"] <= summary["num_steps"] == 100
    lrs = [row[0] for row in rows]
    assert lrs == pytest.approx([1e-7 * (10 / 1e-7) ** (i / 99) for i in range(len(rows))], rel=1e-12)
    # the smoothed column is the bias-corrected EMA (beta 0.9) of the loss column
    average, expected = 0.0, []
    for i, (_, loss, _) in enumerate(rows):
        average = 0.9 * average + 0.1 * loss
        expected.append(average / (1 - 0.9 ** (i + 1)))
    assert [row[2] for row in rows] == pytest.approx(expected, rel=1e-9)
    assert summary["method"] == "minimum" and set(summary["methods"]) == {"valley", "steepest", "minimum"}
    assert summary["suggestion"] == summary["methods"]["minimum"]
    assert summary["reason"] is None
    assert (default_test / "lr_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (default_test / "checkpoints").exists()


def test_the_curve_and_figure_are_in_tensorboard(default_test):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, rows = read_curve(default_test)
    events = EventAccumulator(str(default_test / "tensorboard" / "lr_find"),  # a TensorBoard run of its own
                              size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    smoothed = [event.value for event in events.Scalars("lr_find/smoothed_loss")]
    assert smoothed == pytest.approx([row[2] for row in rows], rel=1e-6)
    image = events.Images("lr_find")[0]
    assert image.width > 400 and image.height > 300


def test_default_suggestion_lies_on_the_falling_part_below_the_minimum_loss_lr(default_test):
    _, rows = read_curve(default_test)
    summary = json.loads((default_test / "lr_find.json").read_text())
    lrs, smoothed = [row[0] for row in rows], [row[2] for row in rows]
    before_blow_up = smoothed[:summary["diverged"]["step"]]
    lowest = before_blow_up.index(min(before_blow_up))
    assert summary["min_loss_lr"] == pytest.approx(lrs[lowest])
    for lr in summary["methods"].values():
        assert lr < lrs[lowest]
    i = max(j for j, lr in enumerate(lrs) if lr <= summary["suggestion"])  # the curve's step at or below it
    assert smoothed[i - 2] > smoothed[i] > smoothed[i + 2] > smoothed[lowest]  # still falling there
    assert smoothed[i] < 0.97 * smoothed[10]  # past the flat start


def test_the_test_trains_what_fit_would_train(tmp_path):
    """Same model, init, data order, batch size and optimizer: the first two losses of the test equal
    the first two training losses of task=fit run at the test's first lr, bit for bit."""
    overrides = ["optimizer=adam", "optimizer.weight_decay=0.01", "data.batch_size=32", "seed=3"]
    lr_find_in_process(tmp_path / "test", *overrides)
    _, rows = read_curve(tmp_path / "test")
    fit_in_process(tmp_path / "fit", *overrides, "optimizer.lr=1e-7", "scheduler=none", "warmup=none",
                   "trainer.max_epochs=1", "trainer.log_every_n_steps=1")
    fit_losses = [v for _, v in read_scalars(tmp_path / "fit", "train/loss")]
    assert [np.float32(row[1]) for row in rows[:2]] == fit_losses[:2]


def test_the_test_leaves_the_random_state_as_it_was(tmp_path):
    torch.manual_seed(123)
    before = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    find_lr(make_plan("optimizer.lr=auto", "logger=none"), tmp_path)
    assert (tmp_path / "lr_find.csv").is_file() and not (tmp_path / "tensorboard").exists()  # logger=none
    assert torch.equal(before[0], torch.get_rng_state())
    assert before[1] == random.getstate() and np.array_equal(before[2], np.random.get_state()[1])


@pytest.mark.slow
def test_lr_auto_trains_with_the_suggestion_exactly_as_if_it_had_been_given(tmp_path):
    auto = fit_in_process(tmp_path / "auto", "optimizer.lr=auto", "trainer.log_every_n_steps=1")
    lr = auto["lr_found"]
    assert json.loads((tmp_path / "auto" / "lr_find.json").read_text())["suggestion"] == lr
    assert auto["val/acc"] >= 0.95
    constants = EventAccumulator(str(tmp_path / "auto" / "tensorboard"), size_guidance={"tensors": 0})
    constants.Reload()  # the lr found is one of the run's constants: text, not a one-point chart
    assert f"| lr_found | {lr:g} |" in constants.Tensors("run")[0].tensor_proto.string_val[0].decode()
    assert max(v for _, v in read_scalars(tmp_path / "auto", "lr")) == pytest.approx(lr)  # warmup reaches it
    assert [p.name for p in (tmp_path / "auto" / "checkpoints").iterdir()] == ["last.ckpt"]

    given = fit_in_process(tmp_path / "given", f"optimizer.lr={lr!r}", "trainer.log_every_n_steps=1")
    assert given["val/acc"] == auto["val/acc"] and "lr_found" not in given
    weights = [torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
               for run in ("auto", "given")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_the_lr_scaling_rule_does_not_apply_to_the_found_lr(tmp_path):
    """The test runs at the global batch, so its suggestion is already for it."""
    plain = find_lr(make_plan("optimizer.lr=auto", "logger=none"), tmp_path / "plain")
    scaled = find_lr(make_plan("optimizer.lr=auto", "logger=none", "optimizer.lr_scaling=linear",
                               "optimizer.base_batch_size=16"), tmp_path / "scaled")
    assert scaled == plain


def test_several_devices_test_the_global_batch():
    from lrframe.tasks.lr_find import run_test

    two_devices = run_test(make_plan("task=lr_find", "trainer.devices=2", "task.num_steps=30"))
    accumulated = run_test(make_plan("task=lr_find", "trainer.accumulate_grad_batches=2", "task.num_steps=30"))
    assert two_devices.curve.losses == accumulated.curve.losses


# -- no reliable suggestion, and an lr the schedule cannot use --------------------------------------

def test_a_run_that_diverges_at_once_says_so_and_still_writes_the_curve(tmp_path):
    with pytest.raises(ConfigError) as raised:
        lr_find_in_process(tmp_path, "task.start_lr=20", "task.end_lr=1000")
    message = str(raised.value)
    assert message.startswith("task=lr_find: no reliable suggestion: the loss diverged at step ")
    assert "lower task.start_lr" in message and "\n" not in message
    summary = json.loads((tmp_path / "lr_find.json").read_text())
    assert summary["suggestion"] is None and summary["reason"] in message
    assert (tmp_path / "lr_find.png").is_file() and len(read_curve(tmp_path)[1]) == summary["steps_run"] < 20


def test_a_curve_without_a_descent_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"^task=lr_find: no reliable suggestion: the smoothed loss falls by only "
                                          r".*; raise task.end_lr \(curve: .*lr_find.png\)$"):
        lr_find_in_process(tmp_path, "task.start_lr=1e-9", "task.end_lr=1e-7", "task.num_steps=20")


def test_lr_auto_without_a_suggestion_fails_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"^optimizer\.lr=auto: no reliable suggestion: .*; or set optimizer\.lr$"):
        fit_in_process(tmp_path, "optimizer.lr=auto", "task.lr_find.end_lr=1e-6")
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "metrics.json").exists()


def test_prints_the_suggestion_in_one_line(tmp_path, capsys):
    lr_find_in_process(tmp_path, "task.num_steps=40")
    lines = capsys.readouterr().out.splitlines()
    summary = json.loads((tmp_path / "lr_find.json").read_text())
    assert len(lines) == 1 and lines[0].startswith(f"lr_find: suggested lr {summary['suggestion']:.3g} (minimum; ")
    assert str(tmp_path) in lines[0]


@pytest.mark.slow
def test_cli_an_eta_min_above_the_found_lr_is_a_one_line_error_after_the_test(tmp_path):
    failed = train_cli("optimizer.lr=auto", "scheduler.eta_min=0.05", f"hydra.run.dir={tmp_path}")
    lr = json.loads((tmp_path / "lr_find.json").read_text())["suggestion"]
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr == (f"error: scheduler.eta_min=0.05: expected a number >= 0 and < {lr} "
                             f"(optimizer.lr=auto found lr {lr:.4g})\n")
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "metrics.json").exists()
