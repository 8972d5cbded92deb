"""Schedule-free optimizers in a Lightning run: which weights are trained, validated and saved.

A schedule-free optimizer (Defazio et al. 2024; the ``schedulefree`` package) keeps two points in the
parameters: ``y``, where gradients are taken (its train mode), and ``x``, the average that it
returns (eval mode: ``optimizer.eval()`` moves the parameters to ``x``, ``optimizer.train()`` back).
``x`` is what should be validated, saved and used. ``ScheduleFreeModes`` switches, for any
LightningModule and any optimizer with the package's interface (a ``_target_`` too):

- training: train mode (``optimizer.train()`` when training starts);
- validation: eval mode for its duration; afterwards ``y`` is put back as it was, bit for bit (a
  copy: ``train()``'s arithmetic would round), so validating leaves training's path alone;
- checkpoints: ``state_dict`` holds ``x`` and the saved optimizer groups say eval mode, as the
  package asks; ``y`` goes in this callback's state, and a resumed run continues from it exactly;
- the end of training: eval mode, so the module holds ``x``.

The LR range test puts the optimizer in train mode itself (``lrframe.range_test.loop``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import lightning.pytorch as pl
import torch

#: schedule-free state the optimizer keeps in its parameter groups (not hyper-parameters: a resumed
#: run with changed hyper-parameters keeps them)
GROUP_STATE = ("k", "train_mode", "weight_sum", "lr_max", "scheduled_lr")


def is_schedule_free(optimizer: torch.optim.Optimizer) -> bool:
    """An optimizer with the ``schedulefree`` package's ``train()``/``eval()`` modes."""
    return (callable(getattr(optimizer, "train", None)) and callable(getattr(optimizer, "eval", None))
            and all("train_mode" in group for group in optimizer.param_groups))


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _set_train_mode(optimizer: torch.optim.Optimizer, weights: list[torch.Tensor]) -> None:
    """Train mode with ``weights`` (``y``, as saved) in the parameters: ``train()`` without its rounding."""
    with torch.no_grad():
        for p, y in zip(_params(optimizer), weights, strict=True):
            p.copy_(y)
    for group in optimizer.param_groups:
        group["train_mode"] = True


@contextmanager
def evaluated(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """``x`` in the parameters for the duration (eval mode); then ``y`` and train mode back exactly.

    An optimizer already in eval mode is left as it is."""
    if not optimizer.param_groups[0]["train_mode"]:
        yield
        return
    with torch.no_grad():
        saved = [p.detach().clone() for p in _params(optimizer)]
    optimizer.eval()
    try:
        yield
    finally:
        _set_train_mode(optimizer, saved)


class ScheduleFreeModes(pl.Callback):
    """Train mode while training; ``x`` for validation, checkpoints and after training (module docstring)."""

    def __init__(self):
        self._resumed_y: list[torch.Tensor] | None = None  # from a checkpoint, put back when training starts
        self._validating = ExitStack()

    @staticmethod
    def _optimizer(trainer: pl.Trainer) -> torch.optim.Optimizer | None:
        optimizers = trainer.optimizers
        return optimizers[0] if optimizers and is_schedule_free(optimizers[0]) else None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is None:
            return
        if self._resumed_y is not None:  # the checkpoint's parameters are x; y is here
            _set_train_mode(optimizer, self._resumed_y)
            self._resumed_y = None
        else:
            optimizer.train()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is not None:
            self._validating.enter_context(evaluated(optimizer))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validating.close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._validating.close()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is not None:
            optimizer.eval()

    def state_dict(self) -> dict:
        return {}  # filled in by on_save_checkpoint, which also sees the checkpoint

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        optimizer = self._optimizer(trainer)
        if optimizer is None or not optimizer.param_groups[0]["train_mode"]:
            return
        names = {id(p): name for name, p in pl_module.named_parameters()}
        params = _params(optimizer)
        y = [p.detach().clone() for p in params]
        with evaluated(optimizer):
            checkpoint["state_dict"].update({names[id(p)]: p.detach().clone() for p in params if id(p) in names})
        for group in checkpoint["optimizer_states"][0]["param_groups"]:
            group["train_mode"] = False
        checkpoint["callbacks"][self.state_key] = {"y": y}

    def load_state_dict(self, state_dict: dict) -> None:
        self._resumed_y = state_dict.get("y")
