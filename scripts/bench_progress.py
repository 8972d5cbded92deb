"""What the progress line costs a training step, measured side by side in one process.

    .venv/bin/python scripts/bench_progress.py [--repeats 7] [--epochs 20]

Trains the default job (digits MLP, batch 64) in process with ``trainer.enable_progress_bar``
false and true, alternating, ``--repeats`` times each (torch on one thread, so the two do not
compete for cores differently). The line goes to a string buffer instead of the terminal. Reports
the median milliseconds per optimizer step (fit wall time / steps) of each, their difference, and
how many times the line was drawn. A difference of a few microseconds is below what whole runs can
resolve on a busy machine, so it then times the line's own work on the trained Trainer: the
per-step hook between redraws, and one redraw (reading the loss from the device included).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import make_plan  # noqa: E402

from lrframe.tasks import run_task  # noqa: E402


def fit(progress: bool, epochs: int) -> tuple[float, int, int]:
    """(seconds, optimizer steps, redraws) of one run."""
    plan = make_plan(f"trainer.enable_progress_bar={str(progress).lower()}", f"trainer.max_epochs={epochs}",
                     "logger=none")
    stream = io.StringIO()
    with tempfile.TemporaryDirectory() as run_dir, contextlib.redirect_stderr(stream), \
            contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        metrics = run_task(plan, Path(run_dir))
        elapsed = time.perf_counter() - started
    return elapsed, metrics["global_step"], stream.getvalue().count("\r")


def line_costs(calls: int = 100_000, draws: int = 2_000) -> tuple[float, float]:
    """Microseconds of the per-step hook between redraws, and of one redraw, on a trained Trainer."""
    from lrframe.tasks.fit import trainer
    from lrframe.training.pieces import build

    plan = make_plan("trainer.enable_progress_bar=true", "trainer.max_epochs=2", "logger=none")
    with tempfile.TemporaryDirectory() as run_dir, contextlib.redirect_stderr(io.StringIO()), \
            contextlib.redirect_stdout(io.StringIO()):
        pieces = build(plan, plan.lr)
        train, val, module = pieces.data.train, pieces.data.val, pieces.module
        fitted = trainer(plan, Path(run_dir))
        fitted.fit(module, train, val)
        bar = fitted.progress_bar_callback
        bar._next_draw = float("inf")  # between redraws
        started = time.perf_counter()
        for _ in range(calls):
            bar.on_train_batch_end(fitted, module, None, None, 0)
        hook = (time.perf_counter() - started) / calls
        started = time.perf_counter()
        for _ in range(draws):
            bar._draw(fitted, module, time.monotonic())
        draw = (time.perf_counter() - started) / draws
    return 1e6 * hook, 1e6 * draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    fit(False, 2)  # warm up: imports, first-call costs
    per_step = {False: [], True: []}
    draws = []
    for repeat in range(args.repeats):
        for progress in (False, True) if repeat % 2 == 0 else (True, False):
            seconds, steps, drawn = fit(progress, args.epochs)
            per_step[progress].append(1000 * seconds / steps)
            if progress:
                draws.append(drawn)
    off, on = statistics.median(per_step[False]), statistics.median(per_step[True])
    print(f"default job, {args.epochs} epochs ({steps} steps), {args.repeats} repeats, 1 torch thread")
    print(f"progress off: {off:.3f} ms/step   progress on: {on:.3f} ms/step   "
          f"difference: {1000 * (on - off):+.1f} us/step ({100 * (on / off - 1):+.1f}%)")
    print(f"lines drawn per run: {statistics.median(draws):.0f} (median) for {steps} steps")
    hook, draw = line_costs()
    print(f"the line's own work: {hook:.2f} us per step between redraws, {draw:.1f} us per redraw; "
          f"at {statistics.median(draws):.0f} redraws per {steps} steps: "
          f"{hook + draw * statistics.median(draws) / steps:.2f} us/step")


if __name__ == "__main__":
    main()
