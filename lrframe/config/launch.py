"""Runs whose processes a cluster launcher starts: torchrun, SLURM's srun, or Lightning's own.

Multi-node DDP (``trainer.strategy=ddp trainer.num_nodes=N trainer.devices=M``) needs something
that starts ``train.py`` on every node and tells each process its rank. Lightning recognizes three
such launchers from their environment variables, and so does this module (plain Python, no torch):

- ``torchrun``: ``TORCHELASTIC_RUN_ID``, ``RANK``, ``WORLD_SIZE`` (one process per device);
- ``srun``: ``SLURM_NTASKS``, ``SLURM_PROCID`` (one task per device; not in a job named ``bash``
  or ``interactive``, which Lightning leaves to other launchers);
- Lightning's own: ``MASTER_ADDR`` and ``NODE_RANK`` set by hand on every node, where one
  ``train.py`` per node starts that node's device processes itself.

``check_launch`` refuses, in one line and before any training, what would otherwise hang in the
rendezvous or end in a traceback: ``num_nodes`` > 1 with no launcher, a launcher that started
another number of processes than ``devices x num_nodes`` (the plan's global batch and clock count
that number), ``ddp_spawn`` under a launcher that starts the processes itself, a multirun in every
process of one job, and a run directory named by each process's own start time (Hydra's default
``outputs/DATE/TIME``), which the processes would not agree on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from lrframe.config.errors import ConfigError

#: Lightning strategies that start their processes themselves (they cannot run under a launcher)
SPAWNING = ("ddp_spawn", "ddp_fork", "ddp_notebook")


@dataclass(frozen=True)
class Launch:
    """How this process was started: the launcher, this process's rank, and how many it started."""

    name: str  # torchrun | srun | lightning
    rank: int  # this process's global rank (Lightning's own: the node's rank)
    world_size: int | None  # processes the launcher started in all; None: Lightning starts them

    @property
    def what(self) -> str:
        return {"torchrun": "torchrun", "srun": "SLURM's srun"}.get(self.name, "Lightning (NODE_RANK)")


def launcher(environ: Mapping[str, str] = os.environ) -> Launch | None:
    """The launcher that started this process, as Lightning detects it (torchrun first); None if none."""
    if "TORCHELASTIC_RUN_ID" in environ:
        return Launch("torchrun", int(environ.get("RANK", 0)), int(environ.get("WORLD_SIZE", 1)))
    if "SLURM_NTASKS" in environ and environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        return Launch("srun", int(environ.get("SLURM_PROCID", 0)), int(environ["SLURM_NTASKS"]))
    if "NODE_RANK" in environ and "MASTER_ADDR" in environ:
        return Launch("lightning", int(environ["NODE_RANK"] or 0), None)
    return None


def is_secondary_rank(environ: Mapping[str, str] = os.environ) -> bool:
    """A process of a DDP run other than global rank 0: it runs in rank 0's run directory and
    writes none of it (Lightning's ``ddp`` re-launches ranks > 0 with ``LOCAL_RANK`` set; torchrun
    sets ``RANK``, srun ``SLURM_PROCID``, Lightning's own launcher ``NODE_RANK`` on other nodes)."""
    if any(environ.get(name, "0") not in ("", "0") for name in ("LOCAL_RANK", "RANK", "NODE_RANK")):
        return True
    launch = launcher(environ)
    return launch is not None and launch.rank > 0


def secondary_overrides(argv: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """Hydra overrides for a process that a launcher started as a rank > 0: no ``.hydra/`` folder
    and its own log file (``train_ddp_process_<rank>.log``), as Lightning's ``ddp`` gives the
    processes it re-launches. None for rank 0 or a process that Lightning re-launched itself."""
    launch = launcher(environ)
    if launch is None or launch.name == "lightning" or launch.rank == 0:
        return []
    given = {arg.lstrip("+~").partition("=")[0] for arg in argv}
    wanted = {"hydra.output_subdir": "null", "hydra.job.name": f"train_ddp_process_{launch.rank}"}
    return [f"{key}={value}" for key, value in wanted.items() if key not in given]


def processes(trainer: dict) -> int:
    """The processes a run trains in: ``trainer.devices`` x ``trainer.num_nodes``."""
    from lrframe.config.validate import device_count

    return device_count(trainer) * trainer.get("num_nodes", 1)


def check_launch(trainer: dict, run_dir: str | None, *, multirun: bool, jobs_elsewhere: bool = False,
                 environ: Mapping[str, str] = os.environ) -> None:
    """Refuse a run whose processes could not meet (see the module docstring); a one-line ConfigError.

    ``trainer`` is the job's validated trainer node, ``run_dir`` its ``hydra.run.dir`` as written
    (unresolved); ``jobs_elsewhere``: a multirun whose launcher runs the jobs on a cluster (SLURM),
    in an environment of their own.
    """
    launch, nodes = launcher(environ), trainer.get("num_nodes", 1)
    if multirun and jobs_elsewhere:
        return
    if launch is None:
        if nodes > 1:
            raise ConfigError("trainer.num_nodes", nodes, "no launcher in this process's environment (torchrun, "
                              "SLURM's srun, or MASTER_ADDR and NODE_RANK on every node); start train.py on "
                              "every node with one of them (see docs/scaling.md)")
        return
    total = processes(trainer)
    if launch.world_size is not None and launch.world_size != total:
        raise ConfigError("trainer.num_nodes", nodes, f"trainer.devices x trainer.num_nodes is {total} "
                          f"process{'es' * (total != 1)}, but {launch.what} started {launch.world_size}; expected "
                          "devices = processes per node and num_nodes = nodes, so that the global batch and the "
                          "schedule count every process")
    if launch.name == "lightning" and launch.rank >= nodes:
        raise ConfigError("trainer.num_nodes", nodes, f"this node has NODE_RANK={launch.rank}; expected "
                          f"num_nodes > {launch.rank} (the same on every node)")
    several = (launch.world_size or nodes) > 1
    if not several:
        return
    if multirun:
        raise ConfigError("hydra.mode", "MULTIRUN", f"{launch.what} started {launch.world_size or nodes} "
                          "processes, and -m would run the whole sweep in each; start one launch per job (no -m)")
    strategy = trainer.get("strategy", "auto")
    if launch.world_size is not None and strategy in SPAWNING:
        raise ConfigError("trainer.strategy", strategy, f"{launch.what} starts every process itself; expected "
                          "trainer.strategy=ddp")
    if run_dir is not None and "${now:" in run_dir:
        raise ConfigError("hydra.run.dir", run_dir, "each process would name it by its own start time; expected "
                          "one directory for every process: hydra.run.dir=PATH, the same on every node (on a "
                          "file system they share, for checkpoints and resume=auto)")
