"""The seed's error surface: one global learning rate against per-parameter adaptive ones.

    .venv/bin/python scripts/error_surface.py --out docs/error_surface.png [--steps 3000]

A convex bowl whose valley is long and flat along one axis and steep across it (curvatures 0.001
and 1, a condition number of 1000; the valley tilted by 0.02 rad, as a real one is never exactly
along an axis). Each trajectory is an lrframe config: the optimizer is built by
``lrframe.optim.optimizer.build_optimizer`` from ``conf/optimizer/*.yaml`` and its lr follows the configured
schedule through ``lrframe.schedules.scheduler.ScheduledLR``, stepped once per optimizer step as in a run.

The seed (Lee's course notes) writes AdaGrad with the root *mean* square of past gradients,
``sigma_t = sqrt(sum g^2 / (t + 1))``; torch's ``Adagrad`` (Duchi et al.) divides by the root of
the *sum*, ``sqrt(t + 1)`` times more. So the seed's AdaGrad is torch's with its lr multiplied by
``sqrt(1 + t)`` (``scheduler=lambda``, ``lr_lambda='sqrt(1 + epoch)'``), and the seed's cure,
"AdaGrad with lr decay ``eta / sqrt(t + 1)``", is exactly torch's Adagrad at a constant lr.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lrframe.cli.precheck import compose_config
from lrframe.config.validate import validate
from lrframe.schedules.scheduler import ScheduledLR
from lrframe.optim.optimizer import build_optimizer

REPO = Path(__file__).resolve().parents[1]
CURVATURES = (0.001, 1.0)  # along the valley, across it
TILT = 0.02               # radians between the valley and the first axis
START = (10.0, 1.0)

#: panel title -> config overrides (every run: no warmup, trainer.max_steps = --steps)
CASES = {
    "SGD, large lr 1.98 (oscillates across the valley)":
        ["optimizer=sgd", "optimizer.momentum=0", "optimizer.lr=1.98", "scheduler=none"],
    "SGD, tiny lr 0.01 (crawls along the valley)":
        ["optimizer=sgd", "optimizer.momentum=0", "optimizer.lr=0.01", "scheduler=none"],
    "AdaGrad as in the seed, lr 0.1 (bursts near the end)":
        ["optimizer=adagrad", "optimizer.lr=0.1", "scheduler=lambda", "scheduler.interval=step",
         "scheduler.lr_lambda='sqrt(1 + epoch)'"],
    "AdaGrad with lr decay 0.1 / sqrt(t + 1) (torch's Adagrad)":
        ["optimizer=adagrad", "optimizer.lr=0.1", "scheduler=none"],
    "RMSprop, lr 0.01, alpha 0.9":
        ["optimizer=rmsprop", "optimizer.lr=0.01", "optimizer.alpha=0.9", "scheduler=none"],
    "Adam, lr 0.01":
        ["optimizer=adam", "optimizer.lr=0.01", "scheduler=none"],
}


def rotation() -> torch.Tensor:
    c, s = math.cos(TILT), math.sin(TILT)
    return torch.tensor([[c, s], [-s, c]], dtype=torch.float64)


class Bowl(torch.nn.Module):
    """L(w) = 0.5 * sum_i curvature_i * (R w)_i^2: a convex bowl with its minimum at 0."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
        self.register_buffer("curvatures", torch.tensor(CURVATURES, dtype=torch.float64))
        self.register_buffer("rotation", rotation())

    def forward(self) -> torch.Tensor:
        return 0.5 * (self.curvatures * (self.rotation @ self.w) ** 2).sum()


def trajectory(overrides: list[str], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The weights before each step and after the last, and the loss at each of them."""
    run = ["warmup=none", "trainer.max_epochs=null", f"trainer.max_steps={steps}", *overrides]
    plan = validate(compose_config(run, REPO / "conf"))
    bowl = Bowl()
    optimizer = build_optimizer(bowl, plan.config["optimizer"], plan.lr)
    scheduler = ScheduledLR(optimizer, plan.schedule())
    weights, losses = [bowl.w.detach().numpy().copy()], []
    for _ in range(steps):
        loss = bowl()
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        weights.append(bowl.w.detach().numpy().copy())
    losses.append(bowl().item())
    return np.array(weights), np.array(losses)


def draw(runs: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, steps: int) -> None:
    figure = Figure(figsize=(15, 11), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(3, 3, height_ratios=[1, 1, 1.1])
    x, y = np.meshgrid(np.linspace(-1.5, 11.5, 300), np.linspace(-1.6, 1.6, 200))
    rotated = np.einsum("ij,jkl->ikl", rotation().numpy(), np.stack([x, y]))
    surface = 0.5 * (CURVATURES[0] * rotated[0] ** 2 + CURVATURES[1] * rotated[1] ** 2)
    colors = dict(zip(runs, ["tab:red", "tab:gray", "tab:blue", "tab:cyan", "tab:green", "tab:purple"]))
    for i, (title, (weights, losses)) in enumerate(runs.items()):
        ax = figure.add_subplot(grid[i // 3, i % 3])
        ax.contour(x, y, surface, levels=np.geomspace(1e-3, 5, 14), colors="0.75", linewidths=0.7)
        ax.plot(weights[:, 0], weights[:, 1], lw=0.8, color=colors[title])
        ax.plot(*START, "o", color="k", ms=4)
        ax.plot(0, 0, "x", color="goldenrod", ms=10, mew=2.5)
        ax.set_title(f"{title}\n{steps} steps, final loss {losses[-1]:.2g}", fontsize=9)
        ax.set_xlim(-1.5, 11.5)
        ax.set_ylim(-1.6, 1.6)
    ax = figure.add_subplot(grid[2, :])
    for title, (_, losses) in runs.items():
        label = title.split(" (")[0]
        ax.loglog(np.arange(1, len(losses) + 1), losses, lw=1, color=colors[title], label=label)
    ax.set_xlabel("optimizer step + 1")
    ax.set_ylabel("loss")
    ax.set_ylim(1e-14, 10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    figure.suptitle(f"An elongated bowl (curvature {CURVATURES[0]:g} along the valley, {CURVATURES[1]:g} "
                    "across it): one lr for every parameter against per-parameter adaptive lrs", fontsize=11)
    figure.savefig(out, dpi=90)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "error_surface.png")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args(argv)
    runs = {title: trajectory(overrides, args.steps) for title, overrides in CASES.items()}
    draw(runs, args.out, args.steps)
    for title, (weights, losses) in runs.items():
        print(f"{title:62s} final w ({weights[-1][0]:+.3g}, {weights[-1][1]:+.3g}), loss {losses[-1]:.3g}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
