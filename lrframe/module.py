"""The LightningModule that ties model, optimizer and schedule together for classification."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from lrframe.config import Plan
from lrframe.lr_scheduler import ScheduledLR
from lrframe.models import build_model
from lrframe.optim import build_optimizer
from lrframe.schedules.target import lightning_scheduler, target_arguments


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
        self.register_buffer("_epoch_loss", torch.zeros(2), persistent=False)  # sum, batches
        self.register_buffer("_val_totals", torch.zeros(3), persistent=False)  # loss sum, correct, count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

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

    def on_train_epoch_end(self) -> None:
        loss_sum, batches = self.trainer.strategy.reduce(self._epoch_loss.clone(), reduce_op="sum")
        self.log("train/loss_epoch", loss_sum / batches)
        self._epoch_loss.zero_()

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
        self.log_dict({"val/loss": val_loss, "val/acc": val_acc})
        if isinstance(self.scheduler, ScheduledLR) and self.scheduler.schedule.observes_metric:
            self.scheduler.observe({"val/loss": val_loss, "val/acc": val_acc})
