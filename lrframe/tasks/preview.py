"""``task=preview``: the lr (and momentum) of every optimizer step of the configured run, untrained.

Writes ``schedule.csv`` (``step,epoch,lr[,momentum]``: ``lr`` is the first parameter group's; with
``swa``, SWALR's lr from SWA's start; with a schedule-free optimizer, the lr it computes itself) and
``schedule.png`` (lr, and momentum where scheduled, against step; epochs, the end of warmup and
SWA's start marked) in the run directory, and prints one summary line. It evaluates the same
``RunSchedule`` that ``task=fit`` steps, and imports neither torch nor Lightning (but for a user's
data, whose loaders size the epoch), so a million steps take seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from lrframe.config.errors import show
from lrframe.config.groups import is_schedule_free
from lrframe.config.validate import Plan
from lrframe.schedules import schedule_free

#: at most this many points per curve in the figure (min/max per bucket beyond)
PLOT_POINTS = 4000


@dataclass(frozen=True)
class Table:
    """The planned schedule, one entry per optimizer step."""

    steps_per_epoch: int
    warmup_steps: int
    lr: list[float]
    momentum: list[float] | None
    swa_step: int | None = None  # SWA's first optimizer step (SWALR's lr from there on)


def table(plan: Plan, lr: float | None = None) -> Table:
    """The schedule for base lr ``lr`` (the plan's effective lr by default)."""
    lr = lr or plan.lr
    schedule, total = plan.schedule(lr), plan.clock.total_steps
    lrs = [schedule.lr(step, lr) for step in range(total)]
    momentum = [schedule.momentum(step) for step in range(total)] if schedule.schedules_momentum else None
    swa = schedule.swa.start_step if schedule.swa is not None else None
    return Table(plan.clock.steps_per_epoch, schedule.warmup_steps, lrs, momentum, swa)


def write_csv(rows: Table, path: Path) -> None:
    """``step,epoch,lr[,momentum]``; floats as Python's shortest round-trip repr."""
    spe = rows.steps_per_epoch
    if rows.momentum is None:
        lines = [f"{s},{s // spe},{lr!r}\n" for s, lr in enumerate(rows.lr)]
    else:
        lines = [f"{s},{s // spe},{lr!r},{m!r}\n" for s, (lr, m) in enumerate(zip(rows.lr, rows.momentum))]
    header = "step,epoch,lr" + (",momentum" if rows.momentum is not None else "") + "\n"
    path.write_text(header + "".join(lines))


def write_schedule_csv(plan: Plan, run_dir: Path, lr: float | None = None) -> None:
    """The planned ``schedule.csv`` of a run (``task=fit`` writes it too, with an lr found for lr=auto)."""
    write_csv(table(plan, lr), run_dir / "schedule.csv")


def _envelope(values: list[float]):
    """x and y of a curve thinned to about PLOT_POINTS points, keeping each bucket's min and max."""
    import numpy as np

    y = np.asarray(values)
    bucket = max(1, -(-len(y) // (PLOT_POINTS // 2)))
    if bucket == 1:
        return np.arange(len(y)), y
    padded = np.pad(y, (0, -len(y) % bucket), mode="edge").reshape(-1, bucket)
    starts = np.arange(len(padded)) * bucket
    x = np.stack([starts, np.minimum(starts + bucket - 1, len(y) - 1)], axis=1).ravel()
    low, high = padded.min(axis=1), padded.max(axis=1)
    first_is_low = padded.argmin(axis=1) <= padded.argmax(axis=1)
    return x, np.where(first_is_low[:, None], np.stack([low, high], 1), np.stack([high, low], 1)).ravel()


def plot(rows: Table, path: Path, title: str) -> None:
    """lr (and momentum) against the optimizer step; epochs on the top axis, warmup's end dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves = [("lr", rows.lr)] + ([("momentum", rows.momentum)] if rows.momentum is not None else [])
    figure = Figure(figsize=(8, 2.6 * len(curves) + 0.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(curves), 1, sharex=True, squeeze=False)[:, 0]
    spe, total = rows.steps_per_epoch, len(rows.lr)
    for ax, (label, values) in zip(axes, curves):
        ax.plot(*_envelope(values), lw=1.2)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if total // spe <= 40:
            for boundary in range(spe, total, spe):
                ax.axvline(boundary, color="0.85", lw=0.6, zorder=0)
        if rows.warmup_steps:
            ax.axvline(rows.warmup_steps, color="tab:orange", ls="--", lw=0.9, label="end of warmup")
        if rows.swa_step is not None:
            ax.axvline(rows.swa_step, color="tab:green", ls="--", lw=0.9, label="SWA starts (SWALR)")
    axes[0].secondary_xaxis("top", functions=(lambda s: s / spe, lambda e: e * spe)).set_xlabel("epoch")
    axes[0].set_title(title, fontsize=9)
    if rows.warmup_steps or rows.swa_step is not None:
        axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("optimizer step")
    axes[-1].set_xlim(0, max(total - 1, 1))
    figure.savefig(path, dpi=100)


def summary(plan: Plan, rows: Table) -> str:
    scaled = (f" = optimizer.lr {plan.config['optimizer']['lr']:g} x lr_scaling {plan.lr_scale:g}"
              if plan.lr_scale != 1 else "")
    momentum = "" if rows.momentum is None else f", momentum {min(rows.momentum):g} to {max(rows.momentum):g}"
    nth = rows.swa_step // rows.steps_per_epoch + 1 if rows.swa_step is not None else 0
    swa = "" if rows.swa_step is None else (f", SWA from step {rows.swa_step} (epoch {nth} of "
                                            f"{math.ceil(len(rows.lr) / rows.steps_per_epoch)}), lr annealed to "
                                            f"swa_lrs {show(plan.config['swa']['swa_lrs'])}")
    return (f"{plan.clock.total_steps} steps ({plan.clock.epochs:g} epochs x {rows.steps_per_epoch} steps/epoch), "
            f"global batch {plan.global_batch}, lr {plan.lr:g}{scaled}, warmup {rows.warmup_steps} steps"
            f"{momentum}{swa}")


def run(plan: Plan, run_dir: Path) -> dict:
    if plan.clock is None:  # a user's data: its loaders say how many steps an epoch has
        from lrframe.data.build import build_data

        _, plan = build_data(plan)
    rows = table(plan)
    write_csv(rows, run_dir / "schedule.csv")
    cfg = plan.config
    title = f"scheduler={cfg['scheduler']['name']}, warmup={cfg['warmup']['name']}"
    if is_schedule_free(cfg["optimizer"]):
        title = f"{schedule_free.label(cfg['optimizer'])} (its own lr: no schedule), warmup={cfg['warmup']['name']}"
    elif cfg["swa"]["name"] != "none":
        title += f", swa={cfg['swa']['name']}"
    plot(rows, run_dir / "schedule.png", title)
    print(f"preview: {summary(plan, rows)}; wrote schedule.csv and schedule.png in {run_dir}")
    return {"total_steps": plan.clock.total_steps, "warmup_steps": rows.warmup_steps}
