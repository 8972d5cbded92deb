"""Schedules at equal budget on the CNN and the character transformer: constant, step, cosine, onecycle, wsd, inverse_sqrt.

    .venv/bin/python scripts/schedules_budget.py --out docs/schedules_budget.png [--runs DIR] [--seeds 3]
        [--cnn-epochs 10] [--transformer-steps 100] [--transformer-lr 0.01] [OVERRIDES]

For each workload (``experiment_runs.WORKLOADS``), every schedule gets the same number of optimizer
steps, the same peak lr (CNN: SGD momentum 0.9 at 0.1; transformer: Adam at ``--transformer-lr``),
the same seeds (model init and batch order) and, except onecycle, the same linear warmup from 0
(CNN: the default, one epoch = 23 steps; transformer: the first tenth of the run). Three
``python train.py -m`` sweeps per workload, because the arms need different keys:

- ``scheduler=none,cosine,wsd,inverse_sqrt`` after the warmup: constant (``none``; ``scheduler=constant``
  is torch's ConstantLR, a factor held for ``total_iters`` then the lr), cosine to 0, wsd (held,
  then 1-sqrt decay to 0 over the last fifth), inverse square root (noam's decay, timescale = the warmup);
- ``scheduler=step`` after the warmup: x0.1 after each third of the rest (ResNet's 30/60 of 90 epochs);
- ``scheduler=onecycle warmup=none``: its own ramp from lr/25 over 30% of the run, cosine down to lr/250000.

The figure draws, per workload, each schedule's lr (its schedule.csv), its training loss minus the
constant lr's on the same batches (a seed fixes the initial weights and the batch order), averaged
over seeds, and the final monitored metric of every seed; the table gives median and range over seeds.
OVERRIDES go to every sweep (e.g. ``trainer.log_every_n_steps=1``).
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiment_runs import Run, print_tables, runs_by_workload, workload_arguments

#: scheduler name -> (label, color)
SCHEDULES = {"none": ("constant", "tab:gray"), "step": ("step", "tab:brown"), "cosine": ("cosine", "tab:blue"),
             "onecycle": ("onecycle", "tab:orange"), "wsd": ("wsd", "tab:green"),
             "inverse_sqrt": ("inverse_sqrt", "tab:purple")}


def sweeps(workload: str, args) -> dict[str, list[str]]:
    """sweep name -> the train.py overrides of that sweep of ``workload``."""
    seeds = "seed=" + ",".join(str(seed) for seed in range(args.seeds))
    if workload == "cnn":
        budget = [f"trainer.max_epochs={args.cnn_epochs}", "trainer.log_every_n_steps=5", seeds]
        warmup = []  # linear, 1 epoch: the default
        step = ["scheduler=step", f"scheduler.step_size={max(1, (args.cnn_epochs - 1) // 3)}"]  # in epochs
    else:
        steps, warmup_steps = args.transformer_steps, max(1, args.transformer_steps // 10)
        budget = [f"trainer.max_steps={steps}", f"optimizer.lr={args.transformer_lr}", "trainer.log_every_n_steps=2",
                  seeds]
        warmup = [f"warmup.steps={warmup_steps}"]
        step = ["scheduler=step", "scheduler.interval=step",
                f"scheduler.step_size={max(1, (steps - warmup_steps) // 3)}"]  # in steps
    return {"warmed": [*budget, "scheduler=none,cosine,wsd,inverse_sqrt", *warmup],
            "step": [*budget, *step, *warmup],
            "onecycle": [*budget, "scheduler=onecycle", "warmup=none"]}


def final(run: Run, metric: str) -> float | None:
    return run.metrics.get(metric) if run.status == "completed" else None


def table(workload: str, runs: list[Run]) -> list[str]:
    """Markdown: one row per schedule, median (range) over seeds of the final val/loss (and val/acc)."""
    metrics = ["val/acc", "val/loss"] if workload == "cnn" else ["val/loss", "val/perplexity"]
    rows = [f"| schedule | seeds | {' | '.join(f'final {m}: median (min-max)' for m in metrics)} | per seed |",
            "|---|---|" + "---|" * len(metrics) + "---|"]
    for name, (label, _) in SCHEDULES.items():
        arm = sorted((r for r in runs if r.config["scheduler"]["name"] == name), key=lambda r: r.config["seed"])
        if not arm:
            continue
        cells = []
        for metric in metrics:
            values = [v for v in (final(r, metric) for r in arm) if v is not None]
            cells.append(f"{statistics.median(values):.4f} ({min(values):.4f}-{max(values):.4f})" if values else "")
        seeds = ", ".join(f"{final(r, metrics[0]):.4f}" if final(r, metrics[0]) is not None else r.status
                          for r in arm)
        rows.append(f"| {label} | {len(arm)} | {' | '.join(cells)} | {seeds} |")
    return rows


def planned_lr(run: Run) -> tuple[list[int], list[float]]:
    """The lr of every optimizer step, from the run's schedule.csv."""
    with open(run.path / "schedule.csv") as file:
        rows = list(csv.DictReader(file))
    return [int(row["step"]) for row in rows], [float(row["lr"]) for row in rows]


def loss_gap(arm: list[Run], constant: list[Run]) -> tuple[list[int], list[float]]:
    """The training loss minus the constant lr's, at each logged step, averaged over the seeds: the
    same seed is the same initial weights and the same batches, so the gap is the schedule's doing."""
    gaps: dict[int, list[float]] = {}
    for run, other in zip(arm, constant):
        reference = {step: value for step, value, _ in other.scalars("train/loss")}
        for step, value, _ in run.scalars("train/loss"):
            if step in reference:
                gaps.setdefault(step, []).append(value - reference[step])
    steps = sorted(gaps)
    return steps, [statistics.mean(gaps[step]) for step in steps]


def draw(workloads: dict[str, list[Run]], out: Path) -> None:
    figure = Figure(figsize=(16, 4.3 * len(workloads)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(workloads), 3, squeeze=False)
    for (lr_ax, loss_ax, final_ax), (workload, runs) in zip(axes, workloads.items()):
        monitor = "val/acc" if workload == "cnn" else "val/loss"
        arms = {name: sorted((r for r in runs if r.config["scheduler"]["name"] == name), key=lambda r: r.config["seed"])
                for name in SCHEDULES}
        names = [name for name, arm in arms.items() if arm]
        for x, name in enumerate(names):
            label, color = SCHEDULES[name]
            lr_ax.plot(*planned_lr(arms[name][0]), color=color, label=label)
            if arms["none"]:
                loss_ax.plot(*loss_gap(arms[name], arms["none"]), color=color, label=label, marker=".", ms=3)
            values = [v for v in (final(r, monitor) for r in arms[name]) if v is not None]
            final_ax.plot([x] * len(values), values, "o", color=color, alpha=0.7)
            if values:
                final_ax.plot([x - 0.25, x + 0.25], [statistics.median(values)] * 2, color=color, lw=2)
        budget = runs[0].metrics.get("global_step") if runs[0].status == "completed" else "?"
        optimizer = runs[0].config["optimizer"]
        lr_ax.set_title(f"{workload}: {optimizer['name']}, peak lr {optimizer['lr']:g}, {budget} steps: the lr",
                        fontsize=10)
        lr_ax.set_xlabel("optimizer step")
        lr_ax.set_ylabel("learning rate")
        lr_ax.legend(fontsize=8)
        loss_ax.set_title("training loss minus constant's, same batches (mean over seeds)", fontsize=10)
        loss_ax.set_xlabel("optimizer step")
        loss_ax.set_ylabel("training loss gap")
        final_ax.set_xticks(range(len(names)), [SCHEDULES[n][0] for n in names], fontsize=8)
        final_ax.set_ylabel(f"final {monitor}")
        final_ax.set_title(f"final {monitor}, every seed (bar: median)", fontsize=10)
        for ax in (lr_ax, loss_ax, final_ax):
            ax.grid(alpha=0.3)
    figure.savefig(out, dpi=90)


def main(argv: list[str] | None = None) -> None:
    parser = workload_arguments("schedules_budget", __doc__.splitlines()[0], ["cnn", "transformer"])
    parser.add_argument("--transformer-lr", type=float, default=0.01, help="the transformer's peak lr (Adam)")
    args = parser.parse_args(argv)
    workloads = runs_by_workload("schedules_budget", args, lambda workload: sweeps(workload, args))
    draw(workloads, args.out)
    print_tables(workloads, table, args)


if __name__ == "__main__":
    main()
