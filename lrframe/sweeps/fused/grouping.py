"""Which jobs of a grid train together: torch-free, on validated plans' plain configs.

Members of one group must agree on everything that sets the shapes of the fused computation and
the clock of the loop: model, data (batch size, split, sizes), loss, metrics, trainer (epochs,
steps, precision, clipping, logging cadence), logger and checkpoint cadence. They may differ in
the keys that keep the model's shapes and only change a member's own state: ``optimizer`` (lr,
name, momentum, betas, weight decay, ...; a schedule-free one trains alone, as ``swa`` does),
``scheduler``, ``warmup``, ``init`` and ``seed`` (its initial weights and data order).

>>> base = {"model": {"name": "mlp"}, "seed": 0, "optimizer": {"lr": 0.1}, "task": {"name": "fit"}}
>>> fusion_key(base) == fusion_key({**base, "seed": 1, "optimizer": {"lr": 0.3}})
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lrframe.config.groups import is_schedule_free

#: top-level keys a member may set for itself
MEMBER_KEYS = ("optimizer", "scheduler", "warmup", "init", "seed", "resume", "resume_allow_changes")


def fusion_key(config: dict) -> str:
    """What members of one group share: the config without ``MEMBER_KEYS``, as canonical text."""
    shared = {key: value for key, value in config.items() if key not in MEMBER_KEYS}
    return json.dumps(shared, sort_keys=True, default=str)


def solo_reason(config: dict) -> str | None:
    """Why a job cannot be a member of a fused group (one line), or None if it can."""
    trainer = config["trainer"]
    if config["task"]["name"] != "fit":
        return f"task={config['task']['name']} (only task=fit trains)"
    if "_target_" in config["module"]:
        return "a LightningModule of its own (module._target_): its training_step is not vectorized"
    if "_target_" in config["scheduler"]:
        return "a torch scheduler of its own (scheduler._target_): Lightning steps it"
    if "_target_" in config["optimizer"]:
        return "an optimizer of its own (optimizer._target_)"
    if is_schedule_free(config["optimizer"]):
        return "a schedule-free optimizer (its train/eval weights are not vectorized)"
    if config.get("swa", {}).get("name", "none") != "none":
        return "swa (its averaged model is not vectorized)"
    if config["optimizer"].get("lr") == "auto":
        return "optimizer.lr=auto (each job runs its own range test)"
    if trainer.get("accumulate_grad_batches", 1) != 1:
        return "trainer.accumulate_grad_batches > 1"
    if trainer.get("devices", 1) not in (1, "1", "auto") or trainer.get("num_nodes", 1) != 1 or \
            trainer.get("strategy", "auto") not in ("auto", None):
        return "several devices or a strategy (trainer.devices, num_nodes, strategy)"
    if str(trainer.get("precision", "32-true") or "32-true") not in ("32", "32-true"):
        return f"trainer.precision={trainer.get('precision')} (fused groups train in float32)"
    if trainer.get("check_val_every_n_epoch", 1) != 1 or trainer.get("limit_val_batches") not in (None, 1, 1.0):
        return "trainer.check_val_every_n_epoch or limit_val_batches is set"
    if trainer.get("max_time") is not None:
        return "trainer.max_time (a wall-clock limit is not a property of the run)"
    return None


def difference(a: dict, b: dict, prefix: str = "") -> str | None:
    """The first key where two configs differ, as ``key: a -> b`` (None if equal)."""
    for key in sorted(set(a) | set(b)):
        name = f"{prefix}{key}"
        if key not in a or key not in b:
            return f"{name} only in one"
        if isinstance(a[key], dict) and isinstance(b[key], dict):
            found = difference(a[key], b[key], f"{name}.")
            if found:
                return found
        elif a[key] != b[key]:
            return f"{name}: {json.dumps(a[key], default=str)} vs {json.dumps(b[key], default=str)}"
    return None


@dataclass
class Group:
    """Jobs (indices into the launcher's list) trained together; ``reason`` says why a group of one
    trains alone."""

    jobs: list[int] = field(default_factory=list)
    reason: str | None = None

    @property
    def fused(self) -> bool:
        return len(self.jobs) > 1


def group_jobs(configs: list[dict], max_members: int | None = None) -> list[Group]:
    """Group ``configs`` (validated plans' configs, in job order): fusable jobs with the same
    ``fusion_key`` form groups of at most ``max_members``; each other job is a group of its own with
    the reason. Groups come in the order of their first job."""
    groups: list[Group] = []
    by_key: dict[str, list[Group]] = {}
    for index, config in enumerate(configs):
        reason = solo_reason(config)
        if reason is not None:
            groups.append(Group([index], reason))
            continue
        key = fusion_key(config)
        open_groups = by_key.setdefault(key, [])
        if not open_groups or (max_members and len(open_groups[-1].jobs) >= max_members):
            open_groups.append(Group())
            groups.append(open_groups[-1])
        open_groups[-1].jobs.append(index)
    for group in groups:
        if len(group.jobs) == 1 and group.reason is None:
            first = group.jobs[0]
            others = [configs[i] for g in groups if g is not group for i in g.jobs]
            shared = {k: v for k, v in configs[first].items() if k not in MEMBER_KEYS}
            diffs = [difference(shared, {k: v for k, v in o.items() if k not in MEMBER_KEYS}) for o in others]
            diffs = [d for d in diffs if d]
            group.reason = ("no other job shares its model, data and trainer (" + diffs[0] + ")" if diffs
                            else "the only job")
    return groups
