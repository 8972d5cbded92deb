"""Curves per optimizer step: ours (the RunSchedule that preview and fit use) and torch's own classes.

A run here is ``TOTAL`` optimizer steps of ``SPE`` steps per epoch (not a divisor, so the last
epoch is partial). The four clocks a scheduler node can have, as (unit, interval):

    (step, step)    torch stepped every optimizer step
    (epoch, epoch)  torch stepped every epoch, its lr held through the epoch
    (step, epoch)   durations in steps, the lr changed only at epoch starts: torch stepped every
                    step, read at the first step of each epoch
    (epoch, step)   the smooth version: torch's closed form at fractional epochs, step(epoch=s/SPE)
"""

from __future__ import annotations

import math
import warnings

import torch

from lrframe.schedules import Clock, run_schedule

LR = 0.1
TOTAL, SPE = 66, 7
CLOCKS = [("step", "step"), ("epoch", "epoch"), ("step", "epoch"), ("epoch", "step")]
NO_WARMUP = {"name": "none"}


def in_unit(epochs: float, unit: str) -> float:
    """A duration written in epochs, in ``unit`` (so each clock sees curves of the same shape)."""
    return epochs * SPE if unit == "step" else epochs


def node(name: str, unit: str, interval: str, **arguments) -> dict:
    return {"name": name, "interval": interval, "unit": unit, **arguments}


def ours(scheduler: dict, *, total: int = TOTAL, spe: int = SPE, warmup: dict = NO_WARMUP, lr: float = LR):
    """lr (and momentum, or None) at every optimizer step, from lrframe's RunSchedule."""
    schedule = run_schedule(scheduler, warmup, Clock(spe, total), lr)
    lrs = [lr * schedule(s) for s in range(total)]
    return lrs, ([schedule.momentum(s) for s in range(total)] if schedule.schedules_momentum else None)


def dummy_optimizer(kind: str = "sgd", lr: float = LR) -> torch.optim.Optimizer:
    param = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([param], lr=lr, momentum=0.9) if kind == "sgd" else torch.optim.Adam([param], lr=lr)


def _momentum(optimizer: torch.optim.Optimizer) -> float:
    group = optimizer.param_groups[0]
    return group["betas"][0] if "betas" in group else group["momentum"]


def stepped(make, count: int, kind: str = "sgd") -> tuple[list[float], list[float]]:
    """lr and momentum before each of ``count`` calls of torch's ``step()``."""
    optimizer = dummy_optimizer(kind)
    scheduler = make(optimizer)
    lrs, momenta = [], []
    for _ in range(count):
        lrs.append(optimizer.param_groups[0]["lr"])
        momenta.append(_momentum(optimizer))
        optimizer.step()
        scheduler.step()
    return lrs, momenta


def closed_form(make, times: list[float], kind: str = "sgd") -> tuple[list[float], list[float]]:
    """torch's lr and momentum at each (fractional) time, through the deprecated ``step(epoch)``."""
    optimizer = dummy_optimizer(kind)
    scheduler = make(optimizer)
    lrs, momenta = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in times:
            optimizer.step()
            scheduler.step(t)
            lrs.append(optimizer.param_groups[0]["lr"])
            momenta.append(_momentum(optimizer))
    return lrs, momenta


def reference(make, unit: str, interval: str, *, total: int = TOTAL, spe: int = SPE, kind: str = "sgd"):
    """torch's lr and momentum at every optimizer step of a run on the given clock (see the docstring)."""
    if (unit, interval) == ("epoch", "step"):
        return closed_form(make, [s / spe for s in range(total)], kind)
    if unit == "epoch":
        lrs, momenta = stepped(make, math.ceil(total / spe), kind)
        index = [s // spe for s in range(total)]
    else:
        lrs, momenta = stepped(make, total, kind)
        index = [s // spe * spe if interval == "epoch" else s for s in range(total)]
    return [lrs[i] for i in index], [momenta[i] for i in index]


def schedule_time(s: int, unit: str, interval: str, spe: int = SPE) -> float:
    """The time a formula of the schedule's own clock is evaluated at, after ``s`` optimizer steps."""
    whole = s // spe * spe if interval == "epoch" else s
    return whole / spe if unit == "epoch" else whole
