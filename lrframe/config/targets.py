"""A user's own piece, named by ``_target_``: checked before it is built, built by Hydra.

Configs are code: ``_target_`` imports and calls what it names, as ``hydra.utils.instantiate``
does (its blocklist of dangerous targets stays in force when the run builds the piece). User code is
imported from the current directory or ``PYTHONPATH``. Validation imports the target and binds the
node's keys to its signature, so a typo in a module name, an argument the callable does not take
or a required one left out is one line before any training::

    model._target_=my_model.Net: cannot import my_model: no module of that name in the current directory or on PYTHONPATH
    model.widht=64: my_model.Net takes no argument widht; it takes: width, num_classes
    model.num_classes=null: missing; my_model.Net requires it

``provided`` names the arguments lrframe supplies itself when the node leaves them out (the data's
``num_classes`` for a model, the parameters for an optimizer).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from typing import Any

from lrframe.config.errors import ConfigError, boolean, text
from lrframe.config.registry import HYDRA_KEYS


def locate(key: str, path: Any) -> Any:
    """The object a dotted path names (``package.module.attribute``), imported."""
    text(key, path)
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and module_name.startswith(error.name) and split > 1:
                continue  # a shorter prefix may be the module (a.b.C where a.b is a class)
            raise ConfigError(key, path, f"cannot import {error.name}: no module of that name in the current "
                                         "directory or on PYTHONPATH") from None
        except Exception as error:  # noqa: BLE001 - the user's module failed while importing
            reason = " ".join(str(error).split())[:200]
            raise ConfigError(key, path, f"importing {module_name} failed: {type(error).__name__}: {reason}") from None
        for attribute in parts[split:]:
            if not hasattr(obj, attribute):
                raise ConfigError(key, path, f"{'.'.join(parts[:split])} has no {attribute}")
            obj = getattr(obj, attribute)
        return obj
    raise ConfigError(key, path, "expected a dotted path such as my_model.Net (module.callable)")


def parameters(group: str, node: dict) -> dict[str, inspect.Parameter]:
    """The parameters of the callable ``node["_target_"]`` names ({} where it has no signature)."""
    try:
        return dict(inspect.signature(locate(f"{group}._target_", node["_target_"])).parameters)
    except (TypeError, ValueError):
        return {}


def arguments(node: dict, own_keys: Iterable[str] = ()) -> dict:
    """The node's arguments for its target: every key but Hydra's and lrframe's own."""
    skip = (*HYDRA_KEYS, *own_keys)
    return {key: value for key, value in node.items() if key not in skip}


def check_target(group: str, node: dict, *, own_keys: Iterable[str] = (), provided: Iterable[str] = (),
                 shared_keys: Iterable[str] = ()) -> Any:
    """Import ``node["_target_"]`` and check that the node's arguments bind to its signature.

    own_keys:    keys lrframe reads itself and never passes (``scheduler.interval``).
    shared_keys: keys lrframe reads and also passes when the target takes them (``data.batch_size``).
    provided:    arguments lrframe passes when the node does not set them.
    Returns the imported callable.
    """
    target = locate(f"{group}._target_", node["_target_"])
    if "_partial_" in node:
        boolean(f"{group}._partial_", node["_partial_"])
    if not callable(target):
        raise ConfigError(f"{group}._target_", node["_target_"], "expected a class or function")
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return target  # a builtin without a signature: Hydra's call reports what it rejects
    params = signature.parameters
    open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
    shared = set(shared_keys)
    given = arguments(node, own_keys)
    takes = [name for name, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for key, value in given.items():
        if key not in params and not open_ended and key not in shared:
            raise ConfigError(f"{group}.{key}", value, f"{node['_target_']} takes no argument {key}; "
                              "it takes: " + (", ".join(takes) or "no arguments"))
    if node.get("_partial_"):
        return target
    # a required argument set to null is as good as missing: Hydra would pass None
    passed = {key for key, value in given.items() if (key in params or open_ended) and value is not None}
    passed |= set(provided)
    for name, p in params.items():
        if (p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and name not in passed and name != "self"):
            raise ConfigError(f"{group}.{name}", None, f"missing; {node['_target_']} requires it")
    return target


def build_target(group: str, node: dict, *, own_keys: Iterable[str] = (), shared_keys: Iterable[str] = (),
                 provided: dict | None = None) -> Any:
    """Call ``node["_target_"]`` with Hydra's instantiate (``_partial_``, nested ``_target_``s, its
    blocklist): the node's arguments, the shared keys the target takes, and the ``provided`` values it
    takes and the node does not set. A failure is one ConfigError line under ``<group>._target_``."""
    from hydra.utils import instantiate

    params = parameters(group, node)
    open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
    shared = set(shared_keys)
    config = {key: value for key, value in node.items()
              if key not in own_keys and (key not in shared or key in params or open_ended)}
    # what lrframe provides fills the arguments the node leaves out or sets to null
    extra = {key: value for key, value in (provided or {}).items() if key in params and config.get(key) is None}
    config = {key: value for key, value in config.items() if key not in extra}
    try:
        return instantiate(config, **extra, _convert_="all")
    except Exception as error:  # noqa: BLE001 - the user's callable failed: say so in one line
        cause = error.__cause__ or error
        reason = " ".join(str(cause).split())[:300]
        raise ConfigError(f"{group}._target_", node["_target_"],
                          f"calling it failed: {type(cause).__name__}: {reason}") from None
