"""lrframe's LightningModule (``module=lrframe``): a model, a loss and validation metrics.

The optimizer and lr schedule come from the plan (``lrframe.training.optimization``).
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torchmetrics import MeanMetric, MetricCollection

from lrframe.config.validate import Plan
from lrframe.objectives.metrics import flat
from lrframe.training.optimization import configure_optimizers


#: values that are never a parameter, module or buffer
PLAIN_TYPES = frozenset({str, int, float, bool, type(None), dict, list, tuple, torch.Tensor})


class TrainingModule(pl.LightningModule):
    """Train ``model`` on ``loss_fn``; validate with ``val/loss`` and ``metrics`` (``val/acc``, ...).

    Logged: ``val/loss`` and every metric after each validation, ``train/loss_epoch`` per epoch.
    Per-step values (lr of every group, ``train/loss``) are logged by ``callbacks.StepLogger``
    from ``last_loss``, so a step costs no device synchronisation.
    """

    def __init__(self, plan: Plan, model: torch.nn.Module, loss_fn, metrics: MetricCollection, kind: str,
                 lr: float):
        super().__init__()
        self.plan, self.lr, self.kind = plan, lr, kind
        self.model, self.loss_fn, self.metrics = model, loss_fn, metrics
        self.val_loss = MeanMetric()
        self.save_hyperparameters({"config": plan.config})
        self.last_loss: torch.Tensor | None = None
        self.last_metrics: dict[str, float] = {}  # the newest val/loss, val/acc, train/loss (checkpointed)
        self.register_buffer("_epoch_loss", torch.zeros(2), persistent=False)  # sum, batches
        # each DDP process sums its own losses (reduced at the epoch end): DDP must not overwrite this
        # buffer with rank 0's at every forward, as it does with the buffers it broadcasts
        self._ddp_params_and_buffers_to_ignore = ["_epoch_loss"]

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets plain attributes such as _current_fx_name around every hook it calls,
        # about 50 times a step, and nn.Module.__setattr__ checks each value against parameters,
        # modules and buffers first (~3 us). A name already in __dict__ is none of those (nn.Module
        # keeps them in dicts of their own), so a plain value for it is set directly.
        if type(value) in PLAIN_TYPES and name in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def metric_names(self) -> list[str]:
        """``val/loss`` and the metrics' names, as logged."""
        return ["val/loss", *self.metrics.keys(keep_base=False)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Batches are slices of tensors that already live on the module's device: nothing to move."""
        if batch[0].device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def configure_optimizers(self):
        return configure_optimizers(self.model, self.plan, self.lr)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        detached = loss.detach()
        self._epoch_loss[0] += detached
        self._epoch_loss[1] += 1
        self.last_loss = detached
        return loss

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # a resumed run continues train/loss_epoch mid-epoch and reports the newest metrics
        checkpoint["epoch_loss"] = self._epoch_loss.cpu()
        checkpoint["last_metrics"] = self.last_metrics

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._epoch_loss.copy_(checkpoint["epoch_loss"])
        self.last_metrics = checkpoint["last_metrics"]

    def on_train_epoch_end(self) -> None:
        loss_sum, batches = self.trainer.strategy.reduce(self._epoch_loss.clone(), reduce_op="sum")
        self.last_metrics["train/loss"] = (loss_sum / batches).item()
        # on disk before the epoch-end checkpoint, which a resumed run continues after without
        # logging it again (no "epoch" series: a one-per-epoch staircase of step / steps per epoch)
        self._log_epoch({"train/loss_epoch": self.last_metrics["train/loss"]})
        self._epoch_loss.zero_()

    def _log_epoch(self, metrics: dict[str, float]) -> None:
        """Write epoch metrics to every logger at the epoch's last optimizer step, as ``self.log``
        would, but directly: Lightning's result collection costs about 1 ms a call, and the values
        are plain floats already (kept in ``last_metrics`` for the run record and a resume)."""
        for logger in self.loggers:
            logger.log_metrics(metrics, step=self.global_step - 1)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        output = self.model(x)
        self.val_loss.update(self.loss_fn(output, y), weight=len(y))
        self.metrics.update(*flat(output, y, self.kind))

    def on_validation_epoch_end(self) -> None:
        # torchmetrics sums the states of every DDP process before computing
        metrics = {"val/loss": self.val_loss.compute().item(),
                   **{name: value.item() for name, value in self.metrics.compute().items()}}
        self.val_loss.reset()
        self.metrics.reset()
        if self.trainer.sanity_checking:
            return
        self.last_metrics.update(metrics)
        self._log_epoch(metrics)
