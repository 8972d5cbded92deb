"""``model=mlp``: a multilayer perceptron for flat inputs."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from lrframe.config.errors import ConfigError
from lrframe.config.groups import ACTIVATIONS, mlp_layer_names


def mlp(*, in_features: int, hidden: list[int], out_features: int, activation: str) -> nn.Sequential:
    """A multilayer perceptron: Linear -> activation for each hidden width, then a Linear head.

    Layers are named ``hidden1``, ``act1``, ..., ``hiddenN``, ``actN``, ``head`` (see
    ``lrframe.config.groups.mlp_layer_names``), so parameters read ``hidden1.weight``, ``head.bias``:
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


def build(node: dict, *, in_features: int | None, out_features: int | None, **context) -> nn.Sequential:
    """``model=mlp``: the data's features in, one output per class (or regression target) out."""
    if in_features is None:
        raise ConfigError("model.name", "mlp", "needs flat (batch, features) inputs; the data's inputs are not "
                                               "(use a model of your own: model._target_=...)")
    return mlp(in_features=in_features, hidden=node["hidden"], out_features=out_features,
               activation=node["activation"])
