"""Keys of torch's, timm's, transformers' and Paddle's schedulers, to say in one line where a ported key goes.

Each schedule takes the keys of the library it comes from (torch's ``T_max``, Paddle's ``end_lr``,
timm's ``cycle_decay``), and another library's key on it is an error. When that key is one of the
keys below, the error says whose it is and where it belongs: which schedule takes it, what this
schedule calls it, or which other config key does its work::

    scheduler.cycle_decay=0.5: timm's key, not taken by scheduler=step (scheduler=cosine_restarts, poly,
    tanh take it); allowed: interval, unit, name, step_size, gamma
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lrframe.config.errors import ConfigError

#: key -> (whose it is, the keys that mean the same in lrframe's schedules, where its work is done
#: instead when no schedule takes it)
KEYS: dict[str, tuple[str, tuple[str, ...], str]] = {
    # torch.optim.lr_scheduler, on the schedules of the others
    "T_max": ("torch", ("t_initial", "total_iters", "decay_steps"), ""),
    "T_0": ("torch", ("t_initial",), ""),
    "T_mult": ("torch", ("cycle_mul",), ""),
    "eta_min": ("torch", ("lr_min", "min_lr", "end_lr"), ""),
    "last_epoch": ("torch", (), "a resumed run restores the schedule's step from its checkpoint (resume=auto)"),
    # timm.scheduler (CosineLRScheduler, PolyLRScheduler, TanhLRScheduler, Scheduler)
    "t_initial": ("timm", ("T_0", "T_max", "total_iters", "decay_steps"), ""),
    "lr_min": ("timm", ("eta_min", "end_lr"), ""),
    "cycle_mul": ("timm", ("T_mult",), ""),
    "cycle_decay": ("timm", (), ""),
    "cycle_limit": ("timm", (), ""),
    "k_decay": ("timm", (), ""),
    "lb": ("timm", (), ""),
    "ub": ("timm", (), ""),
    "noise_range_t": ("timm", (), ""),
    "noise_type": ("timm", (), ""),
    "noise_pct": ("timm", (), ""),
    "noise_std": ("timm", (), ""),
    "noise_seed": ("timm", (), ""),
    "warmup_t": ("timm", (), "the warmup is its own group: warmup.steps or warmup.epochs"),
    "warmup_lr_init": ("timm", (), "the warmup is its own group: warmup.start_factor (a fraction of the lr)"),
    "warmup_prefix": ("timm", (), "the schedule always starts after the warmup (timm's warmup_prefix=true)"),
    "t_in_epochs": ("timm", (), "scheduler.unit (step | epoch) says what durations count"),
    "decay_t": ("timm", ("step_size", "milestones"), ""),
    "decay_rate": ("timm", ("gamma", "power"), ""),
    # transformers.optimization (get_scheduler's names and scheduler_specific_kwargs)
    "num_cycles": ("transformers", (), ""),
    "num_warmup_steps": ("transformers", (), "the warmup is its own group: warmup.steps"),
    "num_training_steps": ("transformers", (), "the run's length (trainer.max_steps, trainer.max_epochs)"),
    "num_stable_steps": ("transformers", (), ""),
    "num_decay_steps": ("transformers", (), ""),
    "min_lr_rate": ("transformers", ("min_lr_ratio",), ""),
    "min_lr": ("transformers", ("eta_min", "end_lr"), ""),
    "lr_end": ("transformers", ("end_lr", "eta_min"), ""),
    "warmup_type": ("transformers", (), "the warmup's shape is its name: warmup=linear | cosine | 1-sqrt"),
    # paddle.optimizer.lr (LinearWarmup)
    "learning_rate": ("Paddle", (), "optimizer.lr"),
    "start_lr": ("Paddle", (), "the warmup is its own group: warmup.start_factor (a fraction of the lr)"),
    "end_lr": ("Paddle", ("eta_min",), "warmup.end_lr ends a warmup at an lr of its own"),
    "warmup_steps": ("Paddle", (), "the warmup is its own group: warmup.steps"),
}


def unknown_key(key: str, value: Any, where: str, allowed: Iterable[str], options: Mapping[str, Iterable[str]],
                prefix: str = "") -> ConfigError:
    """The error for ``key`` in a node of ``where`` (``scheduler=step``) that takes only ``allowed``.

    ``options`` are the keys of each option of the node's group (the scheduler catalogue, the warmup
    shapes), to name those that take the key. Keys of no other library get the plain message.
    """
    allowed = tuple(allowed)
    full = f"{prefix}.{key}" if prefix else key
    tail = "allowed: " + ", ".join(allowed)
    if key not in KEYS:
        return ConfigError(full, value, f"unknown key for {where}; {tail}")
    peer, synonyms, instead = KEYS[key]
    peer = peer + ("'" if peer.endswith("s") else "'s")
    group, _, name = where.partition("=")
    same = [synonym for synonym in synonyms if synonym in allowed]
    others = [option for option, keys in options.items() if key in keys and option != name]
    if same:
        text = f"{peer} key, which {where} calls {same[0]}"
    elif others:
        verb = "takes" if len(others) == 1 else "take"
        text = f"{peer} key, not taken by {where} ({group}={', '.join(others)} {verb} it)"
    elif instead:
        text = f"{peer} key; here {instead}"
    else:
        text = f"{peer} key, not taken by {where}"
    return ConfigError(full, value, f"{text}; {tail}")
