"""What a run leaves behind when it ends: ``metrics.json`` and one TensorBoard HParams session.

The session holds the run's hyper-parameters: the config flattened (``optimizer.lr``,
``scheduler.T_max``), the command-line ``overrides`` that made the run, and what the config
resolved to (``resolved.total_steps``, ``resolved.steps_per_epoch``, ``resolved.warmup_steps``,
``resolved.scheduler.T_max``, ``resolved.global_batch``, ``resolved.lr``: the effective lr).
Its metrics are scalar series, as TensorBoard's HParams tab reads them: the last value of each.
``val/acc`` and ``val/loss`` are already logged after every validation, so their last values are the
final ones; ``val/acc_best`` and ``wall_seconds`` are logged once, at the end.

No ``hp_metric`` is logged. A run that fails (e.g. diverges) ends its session with
status failure and writes no ``metrics.json`` (under ``ddp_spawn`` a failed run has no session:
Lightning handles the worker's exception in the launching process, which did not train).

When training starts, a fresh run also opens its TensorBoard on what matters
(``lrframe.training.board``): the custom-scalars layout, its constants (``effective_lr``,
``global_batch``, ``lr_found``: also in ``metrics.json``) as text, the HParams experiment (a single
run's own; a multirun's jobs leave it to the sweep) and the planned schedule as an image.

Everything here is written by the process that trains as global rank 0; under DDP that is also
where the training state lives (with ``ddp_spawn`` the launching process gets none of it back, so
``tasks.fit`` reads ``metrics.json`` rather than the Trainer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lrframe.config.validate import Plan
from lrframe.config.errors import show
from lrframe.run_files import METRICS_FILE, write_text_atomically
from lrframe.training import board
from lrframe.training.callbacks import newest_metrics

HParam = bool | int | float | str


def flatten(node: dict, prefix: str = "") -> dict[str, HParam]:
    """Nested config -> ``{"a.b": value}``; lists and null written as on the command line.

    >>> flatten({"optimizer": {"lr": 0.1, "betas": [0.9, 0.99]}, "resume": None})
    {'optimizer.lr': 0.1, 'optimizer.betas': '[0.9,0.99]', 'resume': 'null'}
    """
    flat = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, (bool, int, float, str)) else show(value)
    return flat


def command_line_overrides() -> list[str]:
    """The overrides of the running Hydra job (``[]`` outside Hydra, e.g. in-process tests)."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (False outside Hydra)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def first_keys(overrides: list[str], hparams: dict[str, HParam]) -> list[str]:
    """The hyper-parameters a single run's HParams table lists first: those its command line set,
    then those that set its lr (``board.first_keys``)."""
    return board.first_keys(board.swept_keys(overrides, hparams), hparams)


def hyperparameters(plan: Plan, overrides: list[str], lr: float) -> dict[str, HParam]:
    """The run's hyper-parameters as the HParams tab shows them (see the module docstring).

    ``lr`` is the base lr the run trains with (``optimizer.lr=auto``: the one found).
    """
    resolved = {
        "total_steps": plan.clock.total_steps,
        "steps_per_epoch": plan.clock.steps_per_epoch,
        "global_batch": plan.global_batch,
        "lr": lr,
    }
    if "_target_" not in plan.config["scheduler"]:  # a user's torch class resolves nothing of ours
        schedule = plan.schedule(lr)
        resolved |= {"warmup_steps": schedule.warmup_steps, "scheduler": schedule.arguments}
    return {**flatten(plan.config), "overrides": " ".join(overrides), **flatten(resolved, "resolved.")}


def session_summaries(hparams: dict[str, HParam], started: float, succeeded: bool) -> list:
    """The HParams plugin's session start (the hyper-parameters) and end (the status) summaries."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2, summary_v2

    status = api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE
    end = plugin_data_pb2.HParamsPluginData(
        session_end_info=plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time()))
    return [summary_v2.hparams_pb(hparams, start_time_secs=started),
            Summary(value=[Summary.Value(tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                                         metadata=metadata.create_summary_metadata(end))])]


class RunRecord(pl.Callback):
    """Track the best value of the monitored metric (``monitor``: ``val/acc`` maximized for class
    labels, ``val/loss`` minimized for real targets); when a fresh run starts training, open its
    TensorBoard (see the module docstring); when training ends, write ``metrics.json`` and the
    HParams session.

    ``constants``: the run's per-run values (``effective_lr``, ``global_batch``, ``lr_found``),
    shown as text and written to metrics.json as they are. ``metric_names``: the validation metrics
    the module logs (None: not known in advance). ``first``: the hyper-parameters the experiment
    lists first; ``experiment``: False for a multirun's job (its sweep declares one for every job).
    ``schedule_figure``: the planned schedule as PNG bytes, drawn when training starts.
    """

    def __init__(self, run_dir: Path, hparams: dict[str, HParam], constants: dict[str, Any],
                 monitor: tuple[str, str] = ("val/acc", "max"), *, metric_names: list[str] | None = None,
                 first: list[str] = (), experiment: bool = True,
                 schedule_figure: Callable[[], bytes] | None = None):
        self.run_dir, self.hparams, self.constants = run_dir, hparams, constants
        self.monitor, self.mode = monitor
        self.metric_names, self.first, self.experiment = metric_names, list(first), experiment
        self.schedule_figure = schedule_figure
        self.started = time.time()  # wall clock: the same on every process of the machine
        self.earlier_seconds = 0.0  # the training time of the checkpointed run this one resumes
        self.resumed_step: int | None = None
        self.best: float | None = None
        self.training_here = False  # False in a ddp_spawn launcher, whose workers train and record

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        from lightning.pytorch.loggers import TensorBoardLogger

        from lrframe.tasks import quiet_libraries

        quiet_libraries()  # again: a ddp_spawn worker is a fresh interpreter
        self.training_here = True
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                # Only hparams.yaml: without metrics Lightning writes nothing to the event files
                # (the session is written at the end, with the metrics).
                logger.log_hyperparams(self.hparams)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """A fresh run's opening summaries, at step 0 (a resumed run has them from its start:
        its writer purges only the steps from the checkpoint's on)."""
        if trainer.global_step != 0 or not trainer.is_global_zero:
            return
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers = [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        if not loggers:
            return
        names = self.metric_names and sorted(self.metric_names, key=lambda name: name != self.monitor)
        summaries = [board.layout_summary(names),  # the monitored metric's chart first
                     board.text_summary(board.CONSTANTS_TAG, board.constants_markdown(self.constants))]
        if self.experiment:
            summaries.append(board.experiment_summary(
                [self.hparams], self.first, board.declared_metrics(self.monitor, self.metric_names)))
        if self.schedule_figure is not None:
            summaries.append(board.image_summary(board.SCHEDULE_TAG, self.schedule_figure()))
        for logger in loggers:
            writer = logger.experiment._get_file_writer()  # as Lightning's own log_hyperparams does
            for summary in summaries:
                writer.add_summary(summary, 0)
            logger.experiment.flush()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = newest_metrics(trainer, pl_module).get(self.monitor)
        if value is not None and not trainer.sanity_checking:
            better = max if self.mode == "max" else min
            self.best = float(value) if self.best is None else better(self.best, float(value))

    def final_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        # lrframe's module checkpoints them: a resumed run that trains no further has them too
        newest = newest_metrics(trainer, pl_module)
        validation = {name: value for name, value in newest.items() if name.startswith("val/")}
        return {
            "val/acc": newest.get("val/acc"),
            "val/loss": newest.get("val/loss"),
            **validation,
            f"{self.monitor}_best": self.best,
            "monitor": self.monitor,
            "train/loss": newest.get("train/loss"),
            "global_step": trainer.global_step,
            "epochs": trainer.current_epoch,
            "wall_seconds": self.wall_seconds(),
            **self.constants,
        }

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # on_fit_end, not on_train_end: Lightning skips the training loop (and on_train_end) when a
        # resumed run had already finished, and that run must still report its metrics
        if not trainer.is_global_zero:
            return
        if self.resumed_step == trainer.global_step and (self.run_dir / METRICS_FILE).is_file():
            return  # a finished run revisited (resume=auto): nothing trained, its record stays as it was
        metrics = self.final_metrics(trainer, pl_module)
        write_text_atomically(json.dumps(metrics, indent=2) + "\n", self.run_dir / METRICS_FILE)
        self._log_session(trainer, metrics, succeeded=True)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if trainer.is_global_zero and self.training_here:
            self._log_session(trainer, self.final_metrics(trainer, pl_module), succeeded=False)

    def _log_session(self, trainer: pl.Trainer, metrics: dict[str, Any], succeeded: bool) -> None:
        """One session: its hyper-parameters, the end-of-run scalars, its status."""
        from lightning.pytorch.loggers import TensorBoardLogger

        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                once = (f"{self.monitor}_best", "wall_seconds")
                logger.log_metrics({key: metrics[key] for key in once if metrics[key] is not None},
                                   step=trainer.global_step)
                writer = logger.experiment._get_file_writer()  # as Lightning's own log_hyperparams does
                for summary in session_summaries(self.hparams, self.started, succeeded):
                    writer.add_summary(summary)
                logger.experiment.flush()

    def wall_seconds(self) -> float:
        """The run's training time: this process's, plus that of the run it resumed."""
        return round(self.earlier_seconds + time.time() - self.started, 3)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wall_seconds": self.wall_seconds()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best", state_dict.get("best_val_acc"))  # best_val_acc: before 0.2
        self.earlier_seconds = state_dict.get("wall_seconds", 0.0)  # absent from older checkpoints

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        self.resumed_step = checkpoint["global_step"]
