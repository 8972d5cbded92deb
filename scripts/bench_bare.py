"""The bare PyTorch references of scripts/bench.py: an lrframe job's work as a plain loop.

    python scripts/bench_bare.py [--model {mlp,cnn,user_cnn,transformer}] [--epochs 20] [--steps N] [OVERRIDES]

The job is lrframe's own (``python train.py`` with the model's overrides, see ``JOBS``): its model
from lrframe's model builder (the same class and initial weights), its training and validation
batches from lrframe's data builder (the same sizes and order), the optimizer its config names
(SGD momentum 0.9, lr 0.1 by default) and its schedule (one epoch of linear warmup, then cosine to
the end of the run) stepped every optimizer step as a user writes it, a ``LambdaLR``; validation
after each epoch. OVERRIDES change the job as they would ``train.py``'s, within SGD, linear warmup
and cosine. Nothing is logged or saved. ``user_cnn`` is the SmallCNN of
tests/fixtures/user_project on digits (``--cnn`` is its old name).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "fixtures" / "user_project"
#: model -> the overrides of ``python train.py`` that make its job
JOBS = {
    "mlp": [],
    "cnn": ["model=cnn"],
    "user_cnn": ["model=my_cnn", f"hydra.searchpath=[file://{PROJECT / 'conf'}]"],  # as lrframe run from PROJECT
    "transformer": ["model=transformer", "data=text"],
}
SCHEDULE = ("sgd", "cosine", "linear")  # the optimizer, schedule and warmup the loop writes out


def plan_of(model: str, overrides: list[str]):
    """lrframe's validated plan of the model's job with ``overrides`` (``trainer.max_epochs=3``...)."""
    from hydra import compose, initialize_config_dir

    from lrframe.config.validate import validate

    if model == "user_cnn":
        sys.path.insert(0, str(PROJECT))
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        plan = validate(compose(config_name="train", overrides=[*JOBS[model], *overrides]))
    config = plan.config
    if (config["optimizer"]["name"], config["scheduler"]["name"], config["warmup"]["name"]) != SCHEDULE:
        sys.exit(f"error: the bare loop trains {' + '.join(SCHEDULE)} only")
    return plan


def warmup_cosine(warmup: int, total: int):
    """The lr factor of step ``s``: linear from 0 over ``warmup`` steps, then cosine to 0 at ``total``."""
    return lambda s: s / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))


def cross_entropy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``(..., classes)`` logits against ``(...)`` labels."""
    return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))


def train(plan) -> float:
    """Train the plan's job as a bare loop; the last validation loss (nan if no epoch ended)."""
    from lrframe.data.build import build_data
    from lrframe.models.build import build_model
    from lrframe.schedules.run import warmup_steps

    config, clock = plan.config, plan.clock
    torch.manual_seed(config["seed"])
    data = build_data(plan)[0]
    model = build_model(config, data)
    node = config["optimizer"]
    optimizer = torch.optim.SGD(model.parameters(), lr=node["lr"], momentum=node["momentum"])
    warmup = warmup_steps(config["warmup"], clock)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup, clock.total_steps))
    step, val_loss = 0, math.nan
    for epoch in range(math.ceil(clock.total_steps / clock.steps_per_epoch)):
        model.train()
        data.train.sampler.set_epoch(epoch)
        for x, y in data.train:
            if step == clock.total_steps:  # stopped mid-epoch: no validation, as Lightning's max_steps
                break
            loss = cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
        else:
            val_loss = validate(model, data.val)
    return val_loss


def validate(model: torch.nn.Module, batches) -> float:
    """Mean loss per sample over the validation batches."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in batches:
            total += cross_entropy(model(x), y).item() * len(y)
            count += len(y)
    return total / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=JOBS, default="mlp")
    parser.add_argument("--cnn", dest="model", action="store_const", const="user_cnn", help="--model user_cnn")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=-1, help="optimizer steps (the run ends at whichever comes first)")
    parser.add_argument("overrides", nargs="*", help="more overrides of the job (warmup.steps=1, ...)")
    args = parser.parse_args(argv)
    plan = plan_of(args.model, [f"trainer.max_epochs={args.epochs}", f"trainer.max_steps={args.steps}",
                                *args.overrides])
    print(f"steps={plan.clock.total_steps} val/loss={train(plan):.4f}")


if __name__ == "__main__":
    main()
