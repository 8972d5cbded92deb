"""Validation metrics from torchmetrics (``metrics=NAME`` or ``metrics._target_``), logged as ``val/<name>``.

``auto`` follows the targets: accuracy for class labels; mean absolute error, root mean squared
error and R^2 for real values. A ``_target_`` is any torchmetrics ``Metric`` or ``MetricCollection``
(``update(output, target)``, ``compute()``); torchmetrics sums its state across DDP processes.
"""

from __future__ import annotations

from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score
from torchmetrics.text import Perplexity

#: the metric each task monitors (plateau, best value, a sweep's objective): name -> mode
MONITOR = {"labels": ("val/acc", "max"), "values": ("val/loss", "min")}


def _accuracy(num_classes: int) -> dict[str, Metric]:
    # micro average: the fraction of correct samples (torchmetrics' default averages per class)
    return {"acc": MulticlassAccuracy(num_classes, average="micro", multidim_average="global")}


def _regression(num_classes: int | None) -> dict[str, Metric]:
    return {"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False), "r2": R2Score()}


class TokenPerplexity(Perplexity):
    """torchmetrics' Perplexity for the flat ``(tokens, vocabulary)`` logits ``flat`` gives."""

    def update(self, preds, target) -> None:
        super().update(preds.unsqueeze(0), target.unsqueeze(0))


def flat(output, target, kind: str):
    """Outputs and targets as metrics take them: ``(samples, classes)`` logits and ``(samples,)``
    labels (a sequence's positions are samples), or real outputs in the targets' shape."""
    if kind == "labels":
        return output.reshape(-1, output.shape[-1]), target.reshape(-1)
    return output.reshape(target.shape), target


BUILT_IN = {
    "accuracy": _accuracy,
    "regression": _regression,
    "perplexity": lambda num_classes: {"perplexity": TokenPerplexity()},
    "none": lambda num_classes: {},
}


def build_metrics(node: dict, targets: str, num_classes: int | None) -> MetricCollection:
    """The metrics a node names, for ``targets`` (``labels`` or ``values``), prefixed ``val/``."""
    name = node["name"]
    if name == "auto":
        name = "accuracy" if targets == "labels" else "regression"
    return MetricCollection(BUILT_IN[name](num_classes), prefix="val/")
