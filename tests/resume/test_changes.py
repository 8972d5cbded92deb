"""Which config changes a resume refuses, and how a stopped run reports itself (no torch)."""

import signal

import pytest

from conftest import make_plan
from lrframe.config.errors import ConfigError, Diverged, Interrupted
from lrframe.resume.changes import ABSENT, Change, config_changes


def _config(*overrides):
    return make_plan(*overrides).config


def test_identical_configs_have_no_changes():
    assert config_changes(_config(), _config()) == []


def test_every_changed_key_is_named_with_both_values():
    changes = config_changes(_config(), _config("optimizer.lr=0.2", "trainer.max_epochs=30", "data.batch_size=32",
                                                "warmup.epochs=2", "seed=3"))
    assert changes == [Change("seed", 0, 3), Change("data.batch_size", 64, 32), Change("optimizer.lr", 0.1, 0.2),
                       Change("warmup.epochs", 1, 2), Change("trainer.max_epochs", 20, 30)]
    assert str(changes[2]) == "optimizer.lr 0.1 -> 0.2"


def test_another_option_of_a_group_is_one_change_not_one_per_key():
    changes = config_changes(_config(), _config("scheduler=step", "optimizer=adam"))
    assert changes == [Change("optimizer.name", "sgd", "adam"), Change("scheduler.name", "cosine", "step")]


def test_keys_that_change_neither_weights_nor_lr_may_differ():
    free = ("trainer.log_every_n_steps=1", "checkpoint.every_n_steps=7", "logger=none", "resume=auto",
            "resume_allow_changes=true", "trainer.enable_progress_bar=true", "trainer.num_sanity_val_steps=2")
    assert config_changes(_config(), _config(*free)) == []


def test_a_key_only_one_side_has_is_a_change_unless_it_holds_the_default_an_older_run_had():
    saved, new = _config(), _config("scheduler.num_cycles=1")
    # an older lrframe's checkpoint: keys and groups added since, absent
    for group, key in (("scheduler", "num_cycles"), ("scheduler", "k_decay"), ("trainer", "num_nodes"),
                       ("trainer", "strategy"), ("optimizer", "param_groups"), ("optimizer", "layer_decay")):
        del saved[group][key]
    del saved["swa"]
    new["optimizer"]["foreach"] = True  # no default in conf/: a key from elsewhere
    changes = config_changes(saved, new)
    assert changes == [Change("optimizer.foreach", ABSENT, True), Change("scheduler.num_cycles", ABSENT, 1)]
    assert str(changes[0]) == "optimizer.foreach (absent) -> true"
    del new["scheduler"]["num_cycles"], new["optimizer"]["foreach"]
    assert config_changes(saved, new) == []
    assert config_changes(saved, _config("swa=default")) == [Change("swa", ABSENT, _config("swa=default")["swa"])]
    # the default is the checkpoint's option's: step's gamma counts against conf/scheduler/step.yaml
    saved, new = _config("scheduler=step"), _config("scheduler=step", "scheduler.gamma=0.5")
    del saved["scheduler"]["gamma"]
    assert config_changes(saved, new) == [Change("scheduler.gamma", ABSENT, 0.5)]


def test_divergence_names_step_loss_lr_and_the_checkpoint_kept():
    stop = Diverged(57, float("nan"), {"lr": 3.2})
    assert str(stop) == "training diverged at step 57: loss=nan, lr=3.2; no checkpoint was saved"
    stop.checkpoint = ("run/checkpoints/last.ckpt", 50)
    assert str(stop) == ("training diverged at step 57: loss=nan, lr=3.2; "
                         "last good checkpoint kept: run/checkpoints/last.ckpt (after 50 steps)")
    assert stop.exit_code == 1


def test_a_signal_exits_with_128_plus_its_number():
    assert Interrupted(signal.SIGTERM).exit_code == 143
    assert Interrupted(signal.SIGINT).exit_code == 130
    stop = Interrupted(signal.SIGTERM)
    stop.checkpoint = ("run/checkpoints/last.ckpt", 69)
    assert str(stop) == ("stopped by SIGTERM; checkpoint saved: run/checkpoints/last.ckpt (after 69 steps); "
                         "continue it with resume=auto (same hydra.run.dir)")


def test_resume_allow_changes_is_a_boolean():
    with pytest.raises(ConfigError, match=r"^resume_allow_changes=maybe: expected true or false$"):
        make_plan("resume_allow_changes=maybe")
