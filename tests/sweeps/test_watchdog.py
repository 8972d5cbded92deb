"""A joblib sweep whose launcher is killed with SIGKILL: its workers stop, and the rerun resumes."""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, train_cli
from lrframe.resume.lock import LOCK_FILE

GRID = ["-m", "seed=0,1", "trainer.max_epochs=200", "warmup=none", "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended: it only waits to be reaped
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
def test_workers_of_a_killed_launcher_stop_with_a_checkpoint_and_the_rerun_resumes_them(tmp_path):
    sweep = tmp_path / "sweep"
    launcher = subprocess.Popen([sys.executable, str(REPO / "train.py"), *GRID, f"hydra.sweep.dir={sweep}"],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 180
    while len(list(sweep.glob("*/checkpoints/last.ckpt"))) < 2:  # both workers are training
        assert launcher.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    workers = [json.loads((job / LOCK_FILE).read_text())["pid"] for job in sorted(sweep.glob("*_*"))]
    assert len(workers) == 2 and launcher.pid not in workers
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "the workers of a killed launcher went on"
        time.sleep(0.2)
    for job in sorted(sweep.glob("*_*")):
        record = json.loads((job / "job.json").read_text())
        assert record["status"] == "interrupted", record
        assert "stopped by SIGTERM; checkpoint saved" in record["error"]
    result = train_cli(*GRID, f"hydra.sweep.dir={sweep}", "resume=auto", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for job in sorted(sweep.glob("*_*")):
        assert json.loads((job / "job.json").read_text())["status"] == "completed"
        assert json.loads((job / "metrics.json").read_text())["epochs"] == 200
