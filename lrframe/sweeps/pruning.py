"""A trial of a search reports ``val/acc`` after every validation, and its pruner may stop it.

``TrialReport`` is a Lightning callback that ``tasks.fit`` adds when the run is a trial of lrframe's
Optuna sweeper (``lrframe.sweeps.search``). After each validation it calls
``trial.report(val/acc, step=epoch)`` (the epoch counted from 0, as Lightning and Optuna's own
Lightning callback count it) and asks ``trial.should_prune()``. A trial to prune is not killed:
Lightning stops it at the end of that epoch as it stops any run early (``trainer.should_stop``), so
it writes its checkpoint, ``metrics.json`` and its HParams session (``trial.state`` = ``pruned``);
then ``raise_if_pruned`` (called by ``sweep.run_job`` once the task returns) raises
``optuna.TrialPruned``, which ``run_job`` records as status ``pruned`` and the sweeper tells the
study. (Optuna's own ``PyTorchLightningPruningCallback`` raises inside the validation hook, which
Lightning handles as a crash: no ``metrics.json``, a failed HParams session.)

Where the trial comes from: ``lrframe.sweeps.trial``. Nothing here imports Optuna unless the run is a trial.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning.pytorch as pl

from lrframe.sweeps import trial as trials
from lrframe.training.callbacks import newest_metrics

log = logging.getLogger(__name__)


def trial_callbacks(monitor: str) -> list[pl.Callback]:
    """``[TrialReport(...)]`` reporting ``monitor`` when this run is a trial of a search, else ``[]``."""
    trials.pruned = None
    trial = trials.current_trial()
    return [] if trial is None else [TrialReport(trial.number, monitor)]


class TrialReport(pl.Callback):
    """Report the monitored metric (``val/acc``, or ``val/loss``) to the trial after each validation;
    stop the run when the pruner says so.

    It keeps only the trial's number (a ``ddp_spawn`` worker gets a pickled copy, and finds no trial
    of that number in its process: it reports nothing).
    """

    def __init__(self, number: int, monitor: str):
        self.number, self.monitor = number, monitor
        self.reported: set[int] = set()
        self.state = "running"

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.state = "running"
        self._mark(trainer, "running")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trial = trials.running_trials.get(self.number)
        if trial is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        value = newest_metrics(trainer, pl_module).get(self.monitor)
        epoch = trainer.current_epoch
        if value is None or epoch in self.reported:  # one report per epoch (the first validation's)
            return
        self.reported.add(epoch)
        trial.report(float(value), step=epoch)
        if trial.should_prune():
            trials.pruned = f"{self.monitor}={float(value):.4f} after epoch {epoch} (counted from 0)"
            log.info(f"trial {self.number} pruned: {trials.pruned}; it stops at the end of this epoch")
            trainer.should_stop = True
            self.state = "pruned"

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._mark(trainer, "completed" if self.state == "running" else self.state)  # before RunRecord's

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._mark(trainer, "failed")

    def _mark(self, trainer: pl.Trainer, state: str) -> None:
        """The trial's number and state as hyper-parameters of the run's HParams session (which
        RunRecord writes when the run ends) and of its ``hparams.yaml``."""
        from lightning.pytorch.core.saving import save_hparams_to_yaml
        from lightning.pytorch.loggers import TensorBoardLogger

        from lrframe.training.record import RunRecord

        marks = {"trial.number": self.number, "trial.state": state}
        for callback in trainer.callbacks:
            if isinstance(callback, RunRecord):
                callback.hparams.update(marks)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger) and trainer.is_global_zero:
                logger.log_hyperparams(marks)  # no metrics: the logger's hparams only, no events
                save_hparams_to_yaml(Path(logger.log_dir) / logger.NAME_HPARAMS_FILE, logger.hparams)

