"""A practitioner's own project, outside the repository: ``my_model.py``, ``my_data.py``, ``my_module.py``
and ``conf/{model,data,module}/*.yaml`` (tests/fixtures/user_project, copied to a temporary folder),
run with the installed ``lrframe`` console script from that folder, as a user runs it."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, assert_same_run, read_metrics, read_scalars

PROJECT = REPO / "tests" / "fixtures" / "user_project"
LRFRAME = Path(sys.executable).with_name("lrframe")


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(PROJECT, folder)
    return folder


def lrframe(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(LRFRAME), *args], cwd=project, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.slow
def test_own_cnn_from_the_projects_conf_trains_to_good_accuracy(project):
    result = lrframe(project, "model=my_cnn", "trainer.max_epochs=12", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(project / "run")
    assert metrics["val/acc"] >= 0.95
    checkpoint = torch.load(project / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert any(name.startswith("model.features.0.weight") for name in checkpoint["state_dict"])


@pytest.mark.slow
def test_own_regression_datamodule_with_mse_logs_torchmetrics_and_monitors_the_loss(project):
    result = lrframe(project, "data=diabetes_dm", "loss=mse", "model.hidden=[]", "trainer.max_epochs=30",
                     "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(project / "run")
    assert metrics["monitor"] == "val/loss" and metrics["val/acc"] is None
    assert metrics["val/r2"] > 0.3  # linear regression (hidden=[]) reaches ~0.45 on diabetes; the mean 0
    # rmse^2 is the mse of the same predictions: torchmetrics agrees with the loss it was not computed from
    assert metrics["val/rmse"] ** 2 == pytest.approx(metrics["val/loss"], rel=1e-4)
    assert metrics["val/loss_best"] == pytest.approx(min(v for _, v in read_scalars(project / "run", "val/loss")))


@pytest.mark.slow
def test_own_lightning_module_steps_exactly_the_previewed_schedule(project):
    common = ("module=classifier", "trainer.max_epochs=3", "trainer.log_every_n_steps=1", "scheduler=step",
              "scheduler.step_size=1", "scheduler.gamma=0.5")
    trained = lrframe(project, *common, "hydra.run.dir=fit")
    assert trained.returncode == 0, trained.stderr
    previewed = lrframe(project, *common, "task=preview", "hydra.run.dir=preview")
    assert previewed.returncode == 0, previewed.stderr
    rows = (project / "preview" / "schedule.csv").read_text().splitlines()[1:]
    planned = [float(row.split(",")[2]) for row in rows]
    logged = read_scalars(project / "fit", "lr")
    assert [step for step, _ in logged] == list(range(len(planned)))
    assert [value for _, value in logged] == pytest.approx(planned, rel=1e-6)
    assert read_metrics(project / "fit")["val/acc"] > 0.8  # the module's own self.log("val/acc")


@pytest.mark.slow
def test_own_dataset_resumes_bit_exactly_after_sigkill_mid_epoch(project):
    run = ("data=digit_images", "model=my_cnn", "trainer.max_epochs=6", "trainer.log_every_n_steps=1",
           "checkpoint.every_n_steps=5")
    reference = lrframe(project, *run, "hydra.run.dir=reference")
    assert reference.returncode == 0, reference.stderr
    process = subprocess.Popen([str(LRFRAME), *run, "hydra.run.dir=killed"], cwd=project,
                               env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoint = project / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.exists() and torch.load(checkpoint, weights_only=True)["global_step"] % 23:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    step = torch.load(checkpoint, weights_only=True)["global_step"]
    assert step % 23 and step < 6 * 23  # killed mid-epoch, before the end (23 steps an epoch)
    for events in (project / "killed" / "tensorboard").glob("events.out.tfevents.*"):
        head, second, tail = events.name.split(".", 4)[:3], events.name.split(".")[3], events.name.split(".", 4)[4]
        events.rename(events.with_name(".".join([*head, f"{int(second) - 1:010d}", tail])))
    resumed = lrframe(project, *run, "resume=auto", "hydra.run.dir=killed")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(project / "reference", project / "killed")


@pytest.mark.slow
def test_a_target_typed_over_the_default_model_and_optimizer_replaces_them(project):
    """The command a new user types first: model._target_=... over model=mlp, optimizer._target_=...
    over optimizer=sgd; the built-ins' keys left at their defaults do not reach the targets."""
    result = lrframe(project, "data=digit_images", "model._target_=my_model.SmallCNN", "+model.channels=8",
                     "optimizer._target_=torch.optim.NAdam", "optimizer.lr=0.02", "trainer.max_epochs=8",
                     "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    checkpoint = torch.load(project / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    config = checkpoint["hyper_parameters"]["config"]
    assert config["model"] == {"_target_": "my_model.SmallCNN", "channels": 8}  # num_classes: from the data
    assert config["optimizer"]["_target_"] == "torch.optim.NAdam" and "momentum" not in config["optimizer"]
    assert "momentum_decay" in checkpoint["optimizer_states"][0]["param_groups"][0]  # NAdam's own
    assert checkpoint["state_dict"]["model.features.0.weight"].shape[0] == 8
    assert read_metrics(project / "run")["val/acc"] >= 0.9


@pytest.mark.slow
def test_bad_inputs_are_one_line_each(project):
    (project / "conf" / "model" / "typo.yaml").write_text("_target_: my_modle.SmallCNN\nnum_classes: 10\n")
    (project / "conf" / "model" / "narrow.yaml").write_text("_target_: my_model.SmallCNN\nnum_classes: 7\n")
    cases = {
        ("model=typo",): "model._target_=my_modle.SmallCNN: cannot import my_modle",
        ("model=my_cnn", "+model.width=3"): "model.width=3: my_model.SmallCNN takes no argument width",
        ("model=my_cnn", "data=diabetes_dm", "loss=mse", "model.num_classes=null"):
            "model.num_classes=null: missing; the data does not say it",
        ("module=classifier", "module._target_=my_module.WithOwnOptimizer"):
            "WithOwnOptimizer defines configure_optimizers",
        ("model=narrow", "trainer.max_epochs=2"): "outputs 7 values per sample; the data has 10 classes",
        ("data=diabetes_dm", "trainer.max_epochs=2"): "loss.name=cross_entropy: needs integer class labels",
        ("loss=mse", "trainer.max_epochs=2"): "loss.name=mse: needs real-valued targets",
        ("model._target_=my_model.SmallCNN", "model.channels=8"):
            "model.channels=8: unknown key; allowed: name, hidden, activation, _target_ (another argument of "
            "model._target_: +model.channels=8)",
        ("optimizer._target_=torch.optim.NAdam", "optimizer.nesterov=true"):
            "optimizer.nesterov=true: torch.optim.NAdam takes no argument nesterov",
    }
    for args, expected in cases.items():
        line = one_error_line(lrframe(project, *args, "hydra.run.dir=bad"))
        assert expected in line, (args, line)


@pytest.mark.slow
@pytest.mark.parametrize("choice", ["model=my_cnn", "module=classifier"])
def test_lr_find_tests_the_users_own_model_and_module_via_train_py_config_dir(project, choice):
    # python train.py from the user's folder: --config-dir adds its conf/, the folder is importable
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "--config-dir", str(project / "conf"),
                             choice, "task=lr_find", "hydra.run.dir=find"], cwd=project, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    found = json.loads((project / "find" / "lr_find.json").read_text())
    assert found["steps_run"] > 20 and 1e-5 < found["suggestion"] < 10
