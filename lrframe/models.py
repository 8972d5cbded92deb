"""Small models for the built-in tasks."""

from __future__ import annotations

import torch
from torch import nn

from lrframe.config import ACTIVATIONS, INIT_NONLINEARITIES, Plan
from lrframe.init import initialize


def mlp(*, in_features: int, hidden: list[int], out_features: int, activation: str) -> nn.Sequential:
    """A multilayer perceptron: Linear -> activation for each hidden width, then a Linear head.

    >>> mlp(in_features=64, hidden=[256, 256], out_features=10, activation="relu")[0]
    Linear(in_features=64, out_features=256, bias=True)
    """
    widths = [in_features, *hidden]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), getattr(nn, ACTIVATIONS[activation])()]
    layers.append(nn.Linear(widths[-1], out_features))
    return nn.Sequential(*layers)


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
