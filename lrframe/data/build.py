"""The run's data, built first: the clock is planned from the real loaders.

``build_data(plan)`` returns the training and validation loaders with what the model and loss need
to know (input features, classes or targets) and the plan completed with the data's size.

- Built-in data (``data=digits|diabetes|npz``) is sliced from in-memory tensors (``Batches``).
- A user's ``data._target_`` may return a ``LightningDataModule`` (its ``setup("fit")``, then its
  loaders), a ``(train, val)`` pair of datasets, or one dataset that lrframe splits with
  ``data.val_fraction`` and ``data.split_seed``. lrframe batches datasets with ``data.batch_size``.
- lrframe owns the sample order of every map-style training set, a DataModule's
  ``DataLoader(shuffle=True)`` included: it re-creates that loader with its own resumable order
  (as Lightning re-creates loaders to insert a DistributedSampler), so a resume mid-epoch continues
  with exactly the next batch. A loader it cannot own (an iterable dataset, a custom sampler) is
  kept as it is: a stateful one (torchdata's ``StatefulDataLoader``) resumes through its own
  ``state_dict``; any other restarts its epoch on resume, and the resume says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler

from lrframe.config.errors import ConfigError
from lrframe.config.groups import DATA_KEYS
from lrframe.config.registry import builtin, is_target
from lrframe.config.targets import build_target
from lrframe.config.validate import Plan
from lrframe.data.batches import Batches, DatasetBatches, ResumableBatches
from lrframe.data.datasets import load_split, split_sizes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Data:
    """A run's loaders and what the model and loss are built for."""

    train: Any
    val: Any
    in_features: int | None  # the width of a flat input, None for others (images, token ids)
    num_classes: int | None  # None: the targets are real values (or not known: a user's module)
    num_targets: int | None  # the output width a model needs: classes, or real targets per sample

    @property
    def resumable(self) -> bool:
        """Whether a resume mid-epoch continues exactly (lrframe's order, or a stateful loader)."""
        return isinstance(self.train, ResumableBatches) or hasattr(self.train, "state_dict")


def builtin_arrays(plan: Plan) -> Data:
    """digits, diabetes, npz: standardized in-memory tensors, batched by slicing."""
    data = plan.config["data"]
    split = load_split(data)
    declared = data.get("num_classes")
    if declared is not None and declared != split.num_classes:
        raise ConfigError("data.num_classes", declared, f"data={data['name']} has {split.num_classes} classes")
    train = Batches(torch.from_numpy(split.x_train), torch.from_numpy(split.y_train),
                    batch_size=data["batch_size"], seed=plan.config["seed"], shuffle=data["shuffle"],
                    drop_last=data["drop_last"])
    val = Batches(torch.from_numpy(split.x_val), torch.from_numpy(split.y_val), batch_size=data["val_batch_size"],
                  pad=False)
    return Data(train, val, split.num_features, split.num_classes, split.num_targets)


def builtin_text(plan: Plan) -> Data:
    """data=text: next-character windows of a text, sliced from in-memory tensors."""
    from lrframe.data.text import windows

    data = plan.config["data"]
    text = windows(data)
    train = Batches(torch.from_numpy(text.x_train), torch.from_numpy(text.y_train), batch_size=data["batch_size"],
                    seed=plan.config["seed"], shuffle=data["shuffle"], drop_last=data["drop_last"])
    val = Batches(torch.from_numpy(text.x_val), torch.from_numpy(text.y_val), batch_size=data["val_batch_size"],
                  pad=False)
    vocabulary = len(text.vocabulary)
    return Data(train, val, None, vocabulary, vocabulary)


def own_order(loader: Any, plan: Plan) -> Any:
    """A plain DataLoader over a map-style dataset, re-created with lrframe's resumable order
    (``shuffle`` kept, the order seeded by ``seed``); any other loader as it is."""
    plain = (isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset)
             and type(loader) is DataLoader and loader.batch_size is not None
             and type(loader.sampler) in (RandomSampler, SequentialSampler))
    if not plain:
        return loader
    keep = ("num_workers", "collate_fn", "pin_memory", "timeout", "worker_init_fn", "prefetch_factor",
            "persistent_workers", "multiprocessing_context", "generator")
    args = {key: getattr(loader, key) for key in keep if getattr(loader, key, None) is not None}
    if not args.get("num_workers"):
        args = {key: value for key, value in args.items() if key not in ("prefetch_factor", "persistent_workers")}
    args.pop("generator", None)  # lrframe's seeded order replaces the loader's generator
    return DatasetBatches(loader.dataset, batch_size=loader.batch_size, seed=plan.config["seed"],
                          shuffle=isinstance(loader.sampler, RandomSampler), drop_last=loader.drop_last, **args)


def _is_dataset(value: Any) -> bool:
    return isinstance(value, Dataset) or (hasattr(value, "__getitem__") and hasattr(value, "__len__"))


def _split(dataset: Any, node: dict) -> tuple[Any, Any]:
    """One dataset split as built-in data is: ``ceil(val_fraction * n)`` samples held out, chosen by
    a permutation seeded with ``split_seed``."""
    n_train, _ = split_sizes(len(dataset), node["val_fraction"])
    order = np.random.default_rng(node["split_seed"]).permutation(len(dataset)).tolist()
    return torch.utils.data.Subset(dataset, order[:n_train]), torch.utils.data.Subset(dataset, order[n_train:])


def user_data(plan: Plan) -> Data:
    """``data._target_``: a LightningDataModule, a (train, val) pair of datasets, or one dataset."""
    node = plan.config["data"]
    made = build_target("data", node, shared_keys=(*DATA_KEYS, "num_classes"))
    if hasattr(made, "train_dataloader") and hasattr(made, "setup"):  # a LightningDataModule
        made.prepare_data()
        made.setup("fit")
        train, val = own_order(made.train_dataloader(), plan), made.val_dataloader()
    else:
        if isinstance(made, (tuple, list)) and len(made) == 2 and all(map(_is_dataset, made)):
            train_set, val_set = made
        elif _is_dataset(made):
            train_set, val_set = _split(made, node)
        else:
            raise ConfigError("data._target_", node["_target_"], f"returned a {type(made).__name__}; expected a "
                              "LightningDataModule, a (train, val) pair of datasets, or one dataset")
        train = DatasetBatches(train_set, batch_size=node["batch_size"], seed=plan.config["seed"],
                               shuffle=node["shuffle"], drop_last=node["drop_last"])
        val = DatasetBatches(val_set, batch_size=node["val_batch_size"], pad=False)  # unpadded under DDP
    x, y = first_batch(val if val is not None else train, node)
    if torch.is_floating_point(y):  # real-valued targets: the model outputs one value per target
        classes, targets = None, 1 if y.ndim == 1 else y.shape[-1]
    else:
        classes = node.get("num_classes") or getattr(made, "num_classes", None)
        targets = classes
    return Data(train, val, x.shape[1] if x.ndim == 2 else None, classes, targets)


def first_batch(loader: Any, node: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``(inputs, targets)`` batch of a loader (to size and check the model and loss)."""
    try:
        batch = next(iter(loader))
    except StopIteration:
        raise ConfigError("data._target_", node.get("_target_"), "gives an empty loader") from None
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and all(map(torch.is_tensor, batch))):
        raise ConfigError("data._target_", node.get("_target_"), "its batches must be (inputs, targets) pairs of "
                          "tensors for module=lrframe; a LightningModule of your own (module=...) reads any batch")
    return batch[0], batch[1]


def build_data(plan: Plan) -> tuple[Data, Plan]:
    """The run's data and the plan completed with its size (see ``Plan.with_data``)."""
    node = plan.config["data"]
    data = user_data(plan) if is_target(node) else builtin("data", node).builder()(plan)
    if plan.clock is not None:
        return data, plan
    train = data.train
    if isinstance(train, ResumableBatches):
        val_size = len(data.val.dataset) if hasattr(data.val, "dataset") else 0
        return data, plan.with_data(train_size=train.sampler.length, val_size=val_size,
                                    batch_size=train.batch_size, drop_last=train.drop_last)
    try:
        batches = len(train)
    except TypeError:
        raise ConfigError("data._target_", node["_target_"], "its training loader has no length; lrframe plans "
                          "the schedule per epoch from it (give the dataset a __len__)") from None
    batch_size = getattr(train, "batch_size", None) or node["batch_size"]
    return data, plan.with_data(train_size=batches * batch_size, val_size=0, batch_size=batch_size,
                                drop_last=False, batches_per_epoch=batches)
