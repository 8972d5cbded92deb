"""Real processes killed for real: ``python train.py`` is sent SIGKILL or SIGTERM at a random
moment after a mid-epoch checkpoint, resumed with ``resume=auto`` in the same run directory, and
compared bit for bit with a run that was never interrupted (``conftest.assert_same_run``).

The subprocesses run with one torch thread (``OMP_NUM_THREADS=1``), as the in-process runs do
(conftest sets one thread): runs compared bit for bit must use the same thread count. A SIGKILLed
run is resumed in this process (what the kill leaves behind is what matters, and a process costs
~5 s of imports); the SIGTERM test resumes with the real command line.
"""

import os
import pickle
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO, as_a_later_process, assert_same_run, fit_in_process, train_cli
from lrframe.resume.checkpoint import last_checkpoint

pytestmark = pytest.mark.slow

ONE_THREAD = {"OMP_NUM_THREADS": "1"}
KILL_WINDOW = 0.25

#: twenty epochs of 23 steps (~1 s of training here), a checkpoint every 7 steps, lr and loss logged
#: at every step: the kill (at most ``KILL_WINDOW`` s after step 7) lands well before the end
LONG = ("trainer.max_epochs=20", "trainer.log_every_n_steps=1", "checkpoint.every_n_steps=7")

#: the runs that are killed; adding one is one line (schedules of the catalogue, optimizers, ...)
KILLED = {
    "cosine per step, linear warmup, sgd": (),
    "step per epoch, no warmup, adam": ("scheduler=step", "scheduler.step_size=2", "warmup=none", "optimizer=adam"),
    "plateau that reduces, gradient accumulation": ("scheduler=plateau", "scheduler.patience=0",
                                                    "scheduler.threshold=0.3", "scheduler.factor=0.5", "warmup=none",
                                                    "trainer.accumulate_grad_batches=3", "checkpoint.every_n_steps=2"),
    "onecycle with momentum, sgd": ("scheduler=onecycle", "warmup=none"),
    "cyclic with beta1, adam, constant warmup": ("scheduler=cyclic", "optimizer=adam", "warmup=constant"),
    "no schedule, no warmup": ("scheduler=none", "warmup=none"),
    "cnn in bf16 mixed precision": ("model=cnn", "model.channels=8", "trainer.precision=bf16-mixed"),
    "diabetes regression, mse, adamw": ("data=diabetes", "loss=mse", "optimizer=adamw", "data.batch_size=16"),
    "per-group schedules: plateau run, cosine head, layer decay, adamw": (
        "scheduler=plateau", "scheduler.patience=0", "scheduler.threshold=0.3", "scheduler.factor=0.5", "warmup=none",
        "optimizer=adamw", "optimizer.layer_decay=0.7",
        "optimizer.param_groups={head:{lr:0.003,scheduler:{name:cosine},warmup:{name:linear,steps:30}}}"),
    "schedule-free adamw, its warmup": ("optimizer=adamw_schedulefree", "scheduler=none"),
    "schedule-free sgd, no warmup": ("optimizer=sgd_schedulefree", "scheduler=none", "warmup=none"),
    "swa from the 2nd epoch, onecycle": ("swa=default", "swa.swa_epoch_start=2", "scheduler=onecycle", "warmup=none"),
}


def start(run_dir, *overrides) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "train.py"), *overrides, f"hydra.run.dir={run_dir}"],
                            cwd=REPO, env={**os.environ, **ONE_THREAD}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_mid_epoch_checkpoint(run_dir, process: subprocess.Popen, steps_per_epoch: int) -> int:
    """Block until the run has written a checkpoint in the middle of an epoch; its step."""
    path = last_checkpoint(run_dir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists():
            step = torch.load(path, weights_only=True)["global_step"]  # os.replace: never a partial file
            if step % steps_per_epoch:
                return step
        time.sleep(0.02)
    raise AssertionError(f"no mid-epoch checkpoint; the run said: {process.communicate()[1][-2000:]}")


def kill_at_random(run_dir, process, signum, steps_per_epoch=23) -> str:
    """Send ``signum`` at a random moment after the first mid-epoch checkpoint; says when."""
    first = wait_for_mid_epoch_checkpoint(run_dir, process, steps_per_epoch)
    delay = random.uniform(0, KILL_WINDOW)
    time.sleep(delay)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signum)
    process.wait(timeout=120)
    return f"{signal.Signals(signum).name} {delay:.3f} s after the checkpoint at step {first}"


def assert_resumed_exactly(reference, run, when: str) -> None:
    try:
        assert_same_run(reference, run)
    except AssertionError as error:  # a rare timing must be reproducible from the report
        raise AssertionError(f"resumed after {when}: {error}") from None


@pytest.mark.parametrize("name", KILLED)
def test_sigkill_at_a_random_moment_then_resume_auto_is_exact(tmp_path, name):
    overrides = (*LONG, *KILLED[name])
    steps_per_epoch = 8 if "trainer.accumulate_grad_batches=3" in overrides else 23
    process = start(tmp_path / "run", *overrides)
    when = kill_at_random(tmp_path / "run", process, signal.SIGKILL, steps_per_epoch)
    assert process.returncode == -signal.SIGKILL
    fit_in_process(as_a_later_process(tmp_path / "run"), *overrides, "resume=auto")
    fit_in_process(tmp_path / "reference", *overrides)
    assert_resumed_exactly(tmp_path / "reference", tmp_path / "run", when)


def test_sigterm_saves_exits_143_with_one_line_and_resume_auto_is_exact(tmp_path):
    process = start(tmp_path / "run", *LONG)
    when = kill_at_random(tmp_path / "run", process, signal.SIGTERM)
    stderr = process.stderr.read()
    assert process.returncode == 143, stderr
    saved = torch.load(last_checkpoint(tmp_path / "run"), weights_only=True)["global_step"]
    assert stderr == (f"stopped by SIGTERM; checkpoint saved: {last_checkpoint(tmp_path / 'run')} (after {saved} "
                      "steps); continue it with resume=auto (same hydra.run.dir)\n")
    resumed = train_cli(*LONG, f"hydra.run.dir={tmp_path / 'run'}", "resume=auto", env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resume: continuing from {last_checkpoint(tmp_path / 'run')} at step {saved} of 460" in resumed.stdout
    fit_in_process(tmp_path / "reference", *LONG)
    assert_resumed_exactly(tmp_path / "reference", tmp_path / "run", when)


def test_divergence_exits_1_with_one_line(tmp_path):
    result = train_cli("optimizer.lr=3", "warmup=none", "scheduler=none", "trainer.max_epochs=2",
                       "checkpoint.every_n_steps=3", f"hydra.run.dir={tmp_path}", env=ONE_THREAD)
    assert result.returncode == 1
    assert result.stderr == ("error: training diverged at step 8: loss=nan, lr=3.0; last good checkpoint kept: "
                             f"{last_checkpoint(tmp_path)} (after 6 steps)\n")


def test_a_truncated_checkpoint_exits_1_with_one_line(tmp_path):
    fit_in_process(tmp_path / "run", "trainer.max_epochs=2", "logger=none")
    path = last_checkpoint(tmp_path / "run")
    path.write_bytes(path.read_bytes()[:5000])
    result = train_cli("trainer.max_epochs=2", "resume=auto", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith(f"error: resume=auto: {path} is truncated or corrupt (")
    assert result.stderr.count("\n") == 1


WRITER = """
import sys, torch
from lrframe.resume.checkpoint import AtomicCheckpointIO
io, weights = AtomicCheckpointIO(), torch.randn(8_000_000, generator=torch.Generator().manual_seed(0))
for version in range(1_000_000):
    io.save_checkpoint({"version": version, "weights": weights + version}, sys.argv[1])
"""


def test_sigkill_while_saving_leaves_the_previous_checkpoint_whole(tmp_path):
    from lrframe.run_files import partial_files

    path = tmp_path / "last.ckpt"
    for _ in range(5):  # until the kill lands in the middle of a write
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO)
        while not (path.exists() and partial_files(path)) and writer.poll() is None:
            time.sleep(0.001)
        writer.kill()
        writer.wait()
        partial = partial_files(path)
        if partial and partial[-1].stat().st_size < path.stat().st_size:
            break
    else:
        pytest.fail("never killed a writer in the middle of a save")
    checkpoint = torch.load(path, weights_only=True)
    # whole: every value is that of one version (a torn file would mix two, or fail to load)
    weights = torch.randn(8_000_000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(checkpoint["weights"], weights + checkpoint["version"])
    # the killed write's file is torn: a cut zip archive, or (killed in its first bytes) not even one
    with pytest.raises((RuntimeError, EOFError, pickle.UnpicklingError)):
        torch.load(partial[-1], weights_only=True)
