"""One way in for every config group: a built-in name, or Hydra's ``_target_``.

::

    conf/<group>/<name>.yaml ── name: NAME ──────▶ builtin(group, node) = Builtin(check, build)
                             └─ _target_: a.b.C ──▶ lrframe.config.targets (import + signature)

A built-in is registered once, by ``register(group, name, build=..., check=...)``: ``check(node)``
is plain Python (no torch) and runs during validation, before anything heavy is imported;
``build`` names the function that makes it, as ``"module:function"``, imported only when a run
builds it. Its defaults live in its YAML file (``conf/<group>/<name>.yaml``), nowhere else.
The schedules' catalogue (``lrframe.schedules.CATALOGUE``) is the scheduler group's registry: a
schedule's constructor is pure Python, so building it is its check.

    >>> import lrframe.config.groups  # registers lrframe's built-ins
    >>> builtin("loss", {"name": "mse"}).build
    'lrframe.objectives.losses:mse'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrframe.config.errors import choice

#: the keys with which Hydra's instantiate reads a node (``_target_`` names what it calls)
HYDRA_KEYS = ("_target_", "_partial_", "_convert_", "_recursive_", "_args_")


@dataclass(frozen=True)
class Builtin:
    """A built-in option of a config group."""

    build: str  # "module:function"
    check: Callable[[dict], Any] | None = None

    def builder(self) -> Callable[..., Any]:
        module, _, function = self.build.partition(":")
        return getattr(importlib.import_module(module), function)


BUILTINS: dict[str, dict[str, Builtin]] = {}


def register(group: str, name: str, *, build: str, check: Callable[[dict], Any] | None = None) -> None:
    """Make ``group=name`` a built-in option (``check`` validates its node, ``build`` makes it)."""
    BUILTINS.setdefault(group, {})[name] = Builtin(build, check)


def names(group: str) -> list[str]:
    return list(BUILTINS.get(group, {}))


def builtin(group: str, node: dict) -> Builtin:
    """The built-in a node names (``node["name"]``); a one-line error lists what exists."""
    return BUILTINS[group][choice(f"{group}.name", node.get("name"), names(group))]


def is_target(node: Any) -> bool:
    """A node that names its own callable with ``_target_`` (Hydra's convention)."""
    return isinstance(node, dict) and "_target_" in node


def option(group: str, node: dict, name_key: str | None = None) -> tuple[str, Any]:
    """How an error names a group's option, as its key and value: ``(GROUP._target_, PATH)`` for a
    ``_target_``, else ``(name_key, NAME)`` (``name_key`` defaults to ``GROUP``; ``GROUP.name`` also reads).

    >>> option("warmup", {"name": "none", "_target_": "my_warmup.quadratic"}, "warmup.name")
    ('warmup._target_', 'my_warmup.quadratic')
    >>> option("warmup", {"name": "linear"}, "warmup.name")
    ('warmup.name', 'linear')
    """
    return (f"{group}._target_", node["_target_"]) if is_target(node) else (name_key or group, node.get("name"))


def chosen(group: str, node: dict) -> str:
    """How messages and titles name a group's option: ``GROUP=NAME`` or ``GROUP._target_=PATH``.

    >>> chosen("warmup", {"name": "none", "_target_": "my_warmup.quadratic"})
    'warmup._target_=my_warmup.quadratic'
    """
    return "{}={}".format(*option(group, node))
