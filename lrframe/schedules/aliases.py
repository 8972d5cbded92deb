"""transformers' scheduler names (``get_scheduler(name)``), each one of lrframe's schedules under its keys.

A name of transformers' is a schedule lrframe already has, plus transformers' linear warmup from 0
(which its conf/scheduler/NAME.yaml selects), with transformers' keys
(``lr_scheduler_kwargs``): each entry here only translates those keys into the schedule's own.
transformers counts the steps after warmup to ``num_training_steps``; here they run to the end of
training, so ``num_training_steps`` is the run's length.

    constant_with_warmup   scheduler=none
    cosine_with_restarts   scheduler=cosine_restarts, num_cycles restarts over the run
    cosine_with_min_lr     scheduler=cosine, down to min_lr (or min_lr_rate * lr)
    warmup_stable_decay    scheduler=wsd, with num_decay_steps and num_stable_steps

transformers' ``cosine``, ``inverse_sqrt`` and ``polynomial`` are lrframe's schedules of the same
names (``polynomial``'s end lr is Paddle's ``end_lr``, transformers' ``lr_end``); its ``linear`` is
``scheduler=linear`` from start_factor 1 to end_factor 0 over the run (``total_iters: null``),
as lrframe's ``linear`` is torch's LinearLR.
"""

from __future__ import annotations

from lrframe.config.errors import ConfigError, integer, number
from lrframe.schedules.base import Schedule, schedule
from lrframe.schedules.constant import unscheduled
from lrframe.schedules.cosine import cosine, cosine_restarts
from lrframe.schedules.wsd import wsd

#: get_constant_schedule_with_warmup: the lr, after the warmup
constant_with_warmup = unscheduled
#: the share of the schedule a null ``num_decay_steps`` decays over: a fifth, the cooldown with which
#: Hägele et al. (2024) find WSD matching the cosine (transformers has no default: it requires one)
NULL_DECAY_SHARE = 0.2


@schedule()
def cosine_with_restarts(*, num_cycles: int, lr: float, pieces) -> Schedule:
    """get_cosine_with_hard_restarts_schedule_with_warmup: num_cycles cosines from lr to 0 over the run

        lr(t) = lr * (1 + cos(pi * ((num_cycles * t / L) mod 1))) / 2,   L = the schedule's length

    cosine_restarts with T_0 = L / num_cycles, the time measured in cycles so that each restart
    falls on its step exactly.
    """
    cycles = integer("num_cycles", num_cycles, ge=1)
    restarted = cosine_restarts(T_0=1, T_mult=1, eta_min=0.0, cycle_decay=1.0, cycle_limit=cycles, k_decay=1.0,
                                noise_range_t=None, noise_type=None, noise_pct=None, noise_std=None,
                                noise_seed=None, lr=lr)
    length = pieces.length
    return lambda t: restarted(cycles * t / length)


@schedule()
def cosine_with_min_lr(*, num_cycles: float, min_lr: float | None, min_lr_rate: float, lr: float,
                       pieces) -> Schedule:
    """get_cosine_with_min_lr_schedule_with_warmup: a cosine from lr to min_lr over the run

        lr(t) = m + (lr - m) * (1 + cos(2 pi * num_cycles * t / L)) / 2,   L = the schedule's length
        m = min_lr if set, else min_lr_rate * lr

    scheduler=cosine with T_max = L and eta_min = m.
    """
    if min_lr is None:
        floor = number("min_lr_rate", min_lr_rate, ge=0, lt=1) * lr
    else:
        floor = number("min_lr", min_lr, ge=0, lt=lr)
    waves = number("num_cycles", num_cycles, gt=0)
    return cosine(T_max=pieces.length, eta_min=floor, num_cycles=waves, k_decay=1.0, lr=lr)


@schedule()
def warmup_stable_decay(*, num_decay_steps: float | None, num_stable_steps: float | None, decay_type: str,
                        min_lr_ratio: float, num_cycles: float, pieces) -> Schedule:
    """get_wsd_schedule: lr for num_stable_steps, a decay to min_lr_ratio * lr over num_decay_steps

        D = num_decay_steps (null: a fifth of the schedule's length L);
        S = num_stable_steps (null: L - D);  then min_lr_ratio * lr after S + D

    scheduler=wsd with total_iters = S + D and decay_fraction = D / (S + D). transformers' warmup
    starts at min_lr_ratio * lr: set warmup.start_factor to it (warmup_type is warmup=NAME).
    """
    length = pieces.length
    if num_decay_steps is None:
        decay = length * NULL_DECAY_SHARE
    else:
        decay = number("num_decay_steps", num_decay_steps, gt=0)
    if num_stable_steps is None:
        if decay > length:
            raise ConfigError("num_decay_steps", num_decay_steps,
                              f"longer than the schedule ({length:g} {pieces.unit}s after warmup)")
        stable = length - decay
    else:
        stable = number("num_stable_steps", num_stable_steps, ge=0)
    return wsd(total_iters=stable + decay, decay_fraction=decay / (stable + decay), decay_type=decay_type,
               min_lr_ratio=min_lr_ratio, num_cycles=num_cycles)
