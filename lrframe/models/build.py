"""The run's model: a built-in (``model=mlp``) or a user's ``nn.Module`` (``model._target_``), initialized.

What the data knows is passed to the model's constructor for the arguments its node leaves out:
``in_features`` (flat inputs), ``out_features`` (classes or regression targets) and
``num_classes``. Then the ``init`` group applies to every Linear and convolution layer, whoever
built the model.
"""

from __future__ import annotations

from torch import nn

from lrframe.config.errors import ConfigError
from lrframe.config.registry import builtin, is_target
from lrframe.config.targets import build_target, parameters
from lrframe.data.build import Data
from lrframe.models.init import initialize_from_config


def context(data: Data) -> dict:
    """What a model's constructor may receive from the data (None: the data does not say)."""
    return {"in_features": data.in_features, "out_features": data.num_targets, "num_classes": data.num_classes}


def _check_known(node: dict, known: dict) -> None:
    """A required argument lrframe should provide and the data does not know: say which."""
    params = parameters("model", node)
    for name, value in known.items():
        p = params.get(name)
        if value is None and p is not None and p.default is p.empty and node.get(name) is None:
            raise ConfigError(f"model.{name}", None, "missing; the data does not say it (set data.num_classes "
                                                     f"in your data config, or model.{name})")


def build_model(config: dict, data: Data) -> nn.Module:
    """The configured model, initialized with the configured scheme."""
    node = config["model"]
    known = context(data)
    if is_target(node):
        if not node.get("_partial_"):
            _check_known(node, known)
        model = build_target("model", node, provided={k: v for k, v in known.items() if v is not None})
        if not isinstance(model, nn.Module) and callable(model):  # _partial_: true
            model = model()
        if not isinstance(model, nn.Module):
            raise ConfigError("model._target_", node["_target_"], f"made a {type(model).__name__}; expected a "
                                                                  "torch.nn.Module")
    else:
        model = builtin("model", node).builder()(node, **known)
    return initialize_from_config(model, config["init"], node.get("activation"))
