"""task=fit end to end, in process: real data, real TensorBoard files, real checkpoints."""

import math

import pytest
import torch

from conftest import fit_in_process, read_metrics, read_scalars


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("default")
    fit_in_process(run_dir, "trainer.log_every_n_steps=1")
    return run_dir


def test_default_job_reaches_095_validation_accuracy(default_run):
    metrics = read_metrics(default_run)
    assert metrics["val/acc"] >= 0.95
    assert metrics["global_step"] == 460 and metrics["epochs"] == 20
    assert metrics["monitor"] == "val/acc"
    assert set(metrics) == {"val/acc", "val/loss", "val/acc_best", "monitor", "train/loss", "global_step", "epochs",
                            "wall_seconds", "effective_lr", "global_batch"}
    assert (metrics["effective_lr"], metrics["global_batch"]) == (0.1, 64)  # the default job's lr and batch
    assert metrics["val/acc_best"] == pytest.approx(max(value for _, value in read_scalars(default_run, "val/acc")))


def test_lr_is_logged_at_every_optimizer_step_as_warmup_then_cosine(default_run):
    lrs = read_scalars(default_run, "lr")
    assert [step for step, _ in lrs] == list(range(460))
    # linear warmup from 0 over one epoch (23 steps), then cosine from 0.1 to 0 over the other 437
    expected = [0.1 * s / 23 if s < 23 else 0.05 * (1 + math.cos(math.pi * (s - 23) / 437)) for s in range(460)]
    assert [value for _, value in lrs] == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_losses_and_validation_metrics_are_in_tensorboard(default_run):
    assert len(read_scalars(default_run, "train/loss")) == 460
    assert len(read_scalars(default_run, "val/acc")) == 20
    assert len(read_scalars(default_run, "val/loss")) == 20
    assert len(read_scalars(default_run, "train/loss_epoch")) == 20


def test_checkpoint_opens_with_weights_only_and_holds_the_config(default_run):
    checkpoint = torch.load(default_run / "checkpoints" / "last.ckpt", weights_only=True)
    config = checkpoint["hyper_parameters"]["config"]
    assert type(config) is dict and config["scheduler"]["name"] == "cosine"
    assert checkpoint["global_step"] == 460


def test_logging_cadence_and_gradient_accumulation_count_optimizer_steps(tmp_path):
    fit_in_process(tmp_path, "trainer.max_epochs=2", "trainer.accumulate_grad_batches=4",
                   "trainer.log_every_n_steps=5")
    # 23 batches an epoch -> 6 optimizer steps (the partial window steps too) -> 12 in all
    assert read_metrics(tmp_path)["global_step"] == 12
    assert [step for step, _ in read_scalars(tmp_path, "lr")] == [0, 5, 10]


def test_epoch_interval_changes_the_lr_only_at_epoch_boundaries(tmp_path):
    fit_in_process(tmp_path, "scheduler=step", "scheduler.step_size=1", "scheduler.gamma=0.5", "warmup=none",
                   "trainer.max_epochs=3", "trainer.log_every_n_steps=1")
    lrs = [value for _, value in read_scalars(tmp_path, "lr")]
    assert lrs == pytest.approx([0.1] * 23 + [0.05] * 23 + [0.025] * 23)


def test_same_seed_gives_identical_weights_and_another_seed_does_not(tmp_path):
    weights = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        fit_in_process(tmp_path / name, f"seed={seed}", "trainer.max_epochs=2", "logger=none")
        weights.append(torch.load(tmp_path / name / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_a_run_ending_mid_epoch_validates_at_its_last_step(tmp_path):
    fit_in_process(tmp_path, "trainer.max_steps=30", "trainer.max_epochs=5")
    metrics = read_metrics(tmp_path)
    assert metrics["global_step"] == 30 and metrics["epochs"] == 2
    assert [step for step, _ in read_scalars(tmp_path, "val/acc")] == [22, 29]
    assert metrics["val/acc"] == pytest.approx(read_scalars(tmp_path, "val/acc")[-1][1])


def test_a_run_without_validation_still_finishes_and_says_so(tmp_path, capsys):
    fit_in_process(tmp_path, "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=5", "logger=none")
    assert read_metrics(tmp_path)["val/acc"] is None
    assert "no validation ran after 46 steps" in capsys.readouterr().out
