"""What may change when a run continues from a checkpoint (plain Python, no torch).

A resumed run must train exactly what the checkpointed run would have trained, so the config it
resumes with is compared with the one stored in the checkpoint (``hyper_parameters.config``).
Every key counts except those in ``CHANGE_FREE``, which change neither the weights nor the lr any
step gets (logging, checkpoint cadence, the progress bar, ...). A key that a later lrframe added
(absent from an older checkpoint's config) counts only where its value differs from the default
that lrframe's YAML gives it for the checkpoint's options (``scheduler.num_cycles`` of
``scheduler=cosine``, ``swa=none``...): those defaults reproduce what the older run did.

    >>> config_changes({"optimizer": {"name": "sgd", "lr": 0.1}}, {"optimizer": {"name": "sgd", "lr": 0.2}})
    [Change(key='optimizer.lr', old=0.1, new=0.2)]
"""

from __future__ import annotations

from typing import Any, NamedTuple

from lrframe.config.errors import show

#: keys that may differ between a checkpoint's config and the resumed run's
CHANGE_FREE = frozenset({
    "resume", "resume_allow_changes", "logger", "checkpoint", "task",
    "trainer.log_every_n_steps", "trainer.enable_progress_bar", "trainer.enable_model_summary",
    "trainer.profiler", "trainer.max_time", "trainer.num_sanity_val_steps", "trainer.detect_anomaly",
})

#: groups whose new values cannot reach a resumed run, and why (said when such a change is allowed)
NO_EFFECT_ON_RESUME = {"init": "the weights come from the checkpoint"}

ABSENT = object()


class Change(NamedTuple):
    key: str
    old: Any
    new: Any

    def __str__(self) -> str:
        def text(value):
            return "(absent)" if value is ABSENT else show(value)

        return f"{self.key} {text(self.old)} -> {text(self.new)}"


def config_changes(saved: dict, new: dict) -> list[Change]:
    """The keys whose values differ between two configs, except the ``CHANGE_FREE`` ones and the keys
    added since ``saved`` was written that hold their default.

    A group whose ``name`` differs (``scheduler=cosine`` then ``scheduler=step``) is one change,
    ``scheduler.name``: the rest of its keys belong to the other option.
    """
    return [change for change in _differences(saved, new)
            if change.old is not ABSENT or change.new != _default(change.key, saved, new)]


def _differences(saved: dict, new: dict, prefix: str = "") -> list[Change]:
    if saved.get("name", ABSENT) != new.get("name", ABSENT) and prefix:
        return [Change(f"{prefix}name", saved.get("name", ABSENT), new.get("name", ABSENT))]
    changes = []
    for key in list(saved) + [key for key in new if key not in saved]:
        path = prefix + str(key)
        if path in CHANGE_FREE:
            continue
        old, value = saved.get(key, ABSENT), new.get(key, ABSENT)
        if isinstance(old, dict) and isinstance(value, dict):
            changes += _differences(old, value, path + ".")
        elif old != value:
            changes.append(Change(path, old, value))
    return changes


def _default(key: str, saved: dict, new: dict) -> Any:
    """The value lrframe's YAML gives ``key`` (``GROUP.KEY...``) for the option ``saved`` chose in its
    group (``conf/train.yaml``'s default option where ``saved`` names none, or lacks the group);
    ABSENT where there is no such default."""
    import yaml

    from lrframe.config.defaults import CONFIG_DIR, option_node
    from lrframe.config.errors import ConfigError

    group, *rest = key.split(".")
    chosen = saved.get(group)
    option = chosen.get("name") if isinstance(chosen, dict) else None
    try:
        defaults = yaml.safe_load((CONFIG_DIR / "train.yaml").read_text())["defaults"]
        option = option or next(entry[group] for entry in defaults if isinstance(entry, dict) and group in entry)
        value = option_node(group, option, new)
        for part in rest:
            value = value[part]
        return value
    except (ConfigError, OSError, KeyError, TypeError, StopIteration):
        return ABSENT


def no_effect(changes: list[Change]) -> list[str]:
    """Why some allowed changes will not show in the resumed run (one phrase per group)."""
    groups = {change.key.split(".")[0] for change in changes}
    return [f"{group}: {why}" for group, why in NO_EFFECT_ON_RESUME.items() if group in groups]
