"""Multiruns as a user runs them: parallel jobs, the summary, a failed job, DDP jobs, an Optuna search."""

import csv
import math
import os
import re

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from tensorboard.plugins.hparams import metadata

from conftest import (CONFIG_DIR, fit_in_process, hparam_values, hparams_experiment, make_plan,
                      read_hparams_sessions, read_metrics, read_scalars, train_cli)
from lrframe.cli.precheck import precheck
from lrframe.sweeps.sweep import job_threads, labels


@pytest.mark.parametrize("launcher, cores, threads", [
    ({"n_jobs": 2}, 2, 1), ({"n_jobs": 2}, 8, 4), ({"n_jobs": 3}, 8, 2), ({"n_jobs": 1}, 8, 8),
    ({"n_jobs": 16}, 8, 1), ({"n_jobs": -1}, 8, 1), ({"n_jobs": -5}, 8, 2),  # joblib: -5 runs 8 + 1 - 5 = 4
    ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 8, None),
])
def test_parallel_jobs_share_the_cores(launcher, cores, threads):
    assert job_threads(launcher, cores) == threads


def test_jobs_are_named_by_the_overrides_that_differ():
    rows = [{"job": 0, "overrides": "optimizer=sgd trainer.max_epochs=2"},
            {"job": 1, "overrides": "optimizer=adam trainer.max_epochs=2"}]
    assert labels(rows) == {0: "0: optimizer=sgd", 1: "1: optimizer=adam"}


def compose_with_hydra(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)


def test_cluster_and_parallel_launchers_compose_and_the_summary_callback_is_on():
    slurm = compose_with_hydra("hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu",
                               "hydra.launcher.gpus_per_node=2", "trainer=ddp")
    assert slurm.hydra.launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert slurm.hydra.launcher.partition == "gpu" and slurm.trainer.devices == 2
    assert job_threads(OmegaConf.to_container(slurm.hydra.launcher, resolve=True), 8) is None  # its allocation
    joblib = compose_with_hydra("hydra/launcher=joblib")
    assert joblib.hydra.launcher.n_jobs == -1
    assert joblib.hydra.callbacks.summary._target_ == "lrframe.sweeps.sweep.SweepSummary"
    precheck(["-m", "hydra/launcher=submitit_slurm", "optimizer=sgd,adam"], CONFIG_DIR)  # no SystemExit


def job_dirs(sweep):
    return sorted((path.parent for path in sweep.glob("*/job.json")), key=lambda path: int(path.name.split("_")[0]))


def summary_rows(sweep):
    with (sweep / "summary.csv").open() as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("grid")
    result = train_cli("-m", "scheduler=cosine,step", "optimizer=sgd,adam", "trainer.max_epochs=2",
                       "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    return sweep


@pytest.mark.slow
def test_a_joblib_grid_runs_in_two_processes_that_share_the_cores(grid):
    jobs = job_dirs(grid)
    assert [path.name for path in jobs] == ["0_optimizer=sgd,scheduler=cosine,trainer.max_epochs=2",
                                            "1_optimizer=adam,scheduler=cosine,trainer.max_epochs=2",
                                            "2_optimizer=sgd,scheduler=step,trainer.max_epochs=2",
                                            "3_optimizer=adam,scheduler=step,trainer.max_epochs=2"]
    # event files are named ...tfevents.<time>.<host>.<pid>.<n>: the jobs ran in two worker processes
    pids = {next((job / "tensorboard").glob("events.*")).name.split(".")[-2] for job in jobs}
    assert len(pids) == 2
    cores = os.cpu_count()
    for job in jobs:
        assert f"{max(cores // min(2, cores), 1)} torch thread(s) of {cores} cores" in (job / "train.log").read_text()


@pytest.mark.slow
def test_every_job_has_one_hparams_session_with_its_overrides(grid):
    for job in job_dirs(grid):
        sessions = read_hparams_sessions(job)
        assert metadata.EXPERIMENT_TAG not in sessions and len(sessions[metadata.SESSION_START_INFO_TAG]) == 1
        hparams = hparam_values(sessions[metadata.SESSION_START_INFO_TAG][0])
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        assert hparams["overrides"] == " ".join(overrides)
        assert f"scheduler={hparams['scheduler.name']}" in overrides
        assert hparams["resolved.total_steps"] == 46 and hparams["trainer.max_epochs"] == 2


@pytest.mark.slow
def test_tensorboard_hparams_tab_compares_the_jobs_of_the_sweep(grid):
    """The table TensorBoard's HParams plugin builds for ``tensorboard --logdir <sweep dir>``: the
    experiment the sweep declared for all its jobs when it ended (in its own run, ``tensorboard``)."""
    sessions, experiment = hparams_experiment(grid)
    assert sorted(sessions) == sorted([f"{job.name}/tensorboard" for job in job_dirs(grid)] + ["tensorboard"])
    assert [tag for tag in sessions["tensorboard"]] == [metadata.EXPERIMENT_TAG]  # the sweep's, alone
    hparams = {info.name: info for info in experiment.hparam_infos}
    # the union over the jobs: keys of both schedulers and both optimizers
    assert {"scheduler.T_max", "scheduler.step_size", "optimizer.momentum", "optimizer.betas"} <= set(hparams)
    # the swept keys among the first five, which TensorBoard shows without ticking boxes: those the
    # grid set to more than one value, not trainer.max_epochs (on every job's command line, one value)
    shown = [info.name for info in experiment.hparam_infos[:5]]
    assert {"optimizer.name", "scheduler.name"} <= set(shown) and "trainer.max_epochs" not in shown
    assert not hparams["trainer.max_epochs"].differs
    assert sorted(value.string_value for value in hparams["scheduler.name"].domain_discrete.values) == [
        "cosine", "step"]
    metrics = [info.name.tag for info in experiment.metric_infos]
    assert metrics[:3] == ["val/acc", "val/loss", "val/acc_best"] and "hp_metric" not in metrics
    assert {"wall_seconds", "train/loss_epoch"} <= set(metrics)


@pytest.mark.slow
def test_the_sweep_summary_figure_is_an_image_of_the_sweeps_own_run(grid):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(grid / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    (image,) = events.Images("summary")
    assert image.encoded_image_string == (grid / "summary.png").read_bytes()


@pytest.mark.slow
def test_the_summary_has_a_row_per_job_with_final_and_best_metrics_and_a_figure(grid):
    rows = summary_rows(grid)
    assert [row["job"] for row in rows] == ["0", "1", "2", "3"]
    for row, job in zip(rows, job_dirs(grid)):
        accuracies = [value for _, value in read_scalars(job, "val/acc")]
        assert row["status"] == "completed" and row["directory"] == job.name and row["error"] == ""
        assert row["overrides"] == " ".join(yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()))
        assert float(row["val/acc"]) == pytest.approx(accuracies[-1])
        assert float(row["val/acc_best"]) == pytest.approx(max(accuracies))
        assert float(row["wall_seconds"]) == read_metrics(job)["wall_seconds"]
    markdown = (grid / "summary.md").read_text()
    assert "4 jobs: 4 completed, 0 failed." in markdown and markdown.count("| completed |") == 4
    assert (grid / "summary.png").read_bytes().startswith(b"\x89PNG") and "(summary.png)" in markdown


def validation_accuracy(checkpoint) -> float:
    """The checkpoint's model on all 360 validation samples, in this process, on one device."""
    import torch

    from lrframe.data.datasets import load_split
    from lrframe.data.build import build_data
    from lrframe.models.build import build_model

    plan = make_plan()
    split = load_split(plan.config["data"])
    model = build_model(plan.config, build_data(plan)[0])
    weights = torch.load(checkpoint, weights_only=True)["state_dict"]
    model.load_state_dict({key.removeprefix("model."): value for key, value in weights.items()})
    with torch.no_grad():
        predictions = model(torch.from_numpy(split.x_val)).argmax(dim=1)
    assert len(predictions) == 360
    return (predictions == torch.from_numpy(split.y_val)).float().mean().item()


def lr_by_epoch(run_dir, steps_per_epoch):
    return [(step / steps_per_epoch, lr) for step, lr in read_scalars(run_dir, "lr")]


def warmup_then_cosine(epoch: float) -> float:
    """2 epochs at lr 0.1: one epoch of linear warmup, then cosine to 0 over the other."""
    return 0.1 * epoch if epoch < 1 else 0.05 * (1 + math.cos(math.pi * (epoch - 1)))


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    """A good job and one whose lr makes it diverge."""
    sweep = tmp_path_factory.mktemp("failing")
    return sweep, train_cli("-m", "optimizer.lr=0.1,10000", "trainer.max_epochs=2", f"hydra.sweep.dir={sweep}")


@pytest.mark.slow
def test_a_failed_job_is_reported_and_the_other_jobs_are_kept(failing):
    sweep, result = failing
    assert result.returncode == 1
    good, bad = (path.name for path in job_dirs(sweep))
    assert result.stderr.splitlines()[-1] == f"error: 1 of 2 jobs failed ({bad}); see {sweep}/summary.md"
    assert "Traceback" not in result.stderr + result.stdout
    rows = summary_rows(sweep)
    assert [(row["directory"], row["status"]) for row in rows] == [(good, "completed"), (bad, "failed")]
    assert float(rows[0]["val/acc"]) == read_metrics(sweep / good)["val/acc"] > 0.9
    assert re.match(r"training diverged at step \d+: loss=(nan|inf), lr=", rows[1]["error"])
    assert rows[1]["val/acc"] == "" and not (sweep / bad / "metrics.json").exists()
    assert "2 jobs: 1 completed, 1 failed." in (sweep / "summary.md").read_text()
    assert (sweep / "summary.png").is_file()


@pytest.mark.slow
def test_a_ddp_job_writes_once_and_lasts_as_many_epochs_as_on_one_device(tmp_path_factory, tmp_path):
    cwd, sweep = tmp_path_factory.mktemp("cwd"), tmp_path_factory.mktemp("ddp")
    result = train_cli("-m", "trainer=ddp", "trainer.max_epochs=2", "trainer.log_every_n_steps=1",
                       f"hydra.sweep.dir={sweep}", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert list(cwd.iterdir()) == []  # no stray run directory from another rank
    assert sorted(path.name for path in sweep.iterdir()) == [
        "0_trainer.log_every_n_steps=1,trainer.max_epochs=2,trainer=ddp", "multirun.yaml",
        "summary.csv", "summary.md", "summary.png", "tensorboard"]
    job = job_dirs(sweep)[0]
    assert len(list((job / "tensorboard").glob("events.*"))) == 1  # rank 0 alone logs
    assert len(read_hparams_sessions(job)[metadata.SESSION_START_INFO_TAG]) == 1
    ddp = read_metrics(job)
    assert (ddp["epochs"], ddp["global_step"]) == (2, 24) and ddp["val/acc"] > 0.9  # 12 steps an epoch
    # validation summed over both ranks' shards is the accuracy on the whole validation set
    assert ddp["val/acc"] == pytest.approx(validation_accuracy(job / "checkpoints" / "last.ckpt"), abs=1e-6)
    fit_in_process(tmp_path, "trainer.max_epochs=2", "trainer.log_every_n_steps=1")
    single = read_metrics(tmp_path)
    assert (single["epochs"], single["global_step"]) == (2, 46)  # 23 steps an epoch on 1 device
    for run_dir, per_epoch in ((job, 12), (tmp_path, 23)):
        curve = lr_by_epoch(run_dir, per_epoch)
        assert len(curve) == 2 * per_epoch
        expected = [warmup_then_cosine(epoch) for epoch, _ in curve]
        assert [lr for _, lr in curve] == pytest.approx(expected, rel=1e-6, abs=1e-9)  # float32 in the events


@pytest.mark.slow
def test_optuna_search_maximizes_the_val_acc_that_train_py_returns(tmp_path):
    result = train_cli("-m", "hparams_search=optuna_lr", "hydra.sweeper.n_trials=2", "trainer.max_epochs=4",
                       f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    jobs = job_dirs(tmp_path)
    assert len(jobs) == 2 and len(summary_rows(tmp_path)) == 2
    accuracy = {job: read_metrics(job)["val/acc"] for job in jobs}
    assert best["best_value"] == pytest.approx(max(accuracy.values()))
    winner = max(accuracy, key=accuracy.get)
    config = yaml.safe_load((winner / ".hydra" / "config.yaml").read_text())
    params = best["best_params"]
    assert params == {"optimizer.lr": config["optimizer"]["lr"],
                      "optimizer.weight_decay": config["optimizer"]["weight_decay"],
                      "warmup.epochs": config["warmup"]["epochs"]}
    assert 1e-3 <= params["optimizer.lr"] <= 1 and 1e-6 <= params["optimizer.weight_decay"] <= 1e-2
    assert 0 <= params["warmup.epochs"] <= 3


def test_a_bad_job_record_is_reported_the_summary_still_written_and_the_exit_status_is_1(grid, tmp_path):
    import shutil

    from lrframe.sweeps.sweep import SweepSummary

    sweep = tmp_path / "sweep"
    shutil.copytree(grid, sweep)
    first, second = job_dirs(sweep)[:2]
    (first / "metrics.json").write_text('{"val/acc": 0.9, "val/lo')  # cut short
    (second / "job.json").write_text("not json")
    for product in ("summary.csv", "summary.md", "summary.png"):
        (sweep / product).unlink()
    with pytest.raises(SystemExit) as exit_:  # the summary callback, as Hydra calls it at the end
        SweepSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}}))
    assert exit_.value.code == 1
    rows = summary_rows(sweep)
    assert [(row["directory"], row["status"]) for row in rows] == [
        (first.name, "failed"), (second.name, "failed"), *((job.name, "completed") for job in job_dirs(sweep)[2:])]
    assert rows[0]["error"].startswith("unreadable record: JSONDecodeError: ")
    assert rows[1]["error"].startswith("unreadable record: JSONDecodeError: ")
    assert "4 jobs: 2 completed, 2 failed." in (sweep / "summary.md").read_text()


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_a_finished_job_keeps_its_record_and_a_new_grid_is_summarized_alone(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    sweep = tmp_path / "sweep"
    grid = ["-m", "seed=0,1", "trainer.max_epochs=150", "warmup=none", f"hydra.sweep.dir={sweep}"]
    # 1. SIGTERM while job 1 trains: job 0 is completed, job 1 interrupted with a checkpoint, exit 143
    first = subprocess.Popen([sys.executable, str(REPO / "train.py"), *grid], cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 180
    while not list(sweep.glob("1_*/checkpoints/last.ckpt")):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.1)
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 143, stderr
    done, stopped = job_dirs(sweep)
    assert json.loads((done / "job.json").read_text())["status"] == "completed"
    record = json.loads((stopped / "job.json").read_text())
    assert record["status"] == "interrupted" and record["error"].startswith("stopped by SIGTERM; checkpoint saved")
    metrics, seconds = (done / "metrics.json").read_bytes(), record["seconds"]
    finished_seconds = json.loads((done / "job.json").read_text())["seconds"]
    # 2. the same command with resume=auto: job 0 is revisited (nothing to train), job 1 continues
    result = train_cli(*grid, "resume=auto", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (done / "metrics.json").read_bytes() == metrics  # the original record, not the revisit's
    revisited = json.loads((done / "job.json").read_text())
    assert revisited["status"] == "completed" and revisited["seconds"] > finished_seconds
    resumed = json.loads((stopped / "job.json").read_text())
    assert resumed["status"] == "completed" and resumed["seconds"] > seconds  # both attempts' time
    assert read_metrics(stopped)["epochs"] == 150
    rows = summary_rows(sweep)
    assert [row["status"] for row in rows] == ["completed", "completed"]
    assert float(rows[0]["wall_seconds"]) == json.loads(metrics)["wall_seconds"]
    # 3. another grid in the same directory: its summary has its own job only, and says so
    result = train_cli("-m", "seed=5", "trainer.max_epochs=2", "warmup=none", f"hydra.sweep.dir={sweep}",
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = summary_rows(sweep)
    assert [row["overrides"] for row in rows] == ["seed=5 trainer.max_epochs=2 warmup=none"]
    assert "2 job directories of an earlier multirun in this directory are left out" in \
        (sweep / "summary.md").read_text()
