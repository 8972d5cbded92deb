"""Stochastic weight averaging in a Lightning run (Izmailov et al. 2018), on torch's ``swa_utils``.

``swa=default`` plans the phase (``lrframe.schedules.swa``: its first epoch, and SWALR's lr, which
``ScheduledLR`` applies at every step). This callback keeps the average: a
``torch.optim.swa_utils.AveragedModel`` of the trained module, updated with the weights at the end
of every epoch from SWA's first one on (and at the planned last step, if the run ends mid-epoch).
Each time it changes, ``update_bn`` recomputes the average's BatchNorm statistics with one
forward pass over the training data (if the model has BatchNorm; random state untouched).

- Validation, once there is an average, evaluates it; the live weights are put back exactly after.
- Checkpoints hold the average as ``state_dict`` (the weights to use); the live weights and
  buffers, the ``AveragedModel`` and its count travel in this callback's state, and a resumed
  run continues from them exactly.
- When training ends, the module holds the average.

Why not Lightning's ``StochasticWeightAveraging`` (2.6): it averages at the start of each epoch
(so the last epoch's weights never enter the average), validates and saves the live weights until
training ends, swaps lrframe's scheduler for an epoch-stepped SWALR, and recomputes BatchNorm
statistics in an extra epoch past ``max_epochs``, which lrframe, stopping at its planned step,
never runs. Its key names and their meaning are kept.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, update_bn

from lrframe.range_test.loop import preserved_random_state
from lrframe.schedules.swa import SwaPhase


def batch_norm_buffers(module: nn.Module) -> list[str]:
    """The state_dict names of every BatchNorm layer's running statistics in ``module``."""
    return [f"{name}.{buffer}".lstrip(".") for name, layer in module.named_modules()
            if isinstance(layer, nn.modules.batchnorm._BatchNorm)
            for buffer, value in layer.named_buffers(recurse=False) if value is not None]


def _copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in state.items()}


class StochasticWeightAveraging(pl.Callback):
    """Average ``trained``'s weights over SWA's epochs; validate and save the average (module docstring).

    trained: the module whose parameters the optimizer trains (module=lrframe: its model; a user's
             LightningModule: itself).
    batches: the training batches, for BatchNorm statistics (iterated from the current epoch's first
             batch, without moving the position a checkpoint records).
    """

    def __init__(self, phase: SwaPhase, total_steps: int, trained: nn.Module, batches):
        self.phase, self.total_steps, self.trained, self.batches = phase, total_steps, trained, batches
        self.average: AveragedModel | None = None
        #: what is evaluated and saved: the live state with the averaged parameters (and BatchNorm statistics)
        self.evaluation: dict[str, torch.Tensor] | None = None
        self._live: dict[str, torch.Tensor] | None = None  # during validation; from a checkpoint until training starts
        self._step_at_batch_start = 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.average is None:
            self.average = AveragedModel(self.trained, use_buffers=False)

    def _prefix(self, pl_module: pl.LightningModule) -> str:
        """Where ``trained`` sits in the LightningModule's state_dict (``model.`` for module=lrframe)."""
        name = next(name for name, module in pl_module.named_modules() if module is self.trained)
        return f"{name}." if name else ""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.average.to(next(self.trained.parameters()).device)
        if self._live is not None:  # resumed: the module was loaded with the average; train on from the live state
            self.trained.load_state_dict(self._live)
            self._live = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        self._step_at_batch_start = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        stepped = trainer.global_step > self._step_at_batch_start
        ends_epoch = batch_idx + 1 >= trainer.num_training_batches or trainer.global_step >= self.total_steps
        if stepped and ends_epoch and trainer.current_epoch >= self.phase.start_epoch:
            self.average.update_parameters(self.trained)
            self.evaluation = self._evaluation()

    def _evaluation(self) -> dict[str, torch.Tensor]:
        """The live state with the average's parameters and, recomputed, its BatchNorm statistics."""
        averaged = self.average.module
        taken = {name for name, _ in self.trained.named_parameters()}
        statistics = batch_norm_buffers(averaged)
        if statistics:
            iterate = getattr(self.batches, "epoch_batches", None)
            with preserved_random_state(), torch.no_grad():
                update_bn(iterate() if iterate else self.batches, averaged,
                          device=next(averaged.parameters()).device)
            taken |= set(statistics)
        source = averaged.state_dict()
        return {name: (source[name] if name in taken else tensor).detach().clone()
                for name, tensor in self.trained.state_dict().items()}

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.evaluation is not None and not trainer.sanity_checking:
            self._live = _copy(self.trained.state_dict())
            self.trained.load_state_dict(self.evaluation)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._live is not None and not trainer.sanity_checking:
            self.trained.load_state_dict(self._live)
            self._live = None

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.evaluation is not None:
            self.trained.load_state_dict(self.evaluation)

    def state_dict(self) -> dict:
        if self.evaluation is None:
            return {}
        live = self._live if self._live is not None else self.trained.state_dict()  # (validating: swapped out)
        return {"average": _copy(self.average.state_dict()), "live": _copy(live)}

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        if self.evaluation is not None:
            prefix = self._prefix(pl_module)
            checkpoint["state_dict"].update({prefix + name: tensor for name, tensor in self.evaluation.items()})

    def load_state_dict(self, state_dict: dict) -> None:
        self.average.load_state_dict(state_dict["average"])
        self._live = state_dict["live"]

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        if self.state_key in checkpoint.get("callbacks", {}):  # its state_dict holds the evaluated weights
            prefix = self._prefix(pl_module)
            self.evaluation = {name[len(prefix):]: tensor for name, tensor in checkpoint["state_dict"].items()
                               if name.startswith(prefix)}
