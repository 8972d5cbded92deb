"""``task=fit``: train, log to TensorBoard, checkpoint, and write ``metrics.json`` (``lrframe.record``)."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from lrframe import progress
from lrframe.callbacks import DivergenceCheck, StepLogger
from lrframe.config import Plan
from lrframe.data import loaders
from lrframe.module import TrainingModule
from lrframe.record import RunRecord, command_line_overrides, hyperparameters
from lrframe.tasks import read_metrics
from lrframe.tasks.preview import write_schedule_csv


def trainer(plan: Plan, run_dir: Path, lr: float, extra_metrics: dict) -> pl.Trainer:
    """A Lightning Trainer with the run's logger, checkpoints and monitoring.

    ``lr`` is the base lr the run trains with; ``extra_metrics`` go into metrics.json as they are.
    """
    cfg = plan.config
    every_n_steps = cfg["checkpoint"]["every_n_steps"]
    checkpoints = ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, save_top_k=0,
                                  every_n_train_steps=every_n_steps or None,
                                  save_on_train_epoch_end=True)
    logger = (TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False)
              if cfg["logger"]["name"] == "tensorboard" else False)
    record = RunRecord(run_dir, hyperparameters(plan, command_line_overrides(), lr), extra_metrics)
    callbacks = [checkpoints, StepLogger(cfg["trainer"]["log_every_n_steps"]), DivergenceCheck(), record]
    show_progress = progress.wanted(cfg["trainer"]["enable_progress_bar"])
    if show_progress:
        callbacks.append(progress.ProgressLine(plan.clock.total_steps))
    # the hyper-parameters are logged once, with the final metrics, by RunRecord
    return pl.Trainer(**{**cfg["trainer"], "enable_progress_bar": show_progress}, logger=logger,
                      callbacks=callbacks, default_root_dir=run_dir, enable_autolog_hparams=False)


def run(plan: Plan, run_dir: Path) -> dict:
    lr_found = None
    if plan.lr is None:  # optimizer.lr=auto: the LR range test first (it leaves no trace on what follows)
        from lrframe.tasks.lr_find import find_lr

        lr_found = find_lr(plan, run_dir)
    if "_target_" not in plan.config["scheduler"]:  # a user's torch class has no closed form to write
        write_schedule_csv(plan, run_dir, lr_found)
    pl.seed_everything(plan.config["seed"], verbose=False)
    train, val, num_features, num_classes = loaders(plan)
    module = TrainingModule(plan, num_features, num_classes, lr=lr_found)
    fit = trainer(plan, run_dir, module.lr, {"lr_found": lr_found} if lr_found else {})
    fit.fit(module, train, val)
    if not fit.is_global_zero:
        return {}  # a DDP rank > 0: rank 0 reports
    metrics = read_metrics(run_dir)  # written by RunRecord in the process that trained as rank 0
    shown = " ".join(f"{key}={metrics[key]:.4f}" for key in ("val/acc", "val/loss") if metrics[key] is not None)
    print(f"{shown or 'no validation ran'} after {metrics['global_step']} steps ({metrics['wall_seconds']:.1f} s); "
          f"run directory: {run_dir}")
    return metrics
