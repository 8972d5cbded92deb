"""One run per run directory: the lock, taken by real processes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, fit_in_process, train_cli
from lrframe.config.errors import ConfigError
from lrframe.resume.lock import LOCK_FILE, check_free, run_dir_lock

HOLDER = """
import sys, time
from pathlib import Path
from lrframe.resume.lock import run_dir_lock
with run_dir_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def held(tmp_path):
    """A run directory whose lock another process holds; yields that process."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline() == "held\n"
    yield holder
    holder.kill()
    holder.wait()


def test_a_run_in_a_directory_another_process_holds_is_refused_naming_the_holder(tmp_path, held):
    with pytest.raises(ConfigError) as error:
        fit_in_process(tmp_path, "trainer.max_epochs=1", "warmup=none", "logger=none")
    message = str(error.value)
    assert message.startswith(f"hydra.run.dir={tmp_path}: in use by another run (pid {held.pid} on ")
    assert "\n" not in message
    assert sorted(path.name for path in tmp_path.iterdir()) == [LOCK_FILE]  # nothing of the refused run
    with pytest.raises(ConfigError, match=f"pid {held.pid}"):
        check_free(tmp_path)


def test_the_lock_of_a_killed_process_is_not_stale_the_next_run_takes_it(tmp_path, held):
    held.send_signal(signal.SIGKILL)  # no clean-up runs: its lock file stays, naming a dead pid
    held.wait()
    assert str(held.pid) in (tmp_path / LOCK_FILE).read_text()
    fit_in_process(tmp_path, "trainer.max_epochs=1", "warmup=none", "logger=none")
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    with run_dir_lock(tmp_path):  # released when the run ended
        pass


@pytest.mark.slow
def test_two_runs_started_in_one_directory_one_trains_the_other_is_refused_before_writing(tmp_path):
    run_dir = tmp_path / "run"
    first = subprocess.Popen([sys.executable, str(REPO / "train.py"), f"hydra.run.dir={run_dir}",
                              "trainer.max_epochs=1000", "warmup=none", "trainer.enable_progress_bar=false"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "checkpoints" / "last.ckpt").is_file():  # it is training
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.1)
        overrides = (run_dir / ".hydra" / "overrides.yaml").read_text()
        second = train_cli(f"hydra.run.dir={run_dir}", "trainer.max_epochs=3", "seed=7", cwd=tmp_path)
        assert second.returncode == 1
        assert second.stderr.startswith(f"error: hydra.run.dir={run_dir}: in use by another run (pid {first.pid} ")
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert (run_dir / ".hydra" / "overrides.yaml").read_text() == overrides  # Hydra wrote nothing
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 143, stderr  # stopped by our SIGTERM, with its checkpoint saved
