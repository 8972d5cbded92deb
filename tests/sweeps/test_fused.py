"""Fused grids (``hydra/launcher=fused``): every member is its solo run.

The references are solo runs of the same configs (``task=fit`` in this process, or the basic
launcher through the CLI), compared bit for bit: weights, optimizer state, schedule state, loops,
random state, every TensorBoard point and metrics.json.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import REPO, assert_same_run, fit_in_process, make_plan, read_metrics, read_scalars, train_cli
from lrframe.sweeps.fused.grouping import group_jobs, solo_reason

PROJECT = REPO / "tests" / "fixtures" / "user_project"
SHORT = ("trainer.max_epochs=2", "checkpoint.every_n_steps=5")


def config(*overrides: str) -> dict:
    return make_plan(*overrides).config


def run_fused(root: Path, grid: list[tuple[str, ...]], common=SHORT, prefix="f"):
    from lrframe.sweeps.fused.group import Job, run_group

    jobs = [Job(make_plan(*common, *overrides), root / f"{prefix}{i}", list(overrides))
            for i, overrides in enumerate(grid)]
    return run_group(jobs)


def assert_same_checkpoint(reference: Path, run: Path) -> None:
    """Every key of the two last.ckpt files, the random state included (the training time aside)."""
    from conftest import _assert_equal_states

    expected, actual = (torch.load(p / "checkpoints" / "last.ckpt", weights_only=True) for p in (reference, run))
    for checkpoint in (expected, actual):
        assert checkpoint["callbacks"]["RunRecord"].pop("wall_seconds") > 0
    _assert_equal_states(actual, expected, "checkpoint")


# --- grouping ----------------------------------------------------------------------------------

def test_jobs_that_keep_the_shapes_are_one_group():
    configs = [config("optimizer.lr=0.1"), config("optimizer.lr=0.3", "scheduler=step"), config("optimizer=adam"),
               config("seed=3", "init=xavier_uniform", "warmup=none"), config("optimizer.weight_decay=0.01")]
    groups = group_jobs(configs)
    assert [g.jobs for g in groups] == [[0, 1, 2, 3, 4]]


def test_different_epochs_models_or_batches_are_not_fused_and_say_why():
    configs = [config("optimizer.lr=0.1"), config("optimizer.lr=0.2"), config("trainer.max_epochs=30"),
               config("model.hidden=[32]"), config("data.batch_size=32")]
    groups = group_jobs(configs)
    assert [g.jobs for g in groups] == [[0, 1], [2], [3], [4]]
    assert "trainer.max_epochs: 30 vs 20" in groups[1].reason
    assert "model.hidden" in groups[2].reason
    assert "data.batch_size" in groups[3].reason


def test_what_never_fuses_says_why():
    assert solo_reason(config("task=preview")) == "task=preview (only task=fit trains)"
    assert "accumulate_grad_batches" in solo_reason(config("trainer.accumulate_grad_batches=2"))
    assert "range test" in solo_reason(config("optimizer.lr=auto"))
    assert solo_reason(config("optimizer=adamw_schedulefree", "scheduler=none")) == \
        "a schedule-free optimizer (its train/eval weights are not vectorized)"
    assert solo_reason(config("swa=default")) == "swa (its averaged model is not vectorized)"


def test_max_members_splits_a_group():
    configs = [config(f"optimizer.lr={lr}") for lr in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert [g.jobs for g in group_jobs(configs, max_members=2)] == [[0, 1], [2, 3], [4]]


# --- the checkpoint's loops ----------------------------------------------------------------------

def test_lightning_loops_equal_a_solo_runs_at_every_save(tmp_path, monkeypatch):
    import lrframe.resume.checkpoint as checkpoint
    from lrframe.sweeps.fused.checkpoint import lightning_loops

    saved = []
    original = checkpoint.AtomicCheckpointIO.save_checkpoint

    def save(self, state, path, storage_options=None):
        saved.append((state["global_step"], state["loops"]))
        return original(self, state, path, storage_options)

    monkeypatch.setattr(checkpoint.AtomicCheckpointIO, "save_checkpoint", save)
    fit_in_process(tmp_path, "trainer.max_epochs=2", "checkpoint.every_n_steps=4", "data.val_batch_size=100")
    assert len(saved) == 13
    for step, loops in saved:
        assert lightning_loops(step, 23, 4, epoch_end=step % 23 == 0) == loops, step


# --- members are their solo runs ---------------------------------------------------------------

GRID = [
    ("optimizer.lr=0.05",),
    ("optimizer.lr=0.2", "optimizer.nesterov=true", "seed=1"),
    ("optimizer=adam", "optimizer.lr=0.003", "scheduler=plateau", "warmup=none"),
    ("optimizer=adamw", "optimizer.lr=0.002", "init=xavier_uniform"),
    ("optimizer=rmsprop", "optimizer.lr=0.001", "optimizer.momentum=0.5", "scheduler=step"),
    ("optimizer=adagrad", "optimizer.lr=0.05", "optimizer.lr_decay=0.01", "optimizer.weight_decay=0.001"),
    ("optimizer.lr=0.1", "optimizer.weight_decay=0.0005", "optimizer.lr_multipliers={head:10}"),
    ("optimizer=adamw", "optimizer.lr=0.002", "optimizer.layer_decay=0.7",
     "optimizer.param_groups={head:{lr:0.01,scheduler:{name:plateau,patience:0}}}"),
    ("optimizer=adam", "scheduler=onecycle", "warmup=none", "optimizer.lr_multipliers={head:10}"),  # beta1 logged
]


@pytest.fixture(scope="module")
def fused_grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("fused")
    outcomes = run_fused(root, GRID)
    return root, outcomes


@pytest.mark.parametrize("index", range(len(GRID)), ids=[" ".join(o) for o in GRID])
def test_member_equals_its_solo_run_bit_for_bit(fused_grid, index, tmp_path):
    root, outcomes = fused_grid
    assert outcomes[index].error is None
    fit_in_process(tmp_path, *SHORT, *GRID[index])
    assert_same_run(tmp_path, root / f"f{index}")
    assert_same_checkpoint(tmp_path, root / f"f{index}")
    assert outcomes[index].value == read_metrics(tmp_path)["val/acc"]
    assert (root / f"f{index}" / "schedule.csv").read_text() == (tmp_path / "schedule.csv").read_text()


def test_solo_resume_continues_a_members_checkpoint(fused_grid, tmp_path):
    """``train.py resume=PATH``: a member's checkpoint continues alone, as its solo run would."""
    root, _ = fused_grid
    longer = ("trainer.max_epochs=3", "checkpoint.every_n_steps=5", "resume_allow_changes=true", *GRID[2])
    fit_in_process(tmp_path / "from_member", *longer, f"resume={root / 'f2' / 'checkpoints' / 'last.ckpt'}")
    fit_in_process(tmp_path / "solo", *SHORT, *GRID[2])
    fit_in_process(tmp_path / "from_solo", *longer, f"resume={tmp_path / 'solo' / 'checkpoints' / 'last.ckpt'}")
    assert_same_run(tmp_path / "from_solo", tmp_path / "from_member")


# --- isolation ------------------------------------------------------------------------------------

def test_a_diverging_member_stops_alone(tmp_path):
    grid = [("optimizer.lr=0.1",), ("optimizer.lr=1000", "warmup=none"), ("optimizer.lr=0.3",)]
    outcomes = run_fused(tmp_path, grid)
    assert "training diverged at step" in str(outcomes[1].error)
    assert not (tmp_path / "f1" / "metrics.json").exists()
    for index in (0, 2):
        fit_in_process(tmp_path / f"s{index}", *SHORT, *grid[index])
        assert_same_run(tmp_path / f"s{index}", tmp_path / f"f{index}")
    with pytest.raises(Exception) as solo:
        from lrframe.config.errors import Diverged
        fit_in_process(tmp_path / "s1", *SHORT, *grid[1])
    assert isinstance(solo.value, Diverged) and str(solo.value).split(";")[0] == str(outcomes[1].error).split(";")[0]


def test_a_fused_group_interrupted_and_resumed_continues_every_member_bit_exactly(tmp_path, monkeypatch):
    from lrframe.sweeps.fused.member import Member

    grid = [("optimizer.lr=0.05",), ("optimizer=adam", "optimizer.lr=0.003", "scheduler=plateau", "warmup=none")]
    common = ("trainer.max_epochs=3", "checkpoint.every_n_steps=7")
    original, calls = Member.update, []

    def update(self):
        calls.append(1)
        if len(calls) == 2 * 40 + 1:  # both members past step 40, then "killed"
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(Member, "update", update)
    with pytest.raises(KeyboardInterrupt):
        run_fused(tmp_path, grid, common)
    monkeypatch.setattr(Member, "update", original)
    assert torch.load(tmp_path / "f0" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 35
    from conftest import as_a_later_process
    for index in range(len(grid)):
        as_a_later_process(tmp_path / f"f{index}")
    run_fused(tmp_path, grid, (*common, "resume=auto"))
    for index in range(len(grid)):
        fit_in_process(tmp_path / f"s{index}", *common, *grid[index])
        assert_same_run(tmp_path / f"s{index}", tmp_path / f"f{index}")


# --- what vectorizes -----------------------------------------------------------------------------

class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(64, 32), nn.Linear(32, 10)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))


@pytest.mark.parametrize("make, reason", [
    (lambda: nn.Sequential(nn.Linear(64, 32), nn.Dropout(0.5), nn.Linear(32, 10)), "draws random numbers"),
    (lambda: nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.Linear(32, 10)), "batch normalization"),
])
def test_a_module_that_cannot_be_vectorized_is_refused_in_one_line(make, reason):
    from lrframe.sweeps.fused.vectorize import NotVectorizable, vectorize

    with pytest.raises(NotVectorizable, match=reason) as error:
        vectorize([make(), make()], torch.randn(8, 64))
    assert "\n" not in str(error.value)


def test_a_functional_module_vectorizes():
    from lrframe.sweeps.fused.vectorize import stacked, vectorize

    models = [Functional(), Functional()]
    x = torch.randn(2, 8, 64)
    forward = vectorize(models, x[0])
    out = forward(stacked(models), x)
    for k, model in enumerate(models):
        torch.testing.assert_close(out[k], model(x[k]))


def test_a_users_cnn_trains_fused_close_to_its_solo_runs(tmp_path, monkeypatch):
    """A user's nn.Module (convolutions, reshapes) runs under vmap: lr per step identical, metrics close."""
    from omegaconf import OmegaConf

    from conftest import compose_config
    from lrframe.config.validate import validate
    from lrframe.sweeps.fused.group import Job, run_group
    from lrframe.tasks import run_task

    monkeypatch.syspath_prepend(str(PROJECT))

    def plan(*overrides):
        cfg = OmegaConf.to_container(compose_config("trainer.max_epochs=2", *overrides), resolve=True)
        cfg["model"] = {"_target_": "my_model.SmallCNN", "num_classes": 10, "channels": 4}
        return validate(cfg)

    grid = [("optimizer.lr=0.05",), ("optimizer.lr=0.1", "seed=1")]
    outcomes = run_group([Job(plan(*o), tmp_path / f"f{i}", list(o)) for i, o in enumerate(grid)])
    for index, overrides in enumerate(grid):
        assert outcomes[index].error is None
        (tmp_path / f"s{index}").mkdir()
        run_task(plan(*overrides), tmp_path / f"s{index}")
        assert read_scalars(tmp_path / f"s{index}", "lr") == read_scalars(tmp_path / f"f{index}", "lr")
        solo, fused = read_metrics(tmp_path / f"s{index}"), read_metrics(tmp_path / f"f{index}")
        assert fused["val/loss"] == pytest.approx(solo["val/loss"], rel=1e-4, abs=1e-6)
        assert fused["val/acc"] == pytest.approx(solo["val/acc"], abs=1 / 360 + 1e-9)  # at most one sample


# --- through the CLI, against the basic launcher ---------------------------------------------------

@pytest.mark.slow
def test_fused_launcher_equals_the_basic_launcher_and_resumes_after_sigkill(tmp_path):
    grid = ["-m", "optimizer.lr=0.03,0.1,0.3", "trainer.max_epochs=20", "checkpoint.every_n_steps=10"]
    basic = train_cli(*grid, f"hydra.sweep.dir={tmp_path / 'basic'}")
    assert basic.returncode == 0, basic.stderr[-2000:]
    fused_dir = tmp_path / "fused"
    command = [sys.executable, str(REPO / "train.py"), *grid, "hydra/launcher=fused", f"hydra.sweep.dir={fused_dir}"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not list(fused_dir.glob("*/checkpoints/last.ckpt")):
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = [torch.load(p, weights_only=True)["global_step"] for p in fused_dir.glob("*/checkpoints/last.ckpt")]
    resumed = train_cli(*grid, "hydra/launcher=fused", f"hydra.sweep.dir={fused_dir}", "resume=auto")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert killed_at and min(killed_at) < 460
    for job in sorted(p.parent.name for p in (tmp_path / "basic").glob("*/job.json")):
        assert_same_run(tmp_path / "basic" / job, fused_dir / job)
        assert json.loads((fused_dir / job / "job.json").read_text())["status"] == "completed"
    basic_summary = (tmp_path / "basic" / "summary.csv").read_text().splitlines()
    fused_summary = (fused_dir / "summary.csv").read_text().splitlines()
    # the same rows: job, status, final val/acc, val/loss, best (the overrides differ by resume=auto)
    columns = lambda line: [line.split(",")[i] for i in (0, 2, 3, 4, 5)]  # noqa: E731
    assert [columns(line) for line in basic_summary] == [columns(line) for line in fused_summary]
