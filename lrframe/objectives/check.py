"""Before training: the model's output, the loss and the targets fit together (one batch, one line).

A mismatch is found before the first step, not as a broadcast warning or a CUDA assert after it::

    model._target_=my_model.Net: outputs 7 values per sample; the data has 10 classes
    loss.name=cross_entropy: needs integer class labels; the data's targets are real values (regression: loss=mse)
"""

from __future__ import annotations

import torch

from lrframe.config.errors import ConfigError
from lrframe.config.groups import LOSSES
from lrframe.config.registry import is_target, option


def target_kind(targets: torch.Tensor) -> str:
    """``labels`` (integer class labels) or ``values`` (real numbers)."""
    return "values" if torch.is_floating_point(targets) else "labels"


def model_key(config: dict) -> tuple[str, str]:
    return option("model", config["model"], "model.name")


def check_objective(config: dict, model: torch.nn.Module, loss_fn, batch,
                    num_classes: int | None) -> tuple[str, int]:
    """Run ``model`` on one batch and check its output and the loss against the targets; returns the
    targets' kind and the model's output width. Raises a one-line ConfigError naming both sides."""
    x, y = batch
    kind = target_kind(y)
    loss_node = config["loss"]
    if not is_target(loss_node) and LOSSES[loss_node["name"]] != kind:
        have = "real values" if kind == "values" else "integer class labels"
        hint = "regression: loss=mse" if kind == "values" else "classification: loss=cross_entropy"
        need = "integer class labels" if kind == "values" else "real-valued targets"
        raise ConfigError("loss.name", loss_node["name"], f"needs {need}; the data's targets are {have} ({hint})")
    key, value = model_key(config)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(x.to(device))
    except Exception as error:  # noqa: BLE001 - the model cannot take the data's inputs
        reason = " ".join(str(error).split())[:200]
        raise ConfigError(key, value, f"fails on a batch of inputs of shape {list(x.shape)}: "
                                      f"{type(error).__name__}: {reason}") from None
    finally:
        model.train(was_training)
    if not torch.is_tensor(output):
        raise ConfigError(key, value, f"returns a {type(output).__name__}; expected a tensor")
    y = y.to(device)
    if kind == "labels":
        if output.ndim != y.ndim + 1 or output.shape[:-1] != y.shape:
            raise ConfigError(key, value, f"outputs shape {list(output.shape)} for labels of shape {list(y.shape)}; "
                                          "expected (batch, ..., classes)")
        if num_classes is not None and output.shape[-1] != num_classes:
            raise ConfigError(key, value, f"outputs {output.shape[-1]} values per sample; the data has "
                                          f"{num_classes} classes")
    elif output.numel() != y.numel():
        raise ConfigError(key, value, f"outputs shape {list(output.shape)} for targets of shape {list(y.shape)}; "
                                      f"expected {y.numel() // len(y)} values per sample")
    try:
        loss = loss_fn(output, y)
    except Exception as error:  # noqa: BLE001 - a user's loss that cannot take these
        reason = " ".join(str(error).split())[:200]
        raise ConfigError(*option("loss", loss_node, "loss.name"), f"cannot apply to outputs {list(output.shape)} "
                          f"and targets {list(y.shape)}: {type(error).__name__}: {reason}") from None
    if not torch.is_tensor(loss) or loss.numel() != 1:
        raise ConfigError("loss._target_", loss_node.get("_target_"), "must return one number (a scalar tensor)")
    return kind, output.shape[-1]
