"""task=preview: the planned schedule, without training, equal to torch's classes and to what fit logs."""

import csv
import math
import subprocess
import sys

import pytest
import torch

from conftest import REPO, fit_in_process, make_plan, read_scalars, train_cli

from lrframe.schedules import CATALOGUE
from lrframe.tasks import run_task


def read_csv(path):
    with open(path) as file:
        rows = list(csv.DictReader(file))
    return {key: [float(row[key]) for row in rows] for key in rows[0]}


def preview(run_dir, *overrides):
    run_dir.mkdir(parents=True, exist_ok=True)
    run_task(make_plan("task=preview", *overrides), run_dir)
    return read_csv(run_dir / "schedule.csv")


def test_preview_cli_writes_csv_and_png_prints_one_line_and_never_imports_torch(tmp_path):
    code = ("import runpy, sys; sys.argv = ['train.py', 'task=preview', 'scheduler=onecycle', "
            f"'hydra.run.dir={tmp_path}']; runpy.run_path('train.py', run_name='__main__'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightning'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary, imported = result.stdout.strip().splitlines()
    assert imported == "[]"
    assert summary.startswith("preview: 460 steps (20 epochs x 23 steps/epoch), global batch 64, lr 0.1, "
                              "warmup 23 steps")
    with open(tmp_path / "schedule.csv") as file:
        assert file.readline() == "step,epoch,lr,momentum\n"
    table = read_csv(tmp_path / "schedule.csv")
    assert table["step"] == list(range(460)) and table["epoch"] == [s // 23 for s in range(460)]
    assert (tmp_path / "schedule.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_multirun_previews_each_scheduler_in_its_own_directory(tmp_path):
    result = train_cli("-m", "task=preview", "scheduler=cosine,step,onecycle", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    runs = {path.parent.name: read_csv(path) for path in tmp_path.glob("*/schedule.csv")}
    assert sorted(runs) == ["0_scheduler=cosine,task=preview", "1_scheduler=step,task=preview",
                            "2_scheduler=onecycle,task=preview"]
    assert all((tmp_path / name / "schedule.png").is_file() for name in runs)
    assert "momentum" in runs["2_scheduler=onecycle,task=preview"] and "momentum" not in runs["1_scheduler=step,task=preview"]
    assert result.stdout.count("preview: 460 steps") == 3


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_scheduler_previews_one_row_per_optimizer_step(tmp_path, name):
    table = preview(tmp_path, f"scheduler={name}")
    assert table["step"] == list(range(460))
    assert all(math.isfinite(lr) and lr >= 0 for lr in table["lr"])


def test_summary_shows_the_lr_scaling_and_the_global_batch(tmp_path, capsys):
    run_task(make_plan("task=preview", "optimizer.lr_scaling=linear", "data.batch_size=128",
                       "trainer.accumulate_grad_batches=2", "warmup.steps=5"), tmp_path)
    assert ("preview: 120 steps (20 epochs x 6 steps/epoch), global batch 256, lr 0.4 = optimizer.lr 0.1 x "
            "lr_scaling 4, warmup 5 steps") in capsys.readouterr().out


def test_preview_equals_torch_one_cycle_lr_with_momentum_on_adam(tmp_path):
    table = preview(tmp_path, "scheduler=onecycle", "optimizer=adam", "warmup=none", "trainer.max_epochs=5")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=0.001)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.001, total_steps=115)
    lrs, betas = [], []
    for _ in range(115):
        lrs.append(optimizer.param_groups[0]["lr"])
        betas.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        scheduler.step()
    assert table["lr"] == pytest.approx(lrs, rel=1e-6) and table["momentum"] == pytest.approx(betas, rel=1e-6)


def test_preview_of_an_epoch_schedule_with_warmup_equals_torch_step_lr_after_the_warmup(tmp_path):
    table = preview(tmp_path, "scheduler=step", "scheduler.step_size=3", "warmup.steps=10", "trainer.max_epochs=12")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)
    per_epoch = []
    for _ in range(12):
        per_epoch.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.1 * s / 10 for s in range(10)] + [per_epoch[(s - 10) // 23] for s in range(10, 276)]
    assert table["lr"] == pytest.approx(expected, rel=1e-6)


#: a short run for every schedule; durations shortened where the defaults would not move in it
SHORT_RUN = ("trainer.max_epochs=3", "data.batch_size=128", "trainer.log_every_n_steps=1")
MOVES = {"step": ("scheduler.step_size=1",), "multistep": ("scheduler.milestones=[1,2]",),
         "piecewise": ("scheduler.boundaries=[1,2]",), "constant": ("scheduler.total_iters=1",),
         "linear": ("scheduler.total_iters=2",), "cyclic": ("scheduler.step_size_up=1",),
         "cosine_restarts": ("scheduler.T_0=1",), "noam": ("scheduler.warmup_steps=10", "optimizer.lr=1.0"),
         "sequential": ("scheduler.milestones=[1]",)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_training_logs_to_tensorboard_the_lr_of_the_schedule_csv_it_planned(tmp_path, name):
    overrides = (f"scheduler={name}", *SHORT_RUN, *MOVES.get(name, ()),
                 *(("warmup.steps=4",) if name != "noam" else ()))
    fit_in_process(tmp_path, *overrides)
    planned, logged = read_csv(tmp_path / "schedule.csv"), read_scalars(tmp_path, "lr")
    assert [step for step, _ in logged] == [int(s) for s in planned["step"]] == list(range(36))
    assert [lr for _, lr in logged] == pytest.approx(planned["lr"], rel=1e-6, abs=1e-12)
    assert len(set(planned["lr"])) > 1 or name in ("none", "plateau")


def test_fit_writes_the_schedule_csv_its_preview_writes(tmp_path):
    overrides = ("scheduler=onecycle", "trainer.max_epochs=2", "logger=none")
    preview(tmp_path / "preview", *overrides)
    fit_in_process(tmp_path / "fit", *overrides)
    assert (tmp_path / "fit" / "schedule.csv").read_text() == (tmp_path / "preview" / "schedule.csv").read_text()
