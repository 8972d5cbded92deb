"""Small models for the built-in tasks."""

from __future__ import annotations

from torch import nn

from lrframe.config import ACTIVATIONS


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
