"""The LR finder's suggestion against the best lr of a grid, on the CNN, the transformer and diabetes.

    .venv/bin/python scripts/lr_find_grid.py --out docs/lr_find_grid.png [--runs DIR] [--seeds 3]
        [--transformer-seeds 1] [--cnn-epochs 10] [--transformer-steps 100] [--grid WORKLOAD=LR,LR...] [OVERRIDES]

One ``python train.py -m`` sweep per workload (``experiment_runs.WORKLOADS``) over
``optimizer.lr=auto,GRID`` and the seeds, each run with the workload's default schedule (linear
warmup, then cosine to 0) for a fixed budget (CNN ``--cnn-epochs``; transformer
``--transformer-steps`` with a warmup of a tenth of them; diabetes the default 20 epochs):

- ``optimizer.lr=auto`` runs the LR range test first (the code of ``task=lr_find``: the same model,
  initial weights, batches and optimizer, the lr raised from 1e-7 to 10 in 100 steps), writes
  ``lr_find.json`` (the suggestion of ``task.lr_find.suggestion``, here ``steepest``, and every
  method's lr) and then trains the same job at the suggested lr;
- the numbers: the same job at each lr of a log-spaced grid.

A second sweep per workload trains the other methods' suggestions (``optimizer.lr=auto
task.lr_find.suggestion=valley,minimum``): the same test, so the same curve, another pick.

The best lr of the grid is the one with the best median final monitored metric over seeds
(val/acc for the CNN, val/loss for the transformer and diabetes); a diverged run counts as worst.
The figure draws the final metric against the lr, per seed and median, and marks every seed's
suggestions. OVERRIDES go to every sweep.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiment_runs import Run, print_tables, runs_by_workload, workload_arguments

#: workload -> the lr grid (log-spaced, wide enough to fail at the top)
GRIDS = {"cnn": (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
         "transformer": (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
         "diabetes": (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)}
METHODS = {"steepest": ("tab:red", "*"), "valley": ("tab:green", "v"), "minimum": ("tab:purple", "^")}


def monitor(workload: str) -> str:
    return "val/acc" if workload == "cnn" else "val/loss"


def better(workload: str, a: float, b: float) -> bool:
    return a > b if monitor(workload) == "val/acc" else a < b


def lr_grid(workload: str, args) -> tuple[float, ...]:
    """The workload's grid: ``--grid WORKLOAD=...`` or ``GRIDS``."""
    given = dict(item.split("=", 1) for item in args.grid)
    return tuple(float(lr) for lr in given[workload].split(",")) if workload in given else GRIDS[workload]


def sweeps(workload: str, args) -> dict[str, list[str]]:
    """The workload's two sweeps: the grid with ``optimizer.lr=auto`` at ``steepest``, and the other
    methods' suggestions; each with the workload's budget and the seeds."""
    seeds = args.transformer_seeds if workload == "transformer" else args.seeds
    budget = {"cnn": [f"trainer.max_epochs={args.cnn_epochs}"],
              "transformer": [f"trainer.max_steps={args.transformer_steps}",
                              f"warmup.steps={max(1, args.transformer_steps // 10)}"],
              "diabetes": []}[workload]
    seeds = "seed=" + ",".join(map(str, range(seeds)))
    return {"grid": [*budget, "optimizer.lr=auto," + ",".join(f"{lr:g}" for lr in lr_grid(workload, args)),
                     "task.lr_find.suggestion=steepest", seeds],
            "methods": [*budget, "optimizer.lr=auto", "task.lr_find.suggestion=valley,minimum", seeds]}


def value(run: Run, workload: str) -> float | None:
    return run.metrics.get(monitor(workload)) if run.status == "completed" else None


def is_auto(run: Run) -> bool:
    return run.config["optimizer"]["lr"] == "auto"


def suggested(runs: list[Run]) -> dict[tuple[int, str], tuple[Run, float | None]]:
    """(seed, method) -> the optimizer.lr=auto run that trained at that method's suggestion, and the lr."""
    found = {}
    for run in (r for r in runs if is_auto(r)):
        record = run.lr_find if (run.path / "lr_find.json").is_file() else {}
        found[run.config["seed"], run.config["task"]["lr_find"]["suggestion"]] = (run, record.get("suggestion"))
    return dict(sorted(found.items()))


def grid(runs: list[Run], workload: str) -> dict[float, list[float | None]]:
    """grid lr -> the final metric of each seed (None: diverged)."""
    cells: dict[float, list[float | None]] = {}
    for run in runs:
        if not is_auto(run):
            cells.setdefault(float(run.config["optimizer"]["lr"]), []).append(value(run, workload))
    return dict(sorted(cells.items()))


def median(values: list[float | None], workload: str) -> float:
    """The median with a diverged run (None) counted as the worst value."""
    worst = -math.inf if monitor(workload) == "val/acc" else math.inf
    return statistics.median([worst if v is None else v for v in values])


def best(cells: dict[float, list[float | None]], workload: str) -> float:
    lrs = list(cells)
    chosen = lrs[0]
    for lr in lrs[1:]:
        if better(workload, median(cells[lr], workload), median(cells[chosen], workload)):
            chosen = lr
    return chosen


def describe(values: list[float | None], workload: str) -> str:
    done = [v for v in values if v is not None]
    failed = len(values) - len(done)
    text = f"{statistics.median(done):.4g}" if done else "diverged"
    if len(done) > 1:
        text += f" ({min(done):.4g}-{max(done):.4g})"
    return text + (f", {failed} diverged" if failed and done else "")


def report(workload: str, runs: list[Run]) -> list[str]:
    """Markdown: the grid's rows; then per seed, each method's suggested lr and the metric trained at it."""
    cells = grid(runs, workload)
    chosen = best(cells, workload)
    lines = [f"| lr | final {monitor(workload)}: median (min-max) over seeds |", "|---|---|"]
    lines += [f"| {lr:g}{' (best)' if lr == chosen else ''} | {describe(values, workload)} |"
              for lr, values in cells.items()]
    lines += ["", f"| seed | {' | '.join(f'{m}: lr (x best grid lr) -> {monitor(workload)}' for m in METHODS)} |",
              "|---|" + "---|" * len(METHODS)]
    trained = suggested(runs)
    for seed in sorted({seed for seed, _ in trained}):
        cells_ = []
        for method in METHODS:
            run, lr = trained.get((seed, method), (None, None))
            if run is None:
                cells_.append("")
            elif lr is None:
                cells_.append(f"no suggestion: {run.error}")
            else:
                result = value(run, workload)
                cells_.append(f"{lr:.3g} (x{lr / chosen:.2g}) -> " + ("diverged" if result is None else f"{result:.4g}"))
        lines.append(f"| {seed} | {' | '.join(cells_)} |")
    return lines


def draw(workloads: dict[str, list[Run]], out: Path) -> None:
    figure = Figure(figsize=(5.4 * len(workloads), 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    for ax, (workload, runs) in zip(figure.subplots(1, len(workloads), squeeze=False)[0], workloads.items()):
        cells = grid(runs, workload)
        done = {lr: [v for v in values if v is not None] for lr, values in cells.items()}
        trained = suggested(runs)
        shown = [v for values in done.values() for v in values] + \
                [v for run, _ in trained.values() if (v := value(run, workload)) is not None]
        if monitor(workload) == "val/loss":  # a run far off (a near-divergence) would flatten the rest
            low, high = min(shown) * 0.95, min(max(shown), 4 * min(shown)) * 1.05
            ax.set_ylim(low, high)
            ax.set_yscale("log")
        for lr, values in done.items():
            ax.plot([lr] * len(values), values, "o", color="0.55", ms=4)
        kept = [lr for lr in cells if done[lr]]
        ax.plot(kept, [statistics.median(done[lr]) for lr in kept], "-", color="0.3", label="grid: median over seeds")
        for lr in cells:
            missing = len(cells[lr]) - len(done[lr])
            far = sum(v > ax.get_ylim()[1] for v in done[lr]) if monitor(workload) == "val/loss" else 0
            if missing or far:
                ax.annotate(", ".join(filter(None, [f"{missing} diverged" if missing else "",
                                                    f"{far} off the chart" if far else ""])),
                            (lr, 0.97), xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=7,
                            color="tab:red", rotation=90)
        chosen = best(cells, workload)
        ax.axvline(chosen, color="0.3", ls=":", lw=1, label=f"best grid lr {chosen:g}")
        for (seed, method), (run, lr) in trained.items():
            if lr is None:
                continue
            color, marker = METHODS[method]
            result = value(run, workload)
            if result is not None:
                ax.plot(lr, result, marker, color=color, ms=11, mec="k", mew=0.5, zorder=4)
            ax.plot(lr, 0.02, marker, color=color, ms=7, alpha=0.7, transform=ax.get_xaxis_transform(),
                    clip_on=False)
        for method, (color, marker) in METHODS.items():  # legend entries, once
            ax.plot([], [], marker, color=color, ms=8, label=f"LR finder's {method}, trained")
        lrs = list(cells) + [lr for _, lr in trained.values() if lr]
        ax.set_xscale("log")
        ax.set_xlim(min(lrs) / 1.6, max(lrs) * 1.6)
        ax.set_xlabel(f"learning rate ({runs[0].config['optimizer']['name']}; bottom: every suggested lr)")
        ax.set_ylabel(f"final {monitor(workload)}")
        ax.set_title(workload, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    figure.savefig(out, dpi=90)


def main(argv: list[str] | None = None) -> None:
    parser = workload_arguments("lr_find_grid", __doc__.splitlines()[0], list(GRIDS))
    parser.add_argument("--transformer-seeds", type=int, default=1, help="the transformer's seeds (--seeds: the others')")
    parser.add_argument("--grid", action="append", default=[], metavar="WORKLOAD=LR,LR,...",
                        help="another lr grid for a workload (default: GRIDS)")
    args = parser.parse_args(argv)
    workloads = runs_by_workload("lr_find_grid", args, lambda workload: sweeps(workload, args))
    draw(workloads, args.out)
    print_tables(workloads, report, args)


if __name__ == "__main__":
    main()
