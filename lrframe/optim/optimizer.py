"""The optimizer: torch's class (or a schedule-free one) for the configured name, over named parameter groups."""

from __future__ import annotations

import importlib

import torch
from torch import nn

from lrframe.config.groups import OPTIMIZER_KEYS, OPTIMIZERS
from lrframe.config.registry import is_target
from lrframe.config.targets import build_target
from lrframe.config.errors import ConfigError
from lrframe.config.param_groups import check_names
from lrframe.config.param_groups import groups as config_groups
from lrframe.optim.layers import layer_count, layer_ids
from lrframe.schedules.schedule_free import WARMED_UP

#: layers whose every parameter (scale and shift) is exempt from weight decay, as biases are
NORMALIZATION = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


def no_decay_names(model: nn.Module) -> set[str]:
    """Names of the biases (parameters named ``bias``) and normalization layers' parameters of ``model``."""
    return {f"{module_name}.{name}".lstrip(".")
            for module_name, module in model.named_modules()
            for name, _ in module.named_parameters(recurse=False)
            if name == "bias" or isinstance(module, NORMALIZATION)}


def model_layers(model: nn.Module, node: dict) -> dict[str, int] | None:
    """Each parameter's layer when ``optimizer.layer_decay`` is set (None when it is not); a model without
    an order of layers is a one-line error."""
    if node.get("layer_decay") is None:
        return None
    ids = layer_ids(model)
    if ids is None:
        raise ConfigError("optimizer.layer_decay", node["layer_decay"], f"{type(model).__name__} has no order of "
                          "layers: give it a layer_groups() method (input to output; see docs/param-groups.md), "
                          "timm's group_matcher, or make it an nn.Sequential")
    return ids


def model_layer_count(model: nn.Module, node: dict) -> int | None:
    """``model``'s number of layers when ``optimizer.layer_decay`` is set (None when it is not)."""
    ids = model_layers(model, node)
    return layer_count(ids) if ids else None


def check_groups(model: nn.Module, node: dict) -> None:
    """The optimizer node's patterns and layer_decay against ``model``'s parameters: a one-line error
    before training (a pattern that matches nothing, a model without layers for layer_decay)."""
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    check_names(names, node, model_layer_count(model, node))


def param_groups(model: nn.Module, node: dict, lr: float) -> list[dict]:
    """The parameter groups of ``model`` for base lr ``lr``; each carries a ``name`` (used in logged tags).

    The groups of ``lrframe.config.param_groups.groups``: ``default`` (or ``layer_<i>`` with
    ``layer_decay``: each parameter no pattern matches goes to its layer's group), then one per
    pattern of ``lr_multipliers`` and ``param_groups``, each at lr ``multiplier * lr`` (and its own
    ``weight_decay``, if set). With ``node["no_decay_bias_and_norm"]`` and a weight decay > 0, each
    group is split, biases and normalization weights going into ``<name>/no_decay`` with
    weight_decay 0. Groups come in that order; empty ones are left out.
    """
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    ids = model_layers(model, node)
    layers = layer_count(ids) if ids else None
    pattern_of = check_names(list(params), node, layers)
    exempt = no_decay_names(model) if node["no_decay_bias_and_norm"] else set()
    groups = []
    for group in config_groups(node, layers):
        decay = (node.get("weight_decay") or 0) if group.weight_decay is None else group.weight_decay
        for no_decay in (False, True):
            members = [p for name, p in params.items()
                       if pattern_of[name] == group.pattern and (ids is None or group.pattern is not None
                                                                  or ids[name] == group.layer)
                       and (decay > 0 and name in exempt) == no_decay]
            if members:
                extra = {"weight_decay": 0.0} if no_decay else \
                    {"weight_decay": group.weight_decay} if group.weight_decay is not None else {}
                groups.append({"name": group.name + ("/no_decay" if no_decay else ""), "params": members,
                               "lr": lr * group.multiplier, **extra})
    return groups


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The class of a built-in optimizer: torch.optim's, or ``module:Class`` (the schedule-free ones)."""
    class_name = OPTIMIZERS[name][0]
    if ":" in class_name:
        module, _, class_name = class_name.partition(":")
        return getattr(importlib.import_module(module), class_name)
    return getattr(torch.optim, class_name)


def build_optimizer(model: nn.Module, node: dict, lr: float, warmup_steps: int = 0) -> torch.optim.Optimizer:
    """The optimizer class ``optimizer.name`` names, with the node's arguments and base lr ``lr``.

    ``lr`` is the effective learning rate (``optimizer.lr`` after batch-size scaling, or the LR
    finder's suggestion), so the optimizer never sees ``optimizer.lr`` directly. It is also the
    optimizer's default lr (``optimizer.defaults["lr"]``), which groups with a multiplier exceed.
    ``warmup_steps``: a schedule-free optimizer's own warmup (``Plan.optimizer_warmup_steps``; the LR
    range test leaves it at 0, its ramp being the lr).
    """
    groups = param_groups(model, node, lr)
    if is_target(node):  # any torch.optim.Optimizer: params and lr from lrframe, the rest from the node
        return build_target("optimizer", node, own_keys=(*OPTIMIZER_KEYS, "lr"), provided={"params": groups, "lr": lr})
    arguments = OPTIMIZERS[node["name"]][1]
    kwargs = {key: tuple(node[key]) if key == "betas" else node[key] for key in arguments if key != "lr"}
    if node["name"] in WARMED_UP:
        kwargs["warmup_steps"] = warmup_steps
    return optimizer_class(node["name"])(groups, lr=lr, **kwargs)
