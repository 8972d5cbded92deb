"""The optimizer: torch's class for the configured name, over named parameter groups."""

from __future__ import annotations

import torch
from torch import nn

from lrframe.config import OPTIMIZERS


def param_groups(model: nn.Module, node: dict) -> list[dict]:
    """The parameter groups of ``model``; each carries a ``name`` (used in logged tags)."""
    return [{"name": "default", "params": [p for p in model.parameters() if p.requires_grad]}]


def build_optimizer(model: nn.Module, node: dict, lr: float) -> torch.optim.Optimizer:
    """torch.optim.<class> for ``optimizer.name`` with the node's arguments and base lr ``lr``.

    ``lr`` is the effective learning rate (``optimizer.lr`` after batch-size scaling, or the LR
    finder's suggestion), so the optimizer never sees ``optimizer.lr`` directly.
    """
    class_name, arguments = OPTIMIZERS[node["name"]]
    kwargs = {key: tuple(node[key]) if key == "betas" else node[key] for key in arguments}
    kwargs["lr"] = lr
    return getattr(torch.optim, class_name)(param_groups(model, node), **kwargs)
