"""The lr of a schedule-free optimizer (Defazio et al. 2024; the ``schedulefree`` package), in closed form.

They take no schedule (``scheduler=none``): they average their iterates instead. The lr of
optimizer step ``k`` (0-based), as the package computes it (its ``group["scheduled_lr"]``)::

    adamw_schedulefree, sgd_schedulefree:  lr * (k + 1) / W  for k < W, then lr   (W: warmup_steps)
    radam_schedulefree:                    lr * rect(k)   (RAdam's rectification, Liu et al. 2020:
        rho_inf = 2 / (1 - beta2) - 1,  rho = rho_inf - 2 (k + 1) beta2^(k+1) / (1 - beta2^(k+1)),
        rect = sqrt((rho - 4)(rho - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho)) if rho > 4,
        else 0 with silent_sgd_phase (1 without))

lrframe's ``warmup=linear`` (from 0 to the lr: ``start_factor: 0``, ``end_factor: 1``), in steps or
epochs, becomes ``W``; ``warmup=none`` is ``W = 0``. Other warmup shapes have no counterpart, nor
does RAdam (it warms up by itself): one-line errors.

    >>> from lrframe.schedules.clock import Clock
    >>> schedule = run_schedule({"name": "sgd_schedulefree"}, {"name": "linear", "steps": 4, "epochs": 1,
    ...                         "start_factor": 0.0, "end_factor": 1.0, "end_lr": None}, Clock(10, 100))
    >>> [schedule(k) for k in range(6)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from lrframe.config.errors import ConfigError, integer
from lrframe.config.registry import chosen, option
from lrframe.schedules.clock import Clock
from lrframe.schedules.constant import unscheduled
from lrframe.schedules.run import RunSchedule, warmup_arguments

#: the built-in schedule-free optimizers that take ``warmup_steps`` (RAdam's does not)
WARMED_UP = ("adamw_schedulefree", "sgd_schedulefree")


def warmup_steps(optimizer: dict, warmup: dict, clock: Clock) -> int:
    """The optimizer's ``warmup_steps`` for lrframe's ``warmup`` node; a one-line error where none fits."""
    name, steps, arguments = warmup_arguments(warmup, clock)
    if name == "none":
        return 0
    label = chosen("optimizer", optimizer)
    if optimizer.get("name") not in WARMED_UP:
        why = ("warms up by itself (RAdam's rectification)" if optimizer.get("name") == "radam_schedulefree"
               else "takes its warmup in its own node (warmup_steps)")
        raise ConfigError(*option("warmup", warmup), f"{label} {why}; expected warmup=none")
    if name != "linear":
        raise ConfigError(*option("warmup", warmup), f"{label} warms up linearly only (its warmup_steps); "
                                                     "expected warmup=linear or warmup=none")
    for key, value in (("start_factor", 0.0), ("end_factor", 1.0), ("end_lr", None)):
        if arguments[key] != value:
            raise ConfigError(f"warmup.{key}", arguments[key], f"{label} warms up from 0 to its lr (its "
                              f"warmup_steps); expected warmup.{key}={'null' if value is None else value}")
    return steps


def rectification(beta2: float, silent_sgd_phase: bool):
    """RAdam's rectification at step ``k`` (0-based), as ``schedulefree.RAdamScheduleFree`` computes it."""
    rho_inf = 2 / (1 - beta2) - 1

    def rect(k: float) -> float:
        step = int(k) + 1
        beta2_t = beta2 ** step
        rho_t = rho_inf - 2 * step * beta2_t / (1 - beta2_t)
        if rho_t > 4.0:
            return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        return float(not silent_sgd_phase)

    return rect


def run_schedule(optimizer: dict, warmup: dict, clock: Clock) -> RunSchedule:
    """The lr factor of every optimizer step (what ``task=preview`` shows and TensorBoard logs)."""
    steps = warmup_steps(optimizer, warmup, clock)
    if optimizer.get("name") == "radam_schedulefree":
        return RunSchedule(rectification(optimizer["betas"][1], optimizer["silent_sgd_phase"]), _steps)
    if "_target_" in optimizer:  # it may set its own
        steps = integer("optimizer.warmup_steps", optimizer.get("warmup_steps", 0), ge=0)
    return RunSchedule(unscheduled(), _steps, (lambda k: (k + 1) / steps) if steps else None, steps)


def group_lr(group: dict) -> float:
    """The lr the next optimizer step of a parameter group uses: its ``lr``, times a schedule-free
    optimizer's own factor at its step count ``k`` (its warmup, or RAdam's rectification), as above."""
    if "train_mode" not in group or "k" not in group:
        return group["lr"]
    k = group["k"]
    if "silent_sgd_phase" in group:
        return group["lr"] * rectification(group["betas"][1], group["silent_sgd_phase"])(k)
    steps = group.get("warmup_steps", 0)
    return group["lr"] * ((k + 1) / steps) if k < steps else group["lr"]


def held() -> RunSchedule:
    """What ``ScheduledLR`` applies with a schedule-free optimizer: the base lr (it warms up by itself)."""
    return RunSchedule(unscheduled(), _steps)


def _steps(step: int) -> int:
    return step

