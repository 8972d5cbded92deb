"""``task=lr_find``: the LR range test on exactly what ``task=fit`` would train; and ``optimizer.lr=auto``.

The model, initialization, data, batch size, gradient accumulation and optimizer come from the
same builders as ``task=fit`` (``lrframe.training.pieces.build``, ``build_optimizer``), seeded as
``task=fit`` seeds them; a plain torch loop (``lrframe.range_test.loop``) replaces Lightning's, so the
test imports no Lightning. A run directory gets ``lr_find.csv`` (``lr,loss,smoothed_loss`` per
step), ``lr_find.png``, ``lr_find.json`` (the suggestion and every method's value) and the figure
in TensorBoard; no checkpoints. Random state is restored afterwards, so a ``task=fit`` run that
follows in the same process trains exactly as it would have without the test.
"""

from __future__ import annotations

import csv
import json
import math
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lrframe.config.validate import RANGE_TEST_PRECISIONS, Plan, check_schedule
from lrframe.config.errors import ConfigError
from lrframe.range_test.loop import preserved_random_state, range_test, seed_everything
from lrframe.optim.optimizer import build_optimizer
from lrframe.range_test.arithmetic import NoSuggestion, Recorder, Suggestions, ramp, suggest
from lrframe.training.pieces import build


@dataclass(frozen=True)
class Result:
    """A finished test: its curve, the planned number of steps, and the suggestions (or why none)."""

    curve: Recorder
    num_steps: int
    method: str
    suggestions: Suggestions | None
    reason: str | None
    seconds: float

    @property
    def lr(self) -> float | None:
        return self.suggestions.values[self.method] if self.suggestions else None


def device(trainer: dict) -> torch.device:
    """The device ``trainer.accelerator`` names (``auto``: CUDA, else MPS, else CPU)."""
    accelerator = trainer.get("accelerator", "auto")
    if accelerator == "auto":
        accelerator = ("cuda" if torch.cuda.is_available()
                       else "mps" if torch.backends.mps.is_available() else "cpu")
    return torch.device("cuda" if accelerator == "gpu" else accelerator)


def clipper(trainer: dict):
    """Gradient clipping as Lightning's ``gradient_clip_val`` / ``gradient_clip_algorithm`` do it."""
    value = trainer.get("gradient_clip_val")
    if not value:
        return None
    if trainer.get("gradient_clip_algorithm") == "value":
        return lambda params: torch.nn.utils.clip_grad_value_(params, value)
    return lambda params: torch.nn.utils.clip_grad_norm_(params, value)


def run_test(plan: Plan) -> Result:
    """Run the plan's LR range test (``plan.range_test``) and read its suggestions."""
    started = time.perf_counter()
    cfg, (_, settings) = plan.config, plan.range_test
    trainer = cfg["trainer"]
    precision = RANGE_TEST_PRECISIONS[trainer.get("precision")]
    with preserved_random_state():
        seed_everything(cfg["seed"])  # as task=fit seeds before building: the same initial weights
        pieces = build(plan, settings["start_lr"])
        plan = pieces.plan
        num_steps = settings["num_steps"] or plan.clock.steps_per_epoch
        trained = pieces.module if not pieces.own_module else pieces.parameters
        trained.to(device(trainer))
        optimizer = build_optimizer(pieces.parameters, cfg["optimizer"], settings["start_lr"])
        curve = range_test(trained, optimizer, pieces.data.train,
                           ramp(settings["start_lr"], settings["end_lr"], num_steps, settings["mode"]),
                           smoothing=settings["smoothing"], diverge_factor=settings["diverge_factor"],
                           loss_fn=pieces.module.loss_fn if pieces.own_module else None,
                           batch_loss=pieces.batch_loss(),
                           # one step sees the global batch: with several devices this process
                           # accumulates every device's share, as DDP's gradient average would
                           accumulate=trainer.get("accumulate_grad_batches", 1) * plan.devices,
                           clip=clipper(trainer), autocast_dtype=precision and getattr(torch, precision))
    try:
        suggestions, reason = suggest(curve.lrs, curve.smoothed, num_steps), None
    except NoSuggestion as error:
        suggestions, reason = None, str(error)
    return Result(curve, num_steps, settings["suggestion"], suggestions, reason,
                  round(time.perf_counter() - started, 3))


def summary(result: Result) -> dict:
    """What ``lr_find.json`` holds."""
    curve, values = result.curve, result.suggestions
    diverged = curve.diverged_at
    return {
        "suggestion": result.lr,
        "method": result.method,
        "methods": values.values if values else None,
        "min_loss_lr": values.min_loss_lr if values else None,
        "reason": result.reason,
        "num_steps": result.num_steps,
        "steps_run": len(curve.lrs),
        "diverged": None if diverged is None else {"step": diverged, "lr": curve.lrs[diverged]},
        "seconds": result.seconds,
    }


def figure(result: Result, settings: dict):
    """Raw and smoothed loss against lr (log axis), every suggestion marked, the divergence shown:
    an RGBA image (H, W, 4), drawn once for both the PNG and TensorBoard."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    from matplotlib.ticker import NullFormatter

    curve = result.curve
    fig = Figure(figsize=(7, 4.5), dpi=110)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.11, top=0.89)  # fixed: a layout engine costs ~0.5 s
    ax = fig.add_subplot()
    ax.plot(curve.lrs, curve.losses, color="0.75", lw=1, label="loss")
    ax.plot(curve.lrs, curve.smoothed, color="C0", lw=2, marker="o" if len(curve.lrs) < 10 else None,
            label=f"smoothed loss (beta {settings['smoothing']:g})")
    if result.suggestions:
        values = result.suggestions.values
        ax.axvline(result.suggestions.min_loss_lr, color="0.4", ls="--", lw=1,
                   label=f"minimum loss at lr {result.suggestions.min_loss_lr:.3g}")
        for (name, lr), color in zip(values.items(), ("C2", "C4", "C5")):
            chosen = name == result.method
            ax.axvline(lr, color="C3" if chosen else color, lw=2 if chosen else 1, ls="-" if chosen else ":",
                       label=f"{name}: {lr:.3g}" + (" (suggestion)" if chosen else ""))
    end = len(curve.lrs) if curve.diverged_at is None else curve.diverged_at
    if curve.diverged_at is not None:
        ax.axvline(curve.lrs[end], color="k", ls="-.", lw=1.5,
                   label=f"stopped: diverged at lr {curve.lrs[end]:.3g} (step {end})")
    shown = [v for v in curve.smoothed[:end] if math.isfinite(v)]  # the blow-up would flatten the rest
    lows = [v for v in curve.losses[:end] + shown if math.isfinite(v)]
    if shown:
        ax.set_ylim(min(lows) * 0.9, max(shown) * 1.15)
    ax.set_xscale("log")
    ax.set_xlim(settings["start_lr"], settings["end_lr"])  # the whole range planned, however far the test got
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    if result.lr:
        ax.set_title(f"LR range test: suggested lr {result.lr:.3g} ({result.method})")
    else:
        ax.set_title("LR range test: no reliable suggestion\n" + textwrap.fill(result.reason, 90), fontsize=9)
    ax.legend(fontsize=8)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def is_rank_zero() -> bool:
    """False in the extra processes of a multi-device run (they write nothing)."""
    from lrframe.config.launch import is_secondary_rank

    return not is_secondary_rank()


def write(result: Result, plan: Plan, run_dir: Path) -> None:
    """lr_find.csv, lr_find.json, lr_find.png and, with logger=tensorboard, the curve and figure there."""
    curve = result.curve
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "lr_find.csv", "w", newline="") as file:
        rows = csv.writer(file)
        rows.writerow(["lr", "loss", "smoothed_loss"])
        rows.writerows(zip(curve.lrs, curve.losses, curve.smoothed))
    (run_dir / "lr_find.json").write_text(json.dumps(summary(result), indent=2) + "\n")
    image = figure(result, plan.range_test[1])
    from matplotlib.image import imsave

    imsave(run_dir / "lr_find.png", image)
    if plan.config["logger"]["name"] != "tensorboard":
        return
    from torch.utils.tensorboard import SummaryWriter

    # its own TensorBoard run: a resumed training run purges the steps it redoes from the files of
    # tensorboard/ itself, and the test's steps are not training's
    with SummaryWriter(run_dir / "tensorboard" / "lr_find") as writer:
        for step, values in enumerate(zip(curve.lrs, curve.losses, curve.smoothed)):
            for tag, value in zip(("lr", "loss", "smoothed_loss"), values):
                writer.add_scalar(f"lr_find/{tag}", value, step)
        writer.add_image("lr_find", image[..., :3], 0, dataformats="HWC")
        writer.add_text("lr_find", f"```\n{json.dumps(summary(result), indent=2)}\n```", 0)


def no_suggestion(result: Result, key: str, run_dir: Path) -> str:
    """Why there is no suggestion, what to change, and where the curve is: one line."""
    hint = f"lower {key}.start_lr" if result.curve.diverged_at is not None else f"raise {key}.end_lr"
    return f"no reliable suggestion: {result.reason}; {hint} (curve: {run_dir / 'lr_find.png'})"


def find_lr(plan: Plan, run_dir: Path) -> float:
    """``optimizer.lr=auto``: run the test, write its outputs, and return the suggested lr.

    Raises ConfigError (one line) when there is no reliable suggestion, or when the schedule's
    arguments do not fit the lr found (``scheduler.eta_min`` above it, ...).
    """
    result = run_test(plan)
    key = plan.range_test[0]
    if is_rank_zero():
        write(result, plan, run_dir)
    if result.lr is None:
        raise ConfigError("optimizer.lr", "auto",
                          no_suggestion(result, key, run_dir) + "; or set optimizer.lr")
    check_schedule(plan, result.lr, f"optimizer.lr=auto found lr {result.lr:.4g}")
    if is_rank_zero():
        print(f"optimizer.lr=auto: training with lr {result.lr:.4g}, the LR range test's {result.method} "
              f"suggestion ({len(result.curve.lrs)} steps in {result.seconds:.1f} s; curve in "
              f"{run_dir / 'lr_find.png'})")
    return result.lr


def run(plan: Plan, run_dir: Path) -> dict:
    result = run_test(plan)
    write(result, plan, run_dir)
    if result.lr is None:
        raise ConfigError("task", "lr_find", no_suggestion(result, "task", run_dir))
    values = result.suggestions.values
    others = ", ".join(f"{name} {lr:.3g}" for name, lr in values.items() if name != result.method)
    print(f"lr_find: suggested lr {result.lr:.3g} ({result.method}; {others}; minimum loss at "
          f"{result.suggestions.min_loss_lr:.3g}) after {len(result.curve.lrs)} steps in "
          f"{result.seconds:.1f} s; run directory: {run_dir}")
    return summary(result)
