"""Crash-safe, exact resume, in process: a run that crashes (or is signalled) and is resumed with
``resume=auto`` must end exactly as the run that was never interrupted.

A crash is injected by a callback that raises at a chosen point of a real run; the real-process
SIGKILL/SIGTERM tests are in ``test_resume_kill.py``. Every comparison is bit for bit
(``conftest.assert_same_run``): final weights, optimizer and schedule state, every TensorBoard
point at every step, ``metrics.json``.
"""

import math
import os
import random
import signal

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

import lrframe.tasks.fit as fit
from conftest import (CONFIG_DIR, as_a_later_process, assert_same_run, fit_in_process, read_all_scalars,
                      read_metrics, read_scalars)
from lrframe.resume.checkpoint import last_checkpoint
from lrframe.config.errors import ConfigError, Diverged, Interrupted
from lrframe.resume.fault_tolerance import random_state, set_random_state

#: every scheduler option: a schedule is resume-tested the day its config file is added
SCHEDULERS = sorted(path.stem for path in (CONFIG_DIR / "scheduler").glob("*.yaml"))

#: three epochs of 23 steps, a checkpoint every 5 steps, lr and loss logged at every step
SHORT = ("trainer.max_epochs=3", "trainer.log_every_n_steps=1", "checkpoint.every_n_steps=5")


class SimulatedCrash(Exception):
    pass


class CrashAt(pl.Callback):
    """Raise ``SimulatedCrash`` once ``global_step`` reaches ``step`` (after that optimizer step),
    or during the validation that follows it."""

    def __init__(self, step: int, in_validation: bool = False):
        self.step, self.in_validation = step, in_validation

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step and not self.in_validation:
            raise SimulatedCrash(f"after step {trainer.global_step}")

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if trainer.global_step >= self.step and self.in_validation:
            raise SimulatedCrash(f"in validation at step {trainer.global_step}")


@pytest.fixture
def interactive_signals():
    """SIGINT and SIGTERM as a Python started from an interactive shell has them (a background or
    nohup launch, such as a CI runner's, starts with SIGINT ignored), restored afterwards."""
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


class SignalAt(pl.Callback):
    """Send this process ``signum`` in the middle of the batch that makes optimizer step ``step``."""

    def __init__(self, step: int, signum: int, times: int = 1):
        self.step, self.signum, self.times, self.sent = step, signum, times, False

    def on_before_backward(self, trainer, pl_module, loss):
        if trainer.global_step >= self.step and not self.sent:
            self.sent = True
            for _ in range(self.times):
                os.kill(os.getpid(), self.signum)


def run_with(monkeypatch, run_dir, callbacks, *overrides):
    """``fit_in_process`` with extra callbacks in the run's own Trainer, called before its own."""
    make_trainer = fit.trainer

    def trainer_with_callbacks(*args, **kwargs):
        trainer = make_trainer(*args, **kwargs)
        trainer.callbacks[:0] = callbacks
        return trainer

    with monkeypatch.context() as patch:
        patch.setattr(fit, "trainer", trainer_with_callbacks)
        return fit_in_process(run_dir, *overrides)


def checkpoint_step(run_dir) -> int:
    return torch.load(last_checkpoint(run_dir), weights_only=True)["global_step"]


def crash_and_resume(monkeypatch, tmp_path, crash: pl.Callback, *overrides) -> int:
    """Run until ``crash`` raises, resume with resume=auto, compare with an uninterrupted run.
    Returns the step the resumed run continued from."""
    fit_in_process(tmp_path / "reference", *overrides)
    with pytest.raises(SimulatedCrash):
        run_with(monkeypatch, tmp_path / "run", [crash], *overrides)
    resumed_from = checkpoint_step(tmp_path / "run")
    fit_in_process(as_a_later_process(tmp_path / "run"), *overrides, "resume=auto")
    assert_same_run(tmp_path / "reference", tmp_path / "run")
    return resumed_from


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_crashed_run_resumes_exactly_with_every_scheduler(monkeypatch, tmp_path, scheduler):
    # four epochs of 6 steps (every option's defaults fit in them), crashed in the third
    overrides = (*SHORT, "trainer.max_epochs=4", "data.batch_size=256", f"scheduler={scheduler}")
    assert crash_and_resume(monkeypatch, tmp_path, CrashAt(17), *overrides) == 15


CRASHES = {
    # name: (crash, overrides, step of the checkpoint the run resumes from)
    "adam, step per epoch, no warmup": (CrashAt(30), ("optimizer=adam", "scheduler=step", "scheduler.step_size=1",
                                                      "warmup=none"), 25),  # crashes before saving at 30
    "on an epoch's last batch": (CrashAt(23), (), 20),  # its state is saved at the epoch end, after validation
    "just after an epoch-end checkpoint": (CrashAt(24), ("checkpoint.every_n_steps=0",), 23),
    "during validation": (CrashAt(46, in_validation=True), (), 45),
    "gradient accumulation": (CrashAt(13), ("trainer.accumulate_grad_batches=3", "checkpoint.every_n_steps=2"), 12),
    "accumulation, epoch ends only": (CrashAt(9), ("trainer.accumulate_grad_batches=3",
                                                   "checkpoint.every_n_steps=0"), 8),
    "max_steps ending mid-epoch": (CrashAt(47), ("trainer.max_steps=60", "checkpoint.every_n_steps=0"), 46),
    # the lr is halved at some validations (its state: best, bad epochs, cooldown)
    "plateau that reduces": (CrashAt(60), ("scheduler=plateau", "scheduler.patience=0", "scheduler.threshold=0.3",
                                           "scheduler.factor=0.5", "warmup=none", "trainer.max_epochs=5"), 55),
    "cyclic momentum with adam": (CrashAt(37), ("scheduler=cyclic", "optimizer=adam", "warmup=none"), 35),
    "lr found by the range test (optimizer.lr=auto)": (CrashAt(37), ("optimizer.lr=auto",), 35),
    "a torch scheduler by _target_": (CrashAt(50), ("scheduler=none", "+scheduler._target_=torch.optim.lr_scheduler."
                                                    "StepLR", "+scheduler.step_size=1", "scheduler.interval=epoch",
                                                    "warmup=none", "checkpoint.every_n_steps=0"), 46),
}


@pytest.mark.parametrize("name", CRASHES)
def test_a_crashed_run_resumes_exactly_wherever_it_crashed(monkeypatch, tmp_path, name):
    crash, overrides, expected = CRASHES[name]
    assert crash_and_resume(monkeypatch, tmp_path, crash, *SHORT, *overrides) == expected


class NoisyGradients(pl.Callback):
    """Add noise drawn from torch's, numpy's and Python's generators to every gradient."""

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        scale = 1e-3 * (1 + np.random.rand() + random.random())
        for param in pl_module.parameters():
            param.grad += scale * torch.randn_like(param)


def test_every_random_generator_continues_where_it_was(monkeypatch, tmp_path):
    run_with(monkeypatch, tmp_path / "reference", [NoisyGradients()], *SHORT)
    with pytest.raises(SimulatedCrash):
        run_with(monkeypatch, tmp_path / "run", [NoisyGradients(), CrashAt(37)], *SHORT)
    run_with(monkeypatch, as_a_later_process(tmp_path / "run"), [NoisyGradients()], *SHORT, "resume=auto")
    assert_same_run(tmp_path / "reference", tmp_path / "run")
    fit_in_process(tmp_path / "quiet", *SHORT)  # the noise matters: without it the weights differ
    noisy, quiet = (torch.load(last_checkpoint(tmp_path / name), weights_only=True)["state_dict"]
                    for name in ("reference", "quiet"))
    assert not torch.equal(noisy["model.hidden1.weight"], quiet["model.hidden1.weight"])


def test_random_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    state = random_state()
    torch.save({"random": state}, tmp_path / "state.ckpt")
    draws = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    set_random_state(torch.load(tmp_path / "state.ckpt", weights_only=True)["random"])
    again = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1]) and draws[2] == again[2]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_at_the_end_of_the_step_and_stops(monkeypatch, tmp_path, signum, interactive_signals):
    overrides = (*SHORT, "trainer.accumulate_grad_batches=2")  # 12 steps an epoch
    fit_in_process(tmp_path / "reference", *overrides)
    with pytest.raises(Interrupted) as stop:
        run_with(monkeypatch, tmp_path / "run", [SignalAt(16, signum)], *overrides)
    assert stop.value.exit_code == 128 + signum
    assert stop.value.checkpoint == (str(last_checkpoint(tmp_path / "run")), 17)  # the signalled step completes
    assert checkpoint_step(tmp_path / "run") == 17
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the run's handlers are gone
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    fit_in_process(as_a_later_process(tmp_path / "run"), *overrides, "resume=auto")
    assert_same_run(tmp_path / "reference", tmp_path / "run")


def test_a_signal_the_process_was_started_to_ignore_stays_ignored(monkeypatch, tmp_path, interactive_signals):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job of a shell script
    run_with(monkeypatch, tmp_path, [SignalAt(12, signal.SIGINT)], *SHORT)
    assert checkpoint_step(tmp_path) == 69  # trained to the end
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_a_signal_on_an_epochs_last_step_stops_after_the_epoch_end(monkeypatch, tmp_path):
    fit_in_process(tmp_path / "reference", *SHORT)
    with pytest.raises(Interrupted) as stop:
        run_with(monkeypatch, tmp_path / "run", [SignalAt(22, signal.SIGTERM)], *SHORT)
    assert stop.value.checkpoint[1] == 23 and checkpoint_step(tmp_path / "run") == 23
    assert [step for step, _ in read_scalars(tmp_path / "run", "train/loss_epoch")] == [22]  # logged, then stopped
    fit_in_process(as_a_later_process(tmp_path / "run"), *SHORT, "resume=auto")
    assert_same_run(tmp_path / "reference", tmp_path / "run")


def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_checkpoint(monkeypatch, tmp_path, interactive_signals):
    with pytest.raises(SystemExit):  # Lightning's own KeyboardInterrupt handling exits
        run_with(monkeypatch, tmp_path, [SignalAt(12, signal.SIGINT, times=2)], *SHORT)
    assert checkpoint_step(tmp_path) == 10
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


DIVERGING = ("optimizer.lr=3", "warmup=none", "scheduler=none", "trainer.max_epochs=2")


def test_divergence_stops_at_the_first_nonfinite_loss_and_keeps_the_last_good_checkpoint(tmp_path):
    # the reference logs the loss at every step: its first non-finite value is where it diverged
    with pytest.raises(Diverged):
        fit_in_process(tmp_path / "every_step", *DIVERGING, "trainer.log_every_n_steps=1")
    losses = read_scalars(tmp_path / "every_step", "train/loss")
    first_bad = next(step for step, loss in losses if not math.isfinite(loss))
    lr = dict(read_scalars(tmp_path / "every_step", "lr"))[first_bad]

    # checked only every 10 steps and before the checkpoints every 3: still names that step
    with pytest.raises(Diverged) as stop:
        fit_in_process(tmp_path / "run", *DIVERGING, "trainer.log_every_n_steps=10", "checkpoint.every_n_steps=3")
    kept = last_checkpoint(tmp_path / "run")
    saved = torch.load(kept, weights_only=True)
    assert stop.value.step == first_bad and saved["global_step"] <= first_bad
    assert str(stop.value) == (f"training diverged at step {first_bad}: loss=nan, lr={lr}; "
                               f"last good checkpoint kept: {kept} (after {saved['global_step']} steps)")
    assert all(torch.isfinite(tensor).all() for tensor in saved["state_dict"].values())
    assert not (tmp_path / "run" / "metrics.json").exists()


class PoisonWeights(pl.Callback):
    """Make a weight infinite right after optimizer step 10, before that step's checkpoint."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 10:
            with torch.no_grad():
                next(pl_module.parameters())[0, 0] = float("inf")


def test_nonfinite_weights_are_never_saved(monkeypatch, tmp_path):
    with pytest.raises(Diverged) as stop:
        run_with(monkeypatch, tmp_path, [PoisonWeights()], *SHORT)
    assert "the weights are no longer finite" in str(stop.value)
    assert checkpoint_step(tmp_path) == 5


def test_a_finished_run_resumed_again_changes_nothing(tmp_path):
    fit_in_process(tmp_path, *SHORT)
    scalars, metrics = read_all_scalars(tmp_path), read_metrics(tmp_path)
    (tmp_path / "metrics.json").unlink()  # as if killed after its last checkpoint
    fit_in_process(as_a_later_process(tmp_path), *SHORT, "resume=auto")
    assert read_all_scalars(tmp_path) == scalars
    assert {**read_metrics(tmp_path), "wall_seconds": 0} == {**metrics, "wall_seconds": 0}


def test_resume_auto_without_a_checkpoint_trains_from_scratch(tmp_path):
    fit_in_process(tmp_path / "plain", *SHORT)
    fit_in_process(tmp_path / "auto", *SHORT, "resume=auto")
    assert_same_run(tmp_path / "plain", tmp_path / "auto")


def test_resume_from_a_path_continues_in_a_new_run_directory(monkeypatch, tmp_path):
    fit_in_process(tmp_path / "reference", *SHORT)
    with pytest.raises(SimulatedCrash):
        run_with(monkeypatch, tmp_path / "first", [CrashAt(37)], *SHORT)
    fit_in_process(tmp_path / "second", *SHORT, f"resume={last_checkpoint(tmp_path / 'first')}")
    assert checkpoint_step(tmp_path / "second") == 69
    assert [step for step, _ in read_scalars(tmp_path / "second", "lr")] == list(range(35, 69))
    assert read_scalars(tmp_path / "second", "lr") == read_scalars(tmp_path / "reference", "lr")[35:]


def _cosine_lrs(lr, total, warmup=23):
    """Linear warmup from 0 over one epoch, then cosine to 0 at ``total`` (the formula, written out)."""
    return [lr * s / warmup if s < warmup else lr / 2 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))
            for s in range(total)]


def test_a_changed_config_is_refused_unless_allowed(tmp_path):
    fit_in_process(tmp_path, "trainer.max_epochs=2")
    with pytest.raises(ConfigError, match=r"trainer.max_epochs 2 -> 4; pass resume_allow_changes=true"):
        fit_in_process(tmp_path, "trainer.max_epochs=4", "resume=auto")


def test_allowed_changes_apply_the_new_schedule_and_hyperparameters_from_the_resumed_step(tmp_path):
    adam = ("optimizer=adam", "trainer.log_every_n_steps=1")
    fit_in_process(tmp_path, *adam, "trainer.max_epochs=2")  # 46 steps at lr 0.001
    fit_in_process(as_a_later_process(tmp_path), *adam, "trainer.max_epochs=4", "optimizer.lr=0.002",
                   "optimizer.betas=[0.8,0.99]", "resume=auto", "resume_allow_changes=true")
    lrs = [lr for _, lr in read_scalars(tmp_path, "lr")]
    # the first 46 steps as planned then; from step 46 the new plan: 92 steps, new base lr
    assert lrs == pytest.approx(_cosine_lrs(0.001, 46) + _cosine_lrs(0.002, 92)[46:], rel=1e-6, abs=1e-12)
    saved = torch.load(last_checkpoint(tmp_path), weights_only=True)
    group, = saved["optimizer_states"][0]["param_groups"]
    assert group["betas"] == (0.8, 0.99) and group["initial_lr"] == 0.002
    assert saved["lr_schedulers"][0]["base_lrs"] == [0.002]
    assert saved["optimizer_states"][0]["state"][0]["step"] == 92  # Adam's moments were kept, not restarted


def test_an_allowed_change_of_optimizer_starts_it_fresh(tmp_path):
    fit_in_process(tmp_path, "trainer.max_epochs=2", "logger=none")
    fit_in_process(tmp_path, "trainer.max_epochs=3", "optimizer=adam", "resume=auto", "resume_allow_changes=true",
                   "logger=none")
    saved = torch.load(last_checkpoint(tmp_path), weights_only=True)
    assert saved["optimizer_states"][0]["state"][0]["step"] == 23  # Adam started at the resumed step 46
    group = saved["optimizer_states"][0]["param_groups"][0]
    assert "betas" in group and "momentum" not in group and group["initial_lr"] == 0.001


def test_an_allowed_change_of_scheduler_drops_the_plateau_state_and_runs_the_new_schedule(tmp_path):
    # plateau with patience 0 and an improvement no loss makes: the lr is cut by 0.5 at each
    # validation after the first, so after 2 epochs its state holds a factor of 0.5
    log = ("warmup=none", "trainer.log_every_n_steps=1")
    fit_in_process(tmp_path, *log, "trainer.max_epochs=2", "scheduler=plateau", "scheduler.patience=0",
                   "scheduler.factor=0.5", "scheduler.threshold=0.99")
    plateau = torch.load(last_checkpoint(tmp_path), weights_only=True)["lr_schedulers"][0]
    assert plateau["schedule"]["factor_now"] == 0.5
    fit_in_process(as_a_later_process(tmp_path), *log, "trainer.max_epochs=4", "scheduler=cosine",
                   "resume=auto", "resume_allow_changes=true")
    lrs = [lr for _, lr in read_scalars(tmp_path, "lr")]
    # from step 46: the cosine formula over the new run's 92 steps, not multiplied by plateau's 0.5
    assert lrs[:46] == pytest.approx([0.1] * 46)  # the cut, after the last validation, applies from step 46
    assert lrs[46:] == pytest.approx(_cosine_lrs(0.1, 92, warmup=0)[46:], rel=1e-6, abs=1e-12)
    saved = torch.load(last_checkpoint(tmp_path), weights_only=True)["lr_schedulers"][0]
    assert "factor_now" not in str(saved) and saved["last_epoch"] == 92
