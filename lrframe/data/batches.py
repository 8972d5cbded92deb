"""Mini-batches of in-memory tensors, by slicing, resumable mid-epoch.

Per-sample DataLoader collation costs ~24x more than slicing here; a batch is a view of the
epoch's shuffled copy of the data. The order of epoch ``e`` depends only on ``(seed, e)``, so a
resumed run sees exactly the batches the uninterrupted run would have. ``loaders(plan)`` gives a
run's training and validation batches (every task uses it, none imports Lightning for it).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from lrframe.config.validate import Plan
from lrframe.data.datasets import load_split


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochOrder:
    """The sample order of each epoch, sharded across processes like DistributedSampler.

    Lightning calls ``set_epoch`` on a loader's ``sampler`` at the start of every epoch.
    """

    def __init__(self, length: int, *, seed: int, shuffle: bool, drop_last: bool):
        self.length, self.seed, self.shuffle, self.drop_last = length, seed, shuffle, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard_length(self) -> int:
        _, world = _distributed()
        return self.length // world if self.drop_last else math.ceil(self.length / world)

    def indices(self) -> torch.Tensor:
        """This process's sample indices for the current epoch."""
        if self.shuffle:
            seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
            order = torch.randperm(self.length, generator=torch.Generator().manual_seed(seed))
        else:
            order = torch.arange(self.length)
        rank, world = _distributed()
        if world == 1:
            return order
        shard = self.shard_length()
        padded = order.repeat(math.ceil(shard * world / self.length))[: shard * world]
        return padded[rank::world]


class Batches:
    """Iterable of ``(x, y)`` mini-batches; ``state_dict`` records the position within the epoch."""

    batch_sampler = None  # Lightning inspects a loader's sampler attributes as DataLoader has them

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, seed: int = 0,
                 shuffle: bool = False, drop_last: bool = False):
        self.x, self.y, self.batch_size, self.drop_last = x, y, batch_size, drop_last
        self.sampler = EpochOrder(len(x), seed=seed, shuffle=shuffle, drop_last=drop_last)
        self._position = 0
        self._resume: dict | None = None

    def __len__(self) -> int:
        shard = self.sampler.shard_length()
        return shard // self.batch_size if self.drop_last else math.ceil(shard / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start = 0
        if self._resume is not None and self._resume["epoch"] == self.sampler.epoch:
            start = self._resume["position"]
        self._resume = None
        index = self.sampler.indices()
        x, y = self.x[index], self.y[index]
        for batch in range(start, len(self)):
            self._position = batch + 1  # batches handed out this epoch, as a checkpoint must record
            lo = batch * self.batch_size
            yield x[lo:lo + self.batch_size], y[lo:lo + self.batch_size]

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from batch ``position`` of epoch ``epoch`` the next time this is iterated."""
        self._resume = dict(state)


def loaders(plan: Plan) -> tuple[Batches, Batches, int, int]:
    """Training and validation batches of the configured data, with its feature and class counts."""
    data = plan.config["data"]
    split = load_split(data)
    train = Batches(torch.from_numpy(split.x_train), torch.from_numpy(split.y_train),
                    batch_size=data["batch_size"], seed=plan.config["seed"], shuffle=data["shuffle"],
                    drop_last=data["drop_last"])
    val = Batches(torch.from_numpy(split.x_val), torch.from_numpy(split.y_val), batch_size=data["val_batch_size"])
    return train, val, split.num_features, split.num_classes
