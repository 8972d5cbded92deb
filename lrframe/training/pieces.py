"""What a run trains, built the same way for every task: data, model, loss, metrics, LightningModule.

``build(plan)`` builds the data first (it sizes the clock), then ``module=lrframe``'s model, loss
and metrics, checked against one batch before any training; or a user's LightningModule
(``module._target_``), given lrframe's optimizer and schedule. ``task=fit`` trains the result,
``task=lr_find`` runs the range test on exactly the same pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning.pytorch as pl
import torch

from lrframe.config.groups import MODULE_CONTEXT
from lrframe.config.registry import builtin, is_target
from lrframe.config.targets import build_target, parameters
from lrframe.config.validate import Plan
from lrframe.data.build import Data, build_data, first_batch
from lrframe.models.build import build_model, context
from lrframe.objectives.check import check_objective, target_kind
from lrframe.objectives.metrics import MONITOR, build_metrics
from lrframe.optim.optimizer import check_groups
from lrframe.training.optimization import adopt


@dataclass(frozen=True)
class Pieces:
    plan: Plan  # completed with the data's size
    data: Data
    module: pl.LightningModule
    parameters: torch.nn.Module  # whose parameters the optimizer updates
    kind: str  # the targets: labels or values
    own_module: bool  # module=lrframe (False: a user's LightningModule)

    @property
    def monitor(self) -> tuple[str, str]:
        """The metric that says how good the run is, and whether higher (max) or lower (min) is better:
        val/acc where it is measured (class labels), else val/loss."""
        measured = self.own_module and f"{MONITOR['labels'][0]}" in self.module.metric_names
        return MONITOR["labels"] if measured else MONITOR["values"]

    @property
    def lr(self) -> float | None:
        """The base lr the module's optimizer gets."""
        return self.module.lr if self.own_module else self.module.lrframe_lr

    def set_lr(self, lr: float) -> None:
        """The base lr for the optimizer (``optimizer.lr=auto``: the one the range test found)."""
        if self.own_module:
            self.module.lr = lr
        else:
            self.module.lrframe_lr = lr

    def batch_loss(self):
        """The loss of one training batch, as the module computes it (the LR range test's step)."""
        if self.own_module:
            return None
        def loss(batch):
            output = self.module.training_step(batch, 0)
            return output["loss"] if isinstance(output, dict) else output
        return loss


def build_loss(config: dict):
    node = config["loss"]
    return build_target("loss", node) if is_target(node) else builtin("loss", node).builder()(node)


def build_metrics_for(config: dict, kind: str, num_classes: int | None):
    node = config["metrics"]
    return build_target("metrics", node) if is_target(node) else build_metrics(node, kind, num_classes)


def build(plan: Plan, lr: float | None) -> Pieces:
    """Every piece of the run, seeded as the caller seeded the process (the model's initial weights)."""
    from lrframe.training.module import TrainingModule

    data, plan = build_data(plan)
    config = plan.config
    node = config["module"]
    if is_target(node):
        provided = {"loss": build_loss(config), **context(data)}
        if "model" not in node and "model" in parameters("module", node):
            provided["model"] = build_model(config, data)
        provided = {k: v for k, v in provided.items() if k in MODULE_CONTEXT and v is not None}
        module = adopt(build_target("module", node, provided=provided), plan, lr)
        check_groups(module, config["optimizer"])  # patterns, layers: one line before training
        _, y = first_batch(data.val if data.val is not None else data.train, config["data"])
        return Pieces(plan, data, module, module, target_kind(y), own_module=False)
    model = build_model(config, data)
    check_groups(model, config["optimizer"])
    loss_fn = build_loss(config)
    batch = first_batch(data.val, config["data"])
    kind, width = check_objective(config, model, loss_fn, batch, data.num_classes)
    metrics = build_metrics_for(config, kind, width if kind == "labels" else None)
    module = TrainingModule(plan, model, loss_fn, metrics, kind, lr)
    return Pieces(plan, data, module, model, kind, own_module=True)
