"""The 2x2 grid on the sequential launcher and on joblib, side by side, repeated.

    .venv/bin/python scripts/bench_launchers.py [--repeats 5] [--epochs 20 200] [--n-jobs 2]
                                                [--arms basic basic1 joblib]

Runs ``train.py -m scheduler=cosine,step optimizer=sgd,adam trainer.max_epochs=E`` as a user
does (a fresh process each time, TensorBoard and checkpoints on) three ways, in turn,
``--repeats`` times for each ``--epochs``:

- basic:  ``hydra/launcher=basic``, jobs one after another (torch's default threads: all cores)
- basic1: the same with ``OMP_NUM_THREADS=1``, to tell the thread count's effect from the
          parallelism's
- joblib: ``hydra/launcher=joblib hydra.launcher.n_jobs=N``, N jobs at a time, each with
          cores // N torch threads

Prints the median wall time of each, the median (and range) of the per-repeat ratios to the first
arm, and the range of the 1-minute load average seen before the runs (work of others).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = ["scheduler=cosine,step", "optimizer=sgd,adam"]


def sweep(launcher: list[str], env: dict[str, str], epochs: int, sweep_dir: Path) -> float:
    """Wall seconds of one multirun; checks that its four jobs completed."""
    command = [sys.executable, str(REPO / "train.py"), "-m", *GRID, f"trainer.max_epochs={epochs}", *launcher,
               f"hydra.sweep.dir={sweep_dir}"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={**os.environ, **env})
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    with (sweep_dir / "summary.csv").open() as file:
        statuses = [row["status"] for row in csv.DictReader(file)]
    assert statuses == ["completed"] * 4, statuses
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, nargs="+", default=[20])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--arms", nargs="+", default=["basic", "basic1", "joblib"],
                        choices=["basic", "basic1", "joblib"])
    args = parser.parse_args()
    every_arm = {"basic": (["hydra/launcher=basic"], {}),
                 "basic1": (["hydra/launcher=basic"], {"OMP_NUM_THREADS": "1"}),
                 "joblib": (["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.n_jobs}"], {})}
    arms = {name: every_arm[name] for name in args.arms}
    first = args.arms[0]
    print(f"{os.cpu_count()} cores; 2x2 grid ({' '.join(GRID)}); {args.repeats} repeats; joblib n_jobs={args.n_jobs}")
    print(f"\n| epochs | launcher | median s | / {first} (median; range) | load seen |\n|---|---|---|---|---|")
    for epochs in args.epochs:
        times: dict[str, list[float]] = {name: [] for name in arms}
        loads = []
        with tempfile.TemporaryDirectory() as tmp:
            for repeat in range(args.repeats):
                names = list(arms)
                for name in names[repeat % len(names):] + names[:repeat % len(names)]:  # rotate the order
                    loads.append(os.getloadavg()[0])
                    times[name].append(sweep(*arms[name], epochs, Path(tmp) / f"{len(loads)}"))
        for name, seconds in times.items():
            ratios = [t / b for t, b in zip(seconds, times[first])]
            print(f"| {epochs} | {name} | {statistics.median(seconds):.1f} | {statistics.median(ratios):.2f}; "
                  f"{min(ratios):.2f}-{max(ratios):.2f} | {min(loads):.1f}-{max(loads):.1f} |", flush=True)


if __name__ == "__main__":
    main()
