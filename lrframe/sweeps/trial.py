"""Which Optuna trial this Hydra job runs, and its pruning; light (no Optuna, no Lightning imported).

The sweeper (``lrframe.sweeps.search``) runs each trial in its own process (Hydra's basic
launcher) and leaves it in ``running_trials`` under its job number. A trial launched in another
process (``hydra/launcher=joblib``, ``submitit_*``) is opened again from the study's storage when
that storage is a database; with an in-memory study such a trial neither reports nor is pruned.
``lrframe.sweeps.pruning.TrialReport`` reports to it; ``sweep.run_job`` calls ``raise_if_pruned``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

#: the sweeper of lrframe.sweeps.search, as hydra.sweeper._target_ names it
SWEEPER = "hydra_plugins.lrframe_sweeper.sweeper.StudySweeper"

#: the trials the sweeper runs in this process, by job number
running_trials: dict[int, Any] = {}
#: why the trial of this process was pruned (set by TrialReport, raised by raise_if_pruned)
pruned: str | None = None


def current_trial():
    """The Optuna trial this Hydra job runs, or None when it is not a trial of lrframe's sweeper."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    if hydra.sweeper.get("_target_") != SWEEPER or hydra.job.get("num") is None:
        return None
    number = int(hydra.job.num)
    if number in running_trials:
        return running_trials[number]
    storage = hydra.sweeper.get("storage")
    if storage is None or hydra.sweeper.get("study_name") is None:
        log.warning("this trial runs in another process than its in-memory study: no per-epoch reports, "
                    "no pruning (give hydra.sweeper.storage a database to have them)")
        return None
    import optuna

    study = optuna.load_study(study_name=hydra.sweeper.study_name, storage=storage,
                              pruner=_instantiate(hydra.sweeper.get("pruner")))
    found = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if found is None:
        return None
    running_trials[number] = optuna.Trial(study, found._trial_id)
    return running_trials[number]


def _instantiate(node):
    from hydra.utils import instantiate

    return instantiate(node) if node is not None else None


def raise_if_pruned() -> None:
    """Raise ``optuna.TrialPruned`` if the trial this process just ran was pruned."""
    global pruned
    if pruned is not None:
        import optuna

        message, pruned = pruned, None
        raise optuna.TrialPruned(message)


def is_pruned(error: BaseException) -> bool:
    optuna = sys.modules.get("optuna")
    return optuna is not None and isinstance(error, optuna.TrialPruned)
