"""``task=fit``: train, log to TensorBoard, checkpoint, and write ``metrics.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from lrframe.callbacks import StepLogger
from lrframe.config import Plan
from lrframe.data import Batches
from lrframe.datasets import load_split
from lrframe.module import TrainingModule
from lrframe.tasks.preview import write_schedule_csv


def loaders(plan: Plan) -> tuple[Batches, Batches, int, int]:
    """Training and validation batches of the configured data, with its feature and class counts."""
    data = plan.config["data"]
    split = load_split(data)
    train = Batches(torch.from_numpy(split.x_train), torch.from_numpy(split.y_train),
                    batch_size=data["batch_size"], seed=plan.config["seed"], shuffle=data["shuffle"],
                    drop_last=data["drop_last"])
    val = Batches(torch.from_numpy(split.x_val), torch.from_numpy(split.y_val), batch_size=data["batch_size"])
    return train, val, split.num_features, split.num_classes


def trainer(plan: Plan, run_dir: Path) -> pl.Trainer:
    """A Lightning Trainer with the run's logger, checkpoints and monitoring."""
    cfg = plan.config
    every_n_steps = cfg["checkpoint"]["every_n_steps"]
    checkpoints = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
                                  every_n_train_steps=every_n_steps or None,
                                  save_on_train_epoch_end=True)
    logger = (TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False)
              if cfg["logger"]["name"] == "tensorboard" else False)
    callbacks = [checkpoints, StepLogger(cfg["trainer"]["log_every_n_steps"])]
    return pl.Trainer(**cfg["trainer"], logger=logger, callbacks=callbacks, default_root_dir=run_dir)


def run(plan: Plan, run_dir: Path) -> dict:
    started = time.perf_counter()
    if "_target_" not in plan.config["scheduler"]:  # a user's torch class has no closed form to write
        write_schedule_csv(plan, run_dir)
    pl.seed_everything(plan.config["seed"], verbose=False)
    train, val, num_features, num_classes = loaders(plan)
    module = TrainingModule(plan, num_features, num_classes)
    fit = trainer(plan, run_dir)
    fit.fit(module, train, val)
    metrics = {key: float(value) for key, value in fit.callback_metrics.items()}
    metrics = {
        "val/acc": metrics.get("val/acc"),
        "val/loss": metrics.get("val/loss"),
        "train/loss": metrics.get("train/loss_epoch"),
        "global_step": fit.global_step,
        "epochs": fit.current_epoch,
        "wall_seconds": round(time.perf_counter() - started, 3),
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    shown = " ".join(f"{key}={metrics[key]:.4f}" for key in ("val/acc", "val/loss") if metrics[key] is not None)
    print(f"{shown or 'no validation ran'} after {fit.global_step} steps ({metrics['wall_seconds']:.1f} s); "
          f"run directory: {run_dir}")
    return metrics
