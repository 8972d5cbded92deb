"""Mini-batches whose order lrframe owns, resumable mid-epoch: of in-memory tensors, or of any dataset.

Per-sample DataLoader collation costs ~24x more than slicing here, so built-in data is batched by
slicing: a batch is a view of the epoch's shuffled copy of the data. A user's map-style dataset is
batched by a DataLoader over the same order. The order of epoch ``e`` depends only on
``(seed, e)``, so a resumed run sees exactly the batches the uninterrupted run would have.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch



def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochOrder:
    """The sample order of each epoch, sharded across processes like DistributedSampler.

    Padded (``pad``, for training), every process gets ``ceil(n / world)`` samples (``floor`` with
    ``drop_last``): the first few samples of the epoch's order are repeated (or the last few
    dropped), so that every process takes the same number of steps. Unpadded (for validation),
    process ``r`` gets samples ``r, r + world, ...`` and the shards together are the data set once,
    so metrics summed over the processes are exactly those of the whole set.

    Lightning calls ``set_epoch`` on a loader's ``sampler`` at the start of every epoch.
    """

    def __init__(self, length: int, *, seed: int, shuffle: bool, drop_last: bool, pad: bool = True):
        self.length, self.seed, self.shuffle, self.drop_last, self.pad = length, seed, shuffle, drop_last, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard_length(self) -> int:
        rank, world = _distributed()
        if not self.pad:
            return len(range(rank, self.length, world))
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
        if not self.pad:
            return order[rank::world]
        shard = self.shard_length()
        padded = order.repeat(math.ceil(shard * world / self.length))[: shard * world]
        return padded[rank::world]


class ResumableBatches:
    """Mini-batches in the order ``sampler`` gives each epoch; ``state_dict`` records the position
    within the epoch, and a loaded state continues from that batch.

    Lightning saves and restores the state of a training loader that has ``state_dict`` and
    ``load_state_dict`` (as torchdata's StatefulDataLoader does), and calls ``sampler.set_epoch``
    at the start of every epoch. Subclasses say how batch ``b`` of ``index`` is made.
    """

    batch_sampler = None  # Lightning inspects a loader's sampler attributes as DataLoader has them

    def __init__(self, length: int, *, batch_size: int, seed: int, shuffle: bool, drop_last: bool, pad: bool = True):
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler = EpochOrder(length, seed=seed, shuffle=shuffle, drop_last=drop_last, pad=pad)
        self._position = 0
        self._resume: dict | None = None

    def __len__(self) -> int:
        shard = self.sampler.shard_length()
        return shard // self.batch_size if self.drop_last else math.ceil(shard / self.batch_size)

    def __iter__(self) -> Iterator:
        start = 0
        if self._resume is not None and self._resume["epoch"] == self.sampler.epoch:
            start = self._resume["position"]
        self._resume = None
        for number, batch in enumerate(self._batches(self.sampler.indices(), start), start):
            self._position = number + 1  # batches handed out this epoch, as a checkpoint must record
            yield batch

    def _batches(self, index: torch.Tensor, start: int) -> Iterator:
        raise NotImplementedError

    def epoch_batches(self) -> Iterator:
        """The current epoch's batches from its first, leaving the position a checkpoint records alone
        (SWA's BatchNorm statistics pass over the training data)."""
        return self._batches(self.sampler.indices(), 0)

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from batch ``position`` of epoch ``epoch`` the next time this is iterated."""
        self._resume = dict(state)


class Batches(ResumableBatches):
    """``(x, y)`` mini-batches sliced from in-memory tensors (no per-sample collation)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, seed: int = 0,
                 shuffle: bool = False, drop_last: bool = False, pad: bool = True):
        super().__init__(len(x), batch_size=batch_size, seed=seed, shuffle=shuffle, drop_last=drop_last, pad=pad)
        self.x, self.y = x, y

    def _batches(self, index: torch.Tensor, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.x[index], self.y[index]
        for batch in range(start, len(self)):
            lo = batch * self.batch_size
            yield x[lo:lo + self.batch_size], y[lo:lo + self.batch_size]


class DatasetBatches(ResumableBatches):
    """A map-style dataset batched by a DataLoader whose sample order lrframe owns.

    ``loader_args`` are the DataLoader's other arguments (``collate_fn``, ``num_workers``,
    ``pin_memory``, ...). A resumed epoch asks the dataset for exactly the samples the
    uninterrupted run would have drawn next, whatever the dataset.
    """

    def __init__(self, dataset, *, batch_size: int, seed: int = 0, shuffle: bool = False,
                 drop_last: bool = False, pad: bool = True, **loader_args):
        super().__init__(len(dataset), batch_size=batch_size, seed=seed, shuffle=shuffle, drop_last=drop_last,
                         pad=pad)
        self.dataset, self.loader_args = dataset, loader_args

    def _batches(self, index: torch.Tensor, start: int) -> Iterator:
        order, size = index.tolist(), self.batch_size
        batches = [order[b * size:(b + 1) * size] for b in range(start, len(self))]
        yield from torch.utils.data.DataLoader(self.dataset, batch_sampler=batches, **self.loader_args)
