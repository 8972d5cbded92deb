"""Shared helpers: compose the real configs, run the real CLI, read real TensorBoard files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "conf"


def compose_config(*overrides: str):
    """The composed config of ``python train.py OVERRIDES``."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def make_plan(*overrides: str):
    from lrframe.config import validate

    return validate(compose_config(*overrides))


def fit_in_process(run_dir: Path, *overrides: str) -> dict:
    """Run ``task=fit`` in this process (no start-up cost), writing into ``run_dir``."""
    from lrframe.tasks import run_task

    run_dir.mkdir(parents=True, exist_ok=True)
    return run_task(make_plan(*overrides), run_dir)


def train_cli(*args: str, cwd: Path = REPO, timeout: float = 300, env: dict | None = None):
    """``python train.py ARGS`` in a subprocess, as a user runs it (with one torch thread, as the
    tests themselves: on 2 busy cores, two threads per process wait for each other at every op)."""
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def read_scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a scalar tag, read with TensorBoard's own event reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return [(event.step, event.value) for event in events.Scalars(tag)]


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(autouse=True)
def _quiet_threads():
    """Tests may run in parallel workers: one torch thread each keeps 2 cores from oversubscribing."""
    import torch

    torch.set_num_threads(1)
    yield



def read_hparams_sessions(run_dir: Path) -> dict[str, list]:
    """Every HParams plugin summary of a run, by tag (``_hparams_/session_start_info``, ...), parsed,
    in the order written: read event by event with TensorBoard's own loader and parsers."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import metadata

    parsers = {metadata.EXPERIMENT_TAG: metadata.parse_experiment_plugin_data,
               metadata.SESSION_START_INFO_TAG: metadata.parse_session_start_info_plugin_data,
               metadata.SESSION_END_INFO_TAG: metadata.parse_session_end_info_plugin_data}
    found: dict[str, list] = {}
    for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                    found.setdefault(value.tag, []).append(parsers[value.tag](value.metadata.plugin_data.content))
    return found


def hparam_values(start_info) -> dict:
    """A session start info's hyper-parameters as plain Python values."""
    from google.protobuf.json_format import MessageToDict

    return {key: MessageToDict(value) for key, value in start_info.hparams.items()}
