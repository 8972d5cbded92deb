"""What a run leaves behind: metrics.json and one HParams session, read back with TensorBoard's reader."""

import math

import pytest
import yaml
from tensorboard.plugins.hparams import api_pb2, metadata

from conftest import fit_in_process, hparam_values, read_hparams_sessions, read_metrics, read_scalars
from lrframe.training.record import flatten

# digits: 1797 samples, 20% held out -> 1437 to train on; batches of 64 -> 23 optimizer steps an epoch
STEPS_PER_EPOCH = math.ceil(1437 / 64)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    fit_in_process(run_dir, "trainer.max_epochs=3", "trainer.log_every_n_steps=1")
    return run_dir


def test_flatten_writes_lists_and_null_as_on_the_command_line():
    assert flatten({"model": {"hidden": [256, 256], "activation": "relu"}, "resume": None, "seed": 0,
                    "data": {"shuffle": True}}) == {
        "model.hidden": "[256,256]", "model.activation": "relu", "resume": "null", "seed": 0, "data.shuffle": True}


def test_one_session_per_run_with_status_its_experiment_and_no_hp_metric(run):
    sessions = read_hparams_sessions(run)  # (the experiment's contents: test_board.py)
    assert set(sessions) == {metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG, metadata.SESSION_END_INFO_TAG}
    assert len(sessions[metadata.EXPERIMENT_TAG]) == 1
    assert len(sessions[metadata.SESSION_START_INFO_TAG]) == 1
    assert [end.status for end in sessions[metadata.SESSION_END_INFO_TAG]] == [api_pb2.STATUS_SUCCESS]
    with pytest.raises(KeyError):
        read_scalars(run, "hp_metric")


def test_session_holds_the_flattened_config_and_the_resolved_schedule(run):
    hparams = hparam_values(read_hparams_sessions(run)[metadata.SESSION_START_INFO_TAG][0])
    assert hparams["optimizer.name"] == "sgd" and hparams["optimizer.lr"] == 0.1
    assert hparams["model.hidden"] == "[256,256]" and hparams["scheduler.T_max"] == "null"
    assert hparams["data.shuffle"] is True and hparams["overrides"] == ""  # in process: no command line
    # 3 epochs of 23 steps; one epoch of warmup; the cosine's null T_max lasts the rest
    assert hparams["resolved.steps_per_epoch"] == STEPS_PER_EPOCH
    assert hparams["resolved.total_steps"] == 3 * STEPS_PER_EPOCH
    assert hparams["resolved.warmup_steps"] == STEPS_PER_EPOCH
    assert hparams["resolved.scheduler.T_max"] == 2 * STEPS_PER_EPOCH
    assert hparams["resolved.scheduler.eta_min"] == 0.0
    assert hparams["resolved.global_batch"] == 64 and hparams["resolved.lr"] == 0.1


def test_final_metrics_are_scalars_that_agree_with_metrics_json(run):
    metrics = read_metrics(run)
    accuracies = [value for _, value in read_scalars(run, "val/acc")]
    assert len(accuracies) == 3 and metrics["val/acc"] == pytest.approx(accuracies[-1])
    assert read_scalars(run, "val/acc_best") == [(3 * STEPS_PER_EPOCH, pytest.approx(max(accuracies)))]
    assert metrics["val/acc_best"] == pytest.approx(max(accuracies))
    assert read_scalars(run, "wall_seconds") == [(3 * STEPS_PER_EPOCH, pytest.approx(metrics["wall_seconds"]))]
    assert metrics["wall_seconds"] > 0


def test_hparams_yaml_holds_the_same_hyperparameters(run):
    saved = yaml.safe_load((run / "tensorboard" / "hparams.yaml").read_text())
    session = hparam_values(read_hparams_sessions(run)[metadata.SESSION_START_INFO_TAG][0])
    assert saved.keys() == session.keys()
    assert saved["resolved.total_steps"] == 3 * STEPS_PER_EPOCH and saved["optimizer.lr"] == 0.1
