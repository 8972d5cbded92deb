"""Run a ``conf/experiment/NAME.yaml`` sweep (or any ``train.py -m`` grid) and read back what its runs
wrote (for the figure scripts).

    runs = run_experiment("init", ["trainer.max_epochs=5"])   # python train.py -m +experiment=init ...
    for run in runs: run.config["init"]["name"], run.metrics["val/acc"], run.scalars("val/acc")
    jobs = run_sweep([*WORKLOADS["cnn"], "optimizer.lr=0.1,1"], sweep_dir, jobs=True)  # failed ones too
    for job in jobs: job.status, job.error, job.lr_find (task=lr_find's lr_find.json)

A sweep whose jobs fail (diverge) still returns: a failed job is a result (``Run.status``, ``Run.error``).
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

#: the built-in workloads as train.py overrides (the scripts add a budget, a schedule, lrs, seeds)
WORKLOADS = {
    "cnn": ["model=cnn"],  # digits as 1x8x8 images, SGD momentum 0.9 (lr 0.1), batch 64: 23 steps per epoch
    "transformer": ["model=transformer", "data=text", "optimizer=adam"],  # chars of pydoc_data.topics: 103 steps per epoch
    "diabetes": ["data=diabetes", "loss=mse"],  # the default MLP, SGD momentum 0.9, batch 64: 6 steps per epoch
}


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
    def job(self) -> dict:
        """job.json: overrides, status (completed, failed, ...), error, seconds."""
        return json.loads((self.path / "job.json").read_text())

    @property
    def status(self) -> str:
        return self.job["status"]

    @property
    def error(self) -> str | None:
        return self.job["error"]

    @cached_property
    def lr_find(self) -> dict:
        """lr_find.json of a task=lr_find job: the suggestion, every method's lr, where it diverged."""
        return json.loads((self.path / "lr_find.json").read_text())

    @cached_property
    def _events(self):
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(self.path / "tensorboard"), size_guidance={"scalars": 0})
        events.Reload()
        return events

    def scalars(self, tag: str) -> list[tuple[int, float, float]]:
        """(step, value, wall time in seconds since the epoch) of every logged value of ``tag``."""
        return [(event.step, event.value, event.wall_time) for event in self._events.Scalars(tag)]


def read_runs(sweep_dir: Path, jobs: bool = False) -> list[Run]:
    """The finished runs (those with a metrics.json) of a sweep directory, in job order; with ``jobs``,
    every job that has a job.json (failed jobs and task=lr_find jobs too)."""
    marker = "job.json" if jobs else "metrics.json"
    paths = [path.parent for path in sweep_dir.glob(f"*/{marker}")]
    if not paths:
        raise SystemExit(f"error: no {'jobs' if jobs else 'finished runs'} (*/{marker}) in {sweep_dir}")
    return [Run(path) for path in sorted(paths, key=lambda path: int(path.name.split("_")[0]))]


def run_sweep(overrides: list[str], sweep_dir: Path, jobs: bool = False) -> list[Run]:
    """``python train.py -m OVERRIDES`` into ``sweep_dir``, then its runs (``read_runs(sweep_dir, jobs)``).

    Jobs that fail (a diverged run) are recorded by the sweep, which then exits with status 1: that
    is reported on stderr and the runs are read all the same. Any other failure raises.
    """
    command = [sys.executable, str(REPO / "train.py"), "-m", f"hydra.sweep.dir={sweep_dir}", *overrides]
    print("running:", " ".join(command[1:]), file=sys.stderr)
    # one torch thread: on a shared machine two threads that wait for each other can be 20x slower
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.time()
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, env=environment)
    if done.returncode:
        summary = sweep_dir / "summary.csv"
        if not summary.is_file() or summary.stat().st_mtime < started:  # this sweep did not get to its end
            raise subprocess.CalledProcessError(done.returncode, command)
        failed = [run.path.name for run in read_runs(sweep_dir, jobs=True) if run.status != "completed"]
        print(f"{len(failed)} job(s) failed, a result like the others: {', '.join(failed)}", file=sys.stderr)
    return read_runs(sweep_dir, jobs)


def run_experiment(name: str, overrides: list[str], sweep_dir: Path | None = None, jobs: bool = False) -> list[Run]:
    """``python train.py -m +experiment=NAME OVERRIDES`` into ``sweep_dir``, then its runs.

    ``sweep_dir`` defaults to ``multirun/NAME/DATE_TIME``.
    """
    sweep_dir = sweep_dir or REPO / "multirun" / name / time.strftime("%Y-%m-%d_%H-%M-%S")
    return run_sweep([f"+experiment={name}", *overrides], sweep_dir, jobs)


def arguments(name: str, description: str) -> argparse.ArgumentParser:
    """The figure scripts' common arguments: --out, --runs, --sweep-dir and train.py's overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / f"{name}.png")
    parser.add_argument("--runs", type=Path, help=f"a finished +experiment={name} sweep directory to read")
    parser.add_argument("--sweep-dir", type=Path,
                        help=f"where to run a new sweep (default multirun/{name}/DATE_TIME)")
    parser.add_argument("overrides", nargs="*", help="train.py overrides for a new sweep")
    return parser


def workload_arguments(name: str, description: str, workloads: list[str]) -> argparse.ArgumentParser:
    """``arguments`` and those of an experiment over workloads: --workloads, --seeds and the budgets."""
    parser = arguments(name, description)
    parser.add_argument("--workloads", nargs="+", default=workloads, choices=workloads)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 to N-1 of every configuration")
    parser.add_argument("--cnn-epochs", type=int, default=10, help="the CNN's budget")
    parser.add_argument("--transformer-steps", type=int, default=100, help="the transformer's budget")
    return parser


def runs_by_workload(name: str, args: argparse.Namespace, sweeps) -> dict[str, list[Run]]:
    """workload -> the runs (failed jobs too) of its sweeps: ``sweeps(workload)`` gives each sweep's name
    and train.py overrides (after the workload's, before the command line's). They run into
    ``--sweep-dir``/WORKLOAD/SWEEP (default ``multirun/NAME/DATE_TIME``), or are read from ``--runs``."""
    if args.runs:
        return {workload: [run for sweep in sorted((args.runs / workload).iterdir()) if sweep.is_dir()
                           for run in read_runs(sweep, jobs=True)]
                for workload in args.workloads if (args.runs / workload).is_dir()}
    args.sweep_dir = args.sweep_dir or REPO / "multirun" / name / time.strftime("%Y-%m-%d_%H-%M-%S")
    return {workload: [run for sweep, overrides in sweeps(workload).items()
                       for run in run_sweep([*WORKLOADS[workload], *overrides, *args.overrides],
                                            args.sweep_dir / workload / sweep, jobs=True)]
            for workload in args.workloads}


def print_tables(workloads: dict[str, list[Run]], table, args: argparse.Namespace) -> None:
    """Each workload's name and its ``table(workload, runs)`` lines, then where the runs and figure are."""
    for workload, runs in workloads.items():
        print(f"{workload}:")
        print("\n".join(table(workload, runs)))
    print(f"runs in {args.runs or args.sweep_dir}; wrote {args.out}")


def runs_of(name: str, args: argparse.Namespace, jobs: bool = False) -> list[Run]:
    """The runs of ``--runs``, or of a new sweep of experiment ``name`` (with ``jobs``: failed jobs too)."""
    return read_runs(args.runs, jobs) if args.runs else run_experiment(name, args.overrides, args.sweep_dir, jobs)

