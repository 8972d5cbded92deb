"""The Hydra sweeper class; the search itself is ``lrframe.sweeps.search.Search``."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class StudySweeper(Sweeper):
    """An Optuna study, trial by trial through Optuna's ask/tell API; its keys are those of
    conf/hydra/sweeper/optuna.yaml."""

    def __init__(self, **settings: Any) -> None:
        from lrframe.sweeps.search import Search  # imports Optuna: only when a search runs

        self.search = Search(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        self.search.sweep(arguments)
