"""The entry point: ``python train.py [overrides]`` and the ``lrframe`` console script are the same.

Run from a user's project folder, the current directory is importable (``model._target_=my_model.Net``
finds ``./my_model.py``), its ``conf/`` is added to the config search path when no ``--config-dir``
is given, and run directories go under its own ``outputs/`` and ``multirun/``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from lrframe.cli.precheck import CONFIG_DIR_FLAGS, precheck
from lrframe.config.defaults import CONFIG_DIR
from lrframe.config.launch import secondary_overrides
from lrframe.config.errors import Interrupted, fail, message_of
from lrframe.config.validate import GROUPS, validate

#: ``GROUP._target_=...`` of a config group, as typed (no ``+``/``++``/``~`` of Hydra's)
TARGET_OVERRIDE = re.compile(rf"^(?:{'|'.join(GROUPS)})\._target_=")


def main() -> None:
    """Check every job of the command line, then hand it to Hydra."""
    if not CONFIG_DIR.is_dir():
        fail(f"lrframe's configs are not at {CONFIG_DIR}: install lrframe from its checkout (pip install -e .)")
    sys.path.insert(0, os.getcwd())  # the user's own modules, as `python -m` would find them
    argv = sys.argv[1:] = command_line(sys.argv[1:], Path.cwd())
    precheck(argv, CONFIG_DIR)
    hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")(run)()


def command_line(argv: list[str], cwd: Path) -> list[str]:
    """The arguments Hydra gets: ``argv``, with ``--config-dir conf`` first when run from a folder
    that has its own ``conf/`` and names no config directory, ``GROUP._target_=X`` as Hydra's
    add-or-override ``++GROUP._target_=X`` (a built-in option has no ``_target_`` to override: the
    target replaces it, ``lrframe.config.validate``), and the overrides of a rank > 0 that torchrun
    or srun started (``secondary_overrides``)."""
    given = any(arg in CONFIG_DIR_FLAGS or arg.startswith("--config-dir=") for arg in argv)
    own = cwd / "conf"
    argv = [f"++{arg}" if TARGET_OVERRIDE.match(arg) else arg for arg in argv]
    if not given and own.is_dir() and own.resolve() != CONFIG_DIR:
        argv = ["--config-dir", str(own), *argv]
    return [*argv, *secondary_overrides(argv)]


def is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.get().mode == RunMode.MULTIRUN


def run(cfg: DictConfig) -> float | None:
    """The Hydra task function: validate, then run the task in Hydra's output directory.

    Returns the final value of the monitored metric (val/acc for class labels, val/loss for real
    targets), the metric a sweeper optimizes. In a multirun every
    job goes through ``sweep.run_job``: a failed job is recorded and the sweep goes on. A bad config
    or checkpoint, or a diverged run, exits with 1; a run stopped by SIGTERM/SIGINT exits with
    128 + the signal number after saving its checkpoint (a sweep stops too: the machine is being
    taken away). Each says why in one line.
    """
    try:
        if is_multirun():
            from lrframe.sweeps import sweep

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
    return metrics.get(metrics.get("monitor", "val/acc"))  # the sweep's objective
