"""The schedule families side by side, from the same conf/scheduler configs a run uses (initial lr 1).

    .venv/bin/python scripts/plot_schedules.py [OUTPUT.png]      # default: docs/schedules.png

Every curve is the default job's run (20 epochs of 23 steps, no warmup) with ``optimizer.lr=1``;
the few overrides that fit a schedule to that run are listed in its legend.
"""

from __future__ import annotations

import sys
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lrframe.cli.precheck import compose_config
from lrframe.config.validate import validate

REPO = Path(__file__).resolve().parents[1]

#: panel title -> [(scheduler, overrides that fit it to the 460-step run)]
FAMILIES = {
    "step decays": [("step", ()), ("multistep", ()), ("piecewise", ("scheduler.values=[1.0,0.1,0.01]",))],
    "exponential decays": [("exponential", ()), ("natural_exp", ()), ("inverse_time", ()),
                           ("lambda", ()), ("multiplicative", ("scheduler.lr_lambda='1 - 0.02 * epoch'",))],
    "polynomial and linear": [("polynomial", ()), ("polynomial", ("scheduler.power=2.0",)),
                              ("polynomial", ("scheduler.unit=epoch", "scheduler.decay_steps=5",
                                              "scheduler.cycle=true")),
                              ("linear", ()), ("constant", ()), ("poly", ()), ("tanh", ())],
    "cosine": [("cosine", ()), ("cosine_restarts", ()), ("cosine_restarts", ("scheduler.T_0=2", "scheduler.T_mult=2")),
               ("wsd", ()), ("cosine_with_restarts", ("scheduler.num_cycles=3",)), ("cosine_with_min_lr", ()),
               ("warmup_stable_decay", ())],
    "cyclical": [("cyclic", ()), ("cyclic", ("scheduler.mode=triangular2",)), ("onecycle", ())],
    "transformer and composite": [("noam", ("scheduler.warmup_steps=46", "scheduler.d_model=0.021739130434782608")),
                                  ("inverse_sqrt", ("scheduler.timescale=23",)), ("sequential", ()), ("chained", ()),
                                  ("constant_with_warmup", ())],
}


def curve(name: str, overrides: tuple[str, ...]) -> tuple[list[float], list[float]]:
    """(epoch, lr) at every optimizer step of the default run with this scheduler and lr 1."""
    plan = validate(compose_config([f"scheduler={name}", "warmup=none", "optimizer.lr=1.0", *overrides],
                                   REPO / "conf"))
    schedule, spe = plan.schedule(), plan.clock.steps_per_epoch
    steps = range(plan.clock.total_steps)
    return [s / spe for s in steps], [schedule(s) for s in steps]


def label(name: str, overrides: tuple[str, ...]) -> str:
    shown = ", ".join(o.removeprefix("scheduler.") for o in overrides if "d_model" not in o)
    return f"{name} ({shown})" if shown else name


def main(output: Path) -> None:
    figure = Figure(figsize=(15, 8.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 3, sharex=True).ravel()
    for ax, (title, members) in zip(axes, FAMILIES.items()):
        for name, overrides in members:
            ax.plot(*curve(name, overrides), lw=1.4, label=label(name, overrides))
        ax.set_title(title)
        ax.set_ylim(-0.03, 1.08)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    for ax in axes[3:]:
        ax.set_xlabel("epoch (23 optimizer steps each)")
    for ax in axes[::3]:
        ax.set_ylabel("lr (initial lr 1)")
    figure.suptitle("lrframe's schedules with their conf/scheduler defaults: scheduler=NAME, the default 20-epoch run")
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=90)
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "schedules.png")
