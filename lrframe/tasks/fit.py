"""``task=fit``: train, log to TensorBoard, checkpoint, and write ``metrics.json`` (``lrframe.training.record``)."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.loggers import TensorBoardLogger

from lrframe.training import progress
from lrframe.training.callbacks import ObserveMetrics, StepLogger
from lrframe.sweeps.pruning import trial_callbacks
from lrframe.resume.checkpoint import AtomicCheckpointIO, ResumePoint, resume_point
from lrframe.config.validate import Plan
from lrframe.resume.fault_tolerance import fault_tolerance, lightning_limits
from lrframe.training.record import RunRecord, command_line_overrides, first_keys, hyperparameters, in_multirun
from lrframe.run_files import read_metrics
from lrframe.tasks import preview
from lrframe.optim.optimizer import model_layer_count
from lrframe.training.ranks import RanksAgree, facts
from lrframe.config.launch import is_secondary_rank
from lrframe.training.pieces import Pieces, build
from lrframe.config.groups import is_schedule_free

log = logging.getLogger(__name__)


def averaging(plan: Plan, pieces: Pieces) -> list[pl.Callback]:
    """What a schedule-free optimizer (its train/eval modes) or SWA (its average) needs from the run."""
    if is_schedule_free(plan.config["optimizer"]):
        from lrframe.training.schedule_free import ScheduleFreeModes

        return [ScheduleFreeModes()]
    if plan.config["swa"]["name"] == "none":
        return []
    from lrframe.training.swa import StochasticWeightAveraging

    phase = plan.schedule(pieces.lr).swa
    return [StochasticWeightAveraging(phase, plan.clock.total_steps, pieces.parameters, pieces.data.train)]


def trainer(plan: Plan, run_dir: Path, lr: float, constants: dict,
            resumed: ResumePoint | None = None, monitor: tuple[str, str] = ("val/acc", "max"),
            metric_names: list[str] | None = None, schedule: preview.Table | None = None,
            extra_callbacks: list[pl.Callback] = ()) -> pl.Trainer:
    """A Lightning Trainer with the run's logger, checkpoints and monitoring (and ``extra_callbacks``).

    ``lr`` is the base lr the run trains with; ``constants`` (``effective_lr``, ``global_batch``,
    ...) go into metrics.json as they are and to TensorBoard as text; ``metric_names`` are the
    validation metrics the module logs (None: unknown); ``schedule`` is the planned schedule, drawn
    into TensorBoard. A resumed run's TensorBoard writer purges the points at and after the
    checkpoint's step, which the resumed run logs again.
    """
    cfg = plan.config
    logger = (TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False,
                                purge_step=resumed.step if resumed else None)
              if cfg["logger"]["name"] == "tensorboard" else False)
    overrides = command_line_overrides()
    hparams = hyperparameters(plan, overrides, lr)
    # a partial, not a lambda: ddp_spawn pickles the callbacks for its worker processes
    figure = schedule and partial(preview.png, schedule, preview.title(plan))
    record = RunRecord(run_dir, hparams, constants, monitor, metric_names=metric_names,
                       first=first_keys(overrides, hparams), experiment=not in_multirun(), schedule_figure=figure)
    step_logger = StepLogger(cfg["trainer"]["log_every_n_steps"], cfg["logger"]["step_sizes_every_n_steps"])
    agree = RanksAgree(facts(run_dir, cfg["resume"], resumed.step if resumed else None, cfg["data"]["batch_size"],
                             plan.clock.steps_per_epoch, plan.clock.total_steps, plan.global_batch, lr))
    callbacks = [agree, *extra_callbacks, step_logger, *fault_tolerance(plan, run_dir, resumed), ObserveMetrics(),
                 *trial_callbacks(monitor[0]), record]
    show_progress = progress.wanted(cfg["trainer"]["enable_progress_bar"])
    if show_progress:
        callbacks.append(progress.ProgressLine(plan.clock.total_steps))
    # the hyper-parameters are logged once, with the final metrics, by RunRecord
    return pl.Trainer(**{**cfg["trainer"], **lightning_limits(plan), "enable_progress_bar": show_progress},
                      logger=logger, callbacks=callbacks, plugins=[AtomicCheckpointIO()],
                      default_root_dir=run_dir, enable_autolog_hparams=False)


def run(plan: Plan, run_dir: Path) -> dict:
    pl.seed_everything(plan.config["seed"], verbose=False)
    pieces = build(plan, plan.lr)  # the data first: it completes the plan (the clock)
    plan, module = pieces.plan, pieces.module
    resumed = resume_point(plan, run_dir)
    lr_found = None
    if plan.lr is None:  # optimizer.lr=auto: the LR range test when the run starts (it leaves no trace)
        from lrframe.tasks.lr_find import find_lr

        lr_found = (resumed and resumed.lr_found) or find_lr(plan, run_dir)
        pieces.set_lr(lr_found)
    schedule = None
    # rank 0 writes the planned schedule; a user's torch class has no closed form to write
    if "_target_" not in plan.config["scheduler"] and not is_secondary_rank():
        schedule = preview.write_schedule_csv(plan, run_dir, lr_found,
                                              model_layer_count(pieces.parameters, plan.config["optimizer"]))
    if resumed:
        resumed.check_model(module, plan.config["resume"])
        if not pieces.data.resumable and resumed.step % plan.clock.steps_per_epoch:
            log.warning(f"resume: the training loader ({type(pieces.data.train).__name__}) has no state to restore: "
                        "the interrupted epoch restarts from its first batch (lrframe owns the order of map-style "
                        "datasets and plain DataLoaders; an iterable one needs torchdata's StatefulDataLoader)")
    constants = {"effective_lr": pieces.lr, "global_batch": plan.global_batch,
                 **({"lr_found": lr_found} if lr_found else {})}
    fit = trainer(plan, run_dir, pieces.lr, constants, resumed, pieces.monitor,
                  pieces.module.metric_names if pieces.own_module else None, schedule, averaging(plan, pieces))
    fit.fit(module, pieces.data.train, pieces.data.val, ckpt_path=resumed and resumed.path, weights_only=True)
    if not fit.is_global_zero:
        return {}  # a DDP rank > 0: rank 0 reports
    metrics = read_metrics(run_dir)  # written by RunRecord in the process that trained as rank 0
    shown = " ".join(f"{key}={metrics[key]:.4f}" for key in (pieces.monitor[0], "val/loss")
                     if metrics.get(key) is not None)
    shown = " ".join(dict.fromkeys(shown.split()))  # val/loss once when it is the monitored metric
    print(f"{shown or 'no validation ran'} after {metrics['global_step']} steps ({metrics['wall_seconds']:.1f} s), "
          f"lr {pieces.lr:g}, global batch {plan.global_batch}; run directory: {run_dir}")
    return metrics
