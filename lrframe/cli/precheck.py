"""Config errors in one line, before any run directory exists.

``precheck`` composes and validates every job of the command line (each cell of a ``-m`` grid)
with Hydra's compose API and plain-Python validation, so a typo costs well under a second and
leaves nothing behind. It also checks the output directory (``hydra.run.dir``, or a multirun's
``hydra.sweep.dir``) before Hydra writes into it: writable, not a file, not held by another run.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lrframe.config.launch import check_launch, is_secondary_rank
from lrframe.config.validate import Plan, validate
from lrframe.config.errors import ConfigError, fail

#: Hydra flags under which the command line is still a list of overrides to check first.
CHECKED_FLAGS = ("-m", "--multirun")
#: Hydra's option that adds a folder of the user's own configs to the search path
CONFIG_DIR_FLAGS = ("--config-dir", "-cd")


def jobs(overrides: list[str]) -> list[list[str]] | None:
    """The override list of every job of a grid (``a=1,2 b=x,y`` gives four); None if not a grid.

    As Hydra's basic sweeper, a key given twice takes its last value, in the place of its first.
    """
    axes = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if not override.is_sweep_override():
            axes[key] = [override.input_line]
        elif override.is_discrete_sweep():
            axes[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            return None  # ranges and intervals are the sweeper's to sample
    return [list(job) for job in itertools.product(*axes.values())]


def config_sweep(overrides: list[str], config_dir: Path) -> tuple[bool, list[str]]:
    """Whether the config itself asks for a multirun (``hydra.mode: MULTIRUN``, as an experiment file
    may), and its ``hydra.sweeper.params`` as overrides (which a multirun's command line follows)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = GlobalHydra.instance().hydra.compose_config(
                "train", overrides, run_mode=RunMode.MULTIRUN, validate_sweep_overrides=False)
    except (HydraException, OmegaConfBaseException, OSError, yaml.YAMLError):
        return False, []  # the job's own check reports it
    params = cfg.hydra.sweeper.get("params") or {}
    return cfg.hydra.mode == RunMode.MULTIRUN, [f"{key}={value}" for key, value in params.items()]


def _override_value(overrides: list[str], key: str) -> str | None:
    for override in overrides:
        name, _, value = override.lstrip("+~").partition("=")
        if name == key:
            return value
    return None


def _compose_error(error: Exception, overrides: list[str], config_dir: Path) -> ConfigError | str:
    """A Hydra composition error as one line."""
    if isinstance(error, MissingConfigException) and error.options is not None:
        group = (error.missing_cfg_file or "").rpartition("/")[0]
        value = _override_value(overrides, group)
        return ConfigError(group, value, "no such option; expected one of " + ", ".join(sorted(error.options)))
    cause = error.__cause__
    full_key = getattr(cause, "full_key", None)
    if full_key and "not in struct" in str(cause):
        parent, _, key = full_key.rpartition(".")
        rest = [o for o in overrides if o.lstrip("+~").partition("=")[0] != full_key]
        node = compose_config(rest, config_dir).get(parent) if parent else None
        allowed = ", ".join(node.keys()) if isinstance(node, DictConfig) else "see docs/reference.md"
        value = _override_value(overrides, full_key)
        if isinstance(node, DictConfig) and "_target_" in node:  # an argument the target takes, not yet in the node
            allowed += f" (another argument of {parent}._target_: +{full_key}={value})"
        return ConfigError(full_key, value, f"unknown key; allowed: {allowed}")
    return " ".join(str(error).split())


def compose_config(overrides: list[str], config_dir: Path, with_hydra: bool = False) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=with_hydra)


def check(overrides: list[str], config_dir: Path) -> Plan:
    """Compose and validate one job; raises ConfigError (or a one-line string) on a bad config."""
    try:
        cfg = compose_config(overrides, config_dir)
    except (HydraException, OmegaConfBaseException) as error:
        problem = _compose_error(error, overrides, config_dir)
        raise problem if isinstance(problem, ConfigError) else HydraException(problem) from None
    except yaml.YAMLError as error:  # e.g. a !!python/object tag: configs hold plain values
        where = getattr(error, "problem_mark", None)
        place = f"{where.name}:{where.line + 1}: " if where else ""
        raise HydraException(f"{place}{getattr(error, 'problem', None) or error}; config files hold plain values "
                             "(YAML tags that build Python objects are not read; use _target_)") from None
    except OSError as error:  # Hydra looks a key up as a config group's folder: a name too long for one
        name = Path(error.filename or "").name
        key = next((o.lstrip("+~").partition("=")[0] for o in overrides if name and name in o), name)
        raise ConfigError(key, _override_value(overrides, key), f"no such config key or group ({error.strerror})")
    return validate(cfg)


def user_config_dirs(argv: list[str]) -> tuple[list[str], list[Path]]:
    """``argv`` without its ``--config-dir DIR`` / ``-cd DIR`` / ``--config-dir=DIR`` options, and those DIRs."""
    rest, dirs = [], []
    args = iter(argv)
    for arg in args:
        if arg in CONFIG_DIR_FLAGS:
            dirs.append(Path(next(args, "")))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.partition("=")[2]))
        else:
            rest.append(arg)
    return rest, dirs


def search_path_override(dirs: list[Path]) -> list[str]:
    """The ``hydra.searchpath`` override that adds ``dirs`` after lrframe's own configs, as
    ``--config-dir`` does (a user's file of the same name as one of lrframe's is not used)."""
    if not dirs:
        return []
    for directory in dirs:
        if not directory.is_dir():
            raise ConfigError("--config-dir", str(directory), "no such directory")
    return ["hydra.searchpath=[" + ",".join(f"'file://{d.resolve()}'" for d in dirs) + "]"]


def with_hydra(overrides: list[str], config_dir: Path) -> DictConfig | None:
    """The job's config with Hydra's own node; None if it cannot be composed before Hydra runs."""
    try:
        return compose_config(overrides, config_dir, with_hydra=True)
    except (HydraException, OmegaConfBaseException, OSError):
        return None


def output_dir(cfg: DictConfig | None, key: str) -> Path | None:
    """The directory ``key`` (``hydra.run.dir`` or ``hydra.sweep.dir``) of a config composed
    ``with_hydra`` resolves to; None if it cannot be resolved before Hydra runs (e.g. it names
    ``hydra.job`` values)."""
    try:
        value = OmegaConf.select(cfg, key) if cfg is not None else None
    except OmegaConfBaseException:
        return None
    return Path(value) if isinstance(value, str) and value else None


def written(cfg: DictConfig | None, key: str) -> str | None:
    """``key``'s value as the config writes it (interpolations unresolved), e.g. ``outputs/${now:...}``."""
    parent, _, name = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if cfg is not None else None
    raw = OmegaConf.to_container(node, resolve=False).get(name) if isinstance(node, DictConfig) else None
    return raw if isinstance(raw, str) else None


def check_output_dir(key: str, directory: Path) -> None:
    """Refuse, before Hydra creates or writes anything, an output directory a run cannot use: one
    under a file, one that cannot be written, one whose ``checkpoints`` is a file, one another run holds."""
    from lrframe.resume.lock import check_free

    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(key, str(directory), f"{existing} is a file, not a directory")
    try:
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        raise ConfigError(key, str(directory), f"cannot write in {existing} ({error.strerror})") from None
    if existing == directory:
        for name in ("checkpoints", "tensorboard"):
            if (directory / name).exists() and not (directory / name).is_dir():
                raise ConfigError(key, str(directory), f"{directory / name} is a file, not a directory")
        check_free(directory)


def precheck(argv: list[str], config_dir: Path) -> None:
    """Exit with a one-line error if any job of this command line has a bad config."""
    try:
        argv, dirs = user_config_dirs(argv)
        search = search_path_override(dirs)
    except ConfigError as error:
        fail(error)
    flags = [arg for arg in argv if arg.startswith("-")]
    if any(flag not in CHECKED_FLAGS for flag in flags):
        return  # --help, --cfg, --config-name, ...: Hydra's own business
    overrides = search + [arg for arg in argv if not arg.startswith("-")]
    try:
        multirun, params = config_sweep(overrides, config_dir)
        grid = jobs(params + overrides) if flags or multirun else [overrides]
        if grid is None:  # a search: its sweeper samples values of the config's keys (hparams_search=...)
            from lrframe.sweeps.sweep import check_search_space

            fixed = [o.input_line for o in OverridesParser.create().parse_overrides(overrides)
                     if not o.is_sweep_override()]  # the command line's own intervals are sampled too
            plans = [check(fixed, config_dir)]
            check_search_space(compose_config(fixed, config_dir, with_hydra=True))
        else:
            plans = [check(job, config_dir) for job in grid]
        multirun = bool(flags) or multirun
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        hydra_cfg = with_hydra((grid or [overrides])[0], config_dir)  # the same Hydra settings for every job
        launcher = (OmegaConf.select(hydra_cfg, "hydra.launcher._target_") or "") if hydra_cfg is not None else ""
        for plan in plans:
            check_launch(plan.config["trainer"], written(hydra_cfg, "hydra.run.dir"), multirun=multirun,
                         jobs_elsewhere=launcher.endswith("SlurmLauncher"))
        directory = output_dir(hydra_cfg, key)
        if directory is not None and not is_secondary_rank():  # rank 0 holds the directory: ranks > 0 share it
            check_output_dir(key, directory)
    except (ConfigError, HydraException) as error:
        fail(" ".join(str(error).split()))
