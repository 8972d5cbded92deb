"""The effective per-parameter step size of adaptive optimizers, read from torch's optimizer state.

SGD moves every parameter by ``lr x gradient``. AdaGrad, RMSprop and Adam divide the lr of each
parameter by the root of a running average of its squared gradients ``v``, so each parameter has
its own step size ``lr / (sqrt(v) + eps)`` (the seed's ``eta / sigma_i``). Read right after
``optimizer.step()``, it is exactly the divisor that step used:

=================  ==============================  =================================================
torch class        ``v`` (optimizer state)         step size
=================  ==============================  =================================================
``Adagrad``        ``state["sum"]``: the sum of    ``lr_t / (sqrt(sum) + eps)``, with torch's
                   every g^2 so far                ``lr_t = lr / (1 + (t - 1) * lr_decay)``
``RMSprop``        ``state["square_avg"]``: EMA    ``lr / (sqrt(square_avg) + eps)``; ``centered``:
                   of g^2 (weight 1 - alpha)       ``lr / (sqrt(square_avg - grad_avg^2) + eps)``
``Adam``,          ``state["exp_avg_sq"]``: EMA    ``lr / (sqrt(v_hat) + eps)``, with Adam's bias-corrected
``AdamW``          of g^2 (weight 1 - beta2);      ``v_hat = exp_avg_sq / (1 - beta2^t)``, exactly torch's
                   ``max_exp_avg_sq`` with amsgrad  denominator; it multiplies the bias-corrected momentum
                                                   ``m_hat = exp_avg / (1 - beta1^t)``
=================  ==============================  =================================================

(``t`` is the optimizer's own step count, ``state["step"]``.) RMSprop's ``momentum`` then
accumulates ``g / (sqrt(v) + eps)`` in a buffer and steps by ``lr x`` that buffer; the step size is
still ``lr / (sqrt(v) + eps)``. Parameters that have no state yet (never had a gradient) are left
out. SGD has no ``v``: ``step_sizes`` returns None.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> optimizer = torch.optim.Adagrad([w], lr=0.1)
    >>> w.grad = torch.tensor([1.0, 2.0, 4.0]); optimizer.step()
    >>> step_sizes(optimizer)[0]   # 0.1 / |g| after one step
    tensor([0.1000, 0.0500, 0.0250])
"""

from __future__ import annotations

import math

import torch

#: at most this many step sizes per group go into the logged quantiles and histogram
SAMPLE_SIZE = 4096
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _adagrad(group: dict, state: dict) -> torch.Tensor:
    lr = group["lr"] / (1 + (float(state["step"]) - 1) * group["lr_decay"])
    return lr / (state["sum"].sqrt() + group["eps"])


def _rmsprop(group: dict, state: dict) -> torch.Tensor:
    v = state["square_avg"]
    if group["centered"]:
        v = v.addcmul(state["grad_avg"], state["grad_avg"], value=-1)
    return group["lr"] / (v.sqrt() + group["eps"])


def _adam(group: dict, state: dict) -> torch.Tensor:
    v = state["max_exp_avg_sq"] if group["amsgrad"] else state["exp_avg_sq"]
    bias_correction2 = 1 - group["betas"][1] ** float(state["step"])
    return group["lr"] / (v.sqrt() / math.sqrt(bias_correction2) + group["eps"])


#: torch class -> step sizes of one parameter from its group and state (AdamW is an Adam)
RULES = {torch.optim.Adagrad: _adagrad, torch.optim.RMSprop: _rmsprop, torch.optim.Adam: _adam}


def _rule(optimizer: torch.optim.Optimizer):
    return next((rule for cls, rule in RULES.items() if isinstance(optimizer, cls)), None)


def is_adaptive(optimizer: torch.optim.Optimizer) -> bool:
    return _rule(optimizer) is not None


@torch.no_grad()
def step_sizes(optimizer: torch.optim.Optimizer) -> list[torch.Tensor] | None:
    """Each parameter group's step sizes, flattened into one tensor (None for a non-adaptive optimizer)."""
    rule = _rule(optimizer)
    if rule is None:
        return None
    state = optimizer.state
    return [torch.cat([rule(group, state[p]).reshape(-1) for p in group["params"] if state[p]]
                      or [torch.empty(0)]) for group in optimizer.param_groups]


class Sampler:
    """A fixed random subset of at most ``size`` entries (the same one for every call with a length).

    Its own generator draws it: sampling leaves the run's random state alone.
    """

    def __init__(self, size: int = SAMPLE_SIZE):
        self.size, self._indices = size, {}

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        n = len(values)
        if n <= self.size:
            return values
        if n not in self._indices:
            generator = torch.Generator().manual_seed(n)
            self._indices[n] = torch.randperm(n, generator=generator)[: self.size].to(values.device)
        return values[self._indices[n]]
