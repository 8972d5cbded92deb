"""Initialization, as the seed teaches it: zeros cannot learn, N(0, 0.01^2) is slow, Kaiming keeps variance.

    .venv/bin/python scripts/init_experiment.py --out docs/init.png [--runs DIR] [OVERRIDES ...]

Runs ``python train.py +experiment=init`` (conf/experiment/init.yaml: five initializations x ReLU
MLPs of three and six hidden layers, the default job otherwise) into a new sweep directory, or reads
the finished sweep in ``--runs``, then draws from the runs' own outputs:

- validation accuracy after each epoch (the runs' TensorBoard events), one panel per depth;
- the variance of every Linear layer's output at initialization, for the deeper model: each run's
  own config (``.hydra/config.yaml``) builds its model with lrframe's builders and seed, which is
  fed a batch of 512 training digits (``lrframe.models.init.activation_variances``).

OVERRIDES go to train.py (e.g. ``trainer.max_epochs=5``).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from experiment_runs import Run, arguments, runs_of
from lrframe.config.validate import validate
from lrframe.data.build import build_data
from lrframe.models.init import activation_variances
from lrframe.range_test.loop import seed_everything
from lrframe.models.build import build_model

#: init -> (color, line style, label)
STYLE = {"zeros": ("tab:gray", "--", "zeros"), "normal": ("tab:red", "-", "normal, std 0.01"),
         "xavier_normal": ("tab:orange", "-", "xavier_normal"),
         "kaiming_normal": ("tab:blue", "-", "kaiming_normal"),
         "default": ("tab:green", "-", "default (PyTorch's)")}


def layer_variances(run: Run) -> list[float]:
    """The run's model at initialization: the variance of each Linear layer's output on 512 digits."""
    plan = validate({**run.config, "data": {**run.config["data"], "batch_size": 512}})
    seed_everything(plan.config["seed"])  # as task=fit does before it builds loaders and model
    data = build_data(plan)[0]
    train = data.train
    model = build_model(plan.config, data)
    return activation_variances(model, next(iter(train))[0])


def draw(runs: list[Run], out: Path) -> None:
    depths = sorted({len(run.config["model"]["hidden"]) for run in runs})
    figure = Figure(figsize=(5.2 * (len(depths) + 1), 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(depths) + 1)
    for ax, depth in zip(axes, depths):
        for run in (r for r in runs if len(r.config["model"]["hidden"]) == depth):
            color, style, label = STYLE[run.config["init"]["name"]]
            accuracy = run.scalars("val/acc")
            ax.plot(range(1, len(accuracy) + 1), [value for _, value, _ in accuracy], style, marker="o", ms=3,
                    color=color, label=f"{label}: {run.metrics['val/acc']:.3f}",
                    zorder=3 if style == "--" else 2)
        width, lr = runs[0].config["model"]["hidden"][0], runs[0].config["optimizer"]["lr"]
        ax.set_title(f"{depth} hidden layers of {width}, ReLU, {runs[0].config['optimizer']['name']} lr {lr:g}",
                     fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("validation accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best", title="init: final val/acc", title_fontsize=8)
    ax = axes[-1]
    for run in (r for r in runs if len(r.config["model"]["hidden"]) == depths[-1]):
        if run.config["init"]["name"] == "zeros":
            continue  # every output is exactly 0: no variance to draw on a log axis
        variances = layer_variances(run)
        color, _, label = STYLE[run.config["init"]["name"]]
        ax.semilogy(range(1, len(variances) + 1), variances, "-o", ms=4, color=color, label=label)
    ax.set_title(f"at initialization, {depths[-1]} hidden layers (zeros: all 0)", fontsize=10)
    ax.set_xlabel(f"Linear layer (1 to {depths[-1]} hidden, {depths[-1] + 1} the head)")
    ax.set_ylabel("variance of the layer's output (pre-activation)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    figure.savefig(out, dpi=90)


def main(argv: list[str] | None = None) -> None:
    parser = arguments("init", __doc__.splitlines()[0])
    args = parser.parse_args(argv)
    runs = runs_of("init", args)
    draw(runs, args.out)
    for run in runs:
        print(f"{run.config['init']['name']:15s} hidden {run.config['model']['hidden']}: "
              f"val/acc {run.metrics['val/acc']:.3f}, first epoch above 0.9: "
              f"{next((i + 1 for i, (_, v, _) in enumerate(run.scalars('val/acc')) if v > 0.9), 'never')}")
    print(f"runs in {runs[0].path.parent}; wrote {args.out}")


if __name__ == "__main__":
    main()
