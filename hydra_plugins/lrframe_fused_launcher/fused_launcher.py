"""``hydra/launcher=fused``: train the jobs of a grid that share a model's shapes as one vectorized model.

``python train.py -m optimizer.lr=0.01,0.03,0.1,0.3 hydra/launcher=fused``

Jobs whose configs differ only in ``optimizer``, ``scheduler``, ``warmup``, ``init`` and ``seed``
form a group (``lrframe.sweeps.fused.grouping``) trained in this process by one fused loop
(``lrframe.sweeps.fused``); every job still gets its own directory with what the basic launcher
leaves (``.hydra/``, ``train.log``, ``job.json``, ``metrics.json``, ``tensorboard/``, ``schedule.csv``,
``checkpoints/last.ckpt``). Any other job runs alone, as Hydra's basic launcher runs it, and the log
says why. Options (``hydra.launcher.KEY=VALUE``):

- ``fallback``: ``null`` (a group whose model cannot be vectorized fails, each job with the reason)
  or ``sequential`` (its jobs then run one after another);
- ``max_members``: at most this many members per group (``null``: as many as memory allows);
- ``memory_fraction``: the share of the machine's available memory a group may plan to use; a
  larger group is split.
"""


import copy
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict, read_write

log = logging.getLogger(__name__)

FALLBACKS = (None, "sequential")


@dataclass
class FusedLauncherConf:
    """Train the jobs of a grid that share a model's shapes as one vectorized model, each member exactly
    its solo run (docs/guide.md); other jobs run alone, as the basic launcher runs them."""

    _target_: str = "hydra_plugins.lrframe_fused_launcher.fused_launcher.FusedLauncher"
    fallback: Optional[str] = None  # null | sequential: what a group that cannot be vectorized does
    max_members: Optional[int] = None  # members per group at most (null: as many as memory allows)
    memory_fraction: float = 0.5  # of the available memory, what one group may plan to use


ConfigStore.instance().store(group="hydra/launcher", name="fused", node=FusedLauncherConf, provider="lrframe")


class FusedLauncher(Launcher):
    def __init__(self, fallback: Optional[str] = None, max_members: Optional[int] = None,
                 memory_fraction: float = 0.5) -> None:
        from lrframe.config.errors import ConfigError

        if fallback not in FALLBACKS:
            raise ConfigError("hydra.launcher.fallback", fallback, "expected null or sequential")
        if max_members is not None and (not isinstance(max_members, int) or max_members < 1):
            raise ConfigError("hydra.launcher.max_members", max_members, "expected null or an integer >= 1")
        if not 0 < memory_fraction <= 1:
            raise ConfigError("hydra.launcher.memory_fraction", memory_fraction, "expected a number in (0, 1]")
        self.fallback, self.max_members, self.memory_fraction = fallback, max_members, memory_fraction
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    # --- Hydra's entry ------------------------------------------------------------------------
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from lrframe.sweeps.fused.grouping import group_jobs

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        configs, plans = [], []
        for offset, overrides in enumerate(job_overrides):
            config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(config):
                config.hydra.job.id = config.hydra.job.num = initial_job_idx + offset
            configs.append(config)
            plans.append(_plan(config))
        fusable = [i for i, plan in enumerate(plans) if plan is not None]
        max_members = self._max_members([plans[i] for i in fusable])
        groups = group_jobs([plans[i].config for i in fusable], max_members)
        for group in groups:
            group.jobs = [fusable[i] for i in group.jobs]
        groups += [_Alone(i) for i, plan in enumerate(plans) if plan is None]
        groups.sort(key=lambda group: group.jobs[0])
        fused = [g for g in groups if g.fused]
        log.info(f"Launching {len(job_overrides)} jobs: {sum(len(g.jobs) for g in fused)} in {len(fused)} fused "
                 f"group(s) (at most {max_members or 'any number of'} members each), "
                 f"{len(groups) - len(fused)} alone")
        returns: list = [None] * len(configs)
        for group in groups:
            if group.fused:
                for index, ret in zip(group.jobs, self._run_fused(group.jobs, configs, plans)):
                    returns[index] = ret
            else:
                index = group.jobs[0]
                num = initial_job_idx + index
                log.info(f"\t#{num} : {' '.join(filter_overrides(job_overrides[index]))} (alone: {group.reason})")
                returns[index] = self._run_alone(configs[index])
        return returns

    # --- groups of one, and the sequential fallback: as Hydra's basic launcher runs a job -------
    def _run_alone(self, config: DictConfig) -> JobReturn:
        ret = run_job(hydra_context=self.hydra_context, task_function=self.task_function, config=config,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return ret

    # --- a fused group ------------------------------------------------------------------------
    def _run_fused(self, indices: list, configs: list, plans: list) -> list:
        from lrframe.sweeps import sweep
        from lrframe.sweeps.fused.group import Job, run_group
        from lrframe.sweeps.fused.vectorize import NotVectorizable

        prepared = []  # (JobReturn, what _prepare saw: the job record and earlier seconds, Job)
        for index in indices:
            seen: dict = {}
            ret = run_job(hydra_context=self.hydra_context, task_function=lambda cfg: _prepare(seen),
                          config=configs[index], job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
            prepared.append((ret, seen, Job(plans[index], seen["run_dir"], seen["record"]["overrides"])))
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        names = ", ".join(f"#{seen['record']['job']}" for _, seen, _ in prepared)
        log.info(f"fused group of {len(prepared)}: {names}")
        started = time.perf_counter()
        try:
            outcomes = run_group([job for _, _, job in prepared])
        except NotVectorizable as error:
            if self.fallback == "sequential":
                log.warning(f"cannot fuse jobs {names}: {error}; running them one after another "
                            "(hydra.launcher.fallback=sequential)")
                return [self._run_alone(configs[index]) for index in indices]
            message = (f"not fusable: {error}; pass hydra.launcher.fallback=sequential to run such jobs one after "
                       "another, or use hydra/launcher=basic")
            log.error(f"jobs {names} failed: {message}")
            for ret, seen, job in prepared:
                seen["record"].update(status="failed", error=message,
                                      seconds=round(seen["earlier"] + time.perf_counter() - started, 3))
                sweep._write_record(job.run_dir, seen["record"])
                ret.return_value = None
            return [ret for ret, _, _ in prepared]
        seconds = round(time.perf_counter() - started, 3)
        for (ret, seen, job), outcome in zip(prepared, outcomes):
            record = seen["record"]
            record["seconds"] = round(seen["earlier"] + seconds, 3)
            if outcome.error is None:
                record["status"] = "completed"
            else:
                record.update(status="failed", error=sweep.one_line(outcome.error))
                log.error(f"job {record['job']} failed: {record['error']}")
            sweep._write_record(job.run_dir, record)
            ret.return_value = outcome.value
        return [ret for ret, _, _ in prepared]

    def _max_members(self, plans: list) -> Optional[int]:
        """``max_members``, or fewer where memory allows fewer (``lrframe.sweeps.fused.memory``)."""
        if len(plans) < 2:
            return self.max_members
        from lrframe.sweeps.fused.memory import members_that_fit

        fit = members_that_fit(plans[0], self.memory_fraction)
        return fit if self.max_members is None else min(fit, self.max_members)


@dataclass
class _Alone:
    """A job whose config does not validate: it runs alone and its own check reports the error."""

    index: int

    @property
    def jobs(self) -> list:
        return [self.index]

    fused = False
    reason = "its config does not validate"


def _plan(config: DictConfig):
    """The job's validated plan, or None when it does not validate (its own run reports why)."""
    from lrframe.config.errors import ConfigError
    from lrframe.config.validate import validate

    task_config = copy.deepcopy(config)
    with read_write(task_config), open_dict(task_config):
        del task_config["hydra"]
    try:
        return validate(task_config)
    except ConfigError:
        return None


def _prepare(seen: dict) -> None:
    """The task function of a member's Hydra job: its directory, ``.hydra/``, log file and ``job.json``
    exist now; the group trains it afterwards."""
    from lrframe.sweeps import sweep

    hydra = HydraConfig.get()
    seen["run_dir"] = Path(hydra.runtime.output_dir)
    seen["record"], seen["earlier"] = sweep.start_record(hydra, seen["run_dir"])
