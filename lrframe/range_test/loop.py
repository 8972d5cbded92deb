"""The LR range test's training steps: a plain torch loop that leaves everything as it found it.

``range_test`` trains ``model`` with ``optimizer`` for one optimizer step per lr of the ramp, as
Lightning's automatic optimization would (gradient accumulation, clipping, mixed precision), and
records the loss of every step. Afterwards the model's weights, buffers and gradients, its
train/eval mode, the optimizer's state and lrs, the epoch of the batches' sampler and the random
state of Python, NumPy and torch are exactly what they were before (the test may consume random
numbers, e.g. for dropout): a run that follows sees no trace of it. A schedule-free optimizer
(``schedulefree``) steps in its train mode, and is left in the mode it was in.

    >>> import torch
    >>> from lrframe.range_test.arithmetic import ramp
    >>> model = torch.nn.Linear(4, 3)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(5)]
    >>> curve = range_test(model, optimizer, batches, ramp(1e-4, 1.0, 20, "exponential"),
    ...                    smoothing=0.9, diverge_factor=4.0)
    >>> len(curve.lrs) <= 20 and optimizer.param_groups[0]["lr"]
    0.1
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._pytree import tree_map

from lrframe.range_test.arithmetic import Recorder

Batch = tuple[torch.Tensor, torch.Tensor]


@contextmanager
def preserved_random_state() -> Iterator[None]:
    """Restore the random state of Python, NumPy and torch (CPU and every CUDA device) on exit."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch as ``lightning.pytorch.seed_everything`` does (without importing it)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def windows(batches: Iterable[Batch], size: int) -> Iterator[list[Batch]]:
    """Consecutive groups of ``size`` mini-batches, one per optimizer step, epoch after epoch.

    As Lightning accumulates: the last window of an epoch may be shorter and still steps. Before
    each epoch ``batches.sampler.set_epoch(epoch)`` is called where it exists, as Lightning does.
    """
    epoch = 0
    while True:
        sampler = getattr(batches, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        window: list[Batch] = []
        empty = True
        for batch in batches:
            empty = False
            window.append(batch)
            if len(window) == size:
                yield window
                window = []
        if window:
            yield window
        if empty:
            return
        epoch += 1


def range_test(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable[Batch],
               lrs: Sequence[float], *, smoothing: float, diverge_factor: float | None,
               loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
               batch_loss: Callable[[object], torch.Tensor] | None = None,
               accumulate: int = 1, clip: Callable[[Iterable[torch.Tensor]], object] | None = None,
               autocast_dtype: torch.dtype | None = None) -> Recorder:
    """Train one optimizer step at each lr of ``lrs``; returns the recorded curve.

    lrs:            the ramp (``lrframe.range_test.arithmetic.ramp``). The lr of step ``i`` is the optimizer's
                    base lr: a parameter group whose lr is ``k`` times ``optimizer.defaults["lr"]``
                    gets ``k * lrs[i]``, so the ratios between groups are kept.
    smoothing, diverge_factor: the EMA's beta and the stop rule (``lrframe.range_test.arithmetic.Recorder``).
    loss_fn:        ``loss_fn(model(x), y)``, averaged over the batch.
    batch_loss:     instead of ``loss_fn``, the loss of a whole batch as it comes (a LightningModule's
                    ``training_step``); its tensors are moved to the model's device first.
    accumulate:     mini-batches per optimizer step; each loss is divided by ``accumulate`` before
                    ``backward``, and the step's recorded loss is the mean over its mini-batches.
    clip:           called on the parameters before each step (e.g. ``clip_grad_norm_``).
    autocast_dtype: run the forward pass under ``torch.autocast`` with this dtype (float16 also
                    scales the loss with a GradScaler, as Lightning's ``16-mixed`` does).

    Batches are moved to the device of the model's first parameter.
    """
    device = next(model.parameters()).device
    params = [p for group in optimizer.param_groups for p in group["params"]]
    ratios = [group["lr"] / optimizer.defaults["lr"] for group in optimizer.param_groups]
    mixed = autocast_dtype is not None
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype is torch.float16)
    recorder = Recorder(smoothing=smoothing, diverge_factor=diverge_factor)
    saved_model, saved_optimizer = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    saved_grads = [None if p.grad is None else p.grad.clone() for p in params]
    was_training = model.training
    sampler = getattr(batches, "sampler", None)
    epoch = getattr(sampler, "epoch", None)
    with preserved_random_state():
        try:
            model.train()
            if callable(getattr(optimizer, "train", None)):  # a schedule-free optimizer: steps in train mode
                optimizer.train()
            for lr, window in zip(lrs, windows(batches, accumulate)):
                for group, ratio in zip(optimizer.param_groups, ratios):
                    group["lr"] = lr * ratio
                optimizer.zero_grad()
                total = torch.zeros((), device=device)
                for batch in window:
                    batch = tree_map(lambda t: t.to(device) if torch.is_tensor(t) else t, batch)
                    with torch.autocast(device.type, dtype=autocast_dtype, enabled=mixed):
                        loss = loss_fn(model(batch[0]), batch[1]) if batch_loss is None else batch_loss(batch)
                    scaler.scale(loss / accumulate).backward()
                    total += loss.detach().float()
                if clip is not None:
                    scaler.unscale_(optimizer)
                    clip(params)
                scaler.step(optimizer)
                scaler.update()
                if recorder.record(lr, (total / len(window)).item()):
                    break
        finally:
            model.load_state_dict(saved_model)
            optimizer.load_state_dict(saved_optimizer)
            for p, grad in zip(params, saved_grads):
                p.grad = grad
            model.train(was_training)
            if epoch is not None:
                sampler.set_epoch(epoch)
    return recorder
