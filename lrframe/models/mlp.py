"""Small models for the built-in tasks."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from lrframe.config.validate import ACTIVATIONS, INIT_NONLINEARITIES, Plan, mlp_layer_names
from lrframe.models.init import initialize


def mlp(*, in_features: int, hidden: list[int], out_features: int, activation: str) -> nn.Sequential:
    """A multilayer perceptron: Linear -> activation for each hidden width, then a Linear head.

    Layers are named ``hidden1``, ``act1``, ..., ``hiddenN``, ``actN``, ``head`` (see
    ``lrframe.config.validate.mlp_layer_names``), so parameters read ``hidden1.weight``, ``head.bias``:
    the names ``optimizer.lr_multipliers`` patterns match.

    >>> mlp(in_features=64, hidden=[256, 256], out_features=10, activation="relu").head
    Linear(in_features=256, out_features=10, bias=True)
    """
    widths = [in_features, *hidden, out_features]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, name in enumerate(mlp_layer_names(hidden)):
        layers[name] = nn.Linear(widths[i], widths[i + 1])
        if name != "head":
            layers[f"act{i + 1}"] = getattr(nn, ACTIVATIONS[activation])()
    return nn.Sequential(layers)


def build_model(plan: Plan, num_features: int, num_classes: int) -> torch.nn.Module:
    """The configured model, initialized with the configured scheme."""
    model_cfg, init_cfg = plan.config["model"], dict(plan.config["init"])
    model = mlp(in_features=num_features, hidden=model_cfg["hidden"], out_features=num_classes,
                activation=model_cfg["activation"])
    if "nonlinearity" in init_cfg and init_cfg["nonlinearity"] is None:
        # follow the model's activation (torch knows gains for relu, leaky_relu, tanh, sigmoid)
        activation = model_cfg["activation"]
        init_cfg["nonlinearity"] = activation if activation in INIT_NONLINEARITIES else "relu"
    scheme = init_cfg.pop("name")
    return initialize(model, scheme, **init_cfg)
