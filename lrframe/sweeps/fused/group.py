"""Run one fused group: build its members as solo runs would be built, train them together."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from lrframe.config.validate import Plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    plan: Plan
    run_dir: Path
    overrides: list[str]


@dataclass(frozen=True)
class Outcome:
    """A member's result: the sweep's objective (``val/acc``, or ``val/loss`` for real targets), or
    the error that stopped it alone."""

    value: float | None
    error: BaseException | None = None


def run_group(jobs: list[Job]) -> list[Outcome]:
    """Train ``jobs`` as one fused group; each gets its solo run's directory contents.

    A member whose setup fails (e.g. a checkpoint it cannot resume from) or that diverges fails
    alone. Raises ``NotVectorizable`` (before any training) if the model cannot be fused. Each
    member holds its run directory's lock while the group trains, as a solo run does.
    """
    from lrframe.resume.lock import run_dir_lock
    from lrframe.sweeps.fused.loop import train_group
    from lrframe.sweeps.fused.member import Member
    from lrframe.tasks import quiet_libraries

    quiet_libraries()
    outcomes: list[Outcome | None] = [None] * len(jobs)
    members = []
    with contextlib.ExitStack() as locks:
        for index, job in enumerate(jobs):
            try:
                locks.enter_context(run_dir_lock(job.run_dir))
                member = Member(job.plan, job.run_dir, job.overrides)
                member.start()
                members.append((index, member))
            except Exception as error:  # noqa: BLE001 - recorded for this member; the others train
                outcomes[index] = Outcome(None, error)
        train_group([member for _, member in members])
    for index, member in members:
        outcomes[index] = Outcome(member.metric, member.error)
        if member.error is None:
            log.info(f"{member.run_dir.name}: {member.summary_line()}")
    return outcomes
