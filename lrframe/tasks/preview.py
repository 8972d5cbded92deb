"""``task=preview``: the lr (and momentum) of every optimizer step of the configured run, untrained.

Writes ``schedule.csv`` (``step,epoch,lr[,momentum]``: ``lr`` is the first parameter group's) and
``schedule.png`` (lr against step, epochs marked) in the run directory, and prints one summary
line. It evaluates the same ``RunSchedule`` that ``task=fit`` steps, and imports neither torch nor
Lightning (but for a user's data, whose loaders size the epoch), so a million steps take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lrframe.config.validate import Plan

#: at most this many points per curve in the figure (min/max per bucket beyond)
PLOT_POINTS = 4000


@dataclass(frozen=True)
class Table:
    """The planned schedule, one entry per optimizer step."""

    steps_per_epoch: int
    warmup_steps: int
    lr: list[float]
    momentum: list[float] | None


def table(plan: Plan, lr: float | None = None) -> Table:
    """The schedule for base lr ``lr`` (the plan's effective lr by default)."""
    lr = lr or plan.lr
    schedule, total = plan.schedule(lr), plan.clock.total_steps
    lrs = [lr * schedule(step) for step in range(total)]
    momentum = [schedule.momentum(step) for step in range(total)] if schedule.schedules_momentum else None
    return Table(plan.clock.steps_per_epoch, schedule.warmup_steps, lrs, momentum)


def write_csv(rows: Table, path: Path) -> None:
    """``step,epoch,lr[,momentum]``; floats as Python's shortest round-trip repr."""
    spe = rows.steps_per_epoch
    if rows.momentum is None:
        lines = [f"{s},{s // spe},{lr!r}\n" for s, lr in enumerate(rows.lr)]
    else:
        lines = [f"{s},{s // spe},{lr!r},{m!r}\n" for s, (lr, m) in enumerate(zip(rows.lr, rows.momentum))]
    header = "step,epoch,lr" + (",momentum" if rows.momentum is not None else "") + "\n"
    path.write_text(header + "".join(lines))


def write_schedule_csv(plan: Plan, run_dir: Path, lr: float | None = None) -> Table:
    """The planned ``schedule.csv`` of a run (``task=fit`` writes it too, with an lr found for lr=auto);
    returns the table."""
    rows = table(plan, lr)
    write_csv(rows, run_dir / "schedule.csv")
    return rows


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


def title(plan: Plan) -> str:
    """The figure's title: the schedule and warmup chosen."""
    return f"scheduler={plan.config['scheduler']['name']}, warmup={plan.config['warmup']['name']}"


def png(rows: Table, title: str) -> bytes:
    """The figure ``plot`` draws, as PNG bytes (TensorBoard's image of a training run's schedule)."""
    import io

    buffer = io.BytesIO()
    plot(rows, buffer, title)
    return buffer.getvalue()


def plot(rows: Table, path, title: str) -> None:
    """lr (and momentum) against the optimizer step; epochs on the top axis, warmup's end dashed.
    ``path``: a file name or a binary file object (PNG)."""
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
    axes[0].secondary_xaxis("top", functions=(lambda s: s / spe, lambda e: e * spe)).set_xlabel("epoch")
    axes[0].set_title(title, fontsize=9)
    if rows.warmup_steps:
        axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("optimizer step")
    axes[-1].set_xlim(0, max(total - 1, 1))
    figure.savefig(path, dpi=100, format="png")


def summary(plan: Plan, rows: Table) -> str:
    scaled = (f" = optimizer.lr {plan.config['optimizer']['lr']:g} x lr_scaling {plan.lr_scale:g}"
              if plan.lr_scale != 1 else "")
    return (f"{plan.clock.total_steps} steps ({plan.clock.epochs:g} epochs x {rows.steps_per_epoch} steps/epoch), "
            f"global batch {plan.global_batch}, lr {plan.lr:g}{scaled}, warmup {rows.warmup_steps} steps")


def run(plan: Plan, run_dir: Path) -> dict:
    if plan.clock is None:  # a user's data: its loaders say how many steps an epoch has
        from lrframe.data.build import build_data

        _, plan = build_data(plan)
    rows = table(plan)
    write_csv(rows, run_dir / "schedule.csv")
    plot(rows, run_dir / "schedule.png", title(plan))
    print(f"preview: {summary(plan, rows)}; wrote schedule.csv and schedule.png in {run_dir}")
    return {"total_steps": plan.clock.total_steps, "warmup_steps": rows.warmup_steps}
