"""The optimizer: torch's class (or a schedule-free one) for the configured name, over named parameter groups."""

from __future__ import annotations

import importlib

import torch
from torch import nn

from lrframe.config.groups import OPTIMIZER_KEYS, OPTIMIZERS
from lrframe.config.registry import is_target
from lrframe.config.targets import build_target
from lrframe.config.patterns import assign
from lrframe.schedules.schedule_free import WARMED_UP

#: layers whose every parameter (scale and shift) is exempt from weight decay, as biases are
NORMALIZATION = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


def no_decay_names(model: nn.Module) -> set[str]:
    """Names of the biases (parameters named ``bias``) and normalization layers' parameters of ``model``."""
    return {f"{module_name}.{name}".lstrip(".")
            for module_name, module in model.named_modules()
            for name, _ in module.named_parameters(recurse=False)
            if name == "bias" or isinstance(module, NORMALIZATION)}


def param_groups(model: nn.Module, node: dict, lr: float) -> list[dict]:
    """The parameter groups of ``model`` for base lr ``lr``; each carries a ``name`` (used in logged tags).

    - ``node["lr_multipliers"]`` (pattern -> multiplier or None, see ``lrframe.config.patterns``): the parameters a
      pattern matches form a group named after the pattern, with lr ``multiplier * lr``; the rest
      form ``default``, at ``lr``.
    - ``node["no_decay_bias_and_norm"]`` with ``node["weight_decay"] > 0``: each of those groups is
      split, biases and normalization weights going into ``<name>/no_decay`` with weight_decay 0.

    Groups come in that order (``default`` first); empty ones are left out.
    """
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    multipliers = node["lr_multipliers"] or {}
    pattern_of = assign(list(params), multipliers)
    decay = node.get("weight_decay") or 0
    exempt = no_decay_names(model) if node["no_decay_bias_and_norm"] and decay > 0 else set()
    groups = []
    for pattern in (None, *multipliers):
        multiplier = 1.0 if pattern is None else multipliers[pattern]
        for no_decay in (False, True):
            members = [p for name, p in params.items()
                       if pattern_of[name] == pattern and (name in exempt) == no_decay]
            if members:
                group = {"name": (pattern or "default") + ("/no_decay" if no_decay else ""),
                         "params": members, "lr": lr * multiplier}
                groups.append(group | ({"weight_decay": 0.0} if no_decay else {}))
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
