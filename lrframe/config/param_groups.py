"""Parameter groups, torch-free: the lr multiplier, weight decay and schedule of each group of parameters.

Three keys of the ``optimizer`` node split a model's parameters into groups:

- ``lr_multipliers: {PATTERN: m}``: the parameters PATTERN matches (``lrframe.config.patterns``) form a
  group at ``m`` x the run's lr, on the run's schedule.
- ``param_groups: {PATTERN: {...}}``: such a group with more of its own (``GROUP_KEYS``):

  ===============  ===========================================================================
  lr_multiplier    its base lr is the run's lr x this (what ``lr_multipliers`` says)
  lr               its base lr at ``optimizer.lr``: the multiplier is ``lr / optimizer.lr``, so the
                   group follows batch-size scaling and the LR range test's ramp as the others do
  weight_decay     replaces ``optimizer.weight_decay`` for the group (its biases and norms keep 0)
  scheduler        its own schedule: keys over the run's ``scheduler`` node (``max_lr``, ``T_max``,
                   ...), or ``name:`` another schedule with its keys (defaults from
                   ``conf/scheduler/NAME.yaml``)
  warmup           its own warmup, likewise over the run's ``warmup`` node (``{name: none}``: none)
  ===============  ===========================================================================

- ``layer_decay: d`` (BEiT, ELECTRA; timm's ``param_groups_layer_decay``): the parameters no pattern
  matches are split by layer; of ``L`` layers from input to output, layer ``i`` trains at the run's lr x
  ``d ** (L - 1 - i)``: the embeddings lowest, the head at 1 (``lrframe.optim.layers`` says what a
  model's layers are).

Every group's lr at optimizer step ``s`` is its base lr x its schedule's factor at ``s``, on the run's
one clock. A group with a schedule of its own has its schedule built for its own base lr: absolute lrs
among the schedule's keys (``max_lr``, ``eta_min``, ...) are that group's lrs; a group without one
follows the run's factor, so its lr stays its multiplier x the default group's.

    >>> [g.name for g in groups({"lr": 0.1, "lr_multipliers": {"head": 10}, "layer_decay": 0.5}, layers=3)]
    ['layer_0', 'layer_1', 'layer_2', 'head']
"""

from __future__ import annotations

from dataclasses import dataclass
from lrframe.config.errors import ConfigError, known_keys, number
from lrframe.config.patterns import KEY as MULTIPLIERS_KEY
from lrframe.config.patterns import check_multipliers, check_pattern

KEY = "optimizer.param_groups"
LAYER_DECAY_KEY = "optimizer.layer_decay"
GROUP_KEYS = ("lr", "lr_multiplier", "weight_decay", "scheduler", "warmup")
#: the run's nodes a group's own schedule is written over
SCHEDULE_KEYS = ("scheduler", "warmup")


@dataclass(frozen=True)
class Group:
    """A group of parameters, before biases and norms are split off into ``<name>/no_decay``."""

    name: str  # default, a pattern, or layer_<i>
    multiplier: float = 1.0  # its base lr is the run's (effective) lr x this
    pattern: str | None = None
    layer: int | None = None
    weight_decay: float | None = None  # None: the optimizer's


def check_param_groups(node: dict) -> dict[str, dict]:
    """``optimizer.param_groups`` of an optimizer node: pattern -> the group's own keys (null: none)."""
    value = node.get("param_groups")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(KEY, value, "expected a mapping of parameter name pattern -> the group's keys "
                                      "(" + ", ".join(GROUP_KEYS) + "), e.g. {head:{lr:0.01}}")
    multipliers = check_multipliers(node.get("lr_multipliers"))
    for pattern, group in value.items():
        key = f"{KEY}.{check_pattern(KEY, pattern, group)}"
        if not isinstance(group, dict):
            raise ConfigError(key, group, "expected the group's keys (" + ", ".join(GROUP_KEYS) + "), e.g. {lr:0.01}")
        known_keys(group, GROUP_KEYS, "a parameter group", key)
        given = [name for name in ("lr", "lr_multiplier") if group.get(name) is not None]
        if len(given) == 2:
            raise ConfigError(f"{key}.lr", group["lr"], f"and {key}.lr_multiplier both set the group's lr; "
                                                        "expected one")
        if given and pattern in multipliers:
            raise ConfigError(f"{key}.{given[0]}", group[given[0]], f"{MULTIPLIERS_KEY}.{pattern} sets this "
                                                                     "group's lr already; expected one of the two")
        for name in given:
            number(f"{key}.{name}", group[name], gt=0)
        if group.get("lr") is not None and node.get("lr") == "auto":
            raise ConfigError(f"{key}.lr", group["lr"], "is the group's lr at optimizer.lr, and optimizer.lr=auto "
                                                        "has no value yet; expected lr_multiplier")
        if group.get("weight_decay") is not None:
            number(f"{key}.weight_decay", group["weight_decay"], ge=0)
        for name in SCHEDULE_KEYS:
            own = group.get(name)
            if own is not None and not isinstance(own, dict):
                raise ConfigError(f"{key}.{name}", own, f"expected the keys of the group's own {name}, e.g. "
                                  + ("{T_max:100}" if name == "scheduler" else "{steps:50}"))
            if isinstance(own, dict) and "_target_" in own:
                raise ConfigError(f"{key}.{name}._target_", own["_target_"], "a group's own schedule is one of "
                                  f"lrframe's (scheduler=NAME and its keys); expected no _target_")
    return value


def check_layer_decay(node: dict) -> float | None:
    """``optimizer.layer_decay``: null (off) or a number in (0, 1]."""
    value = node.get("layer_decay")
    if value is None:
        return None
    try:
        return number(LAYER_DECAY_KEY, value, gt=0, le=1)
    except ConfigError:
        raise ConfigError(LAYER_DECAY_KEY, value, "expected a number in (0, 1] (layer i of L trains at lr x "
                                                  "layer_decay ** (L-1-i)), or null") from None


def patterns(node: dict) -> dict[str, dict]:
    """Every pattern of ``lr_multipliers`` and ``param_groups``, in that order -> its ``param_groups`` keys."""
    own = check_param_groups(node)
    return {pattern: own.get(pattern, {}) for pattern in (*check_multipliers(node.get("lr_multipliers")), *own)}


def multiplier(node: dict, pattern: str) -> float:
    """The lr multiplier of a pattern's group (see the module docstring)."""
    own = check_param_groups(node).get(pattern, {})
    if pattern in (node.get("lr_multipliers") or {}):
        return float(node["lr_multipliers"][pattern])
    if own.get("lr_multiplier") is not None:
        return float(own["lr_multiplier"])
    if own.get("lr") is not None:
        return own["lr"] / node["lr"]
    return 1.0


def layer_scales(decay: float, layers: int) -> list[float]:
    """The lr multiplier of each of ``layers`` layers, input to output: ``decay ** (layers - 1 - i)``."""
    return [decay ** (layers - 1 - i) for i in range(layers)]


def groups(node: dict, layers: int | None = None) -> list[Group]:
    """The groups of an optimizer node, in the optimizer's order: ``default`` (or, with ``layer_decay``
    and a model of ``layers`` layers, ``layer_0`` ... ``layer_<L-1>``), then one per pattern."""
    decay = check_layer_decay(node)
    found = [Group("default")] if decay is None or not layers else \
        [Group(f"layer_{i}", scale, layer=i) for i, scale in enumerate(layer_scales(decay, layers))]
    for pattern, own in patterns(node).items():
        found.append(Group(pattern, multiplier(node, pattern), pattern=pattern, weight_decay=own.get("weight_decay")))
    return found


def own_schedules(config: dict) -> dict[str, tuple[dict, dict]]:
    """Pattern -> (scheduler node, warmup node) of each group with a schedule of its own: the group's keys
    over the run's node, or over the YAML defaults of the schedule (warmup) the group names."""
    from lrframe.config.defaults import option_node

    found = {}
    for pattern, own in check_param_groups(config["optimizer"]).items():
        if not any(own.get(name) is not None for name in SCHEDULE_KEYS):
            continue
        nodes = []
        for name in SCHEDULE_KEYS:
            run, given = config[name], own.get(name)
            if given is None:
                nodes.append(run)
            elif given.get("name", run.get("name")) == run.get("name"):
                nodes.append({**run, **given})
            else:
                try:
                    nodes.append({**option_node(name, given["name"], config), **given})
                except ConfigError as error:
                    raise error.under(f"{KEY}.{pattern}.{name}") from None
        found[pattern] = (nodes[0], nodes[1])
    return found


def check_names(names: list[str], node: dict, layers: int | None) -> dict[str, str | None]:
    """Each parameter name -> the pattern it matches (None: none), or a one-line error: a pattern that
    matches no parameter, a parameter two patterns match, a group name taken twice."""
    from lrframe.config.patterns import assign

    owner = assign(names, node.get("lr_multipliers"),
                   {pattern: (f"{KEY}.{pattern}", own) for pattern, own in check_param_groups(node).items()})
    names_seen: set[str] = set()
    for group in groups(node, layers):
        if group.name in names_seen:
            raise ConfigError(f"{KEY}.{group.name}", (node.get("param_groups") or {}).get(group.name),
                              f"{group.name} also names a group of its own (default, or optimizer.layer_decay's "
                              "layer_<i>); write the pattern another way (e.g. add .*)")
        names_seen.add(group.name)
    return owner

