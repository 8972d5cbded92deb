"""``task=fit``: train, log to TensorBoard, checkpoint, and write ``metrics.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.loggers import TensorBoardLogger

from lrframe.callbacks import StepLogger
from lrframe.checkpoint import AtomicCheckpointIO, ResumePoint, resume_point
from lrframe.config import Plan
from lrframe.data import loaders
from lrframe.fault_tolerance import fault_tolerance, lightning_limits
from lrframe.module import TrainingModule
from lrframe.tasks.preview import write_schedule_csv


def trainer(plan: Plan, run_dir: Path, resumed: ResumePoint | None = None) -> pl.Trainer:
    """A Lightning Trainer with the run's logger, checkpoints and monitoring.

    A resumed run's TensorBoard writer purges the points at and after the checkpoint's step,
    which the resumed run logs again.
    """
    cfg = plan.config
    logger = (TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False,
                                purge_step=resumed.step if resumed else None)
              if cfg["logger"]["name"] == "tensorboard" else False)
    callbacks = [StepLogger(cfg["trainer"]["log_every_n_steps"]), *fault_tolerance(plan, run_dir, resumed)]
    return pl.Trainer(**{**cfg["trainer"], **lightning_limits(plan)}, logger=logger, callbacks=callbacks,
                      plugins=[AtomicCheckpointIO()], default_root_dir=run_dir)


def run(plan: Plan, run_dir: Path) -> dict:
    started = time.perf_counter()
    resumed = resume_point(plan, run_dir)
    lr_found = None
    if plan.lr is None:  # optimizer.lr=auto: the LR range test when the run starts (it leaves no trace)
        from lrframe.tasks.lr_find import find_lr

        lr_found = (resumed and resumed.lr_found) or find_lr(plan, run_dir)
    if "_target_" not in plan.config["scheduler"]:  # a user's torch class has no closed form to write
        write_schedule_csv(plan, run_dir, lr_found)
    pl.seed_everything(plan.config["seed"], verbose=False)
    train, val, num_features, num_classes = loaders(plan)
    module = TrainingModule(plan, num_features, num_classes, lr=lr_found)
    if resumed:
        resumed.check_model(module, plan.config["resume"])
    fit = trainer(plan, run_dir, resumed)
    fit.fit(module, train, val, ckpt_path=resumed and resumed.path, weights_only=True)
    metrics = module.last_metrics  # restored from the checkpoint too, for a resumed run
    metrics = {
        "val/acc": metrics.get("val/acc"),
        "val/loss": metrics.get("val/loss"),
        "train/loss": metrics.get("train/loss"),
        "global_step": fit.global_step,
        "epochs": fit.current_epoch,
        "wall_seconds": round(time.perf_counter() - started, 3),
        **({"lr_found": lr_found} if lr_found else {}),
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    shown = " ".join(f"{key}={metrics[key]:.4f}" for key in ("val/acc", "val/loss") if metrics[key] is not None)
    print(f"{shown or 'no validation ran'} after {fit.global_step} steps ({metrics['wall_seconds']:.1f} s); "
          f"run directory: {run_dir}")
    return metrics
