"""Tasks a run can perform (``task=NAME``); each reuses the same builders.

A task module is imported only when it runs, so validating a config never imports Lightning.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from pathlib import Path

from lrframe.config.validate import Plan


def quiet_libraries() -> None:
    """Keep Lightning's start-up notices (accelerators found, tips) and a known pytree
    deprecation warning of Lightning 2.6 under torch 2.13 off the console; likewise its advice to
    log with sync_dist under DDP (TrainingModule sums its validation totals across ranks itself),
    and its warning that an epoch shorter than log_every_n_steps logs nothing (lrframe's step
    logger counts optimizer steps across epochs)."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings("ignore", message=r".*when logging on epoch level in distributed setting")
    warnings.filterwarnings("ignore", message=r".*is smaller than the logging interval")


def run_task(plan: Plan, run_dir: Path) -> dict:
    """Run ``plan``'s task in ``run_dir``, holding the directory's lock; returns the task's metrics."""
    from lrframe.resume.lock import run_dir_lock

    with run_dir_lock(run_dir):
        task = importlib.import_module(f"lrframe.tasks.{plan.config['task']['name']}")
        quiet_libraries()  # after the import: importing Lightning sets its logger's level
        return task.run(plan, run_dir)
