"""Reference (a) of scripts/bench.py: the default job as a bare PyTorch loop.

Digits MLP 64-256-256-10 (or, with ``--cnn``, the user project's SmallCNN of
tests/fixtures/user_project), batch 64, SGD momentum 0.9 lr 0.1, one epoch of linear warmup then
cosine per step, validation after each epoch. ``python scripts/bench_bare.py --epochs 20 [--cnn]``
"""

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from lrframe.data.datasets import load_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--cnn", action="store_true", help="the user project's SmallCNN instead of the MLP")
    args = parser.parse_args()
    epochs = args.epochs
    torch.manual_seed(0)
    split = load_split({"name": "digits", "val_fraction": 0.2, "split_seed": 0})
    x, y = torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)
    x_val, y_val = torch.from_numpy(split.x_val), torch.from_numpy(split.y_val)
    if args.cnn:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "user_project"))
        from my_model import SmallCNN

        model = SmallCNN(num_classes=10)
    else:
        model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                    torch.nn.ReLU(), torch.nn.Linear(256, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    steps_per_epoch = math.ceil(len(x) / 64)
    warmup, total = steps_per_epoch, epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup))))
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            index = order[i:i + 64]
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
    print(f"val/acc={accuracy:.4f}")


if __name__ == "__main__":
    main()
