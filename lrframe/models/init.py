"""Weight initialization schemes (Glorot & Bengio 2010; He et al. 2015).

For a layer with ``fan_in`` inputs and ``fan_out`` outputs, the weight variance is

    xavier_*:   gain^2 * 2 / (fan_in + fan_out)
    kaiming_*:  gain^2 / fan          (fan = fan_in or fan_out; gain^2 = 2 for ReLU)
    normal:     std^2                 (the seeds' "small random numbers", std 0.01)
    uniform:    (b - a)^2 / 12
    zeros:      0                     (every unit of a layer stays identical: it cannot learn)

``default`` keeps PyTorch's own initialization. Biases are zeroed (``bias="zeros"``) or keep PyTorch's
(``bias="default"``); ``conf/train.yaml`` holds the config default, ``init.bias: zeros``.

    >>> from torch import nn
    >>> layer = initialize(nn.Linear(512, 512), "kaiming_normal", bias="zeros", nonlinearity="relu")
"""

from __future__ import annotations

import torch
from torch import nn

from lrframe.config.groups import INIT_KEYS, INIT_NONLINEARITIES, INIT_SCHEMES
from lrframe.config.registry import is_target
from lrframe.config.targets import build_target


#: scheme -> torch.nn.init function; options are passed through under torch's own names
FILLS = {
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "kaiming_uniform": nn.init.kaiming_uniform_,
    "kaiming_normal": nn.init.kaiming_normal_,
    "normal": nn.init.normal_,
    "uniform": nn.init.uniform_,
    "zeros": nn.init.zeros_,
}


#: the layers an initialization scheme fills (their ``weight``; their ``bias`` as ``bias`` says)
LAYERS = (nn.Linear, nn.modules.conv._ConvNd)


def initialize_from_config(module: nn.Module, node: dict, activation: str | None = None) -> nn.Module:
    """Apply the ``init`` node to ``module``: a built-in scheme, or ``init._target_``, a function called
    as ``fn(weight, **arguments)`` on every Linear and convolution weight (``torch.nn.init.orthogonal_``).

    A kaiming scheme's ``nonlinearity: null`` follows ``activation`` (model=mlp's) where torch knows
    its gain, else relu.
    """
    if is_target(node):
        fill = build_target("init", {**node, "_partial_": True}, own_keys=INIT_KEYS)
        return _initialize(module, fill, node["bias"])
    options = {key: value for key, value in node.items() if key not in INIT_KEYS}
    if "nonlinearity" in options and options["nonlinearity"] is None:
        options["nonlinearity"] = activation if activation in INIT_NONLINEARITIES else "relu"
    return initialize(module, node["name"], bias=node["bias"], **options)


def initialize(module: nn.Module, scheme: str, *, bias: str, **options) -> nn.Module:
    """Initialize the weights of every Linear and convolution layer of ``module`` in place.

    scheme:  one of ``default``, ``xavier_uniform``, ``xavier_normal``, ``kaiming_uniform``,
             ``kaiming_normal``, ``normal``, ``uniform``, ``zeros``.
    bias:    ``zeros`` or ``default`` (PyTorch's).
    options: torch.nn.init's arguments, with torch's defaults: gain (xavier); mode,
             nonlinearity (kaiming); mean, std (normal); a, b (uniform).
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown initialization {scheme!r}; expected one of {', '.join(INIT_SCHEMES)}")
    unknown = set(options) - set(INIT_SCHEMES[scheme])
    if unknown:
        raise ValueError(f"{scheme} takes no option {', '.join(sorted(unknown))}")
    if bias not in ("zeros", "default"):
        raise ValueError(f"unknown bias initialization {bias!r}; expected zeros or default")
    fill = None if scheme == "default" else lambda weight: FILLS[scheme](weight, **options)
    return _initialize(module, fill, bias)


def _initialize(module: nn.Module, fill, bias: str) -> nn.Module:
    with torch.no_grad():
        for layer in module.modules():
            if not isinstance(layer, LAYERS):
                continue
            if fill is not None:
                fill(layer.weight)
            if layer.bias is not None and bias == "zeros":
                nn.init.zeros_(layer.bias)
    return module


@torch.no_grad()
def activation_variances(module: nn.Module, x: torch.Tensor) -> list[float]:
    """The variance of each Linear layer's output (its pre-activation, He et al.'s ``y_l``) for inputs ``x``.

    Kaiming (fan_in) initialization keeps it about constant from layer to layer in a ReLU network;
    a fixed small std (``normal``, 0.01) shrinks it by ``fan_in * std^2 / 2`` per layer.
    """
    variances: list[float] = []
    layers = [layer for layer in module.modules() if isinstance(layer, nn.Linear)]
    hooks = [layer.register_forward_hook(lambda _, __, output: variances.append(output.var().item()))
             for layer in layers]
    try:
        module(x)
    finally:
        for hook in hooks:
            hook.remove()
    return variances

