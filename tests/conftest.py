"""Shared helpers: compose the real configs, run the real CLI, read real TensorBoard files."""

from __future__ import annotations

import json
import os
import re
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
    from lrframe.config.validate import validate

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


def read_all_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of the training as TensorBoard shows it (points purged by a resumed run's
    writer are gone); ``wall_seconds``, a measurement of the machine, is left out."""
    import logging

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # its notice about each purge
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
            if tag != "wall_seconds"}


def assert_same_run(reference: Path, run: Path) -> None:
    """``run`` trained exactly what ``reference`` did: final checkpoint bit for bit (weights,
    optimizer and schedule state, loops), every TensorBoard point at every step, the metrics."""
    import torch

    expected, actual = (torch.load(path / "checkpoints" / "last.ckpt", weights_only=True)
                        for path in (reference, run))
    assert actual["global_step"] == expected["global_step"]
    assert actual["state_dict"].keys() == expected["state_dict"].keys()
    for key, tensor in expected["state_dict"].items():
        assert torch.equal(actual["state_dict"][key], tensor), key
    _assert_equal_states(actual["optimizer_states"], expected["optimizer_states"], "optimizer_states")
    assert actual["lr_schedulers"] == expected["lr_schedulers"]
    assert actual["loops"]["fit_loop"]["epoch_progress"] == expected["loops"]["fit_loop"]["epoch_progress"]
    assert read_all_scalars(run) == read_all_scalars(reference)
    metrics = {key: value for key, value in read_metrics(run).items() if key != "wall_seconds"}
    assert metrics == {key: value for key, value in read_metrics(reference).items() if key != "wall_seconds"}


def _assert_equal_states(actual, expected, where: str) -> None:
    import torch

    if isinstance(expected, torch.Tensor):
        assert torch.equal(actual, expected), where
    elif isinstance(expected, dict):
        assert actual.keys() == expected.keys(), where
        for key in expected:
            _assert_equal_states(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            _assert_equal_states(a, e, f"{where}[{index}]")
    else:
        assert actual == expected, where


def as_a_later_process(run_dir):
    """Date the run's TensorBoard files one second earlier, as they are when a new process resumes it.

    A writer's file is named ``events.out.tfevents.<second>.<host>.<pid>.<counter>``; TensorBoard
    reads a directory's files in name order, so a resumed run's file must sort after the older ones.
    A resumed process starts seconds after the run it continues; a resume in this process can fall
    in the same second, where the pid or counter decides (``...100`` sorts before ``...99``).
    """
    for path in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        head, second, tail = re.match(r"(events\.out\.tfevents\.)(\d+)(\..*)", path.name).groups()
        path.rename(path.with_name(f"{head}{int(second) - 1:010d}{tail}"))
    return run_dir


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(autouse=True, scope="session")
def _quiet_threads():
    """Tests may run in parallel workers: one torch thread each keeps 2 cores from oversubscribing.
    Session-scoped, so that module-scoped fixtures that train get it too."""
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


def tensorboard_backend(logdir: Path):
    """TensorBoard's backend context over ``logdir``, as ``tensorboard --logdir`` serves it to the browser."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin

    events = plugin_event_multiplexer.EventMultiplexer()
    events.AddRunsFromDirectory(str(logdir))
    events.Reload()
    provider = data_provider.MultiplexerDataProvider(events, str(logdir))
    return base_plugin.TBContext(logdir=str(logdir), data_provider=provider, multiplexer=events)


def hparams_experiment(logdir: Path):
    """The HParams plugin's sessions (by run) and the experiment it serves for ``logdir``, sorted as it sorts it."""
    from tensorboard import context
    from tensorboard.plugins.hparams import backend_context

    plugin = backend_context.Context(tensorboard_backend(logdir))
    request = context.RequestContext()
    sessions = plugin.hparams_metadata(request, "")
    return sessions, plugin.experiment_from_metadata(request, "", True, sessions,
                                                     plugin.hparams_from_data_provider(request, "", 0))


def hparam_values(start_info) -> dict:
    """A session start info's hyper-parameters as plain Python values."""
    from google.protobuf.json_format import MessageToDict

    return {key: MessageToDict(value) for key, value in start_info.hparams.items()}
