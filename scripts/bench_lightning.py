"""Reference (b) of scripts/bench.py: the default job as tutorials write it in Lightning.

A DataLoader over a TensorDataset, ``self.log`` every step, a LambdaLR (warmup + cosine) stepped
per step, Trainer defaults otherwise (TensorBoard logger, checkpoint each epoch, progress bar).
``python scripts/bench_lightning.py --epochs 20 --out DIR``

With ``--loop-only``, Lightning's own loop and nothing else: lrframe's in-memory batches, nothing
logged, saved or printed (the floor any job trained by Lightning's Trainer pays per step).
"""

import argparse
import math

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from lrframe.data.batches import Batches
from lrframe.data.datasets import load_split


class Classifier(pl.LightningModule):
    def __init__(self, steps_per_epoch: int, epochs: int, log_metrics: bool = True):
        super().__init__()
        self.log_metrics = log_metrics
        self.model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                         torch.nn.ReLU(), torch.nn.Linear(256, 10))
        self.warmup, self.total = steps_per_epoch, epochs * steps_per_epoch

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        if self.log_metrics:
            self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        if self.log_metrics:
            self.log("val_loss", F.cross_entropy(logits, y))
            self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        warmup, total = self.warmup, self.total
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: s / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup))))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="lightning_logs")
    parser.add_argument("--loop-only", action="store_true")
    args = parser.parse_args()
    pl.seed_everything(0)
    split = load_split({"name": "digits", "val_fraction": 0.2, "split_seed": 0})
    x, y = torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)
    x_val, y_val = torch.from_numpy(split.x_val), torch.from_numpy(split.y_val)
    if args.loop_only:
        train = Batches(x, y, batch_size=64, shuffle=True)
        val = Batches(x_val, y_val, batch_size=len(x_val))
        trainer = pl.Trainer(max_epochs=args.epochs, default_root_dir=args.out, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False)
    else:
        train = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        val = DataLoader(TensorDataset(x_val, y_val), batch_size=64)
        trainer = pl.Trainer(max_epochs=args.epochs, default_root_dir=args.out)
    trainer.fit(Classifier(len(train), args.epochs, log_metrics=not args.loop_only), train, val)


if __name__ == "__main__":
    main()
