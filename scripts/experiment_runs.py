"""Run a ``conf/experiment/NAME.yaml`` sweep and read back what its runs wrote (for the figure scripts).

    runs = run_experiment("init", ["trainer.max_epochs=5"])   # python train.py +experiment=init ...
    for run in runs: run.config["init"]["name"], run.metrics["val/acc"], run.scalars("val/acc")
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """One job of a sweep: its directory, composed config, metrics.json and TensorBoard events."""

    path: Path

    @cached_property
    def config(self) -> dict:
        return yaml.safe_load((self.path / ".hydra" / "config.yaml").read_text())

    @cached_property
    def metrics(self) -> dict:
        return json.loads((self.path / "metrics.json").read_text())

    @cached_property
    def _events(self):
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(self.path / "tensorboard"), size_guidance={"scalars": 0})
        events.Reload()
        return events

    def scalars(self, tag: str) -> list[tuple[int, float, float]]:
        """(step, value, wall time in seconds since the epoch) of every logged value of ``tag``."""
        return [(event.step, event.value, event.wall_time) for event in self._events.Scalars(tag)]


def read_runs(sweep_dir: Path) -> list[Run]:
    """The finished runs (those with a metrics.json) of a sweep directory, in job order."""
    paths = [path.parent for path in sweep_dir.glob("*/metrics.json")]
    if not paths:
        raise SystemExit(f"error: no finished runs (*/metrics.json) in {sweep_dir}")
    return [Run(path) for path in sorted(paths, key=lambda path: int(path.name.split("_")[0]))]


def run_experiment(name: str, overrides: list[str], sweep_dir: Path | None = None) -> list[Run]:
    """``python train.py +experiment=NAME OVERRIDES`` into ``sweep_dir``, then its runs.

    ``sweep_dir`` defaults to ``multirun/NAME/DATE_TIME``.
    """
    sweep_dir = sweep_dir or REPO / "multirun" / name / time.strftime("%Y-%m-%d_%H-%M-%S")
    command = [sys.executable, str(REPO / "train.py"), f"+experiment={name}", f"hydra.sweep.dir={sweep_dir}",
               *overrides]
    print("running:", " ".join(command[1:]), file=sys.stderr)
    # one torch thread: on a shared machine two threads that wait for each other can be 20x slower
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL, env=environment)
    return read_runs(sweep_dir)


def arguments(name: str, description: str) -> argparse.ArgumentParser:
    """The figure scripts' common arguments: --out, --runs, --sweep-dir and train.py's overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / f"{name}.png")
    parser.add_argument("--runs", type=Path, help=f"a finished +experiment={name} sweep directory to read")
    parser.add_argument("--sweep-dir", type=Path,
                        help=f"where to run a new sweep (default multirun/{name}/DATE_TIME)")
    parser.add_argument("overrides", nargs="*", help="train.py overrides for a new sweep")
    return parser


def runs_of(name: str, args: argparse.Namespace) -> list[Run]:
    """The runs of ``--runs``, or of a new sweep of experiment ``name``."""
    return read_runs(args.runs) if args.runs else run_experiment(name, args.overrides, args.sweep_dir)

