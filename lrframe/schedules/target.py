"""A torch LRScheduler of the user's own, named by ``_target_`` in the scheduler node.

Validation never imports torch, so it checks only the keys lrframe reads: ``interval`` (how often
Lightning steps the scheduler), ``monitor`` (the metric a ReduceLROnPlateau is given) and that
nothing needs the schedule's closed form (a warmup joined to it, ``task=preview``). The other keys
are the class's own arguments; TrainingModule builds it on the optimizer with Hydra's instantiate.
"""

from __future__ import annotations

from lrframe.config.errors import ConfigError, choice, text
from lrframe.config.registry import is_target, option
from lrframe.schedules.lambdas import importable
from lrframe.schedules.plateau import MONITORED
from lrframe.schedules.run import INTERVALS

#: keys of the scheduler node that lrframe reads; all others go to the class
OWN_KEYS = ("name", "interval", "unit", "monitor")
#: the metric a ReduceLROnPlateau given by _target_ watches unless ``scheduler.monitor`` says otherwise
MONITOR = MONITORED[0]


def check_target(node: dict, warmup: dict, task: str) -> None:
    target = text("scheduler._target_", node["_target_"])
    importable("scheduler._target_", target)  # its top-level module exists; nothing is imported yet
    if node.get("name", "none") != "none":
        others = [key for key in node if key not in (*OWN_KEYS, "_target_")]
        raise ConfigError("scheduler._target_", target, f"given on top of scheduler={node['name']}, whose keys "
                          f"({', '.join(others)}) would go to the class; expected scheduler=none +scheduler._target_=...")
    choice("scheduler.interval", node.get("interval"), INTERVALS)
    if node.get("unit") is not None:
        raise ConfigError("scheduler.unit", node["unit"], "a scheduler given by _target_ counts its own steps, "
                                                          "one per scheduler.interval; expected null")
    choice("scheduler.monitor", node.get("monitor", MONITOR), MONITORED)
    if warmup.get("name") != "none" or is_target(warmup):
        key, value = option("warmup", warmup, "warmup.name")
        raise ConfigError(key, value, "cannot be joined to a scheduler given by _target_ (a torch class); "
                                      "expected warmup=none")
    if task == "preview":
        raise ConfigError("task.name", task, "previews lrframe's own schedules without importing torch, "
                                             "not a scheduler given by _target_; expected task=fit")


def target_arguments(node: dict) -> dict:
    """``_target_`` and the class's arguments, for ``hydra.utils.instantiate(..., optimizer=...)``."""
    return {key: value for key, value in node.items() if key not in OWN_KEYS}


def lightning_scheduler(node: dict, scheduler) -> dict:
    """Lightning's lr_scheduler config for the instantiated class: stepped every ``interval``."""
    return {"scheduler": scheduler, "interval": node["interval"], "monitor": node.get("monitor", MONITOR)}
