"""A sweep's worker ends with the process that launched it.

``hydra/launcher=joblib`` runs jobs in worker processes. If the launching process dies without
stopping them (``kill -9``, a lost terminal), the workers would go on training, and a rerun of the
sweep with ``resume=auto`` would collide with them. So a job running in a worker watches its parent:
when the worker is re-parented (the launcher is gone), it sends itself SIGTERM, which saves the
job's checkpoint at the end of the current step and stops it (``job.json``: ``interrupted``), as
a SIGTERM from a scheduler does; a worker that has not stopped ``GRACE_SECONDS`` later is ended.
A rerun finds the checkpoint, and the run-directory lock refuses it cleanly while a worker is
still saving.
"""

from __future__ import annotations

import os
import signal
import threading
import time

#: the pid of the process that launched the multirun, set by ``SweepSummary.on_multirun_start``
LAUNCHER_PID = "LRFRAME_SWEEP_LAUNCHER_PID"
#: how often the parent is checked, and how long a worker has to stop once told
POLL_SECONDS = 0.5
GRACE_SECONDS = 60.0


def in_worker() -> bool:
    """Whether this job runs in a worker process of the launcher (not in the launching process)."""
    launcher = os.environ.get(LAUNCHER_PID)
    return launcher is not None and launcher != str(os.getpid())


_orphaned = threading.Event()  # set once the parent is gone


def end_with_parent() -> None:
    """Start (once per process) a daemon thread that stops this process when its parent is gone."""
    if any(thread.name == "lrframe-parent-watchdog" for thread in threading.enumerate()):
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        _orphaned.set()
        os.kill(os.getpid(), signal.SIGTERM)  # a checkpoint at the end of the step, then the job stops
        time.sleep(GRACE_SECONDS)
        os._exit(128 + signal.SIGTERM)  # still here: not training (e.g. idle in the pool), nothing to save

    threading.Thread(target=watch, name="lrframe-parent-watchdog", daemon=True).start()


def exit_if_orphaned() -> None:
    """End a worker whose launcher is gone, once its job is recorded: no one will collect its result."""
    if _orphaned.is_set():
        os._exit(128 + signal.SIGTERM)
