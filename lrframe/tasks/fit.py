"""``task=fit``: train, log to TensorBoard, checkpoint, and write ``metrics.json`` (``lrframe.record``)."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from lrframe import progress
from lrframe.callbacks import DivergenceCheck, StepLogger
from lrframe.config import Plan
from lrframe.data import Batches
from lrframe.datasets import load_split
from lrframe.module import TrainingModule
from lrframe.record import RunRecord, command_line_overrides, hyperparameters
from lrframe.tasks import read_metrics


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
    record = RunRecord(run_dir, hyperparameters(plan, command_line_overrides()))
    callbacks = [checkpoints, StepLogger(cfg["trainer"]["log_every_n_steps"]), DivergenceCheck(), record]
    show_progress = progress.wanted(cfg["trainer"]["enable_progress_bar"])
    if show_progress:
        callbacks.append(progress.ProgressLine(plan.clock.total_steps))
    # the hyper-parameters are logged once, with the final metrics, by RunRecord
    return pl.Trainer(**{**cfg["trainer"], "enable_progress_bar": show_progress}, logger=logger,
                      callbacks=callbacks, default_root_dir=run_dir, enable_autolog_hparams=False)


def run(plan: Plan, run_dir: Path) -> dict:
    pl.seed_everything(plan.config["seed"], verbose=False)
    train, val, num_features, num_classes = loaders(plan)
    module = TrainingModule(plan, num_features, num_classes)
    fit = trainer(plan, run_dir)
    fit.fit(module, train, val)
    if not fit.is_global_zero:
        return {}  # a DDP rank > 0: rank 0 reports
    metrics = read_metrics(run_dir)  # written by RunRecord in the process that trained as rank 0
    print(f"val/acc={metrics['val/acc']:.4f} val/loss={metrics['val/loss']:.4f} after "
          f"{metrics['global_step']} steps ({metrics['wall_seconds']:.1f} s); run directory: {run_dir}")
    return metrics
