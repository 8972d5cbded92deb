"""What logging the adaptive step sizes costs per optimizer step, side by side in one process.

    .venv/bin/python scripts/bench_step_sizes.py [--repeats 7]

The default job with ``optimizer=adam`` (85k parameters, batch 64, TensorBoard on), trained with
``logger.step_sizes_every_n_steps`` 0 (off), 50 (the default), 10 and 1, interleaved so that load
on a shared machine hits all alike. Per-step cost = (time of a 23-epoch fit - time of a 3-epoch
fit) / 460 extra steps, median over repeats (start-up cancels out). Then one logging event alone:
quantiles and a histogram of the 85k step sizes (sampled to 4096) written to TensorBoard.
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

from lrframe.cli.precheck import compose_config
from lrframe.config.validate import validate
from lrframe.tasks import run_task

REPO = Path(__file__).resolve().parents[1]
SETTINGS = (0, 50, 10, 1)
SHORT, LONG, STEPS_PER_EPOCH = 3, 23, 23


def fit_seconds(every: int, epochs: int, scratch: Path) -> float:
    plan = validate(compose_config(["optimizer=adam", f"trainer.max_epochs={epochs}",
                                    f"logger.step_sizes_every_n_steps={every}"], REPO / "conf"))
    run_dir = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the fit's summary line
        run_task(plan, run_dir)
    return time.perf_counter() - started


def one_event_ms(scratch: Path, repeats: int = 200) -> float:
    """One step-size logging event on the default model's Adam state after a short fit."""
    from lightning.pytorch.loggers import TensorBoardLogger

    from lrframe.training.callbacks import StepLogger
    from lrframe.data.build import build_data
    from lrframe.models.build import build_model
    from lrframe.optim.optimizer import build_optimizer

    plan = validate(compose_config(["optimizer=adam"], REPO / "conf"))
    data = build_data(plan)[0]
    train = data.train
    model = build_model(plan.config, data)
    optimizer = build_optimizer(model, plan.config["optimizer"], plan.lr)
    for x, y in train:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    class Trainer:  # what the hook reads of Lightning's trainer
        global_step = 0
        loggers = [TensorBoardLogger(save_dir=scratch, name="event", version="")]

    logger = StepLogger(every_n_steps=10, step_sizes_every_n_steps=1)
    logger._log_step_sizes(Trainer, optimizer)  # the sample's indices are drawn once
    started = time.perf_counter()
    for _ in range(repeats):
        logger._log_step_sizes(Trainer, optimizer)
    return (time.perf_counter() - started) / repeats * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        fit_seconds(0, SHORT, scratch)  # warm up imports and caches
        per_step = {every: [] for every in SETTINGS}
        for repeat in range(args.repeats):
            for every in SETTINGS:
                short, long = fit_seconds(every, SHORT, scratch), fit_seconds(every, LONG, scratch)
                per_step[every].append((long - short) / ((LONG - SHORT) * STEPS_PER_EPOCH))
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
        event = one_event_ms(scratch)
    off = statistics.median(per_step[0])
    print(f"default job, optimizer=adam, torch {torch.__version__}, 1 thread; medians of {args.repeats} "
          "repeats")
    print(f"{'step_sizes_every_n_steps':>26s}  ms/step  extra us/step  vs off")
    for every in SETTINGS:
        median = statistics.median(per_step[every])
        print(f"{every if every else '0 (off)':>26}  {median * 1e3:7.3f}  {(median - off) * 1e6:13.1f}  "
              f"{median / off:6.3f}x")
    print(f"one logging event alone: {event:.3f} ms, i.e. {event * 1e3 / 50:.1f} us/step at every 50 steps")


if __name__ == "__main__":
    main()
