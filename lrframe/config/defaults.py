"""The YAML defaults, for the Python API: one place for every default, read the same way the CLI reads it.

``node("scheduler", {"name": "cosine", "eta_min": 0.01})`` is the node ``python train.py
scheduler=cosine scheduler.eta_min=0.01`` composes (``conf/train.yaml``'s shared keys, then
``conf/scheduler/cosine.yaml``, then the given keys), as plain containers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrframe.config.errors import ConfigError

#: lrframe's own configs: the conf/ folder of the checkout lrframe is installed from (pip install -e .)
CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"


def node(group: str, given: str | dict | None) -> dict:
    """The composed node of ``group`` for ``given`` (an option's name, or a dict with ``name``/``_target_``
    and the keys to set)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    given = {"name": given} if isinstance(given, str) else dict(given or {})
    name = given.get("name")
    if name is None and "_target_" not in given:
        raise ConfigError(f"{group}.name", None, "expected an option's name or a _target_")
    overrides = [f"{group}={name}"] if name is not None else []
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    composed: dict[str, Any] = OmegaConf.to_container(cfg[group], resolve=True)
    if "_target_" in given:  # the user's own: only the keys lrframe shares across the group's options
        composed = {key: value for key, value in composed.items() if key not in _option_keys(group, name, composed)}
    return {**composed, **given}


def _option_keys(group: str, name: str | None, composed: dict) -> set[str]:
    """The keys of the group's default option's own file (not the shared ones of train.yaml)."""
    import yaml

    default = composed.get("name")
    path = CONFIG_DIR / group / f"{default}.yaml"
    own = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return {key for key in (own or {}) if key != "defaults"}


def option_node(group: str, name: str, root: dict) -> dict:
    """The node ``GROUP=NAME`` composes to, read from the YAML without Hydra (which may be composing
    already): ``conf/train.yaml``'s shared ``GROUP`` keys, then ``conf/GROUP/NAME.yaml``'s, its
    interpolations (``${seed}``) resolved against ``root``'s top-level values (the run's config). Its defaults list (another
    group's override, e.g. ``scheduler=noam``'s ``warmup: none``) does not apply to a lone node.
    """
    from omegaconf import OmegaConf

    from lrframe.config.errors import choice

    options = sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))
    choice("name", name, options)
    shared = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "train.yaml")).get(group) or {}
    own = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / group / f"{name}.yaml"))
    own.pop("defaults", None)
    scalars = {key: value for key, value in root.items() if not isinstance(value, (dict, list))}
    resolved = OmegaConf.create({**scalars, "_node_": {**shared, **own}})
    return OmegaConf.to_container(resolved, resolve=True)["_node_"]
