"""``task=fit``: train, log to TensorBoard, checkpoint, and write ``metrics.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from lrframe.callbacks import StepLogger
from lrframe.config import Plan
from lrframe.data import loaders
from lrframe.module import TrainingModule
from lrframe.tasks.preview import write_schedule_csv


def trainer(plan: Plan, run_dir: Path) -> pl.Trainer:
    """A Lightning Trainer with the run's logger, checkpoints and monitoring."""
    cfg = plan.config
    every_n_steps = cfg["checkpoint"]["every_n_steps"]
    checkpoints = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
                                  every_n_train_steps=every_n_steps or None,
                                  save_on_train_epoch_end=True)
    logger = (TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False)
              if cfg["logger"]["name"] == "tensorboard" else False)
    step_logger = StepLogger(cfg["trainer"]["log_every_n_steps"], cfg["logger"]["step_sizes_every_n_steps"])
    callbacks = [checkpoints, step_logger]
    return pl.Trainer(**cfg["trainer"], logger=logger, callbacks=callbacks, default_root_dir=run_dir)


def run(plan: Plan, run_dir: Path) -> dict:
    started = time.perf_counter()
    lr_found = None
    if plan.lr is None:  # optimizer.lr=auto: the LR range test first (it leaves no trace on what follows)
        from lrframe.tasks.lr_find import find_lr

        lr_found = find_lr(plan, run_dir)
    if "_target_" not in plan.config["scheduler"]:  # a user's torch class has no closed form to write
        write_schedule_csv(plan, run_dir, lr_found)
    pl.seed_everything(plan.config["seed"], verbose=False)
    train, val, num_features, num_classes = loaders(plan)
    module = TrainingModule(plan, num_features, num_classes, lr=lr_found)
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
        **({"lr_found": lr_found} if lr_found else {}),
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    shown = " ".join(f"{key}={metrics[key]:.4f}" for key in ("val/acc", "val/loss") if metrics[key] is not None)
    print(f"{shown or 'no validation ran'} after {fit.global_step} steps ({metrics['wall_seconds']:.1f} s), "
          f"lr {module.lr:g}, global batch {plan.global_batch}; run directory: {run_dir}")
    return metrics
