"""The command line behind ``train.py``: config errors in one line, before any run directory exists.

``precheck`` composes and validates every job of the command line (each cell of a ``-m`` grid)
with Hydra's compose API and plain-Python validation, so a typo costs well under a second and
leaves nothing behind. ``run`` is the Hydra task function.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import NoReturn

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from lrframe.config import validate
from lrframe.errors import ConfigError, Interrupted, message_of

#: Hydra flags under which the command line is still a list of overrides to check first.
CHECKED_FLAGS = ("-m", "--multirun")


def fail(message: object) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


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
    except (HydraException, OmegaConfBaseException):
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
        allowed = ", ".join(node.keys()) if isinstance(node, DictConfig) else "see the README"
        return ConfigError(full_key, _override_value(overrides, full_key), f"unknown key; allowed: {allowed}")
    return " ".join(str(error).split())


def compose_config(overrides: list[str], config_dir: Path, with_hydra: bool = False) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=with_hydra)


def check(overrides: list[str], config_dir: Path) -> None:
    """Compose and validate one job; raises ConfigError (or a one-line string) on a bad config."""
    try:
        cfg = compose_config(overrides, config_dir)
    except (HydraException, OmegaConfBaseException) as error:
        problem = _compose_error(error, overrides, config_dir)
        raise problem if isinstance(problem, ConfigError) else HydraException(problem) from None
    validate(cfg)


def precheck(argv: list[str], config_dir: Path) -> None:
    """Exit with a one-line error if any job of this command line has a bad config."""
    flags = [arg for arg in argv if arg.startswith("-")]
    if any(flag not in CHECKED_FLAGS for flag in flags):
        return  # --help, --cfg, --config-name, ...: Hydra's own business
    overrides = [arg for arg in argv if not arg.startswith("-")]
    try:
        multirun, params = config_sweep(overrides, config_dir)
        grid = jobs(params + overrides) if flags or multirun else [overrides]
        if grid is None:  # a search: its sweeper samples values of the config's keys (hparams_search=...)
            from lrframe.sweep import check_search_space

            check(overrides, config_dir)
            check_search_space(compose_config(overrides, config_dir, with_hydra=True))
        for job in grid or []:
            check(job, config_dir)
    except (ConfigError, HydraException) as error:
        fail(" ".join(str(error).split()))


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.get().mode == RunMode.MULTIRUN


def run(cfg: DictConfig) -> float | None:
    """The Hydra task function: validate, then run the task in Hydra's output directory.

    Returns the final validation accuracy (the metric a sweeper optimizes). In a multirun every
    job goes through ``sweep.run_job``: a failed job is recorded and the sweep goes on. A bad config
    or checkpoint, or a diverged run, exits with 1; a run stopped by SIGTERM/SIGINT exits with
    128 + the signal number after saving its checkpoint (a sweep stops too: the machine is being
    taken away). Each says why in one line.
    """
    try:
        if is_multirun():
            from lrframe import sweep

            return sweep.run_job(lambda: _run_task(cfg))
        return _run_task(cfg)
    except Exception as error:
        message = message_of(error)  # lrframe's own errors: one line; anything else: its traceback
        if message is None:
            raise
        if isinstance(error, Interrupted):
            print(message, file=sys.stderr)
            sys.exit(error.exit_code)
        fail(message)


def _run_task(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from lrframe.tasks import run_task

    metrics = run_task(validate(cfg), Path(HydraConfig.get().runtime.output_dir))
    return metrics.get("val/acc")
