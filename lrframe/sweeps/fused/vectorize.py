"""One forward for K members: ``forward(params, x)`` with each parameter stacked ``(K, ...)`` and
``x`` of shape ``(K, batch, ...)`` returns ``(K, batch, ...)``, member k's slice computed from
member k's parameters only.

- An ``nn.Sequential`` of ``Linear`` layers and elementwise activations (``model=mlp``) runs as
  batched matmuls: ``baddbmm`` runs, per member, the GEMM that ``F.linear`` runs for the solo model,
  so a member's outputs and gradients equal its solo run's bit for bit (on CPU; the tests check).
- Any other ``nn.Module`` whose forward is functional runs through ``torch.func.functional_call``
  under ``torch.func.vmap``.

``vectorize(models, x)`` checks on one batch that every member's fused output equals its own
module's output, and refuses a module it cannot vectorize with ``NotVectorizable`` (one line).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: stateless modules applied elementwise: the same on (K, batch, features) as on (batch, features)
ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.Identity, nn.ELU, nn.Softplus)


class NotVectorizable(Exception):
    """A model the fused launcher cannot train as one vectorized model; the message is one line."""


Forward = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]


def _is_linear_stack(model: nn.Module) -> bool:
    return isinstance(model, nn.Sequential) and all(
        type(layer) is nn.Linear or isinstance(layer, ELEMENTWISE) for layer in model)


def linear_stack_forward(model: nn.Sequential) -> Forward:
    """Batched matmuls for a Sequential of Linear layers and elementwise activations."""
    layers = [(name, layer) for name, layer in model.named_children()]

    def forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        h = x
        for name, layer in layers:
            if type(layer) is nn.Linear:
                weight = params[f"{name}.weight"].transpose(1, 2)
                bias = params.get(f"{name}.bias")
                h = torch.bmm(h, weight) if bias is None else torch.baddbmm(bias.unsqueeze(1), h, weight)
            else:
                h = layer(h)
        return h

    return forward


def vmap_forward(model: nn.Module) -> Forward:
    """``torch.func.functional_call`` of ``model`` (its buffers included) under ``vmap``."""
    from torch.func import functional_call, vmap

    buffers = dict(model.named_buffers())

    def one(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**params, **buffers}, (x,))

    batched = vmap(one, in_dims=(0, 0), randomness="error")
    return lambda params, x: batched(params, x)


def stacked(models: list[nn.Module]) -> dict[str, torch.Tensor]:
    """Each trainable parameter of the members, stacked along a new first dimension (differentiable)."""
    names = [name for name, p in models[0].named_parameters() if p.requires_grad]
    own = [dict(m.named_parameters()) for m in models]
    return {name: torch.stack([params[name] for params in own]) for name in names}


def vectorize(models: list[nn.Module], x: torch.Tensor) -> Forward:
    """The fused forward of ``models`` (one per member, same shapes), checked on the input batch ``x``.

    Raises ``NotVectorizable`` with one line saying why.
    """
    first = models[0]
    kind = type(first).__name__
    shapes = [{n: tuple(p.shape) for n, p in m.state_dict().items()} for m in models]
    if any(s != shapes[0] for s in shapes):
        raise NotVectorizable(f"{kind}: the members' parameters differ in shape")
    if any(b.requires_grad for b in first.buffers()):
        raise NotVectorizable(f"{kind}: a buffer requires grad")
    if any(isinstance(m, nn.modules.batchnorm._NormBase) and m.training and m.track_running_stats
           for m in first.modules()):
        raise NotVectorizable(f"{kind}: batch normalization updates running statistics in place during training")
    forward = linear_stack_forward(first) if _is_linear_stack(first) else vmap_forward(first)
    state = torch.get_rng_state()
    with torch.no_grad():
        own = [m(x) for m in models]
    if not torch.equal(torch.get_rng_state(), state):
        torch.set_rng_state(state)
        raise NotVectorizable(f"{kind}: its forward draws random numbers (e.g. dropout), so members could not "
                              "keep their solo runs' random streams")
    try:
        with torch.no_grad():
            fused = forward(stacked(models), x.unsqueeze(0).expand(len(models), *x.shape))
    except Exception as error:  # noqa: BLE001 - any failure of vmap means: not vectorizable
        lines = str(error).strip().splitlines()
        raise NotVectorizable(f"{kind}: its forward cannot run under torch.func.vmap "
                              f"({type(error).__name__}: {lines[0][:160] if lines else ''})") from None
    for k, out in enumerate(own):
        if not torch.is_tensor(out) or fused[k].shape != out.shape or not torch.allclose(fused[k], out, atol=1e-5,
                                                                                           rtol=1e-4):
            raise NotVectorizable(f"{kind}: its vectorized output differs from its own forward (member {k}); "
                                  "is its forward a pure function of its parameters and input?")
    return forward
