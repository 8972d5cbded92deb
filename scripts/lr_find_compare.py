"""lrframe's LR range test beside torch-lr-finder's ``range_test`` and Lightning's ``Tuner.lr_find``.

    .venv/bin/python scripts/lr_find_compare.py [--repeats 3] [OVERRIDES...]

On the default job (or the job the overrides describe) every tool trains the same model (lrframe's
builders, same seed, so the same initial weights) on the same batches (same size and order) with
the same optimizer, over the same ramp (``task.start_lr`` to ``task.end_lr`` in ``task.num_steps``
steps). Each keeps its own smoothing, stop rule and suggestion method, as its users get them. Then
the whole ``python train.py task=lr_find`` process is timed against a standalone torch-lr-finder
script on the same model and data. Times are medians of ``--repeats`` runs taken in turn, in one
session, so they compare; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # torch-lr-finder's progress bar
os.environ.setdefault("MPLBACKEND", "Agg")
REPO = Path(__file__).resolve().parents[1]

#: a standalone torch-lr-finder script as its README shows it, on the default job's model and data
STANDALONE = """
import sys, torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import matplotlib.pyplot as plt
from torch_lr_finder import LRFinder
from lrframe.data.datasets import load_split  # the digits file read with numpy: the same data as lrframe's

start_lr, end_lr, num_steps, batch_size, out = sys.argv[1:]
split = load_split({"name": "digits", "val_fraction": 0.2, "split_seed": 0})
data = DataLoader(TensorDataset(torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)),
                  batch_size=int(batch_size), shuffle=True)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
for layer in model:
    if isinstance(layer, nn.Linear):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
optimizer = torch.optim.SGD(model.parameters(), lr=float(start_lr), momentum=0.9)
finder = LRFinder(model, optimizer, nn.CrossEntropyLoss())
finder.range_test(data, end_lr=float(end_lr), num_iter=int(num_steps))
fig, ax = plt.subplots()
ax, lr = finder.plot(ax=ax, suggest_lr=True)
fig.savefig(out)
finder.reset()
print(f"torch-lr-finder: suggested lr {lr:.3g}")
"""


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from lrframe.config.validate import validate

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return validate(hydra_compose(config_name="train", overrides=["task=lr_find", *overrides]))


def in_turn(functions: dict, repeats: int) -> dict:
    """name -> (last result, median wall time) of each function, run in turn ``repeats`` times so
    that all see the same machine load."""
    results, times = {}, {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            results[name] = function()
            times[name].append(time.perf_counter() - started)
    return {name: (results[name], statistics.median(times[name])) for name in functions}


def lrframe_test(plan):
    from lrframe.tasks.lr_find import run_test

    result = run_test(plan)
    values = result.suggestions.values
    others = ", ".join(f"{k} {v:.3g}" for k, v in values.items() if k != result.method)
    return len(result.curve.lrs), result.lr, f"{result.method} ({others})"


def fresh(plan):
    """The model, optimizer and training batches task=fit would start from."""
    import torch

    from lrframe.data.build import build_data
    from lrframe.models.build import build_model
    from lrframe.optim.optimizer import build_optimizer

    torch.manual_seed(plan.config["seed"])
    data = build_data(plan)[0]
    train = data.train
    model = build_model(plan.config, data)
    return model, build_optimizer(model, plan.config["optimizer"], plan.range_test[1]["start_lr"]), train


def torch_lr_finder_test(plan):
    import matplotlib.pyplot as plt
    import torch
    from torch_lr_finder import LRFinder, TrainDataLoaderIter

    from lrframe.range_test.loop import windows

    class EpochAfterEpoch(TrainDataLoaderIter):
        """lrframe's batches, epoch after epoch in the same order as lrframe's test sees them."""

        def __init__(self, batches):
            super().__init__(batch for (batch,) in windows(batches, 1))

        def inputs_labels_from_batch(self, batch):
            return batch

    settings = plan.range_test[1]
    model, optimizer, train = fresh(plan)
    finder = LRFinder(model, optimizer, torch.nn.CrossEntropyLoss())
    with contextlib.redirect_stdout(io.StringIO()):
        finder.range_test(EpochAfterEpoch(train), end_lr=settings["end_lr"],
                          num_iter=settings["num_steps"] or plan.clock.steps_per_epoch)
        fig, ax = plt.subplots()
        _, lr = finder.plot(ax=ax, suggest_lr=True)
        plt.close(fig)
    return len(finder.history["lr"]), lr, "steepest gradient (np.gradient of its smoothed loss per step)"


def lightning_test(plan):
    import lightning.pytorch as pl
    from lightning.pytorch.tuner import Tuner

    from lrframe.data.build import build_data
    from lrframe.training.pieces import build
    from lrframe.tasks import quiet_libraries

    quiet_libraries()
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`")
    settings = plan.range_test[1]
    pl.seed_everything(plan.config["seed"], verbose=False)
    pieces = build(plan, settings["start_lr"])
    train, module = pieces.data.train, pieces.module
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1000, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=root, accelerator="cpu")
        with contextlib.redirect_stdout(io.StringIO()):
            finder = Tuner(trainer).lr_find(module, train_dataloaders=train, min_lr=settings["start_lr"],
                                            max_lr=settings["end_lr"],
                                            num_training=settings["num_steps"] or plan.clock.steps_per_epoch)
    return len(finder.results["lr"]), finder.suggestion(), "steepest gradient (torch.gradient against lr)"


def process_times(overrides: list[str], plan, repeats: int) -> tuple[float, float]:
    settings = plan.range_test[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "torch_lr_finder_digits.py")
        script.write_text(STANDALONE)
        commands = {
            "lrframe": [sys.executable, str(REPO / "train.py"), "task=lr_find", *overrides,
                        f"hydra.run.dir={tmp}/run"],
            "torch-lr-finder": [sys.executable, str(script), str(settings["start_lr"]), str(settings["end_lr"]),
                                str(settings["num_steps"] or plan.clock.steps_per_epoch),
                                str(plan.config["data"]["batch_size"]), f"{tmp}/tlf.png"],
        }
        times = {name: [] for name in commands}
        for _ in range(repeats):  # in turn, so both see the same machine load
            for name, command in commands.items():
                started = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp)
                times[name].append(time.perf_counter() - started)
                if done.returncode:
                    sys.exit(f"{name} failed:\n{done.stderr}")
        return statistics.median(times["lrframe"]), statistics.median(times["torch-lr-finder"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    import torch

    import lightning
    import torch_lr_finder  # noqa: F401  (imported before timing)
    from importlib.metadata import version

    plan = compose(args.overrides)
    settings = plan.range_test[1]
    steps = settings["num_steps"] or plan.clock.steps_per_epoch
    job = plan.config
    print(f"LR range test from {settings['start_lr']:g} to {settings['end_lr']:g} in {steps} steps on the "
          f"{' '.join(args.overrides) or 'default'} job (MLP {job['model']['hidden']}, {job['optimizer']['name']}, "
          f"batch {job['data']['batch_size']});\ntorch {torch.__version__}, {os.cpu_count()} CPU cores; "
          f"times are medians of {args.repeats} runs\n")
    tools = {
        "lrframe": lambda: lrframe_test(plan),
        f"torch-lr-finder {version('torch-lr-finder')}": lambda: torch_lr_finder_test(plan),
        f"Lightning {lightning.__version__} Tuner": lambda: lightning_test(plan),
    }
    print(f"{'tool':<26}{'steps':>6}{'suggested lr':>14}  {'test time':>9}  method")
    for name, ((ran, lr, method), seconds) in in_turn(tools, args.repeats).items():
        print(f"{name:<26}{ran:>6}{lr:>14.3g}  {seconds:>8.2f}s  {method}")
    ours, theirs = process_times(args.overrides, plan, args.repeats)
    print(f"\nwhole process: python train.py task=lr_find {ours:.2f} s (writes csv, json, png, TensorBoard); "
          f"standalone torch-lr-finder script {theirs:.2f} s (writes a png); ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
