"""``hparams_search=...``: an Optuna study, one trial after another, through Optuna's ask/tell API.

Why our own sweeper rather than hydra-optuna-sweeper: its last release (1.3.0) requires
``optuna<3``, so no resolver installs it next to a current Optuna, and Optuna 2.10 cannot open an
SQLite storage under SQLAlchemy 2; its job numbers count the jobs of one process, so two processes
sharing a study write the same job directories; and it hands the trial to no one, so a trial cannot
report per epoch nor be pruned. The part of it we need (Hydra sweep syntax to Optuna distributions,
ask, launch, tell) is this module; the rest is Optuna's.

How a search runs (``Search.sweep``):

- The study is created, or joined when the storage has one of that name (``load_if_exists``): the
  same ``storage`` and ``study_name`` in several processes, on one machine or many, make them
  workers of one study. Its direction and search space must equal the existing study's, else the
  search stops before any training with one line saying what differs.
- Each trial is asked from the study (the storage numbers trials without gaps across all its
  workers), launched as job number ``trial.number`` (so workers sharing a sweep directory never
  write the same job directory), and told its outcome: the returned ``val/acc``, ``pruned`` (the
  job raised ``optuna.TrialPruned``, see ``lrframe.sweeps.pruning``) or failed (no value).
- Trial N samples from ``seed + N``: one worker's search is reproducible, and workers started
  together do not draw the same first trials.
- ``n_trials`` counts the trials of this process, as ``Study.optimize(n_trials=...)`` does.
- The best trial of the whole study goes to ``<sweep dir>/optimization_results.yaml``; the summary
  (``lrframe.sweeps.study_summary``) is read from the study.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution, distribution_to_json, json_to_distribution)
from optuna.trial import TrialState

from lrframe.config.errors import fail, show
from lrframe.sweeps import trial as job_trial

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")
#: the study's user attribute that keeps the search space it was created with
SPACE_ATTR = "lrframe.search_space"


class StudyError(Exception):
    """A storage or study the search cannot use; one line, shown before any training."""


# --- the search space: Hydra's sweep syntax as Optuna distributions --------------------------------

def distribution(override: Override) -> BaseDistribution | None:
    """The Optuna distribution of one sweep override; None for a plain ``key=value``.

    ``interval(a, b)`` is uniform in [a, b] (``int(interval(a, b))``: integers), ``tag(log, interval(a, b))``
    log-uniform, ``choice(x, y)`` and ``x,y`` categorical, ``range(a, b[, step])`` the values Hydra's
    range gives (b excluded).
    """
    if not override.is_sweep_override():
        return None
    if override.is_choice_sweep() or override.is_discrete_sweep() and not override.is_range_sweep():
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        values = list(override.sweep_iterator(transformer=Transformer.encode))
        sweep = override.value()
        if sweep.shuffle or len(values) < 2:
            return CategoricalDistribution(values)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=values[1] - values[0])
        return FloatDistribution(values[0], values[-1], step=values[1] - values[0])
    if override.is_interval_sweep():
        sweep = override.value()
        log_scale = "log" in sweep.tags
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return IntDistribution(sweep.start, sweep.end, log=log_scale)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log_scale)
    raise StudyError(f"{override.input_line}: not a sweep Optuna can sample")


def search_space(arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """The sampled keys and their distributions, and the plain overrides every trial gets."""
    space, fixed = {}, []
    for override in OverridesParser.create().parse_overrides(arguments):
        found = distribution(override)
        if found is None:
            fixed.append(override.input_line)
        else:
            space[override.get_key_element()] = found
    return space, fixed


def describe(space: dict[str, BaseDistribution]) -> dict[str, str]:
    return {name: distribution_to_json(d) for name, d in sorted(space.items())}


def explain(described: str | None) -> str:
    """A distribution (as ``describe`` keeps it) in words: ``log-uniform in [0.001, 1.0]``."""
    if described is None:
        return "nothing"
    dist = json_to_distribution(described)
    if isinstance(dist, CategoricalDistribution):
        return "one of " + show(list(dist.choices))
    kind = ("log-" if dist.log else "") + ("uniform" if isinstance(dist, FloatDistribution) else "integers")
    step = f" step {dist.step}" if dist.step not in (None, 1) else ""
    return f"{kind} in [{dist.low}, {dist.high}]{step}"


# --- the storage and the study ---------------------------------------------------------------------

def open_storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """Optuna's RDB storage at a SQLAlchemy URL (None: in memory), or StudyError in one line.

    SQLite waits up to a minute for a lock (workers write one row at a time); workers that create
    the schema of a new database at the same moment (one of them fails on a duplicate row) retry.
    """
    if url is None:
        return None
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    where = f"hydra.sweeper.storage={show(url)}"
    sqlite = str(url).startswith("sqlite")
    engine = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
    for attempt in range(10):
        try:
            return optuna.storages.RDBStorage(str(url), engine_kwargs=engine)
        except (ArgumentError, NoSuchModuleError):
            raise StudyError(f"{where}: not a database URL; e.g. sqlite:///optuna.db or "
                             "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE") from None
        except ImportError:
            raise StudyError(f"{where}: its database driver is not installed (PostgreSQL: "
                             "pip install 'psycopg[binary]', with a postgresql+psycopg:// URL)") from None
        except DBAPIError as error:
            reason = " ".join(str(getattr(error, "orig", error)).split())
            racing = any(word in reason.lower() for word in ("locked", "already exists", "unique", "duplicate"))
            if racing and attempt < 9:  # another worker is creating the schema of a new database
                time.sleep(0.2 * (attempt + 1))
                continue
            raise StudyError(f"{where}: cannot open the database: {reason}") from None
        except Exception as error:  # noqa: BLE001 - e.g. a schema of another Optuna: still one line
            reason = " ".join(str(error).split())
            raise StudyError(f"{where}: cannot use the database: {type(error).__name__}: {reason}") from None
    raise AssertionError("unreachable")


def open_study(storage, name: str | None, direction: str, space: dict[str, BaseDistribution],
               sampler, pruner) -> optuna.Study:
    """Create the study, or join the one of that name; StudyError if it searches another way."""
    if direction not in DIRECTIONS:
        raise StudyError(f"hydra.sweeper.direction={show(direction)}: expected minimize or maximize")
    existing = None
    if storage is not None and name is not None:
        try:
            existing = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        except KeyError:
            existing = None
    study = existing or optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                            direction=direction, load_if_exists=True)
    check_joined(study, direction, space)
    if SPACE_ATTR not in study.user_attrs:
        study.set_user_attr(SPACE_ATTR, describe(space))
    return study


def check_joined(study: optuna.Study, direction: str, space: dict[str, BaseDistribution]) -> None:
    """A study made before (by another worker or an earlier search) must search what this one does."""
    if len(study.directions) != 1:
        raise StudyError(f"hydra.sweeper.study_name={study.study_name}: the study has "
                         f"{len(study.directions)} objectives; train.py returns one (val/acc)")
    if study.direction.name.lower() != direction:
        raise StudyError(f"hydra.sweeper.direction={direction}: study {study.study_name} in this storage "
                         f"was made to {study.direction.name.lower()}; give another study_name or its direction")
    known = study.user_attrs.get(SPACE_ATTR)
    if known is None:  # a study not made by lrframe: its trials say what it searched
        trials = study.get_trials(deepcopy=False)
        known = describe(trials[0].distributions) if trials else None
    ours = describe(space)
    if known is not None and known != ours:
        differ = sorted(k for k in set(known) | set(ours) if known.get(k) != ours.get(k))
        key = differ[0]
        raise StudyError(f"hydra.sweeper.params.{key}: study {study.study_name} in this storage samples "
                         f"{explain(known.get(key))} there, this search {explain(ours.get(key))}; "
                         "give another study_name or the same params")


def params_overrides(params: dict[str, Any]) -> list[str]:
    return [f"{name}={value}" for name, value in params.items()]


def suggest(trial: optuna.Trial, space: dict[str, BaseDistribution]) -> dict[str, Any]:
    """Sample the trial's value of every key with Optuna's public suggest API."""
    values = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            values[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            values[name] = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return values


def consecutive(trials: list[optuna.Trial]) -> list[list[optuna.Trial]]:
    """Runs of consecutive trial numbers: a launch numbers its jobs from its first one on."""
    runs: list[list[optuna.Trial]] = []
    for trial in trials:
        if runs and runs[-1][-1].number + 1 == trial.number:
            runs[-1].append(trial)
        else:
            runs.append([trial])
    return runs


class Search:
    """The sweeper: see the module docstring. Its arguments are the keys of hydra.sweeper."""

    #: the search of this process, for the summary callback (Hydra calls it after the sweep)
    latest: Search | None = None

    def __init__(self, sampler: Any, pruner: Any, direction: Any = "minimize", storage: str | None = None,
                 study_name: str | None = None, n_trials: int = 20, n_jobs: int = 1, params: Any = None) -> None:
        # Hydra hands the sampler and pruner already built; setup() keeps their configs instead, since
        # each trial gets a sampler of its own seed
        self.sampler_config, self.pruner_config = None, None
        self.direction = direction[0] if isinstance(direction, (list, tuple)) and len(direction) == 1 \
            else direction
        self.direction = str(self.direction).lower() if isinstance(self.direction, str) else self.direction
        self.storage_url, self.study_name = storage, study_name
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.params = params or {}
        self.study: optuna.Study | None = None
        self.ran: list[int] = []  # the trial numbers this process ran
        self.sweep_dir: Path | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.sampler_config = config.hydra.sweeper.get("sampler")
        self.pruner_config = config.hydra.sweeper.get("pruner")

    def make_sampler(self, seed_offset: int = 0):
        if self.sampler_config is None:
            return None  # Optuna's default
        config = OmegaConf.to_container(self.sampler_config, resolve=True)
        if config.get("seed") is not None:
            config["seed"] = int(config["seed"]) + seed_offset
        return instantiate(config)

    def start(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
        """Everything that can be wrong before the first trial: StudyError in one line."""
        for key, value in (("n_trials", self.n_trials), ("n_jobs", self.n_jobs)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StudyError(f"hydra.sweeper.{key}={show(value)}: expected an integer >= 1")
        space, fixed = search_space([f"{key}={value}" for key, value in self.params.items()] + list(arguments))
        if not space:
            raise StudyError("hydra.sweeper.params: nothing to search; give keys with interval(...), choice(...)")
        try:
            sampler = self.make_sampler()
            pruner = instantiate(self.pruner_config) if self.pruner_config is not None else None
        except Exception as error:  # noqa: BLE001 - a bad sampler or pruner key: one line
            raise StudyError(f"hydra.sweeper.sampler/pruner: {' '.join(str(error).split())}") from None
        storage = open_storage(self.storage_url)
        self.study = open_study(storage, self.study_name, self.direction, space, sampler, pruner)
        return space, fixed

    def sweep(self, arguments: list[str]) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # our log says what matters, once
        try:
            space, fixed = self.start(arguments)
        except StudyError as error:
            fail(error)
        Search.latest = self
        study = self.study
        log.info(f"study {study.study_name} ({self.direction} val/acc) in {self.storage_url or 'memory'}: "
                 f"{len(study.get_trials(deepcopy=False))} trials so far; this process runs {self.n_trials}")
        left = self.n_trials
        while left > 0:
            batch = [study.ask() for _ in range(min(left, self.n_jobs))]
            for run in consecutive(batch):
                self.run_trials(run, space, fixed)
            left -= len(batch)
        self.write_best()

    def run_trials(self, trials: list[optuna.Trial], space: dict[str, BaseDistribution], fixed: list[str]) -> None:
        """Launch the trials (numbered consecutively) as jobs ``trial.number``..., and tell each its outcome."""
        study = self.study
        overrides = []
        for trial in trials:
            study.sampler = self.make_sampler(seed_offset=trial.number)  # trial N draws from seed + N
            overrides.append(tuple(params_overrides(suggest(trial, space)) + fixed))
            trial.set_user_attr("host", socket.gethostname())
        job_trial.running_trials.update({trial.number: trial for trial in trials})  # jobs run in this process
        told = set()
        try:
            returns = self.launcher.launch(overrides, initial_job_idx=trials[0].number)
            for trial, result in zip(trials, returns):
                self.tell(trial, result)
                told.add(trial.number)
        finally:  # a signal stopped the search: its trials are over, not running forever in the study
            for trial in trials:
                job_trial.running_trials.pop(trial.number, None)
                if trial.number not in told:
                    study.tell(trial, state=TrialState.FAIL)
            self.ran.extend(trial.number for trial in trials)

    def tell(self, trial: optuna.Trial, result: JobReturn) -> None:
        if result.hydra_cfg is not None:
            trial.set_user_attr("directory", str(result.hydra_cfg.hydra.runtime.output_dir))
        # the field, not JobReturn.return_value, which prints "Error executing job" for a pruned trial
        value = result._return_value
        if result.status == JobStatus.FAILED and isinstance(value, optuna.TrialPruned):
            self.study.tell(trial, state=TrialState.PRUNED)
            log.info(f"trial {trial.number} pruned: {value}")
        elif result.status == JobStatus.FAILED:  # an error Hydra caught outside lrframe's run_job
            self.study.tell(trial, state=TrialState.FAIL)
            log.warning(f"trial {trial.number} failed: {type(value).__name__}: {' '.join(str(value).split())}")
        elif isinstance(value, (int, float)) and math.isfinite(value):
            self.study.tell(trial, float(value))
            log.info(f"trial {trial.number}: val/acc={value:.4f}")
        else:  # run_job recorded the failure (or the task returned no val/acc)
            self.study.tell(trial, state=TrialState.FAIL)
            log.warning(f"trial {trial.number} failed: it returned no val/acc (see its job.json)")

    def write_best(self) -> None:
        """``optimization_results.yaml``: the best trial of the whole study so far."""
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            log.warning("no trial of the study has completed: no best trial")
            return
        best = self.study.best_trial
        results = {"name": "optuna", "study_name": self.study.study_name, "best_trial": best.number,
                   "best_params": best.params, "best_value": best.value}
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / "optimization_results.yaml")
        log.info(f"best trial {best.number}: val/acc={best.value:.4f} {' '.join(params_overrides(best.params))}")
