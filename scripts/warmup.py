"""Warmup and Adam on the character transformer: with and without warmup across peak lrs.

    .venv/bin/python scripts/warmup.py --out docs/warmup.png [--runs DIR] [OVERRIDES]

Runs ``python train.py +experiment=warmup`` (conf/experiment/warmup.yaml: the char transformer on
pydoc_data.topics, Adam, noam's inverse-square-root decay after step 50, whose first 50 steps are
either a linear warmup from 0, which makes it exactly ``scheduler=noam``, or the peak lr from the
first step; peak lrs 1e-3 to 0.3; 200 steps) into a new sweep directory, or reads the finished
sweep in ``--runs``, then draws from the runs' own outputs:

- the final validation loss (nats per character) against the peak lr, with and without warmup,
  beside the corpus' unigram entropy (the loss of a model that ignores the context);
- the training loss of every run against the step (TensorBoard events), one panel per arm.

A run that diverges (non-finite loss) is a failed job of the sweep: it is drawn up to where it
stopped and reported as diverged. OVERRIDES go to train.py (e.g. ``seed=1``).
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiment_runs import Run, arguments, runs_of

ARMS = {0.0: ("tab:blue", "linear warmup from 0 (noam)"), 1.0: ("tab:red", "no warmup (peak lr from step 0)")}


def arm(run: Run) -> float:
    return float(run.config["warmup"]["start_factor"])


def unigram_entropy(run: Run) -> float:
    """The entropy of the run's training characters, in nats: what ignoring the context costs."""
    from lrframe.data.text import windows

    return windows(run.config["data"]).unigram_entropy()


def outcome(run: Run) -> str:
    """The final validation loss, or how the run ended."""
    if run.status == "completed":
        return f"{run.metrics['val/loss']:.3f}"
    return "diverged" if "diverged" in (run.error or "") else run.status


def table(runs: list[Run]) -> list[str]:
    """A markdown table: one row per peak lr, per arm the final val/loss and the highest training loss
    after step 5 (above the initial loss, ln(vocabulary) = 4.6: a spike)."""
    lrs = sorted({run.config["optimizer"]["lr"] for run in runs})
    head = ["peak lr"] + [f"{label}: {what}" for _, label in ARMS.values()
                          for what in ("final val/loss", "max train/loss after step 5")]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lr in lrs:
        cells = [f"{lr:g}"]
        for factor in ARMS:
            run = next((r for r in runs if r.config["optimizer"]["lr"] == lr and arm(r) == factor), None)
            if run is None:
                cells += ["", ""]
                continue
            early = [value for step, value, _ in run.scalars("train/loss") if step >= 5]
            cells += [outcome(run), f"{max(early):.2f}" if early else ""]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def draw(runs: list[Run], entropy: float, out: Path) -> None:
    figure = Figure(figsize=(16, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    final, *curves = figure.subplots(1, 3)
    for factor, (color, label) in ARMS.items():
        arm_runs = sorted((r for r in runs if arm(r) == factor), key=lambda r: r.config["optimizer"]["lr"])
        done = [r for r in arm_runs if r.status == "completed"]
        final.plot([r.config["optimizer"]["lr"] for r in done], [r.metrics["val/loss"] for r in done], "-o",
                   color=color, label=label)
        for r in arm_runs:
            if r.status != "completed":
                final.plot(r.config["optimizer"]["lr"], entropy + 0.5, "x", ms=10, color=color)
    final.axhline(entropy, color="0.4", ls="--", lw=1, label=f"unigram entropy {entropy:.2f} nats")
    final.set_xscale("log")
    final.set_xlabel("peak learning rate (Adam)")
    final.set_ylabel("final validation loss, nats per character")
    final.set_title("after 200 steps (x: diverged)", fontsize=10)
    final.grid(alpha=0.3, which="both")
    final.legend(fontsize=8)
    lrs = sorted({r.config["optimizer"]["lr"] for r in runs})
    colors = dict(zip(lrs, ("#440154", "#3b528b", "#21918c", "#5ec962", "#b5de2b", "#fde725",
                            "#f89540", "#cc4778")))
    for ax, (factor, (_, label)) in zip(curves, ARMS.items()):
        for r in sorted((r for r in runs if arm(r) == factor), key=lambda r: r.config["optimizer"]["lr"]):
            points = [(step, value) for step, value, _ in r.scalars("train/loss") if math.isfinite(value)]
            ax.plot(*zip(*points), color=colors[r.config["optimizer"]["lr"]],
                    label=f"lr {r.config['optimizer']['lr']:g}: {outcome(r)}")
        ax.axhline(entropy, color="0.4", ls="--", lw=1)
        ax.axvline(r.config["warmup"]["steps"], color="0.6", ls=":", lw=1)
        ax.set_ylim(1.0, 5.0)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss (nats per character)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="peak lr: final val/loss", title_fontsize=8)
    figure.suptitle("Character transformer (pre-LN, 2 layers, d_model 128) on pydoc_data.topics, Adam, "
                    "noam's decay lr x sqrt(50 / step) after step 50; one seed", fontsize=10)
    figure.savefig(out, dpi=90)


def main(argv: list[str] | None = None) -> None:
    parser = arguments("warmup", __doc__.splitlines()[0])
    args = parser.parse_args(argv)
    runs = runs_of("warmup", args, jobs=True)
    entropy = unigram_entropy(runs[0])
    draw(runs, entropy, args.out)
    print("\n".join(table(runs)))
    print(f"unigram entropy {entropy:.3f} nats; runs in {runs[0].path.parent}; wrote {args.out}")


if __name__ == "__main__":
    main()
