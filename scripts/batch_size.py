"""Batch size, with and without the linear scaling rule: time to an accuracy, and the accuracy reached.

    .venv/bin/python scripts/batch_size.py --out docs/batch_size.png [--runs DIR] [--target 0.95] [OVERRIDES]

Runs ``python train.py +experiment=batch_size`` (conf/experiment/batch_size.yaml: the default job,
20 epochs, at batch sizes 16 to 512, with ``optimizer.lr_scaling`` none and linear from a base batch
of 64, three seeds) into a new sweep directory, or reads the finished sweep in ``--runs``, then
draws from the runs' own outputs, against the batch size:

- time to reach ``--target`` validation accuracy: the wall time of the first ``val/acc`` event at or
  above it minus that of the run's first ``lr`` event (logged just before the first optimizer step),
  read from the TensorBoard events; also the epochs that took;
- the final validation accuracy (metrics.json).

Each point is the median over seeds, the bars the range. Wall time on a shared machine is noisy;
the epochs to the target are not. OVERRIDES go to train.py (e.g. ``seed=0``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiment_runs import Run, arguments, runs_of

from lrframe.config.validate import validate

#: lr_scaling -> (color, label given the base lr and batch)
STYLE = {"none": ("tab:red", "lr {lr:g} at every batch size (lr_scaling=none)"),
         "linear": ("tab:blue", "lr {lr:g} x batch / {batch} (lr_scaling=linear)"),
         "sqrt": ("tab:green", "lr {lr:g} x sqrt(batch / {batch}) (lr_scaling=sqrt)")}


def to_target(run: Run, target: float) -> tuple[float, int] | None:
    """(seconds, epochs) from the start of training to the first validation at or above ``target``."""
    start = run.scalars("lr")[0][2]
    reached = [(wall - start, epoch) for epoch, (_, value, wall) in enumerate(run.scalars("val/acc"), 1)
               if value >= target]
    return reached[0] if reached else None


def summary(runs: list[Run], target: float) -> dict[str, dict[int, dict[str, list[float]]]]:
    """scaling -> batch size -> {"seconds", "epochs", "accuracy", "lr", "failed"}: one value per seed
    (per seed that reached ``target``, for seconds and epochs; the error of each failed run)."""
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for run in runs:
        cell = table[run.config["optimizer"]["lr_scaling"]][run.config["data"]["batch_size"]]
        cell["lr"].append(validate(run.config).lr)  # the effective lr, scaled by the batch (failed runs too)
        if run.status != "completed":  # diverged: no final accuracy, never reached the target
            cell["failed"].append(run.error)
            continue
        cell["accuracy"].append(run.metrics["val/acc"])
        reached = to_target(run, target)
        if reached:
            cell["seconds"].append(reached[0])
            cell["epochs"].append(reached[1])
    return table


def title(run: Run) -> str:
    """What the runs share, from one run's config: model, optimizer, schedule, epochs."""
    cfg = run.config
    model = {"mlp": "MLP", "cnn": "CNN"}.get(cfg["model"]["name"], cfg["model"]["name"])
    optimizer = cfg["optimizer"]["name"] + (f" momentum {cfg['optimizer']['momentum']:g}"
                                            if cfg["optimizer"].get("momentum") else "")
    warmup = cfg["warmup"]
    warmup = "no warmup" if warmup["name"] == "none" else f"{warmup.get('epochs')} epoch {warmup['name']} warmup"
    return (f"Digits {model}, {optimizer}, {warmup} + {cfg['scheduler']['name']}, "
            f"{cfg['trainer']['max_epochs']} epochs; median and range over seeds")


def draw(table: dict, target: float, out: Path, title: str, base: dict) -> None:
    """The three panels; ``base``: the runs' optimizer config (its lr holds at base_batch_size)."""
    figure = Figure(figsize=(16, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    panels = [("seconds", f"seconds to val/acc >= {target:g}"),
              ("epochs", f"epochs to val/acc >= {target:g}"), ("accuracy", "final val/acc")]
    for ax, (key, ylabel) in zip(figure.subplots(1, 3), panels):
        for scaling, cells in table.items():
            sizes = sorted(size for size, cell in cells.items() if cell[key])
            values = [cells[size][key] for size in sizes]
            medians = [statistics.median(v) for v in values]
            errors = [[m - min(v) for m, v in zip(medians, values)],
                      [max(v) - m for m, v in zip(medians, values)]]
            color, label = STYLE[scaling]
            ax.errorbar(sizes, medians, yerr=errors, fmt="-o", ms=4, capsize=3, color=color,
                        label=label.format(lr=base["lr"], batch=base["base_batch_size"]))
            missed = sorted(size for size, cell in cells.items() if len(cell[key]) < len(cell["lr"]))
            if missed:
                diverged = any(cells[size]["failed"] for size in missed)
                what = "diverged" if key == "accuracy" else "diverged or never reached it" if diverged else \
                    "never reached it"
                ax.text(0.02, 0.95 if scaling == "none" else 0.87 if scaling == "linear" else 0.79,
                        f"{scaling}: some seeds {what} at batch {', '.join(map(str, missed))}",
                        transform=ax.transAxes, fontsize=7, color=color)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({s for cells in table.values() for s in cells}))
        ax.get_xaxis().set_major_formatter("{x:.0f}")
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    figure.axes[2].legend(fontsize=8, loc="best")
    figure.suptitle(title, fontsize=10)
    figure.savefig(out, dpi=90)


def report(table: dict, target: float, base_batch: int) -> list[str]:
    """One line per arm and batch size: its lr, time and epochs to ``target``, final val/acc and its
    difference to the same arm at ``base_batch`` (optimizer.base_batch_size: every scaling's lr is the same there)."""
    median, lines = statistics.median, []
    for scaling, cells in table.items():
        base = cells[base_batch]["accuracy"] if base_batch in cells else None
        for size, cell in sorted(cells.items()):
            seconds = (f"{median(cell['seconds']):5.2f} s, {median(cell['epochs']):4.1f} epochs"
                       if cell["seconds"] else "never")
            accuracy, seeds = cell["accuracy"], len(cell["lr"])
            final = (f"final val/acc {median(accuracy):.3f} ({min(accuracy):.3f}-{max(accuracy):.3f})"
                     if accuracy else "final val/acc -")
            versus = f", {median(accuracy) - median(base):+.3f} vs batch {base_batch}" if accuracy and base else ""
            failed = f", {len(cell['failed'])} diverged" if cell["failed"] else ""
            lines.append(f"lr_scaling={scaling:6s} batch {size:4d} lr {cell['lr'][0]:.4g}: to {target:g} {seconds} "
                         f"({len(cell['seconds'])}/{seeds} seeds); {final}{versus}{failed}")
    return lines


def run(name: str, description: str, argv: list[str] | None, target: float) -> None:
    """The script of experiment ``name``: run (or read) its sweep, draw, print the report."""
    parser = arguments(name, description)
    parser.add_argument("--target", type=float, default=target, help="the validation accuracy to time")
    args = parser.parse_args(argv)
    runs = runs_of(name, args, jobs=True)
    table = summary(runs, args.target)
    draw(table, args.target, args.out, title(runs[0]), runs[0].config["optimizer"])
    print("\n".join(report(table, args.target, runs[0].config["optimizer"]["base_batch_size"])))
    print(f"runs in {runs[0].path.parent}; wrote {args.out}")


def main(argv: list[str] | None = None) -> None:
    run("batch_size", __doc__.splitlines()[0], argv, 0.95)


if __name__ == "__main__":
    main()
