"""``task=preview``: the lr (and momentum) of every optimizer step of the configured run, untrained.

Writes ``schedule.csv`` (``step,epoch,lr[,momentum][,lr/<group>...]``: ``lr`` is the run's base lr
times its schedule, the ``default`` group's; ``lr/<group>`` each other parameter group's, from
``lr_multipliers``, ``param_groups`` and ``layer_decay``; with ``swa``, SWALR's lr from SWA's start;
with a schedule-free optimizer, the lr it computes itself) and ``schedule.png`` (lr, and momentum
where scheduled, against step; epochs, the end of warmup and SWA's start marked) in the run
directory, and prints one summary line. It evaluates the same ``RunSchedule`` that ``task=fit``
steps, and imports neither torch nor Lightning (but for a user's data, whose loaders size the
epoch, and a model whose parameter groups the config alone does not say: see ``model_layers``), so
a million steps take seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from lrframe.config.errors import show
from lrframe.config.groups import is_schedule_free
from lrframe.config.registry import chosen
from lrframe.config.validate import Plan
from lrframe.schedules import RunSchedule

#: at most this many points per curve in the figure (min/max per bucket beyond)
PLOT_POINTS = 4000


@dataclass(frozen=True)
class Table:
    """The planned schedule, one entry per optimizer step."""

    steps_per_epoch: int
    warmup_steps: int
    lr: list[float]
    momentum: list[float] | None
    groups: dict[str, list[float]] = field(default_factory=dict)  # the other parameter groups' lrs, by name
    swa_step: int | None = None  # SWA's first optimizer step (SWALR's lr from there on)


def table(plan: Plan, lr: float | None = None, layers: int | None = None) -> Table:
    """The schedule for base lr ``lr`` (the plan's effective lr by default); ``layers``: the model's
    number of layers for ``optimizer.layer_decay`` (a built-in's is known from its config)."""
    lr = lr or plan.lr
    schedule, total = plan.schedule(lr), plan.clock.total_steps
    lrs = [schedule.lr(step, lr) for step in range(total)]
    momentum = [schedule.momentum(step) for step in range(total)] if schedule.schedules_momentum else None
    swa = schedule.swa.start_step if schedule.swa is not None else None
    return Table(plan.clock.steps_per_epoch, schedule.warmup_steps, lrs, momentum,
                 group_lrs(plan, lr, schedule, layers or plan.layers), swa)


def group_lrs(plan: Plan, lr: float, run: RunSchedule, layers: int | None) -> dict[str, list[float]]:
    """Each parameter group's lr at every step but the default group's: on the run's schedule ``run``
    at its multiplier, or on its own schedule (``optimizer.param_groups``)."""
    from lrframe.config.param_groups import groups

    own = plan.group_schedules(lr)
    return {group.name: [own.get(group.pattern, run).lr(step, lr * group.multiplier, index)
                         for step in range(plan.clock.total_steps)]
            for index, group in enumerate(groups(plan.config["optimizer"], layers)) if group.name != "default"}


def write_csv(rows: Table, path: Path) -> None:
    """``step,epoch,lr[,momentum][,lr/<group>...]``; floats as Python's shortest round-trip repr."""
    spe = rows.steps_per_epoch
    columns = [rows.lr, *([rows.momentum] if rows.momentum is not None else []), *rows.groups.values()]
    lines = [f"{s},{s // spe}," + ",".join(repr(values[s]) for values in columns) + "\n" for s in range(len(rows.lr))]
    header = ",".join(["step", "epoch", "lr", *(["momentum"] if rows.momentum is not None else []),
                       *(f"lr/{name}" for name in rows.groups)]) + "\n"
    path.write_text(header + "".join(lines))


def write_schedule_csv(plan: Plan, run_dir: Path, lr: float | None = None, layers: int | None = None) -> Table:
    """The planned ``schedule.csv`` of a run (``task=fit`` writes it too, with an lr found for lr=auto);
    returns the table."""
    rows = table(plan, lr, layers)
    write_csv(rows, run_dir / "schedule.csv")
    return rows


def model_layers(plan: Plan) -> int | None:
    """Check the parameter groups against the model where the config alone cannot (a pattern of
    ``lr_multipliers``/``param_groups`` on a model other than ``mlp``, ``layer_decay`` on a user's
    model): the model is built (torch is imported for it). Returns a user's model's number of layers
    with ``layer_decay`` (None otherwise: a built-in's is known from its config). A user's
    LightningModule (``module._target_``) is checked when it is built to train."""
    from lrframe.config.param_groups import patterns
    from lrframe.config.registry import is_target

    config = plan.config
    node, model = config["optimizer"], config["model"]
    mlp = not is_target(model) and model["name"] == "mlp"
    if is_target(config["module"]) or not ((patterns(node) and not mlp)
                                          or (node.get("layer_decay") is not None and plan.layers is None)):
        return None
    from lrframe.data.build import build_data
    from lrframe.models.build import build_model
    from lrframe.optim.optimizer import check_groups, model_layer_count

    built = build_model(config, build_data(plan)[0])
    check_groups(built, node)
    return model_layer_count(built, node)


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
    """The figure's title: the schedule and warmup chosen (a schedule-free optimizer's own lr; SWA)."""
    cfg = plan.config
    warmup = chosen("warmup", cfg["warmup"])
    if is_schedule_free(cfg["optimizer"]):
        return f"{chosen('optimizer', cfg['optimizer'])} (its own lr: no schedule), {warmup}"
    swa = f", swa={cfg['swa']['name']}" if cfg["swa"]["name"] != "none" else ""
    return f"{chosen('scheduler', cfg['scheduler'])}, {warmup}{swa}"


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
        ax.plot(*_envelope(values), lw=1.2, label="default" if rows.groups and label == "lr" else None)
        if label == "lr":
            for name, group in rows.groups.items():
                ax.plot(*_envelope(group), lw=1.0, label=name)
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
    if rows.warmup_steps or rows.groups or rows.swa_step is not None:
        axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("optimizer step")
    axes[-1].set_xlim(0, max(total - 1, 1))
    figure.savefig(path, dpi=100, format="png")


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
            f"{momentum}{swa}"
            + (f", {len(rows.groups)} more parameter groups (lr/<group> columns)" if rows.groups else ""))


def run(plan: Plan, run_dir: Path) -> dict:
    if plan.clock is None:  # a user's data: its loaders say how many steps an epoch has
        from lrframe.data.build import build_data

        _, plan = build_data(plan)
    rows = table(plan, layers=model_layers(plan))
    write_csv(rows, run_dir / "schedule.csv")
    plot(rows, run_dir / "schedule.png", title(plan))
    print(f"preview: {summary(plan, rows)}; wrote schedule.csv and schedule.png in {run_dir}")
    return {"total_steps": plan.clock.total_steps, "warmup_steps": rows.warmup_steps}
