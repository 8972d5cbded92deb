"""lrframe's pieces for a plain PyTorch loop, with the same defaults as the YAML (read from it).

    >>> import torch
    >>> import lrframe
    >>> model = torch.nn.Linear(4, 2)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> scheduler = lrframe.create_scheduler(optimizer, scheduler="cosine", warmup={"name": "linear", "steps": 10},
    ...                                      max_steps=100)
    >>> [round(optimizer.param_groups[0]["lr"], 4) for _ in range(3) if not scheduler.step()]
    [0.01, 0.02, 0.03]
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from lrframe.config import defaults
from lrframe.config.errors import ConfigError, integer
from lrframe.schedules import run_schedule
from lrframe.schedules.clock import Clock
from lrframe.schedules.scheduler import ScheduledLR


def create_scheduler(optimizer: torch.optim.Optimizer, scheduler: str | dict | list = "cosine",
                     warmup: str | dict | list | None = None, *, max_steps: int | None = None,
                     steps_per_epoch: int | None = None, max_epochs: int | None = None) -> ScheduledLR:
    """A torch ``LRScheduler`` to step once per optimizer step, equal to ``task=preview`` of the same config.

    scheduler, warmup: an option's name or a dict of its keys (``{"name": "step", "step_size": 2}``);
                       unset keys take the YAML defaults (``conf/scheduler/NAME.yaml``). A list gives
                       one per parameter group (as torch's ``LambdaLR`` takes one ``lr_lambda`` per
                       group), each built for its group's lr: absolute lrs among its keys are that
                       group's.
    max_steps:         the run's length in optimizer steps; or ``steps_per_epoch`` x ``max_epochs``
                       (needed for durations in epochs and ``interval: epoch``).
    """
    if max_steps is None and (steps_per_epoch is None or max_epochs is None):
        raise ConfigError("max_steps", None, "give max_steps, or steps_per_epoch and max_epochs")
    if max_steps is not None:
        integer("max_steps", max_steps, ge=1)
    per_epoch = integer("steps_per_epoch", steps_per_epoch, ge=1) if steps_per_epoch is not None else max_steps
    total = min(x for x in (max_steps, max_epochs and per_epoch * integer("max_epochs", max_epochs, ge=1)) if x)
    clock = Clock(per_epoch, total)
    if not isinstance(scheduler, list) and not isinstance(warmup, list):
        return ScheduledLR(optimizer, run_schedule(defaults.node("scheduler", scheduler),
                                                   defaults.node("warmup", warmup or "none"), clock,
                                                   optimizer.defaults["lr"]))
    groups = optimizer.param_groups
    per_group = {}
    for key, given in (("scheduler", scheduler), ("warmup", warmup)):
        if isinstance(given, list) and len(given) != len(groups):
            raise ConfigError(key, given, f"expected one per parameter group ({len(groups)})")
        per_group[key] = given if isinstance(given, list) else [given] * len(groups)
    return ScheduledLR(optimizer, [run_schedule(defaults.node("scheduler", s), defaults.node("warmup", w or "none"),
                                                clock, group.get("initial_lr", group["lr"]))
                                   for s, w, group in zip(per_group["scheduler"], per_group["warmup"], groups)])


def build_optimizer(model: torch.nn.Module, optimizer: str | dict = "sgd",
                    lr: float | None = None) -> torch.optim.Optimizer:
    """The optimizer ``optimizer=NAME`` builds, with its parameter groups (no decay for biases and norms,
    ``lr_multipliers``); ``lr`` defaults to the option's ``lr``."""
    from lrframe.optim.optimizer import build_optimizer as build

    node = defaults.node("optimizer", optimizer)
    return build(model, node, lr if lr is not None else node["lr"])


def initialize(model: torch.nn.Module, scheme: str | dict = "kaiming_normal", **options) -> torch.nn.Module:
    """Initialize every Linear and convolution layer of ``model`` in place, as ``init=NAME`` does
    (``bias`` and the scheme's options default to the YAML's)."""
    from lrframe.models.init import initialize_from_config

    node = defaults.node("init", scheme)
    return initialize_from_config(model, {**node, **options})


def lr_find(model: torch.nn.Module, batches: Iterable, loss_fn, optimizer: torch.optim.Optimizer, **settings) -> dict:
    """The LR range test on a model, a loader of ``(x, y)`` batches and a loss: ``task=lr_find``'s settings
    (``start_lr``, ``end_lr``, ``num_steps``, ``mode``, ``smoothing``, ``diverge_factor``, ``suggestion``;
    defaults from ``conf/task/lr_find.yaml``). Returns ``{"suggestion", "method", "methods", "lrs", "losses"}``;
    the model and optimizer are left as they were."""
    from lrframe.range_test.loop import range_test
    from lrframe.range_test.arithmetic import NoSuggestion, ramp, suggest

    node = {**defaults.node("task", "lr_find"), **settings}
    num_steps = node["num_steps"] or len(batches)
    curve = range_test(model, optimizer, batches, ramp(node["start_lr"], node["end_lr"], num_steps, node["mode"]),
                       smoothing=node["smoothing"], diverge_factor=node["diverge_factor"], loss_fn=loss_fn)
    try:
        values = suggest(curve.lrs, curve.smoothed, num_steps).values
    except NoSuggestion as error:
        return {"suggestion": None, "reason": str(error), "lrs": curve.lrs, "losses": curve.losses}
    return {"suggestion": values[node["suggestion"]], "method": node["suggestion"], "methods": values,
            "lrs": curve.lrs, "losses": curve.losses}
