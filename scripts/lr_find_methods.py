"""Which suggestion method trains best? Every method's lr, trained, over seeds and variants of the job.

    .venv/bin/python scripts/lr_find_methods.py [--seeds 8]

For each job (the default job over seeds 0..N-1, with SGD and with Adam, then variants of the
default job) run the LR range test, train the full job at each method's suggestion, and print the
range of suggested lrs and of final validation accuracy per method. docs/guide.md quotes the result.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = [["data.batch_size=16"], ["data.batch_size=256"], ["init=default"], ["model.hidden=[64]"],
            ["model.activation=tanh"], ["optimizer.momentum=0.0"], ["scheduler=none", "warmup=none"],
            ["trainer.max_epochs=5"], ["optimizer=adam", "data.batch_size=16"]]


def plan(*overrides: str):
    from hydra import compose, initialize_config_dir

    from lrframe.config.validate import validate

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return validate(compose(config_name="train", overrides=list(overrides)))


def trained(jobs: list[list[str]], tmp: Path) -> dict[str, list[tuple[float, float]]]:
    """method -> [(suggested lr, validation accuracy trained at it)] over ``jobs``."""
    from lrframe.tasks import run_task
    from lrframe.tasks.lr_find import run_test

    results: dict[str, list[tuple[float, float]]] = {}
    for n, job in enumerate(jobs):
        for method, lr in run_test(plan("task=lr_find", *job)).suggestions.values.items():
            run_dir = tmp / f"{n}-{method}"
            run_dir.mkdir()
            with contextlib.redirect_stdout(io.StringIO()):
                metrics = run_task(plan(*job, f"optimizer.lr={lr!r}", "logger=none"), run_dir)
            results.setdefault(method, []).append((lr, metrics["val/acc"]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    groups = {
        f"default job, SGD, seeds 0-{args.seeds - 1}": [[f"seed={s}"] for s in range(args.seeds)],
        f"default job, Adam, seeds 0-{args.seeds - 1}": [["optimizer=adam", f"seed={s}"] for s in range(args.seeds)],
        f"{len(VARIANTS)} variants: " + "; ".join(" ".join(v) for v in VARIANTS): VARIANTS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n, (title, jobs) in enumerate(groups.items()):
            print(title, file=sys.stdout)
            group_dir = Path(tmp, str(n))
            group_dir.mkdir()
            for method, rows in trained(jobs, group_dir).items():
                lrs, accs = [lr for lr, _ in rows], [acc for _, acc in rows]
                print(f"  {method:<9} lr {min(lrs):.2g} - {max(lrs):.2g}   val/acc {min(accs):.3f} - {max(accs):.3f}",
                      flush=True)


if __name__ == "__main__":
    main()
