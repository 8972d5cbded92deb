"""One member of a fused group: everything its solo run would own, built by the solo run's functions.

A member is built as ``task=fit`` builds a run (``pl.seed_everything(seed)``, then
``training.pieces.build``: its data order, its model initialized from its own seed, its
``TrainingModule`` with loss and metrics), then gets its own optimizer and ``ScheduledLR``
(``training.optimization.configure_optimizers``), TensorBoard logger, ``RunRecord`` and
``StepLogger``. The group's loop drives these through a small stand-in for Lightning's Trainer
(``Progress``): the callbacks read the same attributes they read in a solo run.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import torch

from lrframe.config.errors import Diverged
from lrframe.config.validate import Plan
from lrframe.resume.checkpoint import ResumePoint, last_checkpoint, read_checkpoint, resume_point
from lrframe.resume.fault_tolerance import random_state
from lrframe.optim.optimizer import model_layer_count
from lrframe.sweeps.fused.checkpoint import lightning_loops
from lrframe.tasks import preview
from lrframe.training.callbacks import StepLogger, cycles_momentum, group_tags, step_metrics
from lrframe.training.optimization import configure_optimizers
from lrframe.training.pieces import Pieces, build
from lrframe.training.record import RunRecord, hyperparameters

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What lrframe's callbacks read from a Lightning Trainer, for one member."""

    loggers: list
    optimizers: list
    global_step: int = 0
    current_epoch: int = 0
    is_global_zero: bool = True
    sanity_checking: bool = False
    callback_metrics: dict = field(default_factory=dict)


class Member:
    """One job of a fused group, trained in lockstep with the others."""

    def __init__(self, plan: Plan, run_dir: Path, overrides: list[str]):
        self.run_dir, self.overrides = run_dir, overrides
        pl.seed_everything(plan.config["seed"], verbose=False)
        pieces: Pieces = build(plan, plan.lr)
        self.plan, self.module = pieces.plan, pieces.module
        self.monitor = pieces.monitor
        self.random_state = random_state()  # where the solo run's generators stand when training starts
        self.resumed: ResumePoint | None = resume_point(self.plan, run_dir)
        if self.resumed:
            self.resumed.check_model(self.module, self.plan.config["resume"])
        config = self.plan.config
        self.lr = pieces.lr
        schedule = preview.write_schedule_csv(self.plan, run_dir, None,
                                              model_layer_count(self.module.model, config["optimizer"]))
        optimization = configure_optimizers(self.module.model, self.plan, self.lr)
        self.optimizer = optimization["optimizer"]
        self.scheduler = optimization["lr_scheduler"]["scheduler"]
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.train, self.val = pieces.data.train, pieces.data.val
        self.steps_per_epoch = self.plan.clock.steps_per_epoch
        self.total_steps = self.plan.clock.total_steps
        self.every_n_steps = config["trainer"]["log_every_n_steps"]
        self.checkpoint_every = config["checkpoint"]["every_n_steps"]
        self.clip = (config["trainer"].get("gradient_clip_val"),
                     config["trainer"].get("gradient_clip_algorithm") or "norm")
        logger = None
        if config["logger"]["name"] == "tensorboard":
            from lightning.pytorch.loggers import TensorBoardLogger

            logger = TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False,
                                       purge_step=self.resumed.step if self.resumed else None)
        self.trainer = Progress([logger] if logger else [], [self.optimizer])
        # as task=fit's RunRecord, but for the experiment: the sweep declares one for all its jobs
        self.record = RunRecord(run_dir, hyperparameters(self.plan, overrides, self.lr),
                                {"effective_lr": self.lr, "global_batch": self.plan.global_batch}, self.monitor,
                                metric_names=self.module.metric_names, experiment=False,
                                schedule_figure=partial(preview.png, schedule, preview.title(self.plan)))
        self.step_logger = StepLogger(self.every_n_steps, config["logger"]["step_sizes_every_n_steps"])
        self.adaptive = bool(self.step_logger.step_sizes_every_n_steps) and _adaptive(self.optimizer)
        self.step = 0
        self.saved_step: int | None = self.resumed.step if self.resumed else None
        #: unchecked (step, loss, lr of each group), as DivergenceGuard keeps them
        self.losses: list[tuple[int, torch.Tensor, tuple[float, ...]]] = []
        self.error: BaseException | None = None
        self.finished = False
        self._epoch_index: tuple[int, torch.Tensor] | None = None

    # --- setup -------------------------------------------------------------------------------
    def start(self) -> None:
        """Restore the checkpoint (resume) and log what a solo run logs when training starts."""
        self.record.setup(self.trainer, self.module, "fit")
        if self.resumed:
            self._restore(read_checkpoint(self.resumed.path, value=self.plan.config["resume"]))
        self.trainer.global_step = self.step
        self.record.on_train_start(self.trainer, self.module)
        self.trainer.current_epoch = self.step // self.steps_per_epoch
        if self.step >= self.total_steps:
            self.finish()

    def _restore(self, checkpoint: dict) -> None:
        self.module.load_state_dict(checkpoint["state_dict"])
        self.optimizer.load_state_dict(checkpoint["optimizer_states"][0])
        self.scheduler.load_state_dict(checkpoint["lr_schedulers"][0])
        self.module.on_load_checkpoint(checkpoint)
        self.record.load_state_dict(checkpoint["callbacks"]["RunRecord"])
        self.random_state = checkpoint["callbacks"]["LastCheckpoint"]["random_state"]
        self.step = int(checkpoint["global_step"])

    # --- the data --------------------------------------------------------------------------
    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch that optimizer step ``step`` trains on: batch ``step % E`` of epoch ``step // E``
        in this member's own order (``EpochOrder``, seeded by its ``seed``)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if self._epoch_index is None or self._epoch_index[0] != epoch:
            self.train.sampler.set_epoch(epoch)
            index = self.train.sampler.indices()
            self._epoch_index = (epoch, index)
        index = self._epoch_index[1]
        size = self.train.batch_size
        chosen = index[position * size:(position + 1) * size]
        return self.train.x[chosen], self.train.y[chosen]

    # --- one step ----------------------------------------------------------------------------
    def before_update(self, loss: torch.Tensor, loss_value: float | None) -> None:
        """What a solo run does between backward and the optimizer step (``StepLogger``, the
        divergence check at the logging cadence, gradient clipping)."""
        step = self.step
        self.module.last_loss = loss
        self.module._epoch_loss[0] += loss
        self.module._epoch_loss[1] += 1
        self.losses.append((step, loss, tuple(group["lr"] for group in self.optimizer.param_groups)))
        if step % self.every_n_steps == 0:
            if self.trainer.loggers:
                metrics = step_metrics(self.optimizer, cycles_momentum(self.scheduler))
                metrics["train/loss"] = loss_value if loss_value is not None else loss.item()
                for logger in self.trainer.loggers:
                    logger.log_metrics(metrics, step=step)
            self.check_losses()
        value, algorithm = self.clip
        if value:
            if algorithm == "value":
                torch.nn.utils.clip_grad_value_(self.params, value)
            else:
                torch.nn.utils.clip_grad_norm_(self.params, value)

    def update(self) -> None:
        """The optimizer step, the schedule's step: exactly the solo run's calls."""
        self.optimizer.step()
        if self.adaptive and self.trainer.loggers:
            self.trainer.global_step = self.step
            self.step_logger._log_step_sizes(self.trainer, self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        self.trainer.global_step = self.step

    def check_losses(self) -> None:
        """Raise ``Diverged`` (as ``DivergenceGuard`` would) if a loss since the last check is not finite."""
        if not self.losses:
            return
        finite = torch.isfinite(torch.stack([loss for _, loss, _ in self.losses]))
        if not bool(finite.all()):
            raise self._diverged(int((~finite).nonzero()[0, 0]))
        del self.losses[:-1]  # the newest stays, to name it if the weights fail

    def check_weights(self) -> None:
        if not bool(torch.stack([torch.isfinite(p).all() for p in self.params]).all()):
            raise self._diverged(-1, "; the weights are no longer finite")

    def _diverged(self, index: int, detail: str = "") -> Diverged:
        if not self.losses:  # the weights of a resumed member, before any step
            return Diverged(self.step, float("nan"), dict(zip(group_tags(self.optimizer, "lr"),
                                                               self.scheduler.get_lr())), detail)
        step, loss, lrs = self.losses[index]
        return Diverged(step, float(loss), dict(zip(group_tags(self.optimizer, "lr"), lrs)), detail)

    # --- epoch ends ---------------------------------------------------------------------------
    def validated(self, metrics: dict[str, float]) -> None:
        """After validation: log, track the best, feed a metric-watching schedule (its own metric)."""
        self.module.last_metrics.update(metrics)
        for logger in self.trainer.loggers:
            logger.log_metrics(metrics, step=self.step - 1)
        self.record.on_validation_end(self.trainer, self.module)
        if self.scheduler.observes_metric:
            self.scheduler.observe(self.module.last_metrics)

    def epoch_ended(self) -> None:
        """``TrainingModule.on_train_epoch_end``: the epoch's mean training loss."""
        loss_sum, batches = self.module._epoch_loss
        self.module.last_metrics["train/loss"] = (loss_sum / batches).item()
        for logger in self.trainer.loggers:
            logger.log_metrics({"train/loss_epoch": self.module.last_metrics["train/loss"]}, step=self.step - 1)
        self.module._epoch_loss.zero_()

    def checkpoint(self, epoch_end: bool, val_batches: int) -> tuple[dict, Path] | None:
        """This member's checkpoint now (a solo run's ``LastCheckpoint._save``), or None if saved already."""
        if self.saved_step == self.step:
            return None
        self.check_losses()
        self.check_weights()
        for logger in self.trainer.loggers:
            logger.save()
        epoch = (self.step - 1) // self.steps_per_epoch if epoch_end else self.step // self.steps_per_epoch
        checkpoint = {
            "epoch": epoch,
            "global_step": self.step,
            "pytorch-lightning_version": pl.__version__,
            "state_dict": {key: value.detach().clone() for key, value in self.module.state_dict().items()},
            "loops": lightning_loops(self.step, self.steps_per_epoch, val_batches, epoch_end),
            "callbacks": {"RunRecord": self.record.state_dict(),
                          "LastCheckpoint": {"random_state": self.random_state}},
            "optimizer_states": [self.optimizer.state_dict()],
            "lr_schedulers": [self.scheduler.state_dict()],
            "hparams_name": None,
            "hyper_parameters": {"config": self.plan.config},
        }
        self.module.on_save_checkpoint(checkpoint)
        self.saved_step = self.step
        return checkpoint, last_checkpoint(self.run_dir)

    # --- the end ------------------------------------------------------------------------------
    def finish(self) -> None:
        """``RunRecord.on_fit_end``: ``metrics.json`` and the HParams session."""
        self.trainer.global_step = self.step
        self.trainer.current_epoch = math.ceil(self.step / self.steps_per_epoch)
        self.record.on_fit_end(self.trainer, self.module)
        self._close("success")

    def fail(self, error: BaseException) -> None:
        """Stopped alone (diverged): the session ends with status failure; the last good checkpoint stays."""
        self.error = error
        if self.saved_step is not None:
            error.checkpoint = (str(last_checkpoint(self.run_dir)), self.saved_step)
        self.record.on_exception(self.trainer, self.module, error)
        self._close("failed")

    def _close(self, status: str) -> None:
        for logger in self.trainer.loggers:
            logger.finalize(status)
        self.finished = True

    @property
    def metric(self) -> float | None:
        """The sweep's objective, as ``cli.main`` returns it."""
        if self.error is not None:
            return None
        from lrframe.run_files import read_metrics

        metrics = read_metrics(self.run_dir)
        return metrics.get(metrics.get("monitor", "val/acc"))

    def summary_line(self) -> str:
        from lrframe.run_files import read_metrics

        metrics = read_metrics(self.run_dir)
        shown = " ".join(dict.fromkeys(f"{key}={metrics[key]:.4f}" for key in (self.monitor[0], "val/loss")
                                       if metrics.get(key) is not None))
        return f"{shown or 'no validation ran'} after {metrics['global_step']} steps, lr {self.lr:g}"


def _adaptive(optimizer: torch.optim.Optimizer) -> bool:
    from lrframe.optim.step_sizes import is_adaptive

    return is_adaptive(optimizer)


def now() -> float:
    return time.perf_counter()
