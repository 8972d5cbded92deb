"""The LightningModule that ties model, optimizer and schedule together for classification."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from lrframe.config.validate import Plan
from lrframe.schedules.scheduler import ScheduledLR
from lrframe.models.mlp import build_model
from lrframe.optim.optimizer import build_optimizer
from lrframe.schedules.target import lightning_scheduler, target_arguments


#: values that are never a parameter, module or buffer
PLAIN_TYPES = frozenset({str, int, float, bool, type(None), dict, list, tuple, torch.Tensor})


class TrainingModule(pl.LightningModule):
    """Cross-entropy classification; the optimizer and lr schedule come from the plan.

    Logged: ``val/loss`` and ``val/acc`` after each validation, ``train/loss_epoch`` per epoch.
    Per-step values (lr of every group, ``train/loss``) are logged by ``callbacks.StepLogger``
    from ``last_loss``, so a step costs no device synchronisation.
    """

    def __init__(self, plan: Plan, num_features: int, num_classes: int, lr: float | None = None):
        super().__init__()
        self.plan = plan
        self.lr = lr or plan.lr
        self.model = build_model(plan, num_features, num_classes)
        self.save_hyperparameters({"config": plan.config})
        self.last_loss: torch.Tensor | None = None
        self.last_metrics: dict[str, float] = {}  # the newest val/loss, val/acc, train/loss (checkpointed)
        self.register_buffer("_epoch_loss", torch.zeros(2), persistent=False)  # sum, batches
        self.register_buffer("_val_totals", torch.zeros(3), persistent=False)  # loss sum, correct, count

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets plain attributes such as _current_fx_name around every hook it calls,
        # about 50 times a step, and nn.Module.__setattr__ checks each value against parameters,
        # modules and buffers first (~3 us). A name already in __dict__ is none of those (nn.Module
        # keeps them in dicts of their own), so a plain value for it is set directly.
        if type(value) in PLAIN_TYPES and name in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Batches are slices of tensors that already live on the module's device: nothing to move."""
        if batch[0].device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def configure_optimizers(self):
        optimizer = build_optimizer(self.model, self.plan.config["optimizer"], self.lr)
        node = self.plan.config["scheduler"]
        if "_target_" in node:  # the user's own torch LRScheduler, stepped by Lightning every `interval`
            scheduler = instantiate(target_arguments(node), optimizer=optimizer, _convert_="all")
            return {"optimizer": optimizer, "lr_scheduler": lightning_scheduler(node, scheduler)}
        scheduler = ScheduledLR(optimizer, self.plan.schedule(self.lr))
        # stepped after every optimizer step: the schedule itself knows about epochs
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    @property
    def scheduler(self) -> ScheduledLR:
        return self.lr_schedulers()

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
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
        # logging it again
        self._log_epoch({"train/loss_epoch": self.last_metrics["train/loss"], "epoch": self.current_epoch})
        self._epoch_loss.zero_()

    def _log_epoch(self, metrics: dict[str, float]) -> None:
        """Write epoch metrics to every logger at the epoch's last optimizer step, as ``self.log``
        would, but directly: Lightning's result collection costs about 1 ms a call, and the values
        are plain floats already (kept in ``last_metrics`` for the run record and a resume)."""
        for logger in self.loggers:
            logger.log_metrics(metrics, step=self.global_step - 1)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self._val_totals += torch.stack([F.cross_entropy(logits, y, reduction="sum"),
                                         (logits.argmax(dim=1) == y).sum().float(),
                                         torch.tensor(float(len(y)), device=logits.device)])

    def on_validation_epoch_end(self) -> None:
        loss_sum, correct, count = self.trainer.strategy.reduce(self._val_totals.clone(), reduce_op="sum")
        self._val_totals.zero_()
        if self.trainer.sanity_checking:
            return
        val_loss, val_acc = (loss_sum / count).item(), (correct / count).item()
        metrics = {"val/loss": val_loss, "val/acc": val_acc}
        self.last_metrics.update(metrics)
        self._log_epoch(metrics)
        if isinstance(self.scheduler, ScheduledLR) and self.scheduler.schedule.observes_metric:
            self.scheduler.observe(metrics)
