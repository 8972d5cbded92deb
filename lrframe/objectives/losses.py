"""The built-in losses (``loss=NAME``), each ``loss(output, target) -> scalar``, averaged over the batch.

Class-label losses take logits ``(batch, classes)`` (or ``(batch, ..., classes)`` for sequences)
and integer targets; real-valued losses take an output of the targets' shape (a model's
``(batch, 1)`` output for ``(batch,)`` targets is read as ``(batch,)``, never broadcast to
``(batch, batch)``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _labels(function, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A class-label loss on ``(batch, ..., classes)`` logits and ``(batch, ...)`` labels."""
    if output.ndim > 2:
        output, target = output.reshape(-1, output.shape[-1]), target.reshape(-1)
    return function(output, target)


def _values(function, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A real-valued loss, the output read in the targets' shape."""
    if output.shape != target.shape and output.numel() == target.numel():
        output = output.reshape(target.shape)
    return function(output, target)


# Losses are partials of module-level functions: ddp_spawn pickles them into its workers.

def cross_entropy(node: dict) -> Loss:
    """-log softmax(output)[target], with ``label_smoothing`` (torch.nn.functional.cross_entropy)."""
    smoothing = node["label_smoothing"]
    if smoothing == 0:
        return partial(_labels, F.cross_entropy)
    return partial(_labels, partial(F.cross_entropy, label_smoothing=smoothing))


def nll(node: dict) -> Loss:
    """-output[target] for log-probabilities (torch.nn.functional.nll_loss)."""
    return partial(_labels, F.nll_loss)


def mse(node: dict) -> Loss:
    """mean((output - target)^2)"""
    return partial(_values, F.mse_loss)


def huber(node: dict) -> Loss:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), d = output - target"""
    return partial(_values, partial(F.huber_loss, delta=node["delta"]))


def smooth_l1(node: dict) -> Loss:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta"""
    return partial(_values, partial(F.smooth_l1_loss, beta=node["beta"]))


def bce_with_logits(node: dict) -> Loss:
    """-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], targets t in [0, 1]"""
    return partial(_values, F.binary_cross_entropy_with_logits)
