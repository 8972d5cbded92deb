"""One run at a time in a run directory.

Two runs in one directory would write the same checkpoint, metrics and TensorBoard files, and one
run's results would silently replace (or mix with) the other's. So a task holds an exclusive lock
on its run directory while it runs: ``fcntl.flock`` on ``<run dir>/.lock``, which also records the
holder (pid, host, start time, command line) to name it. The operating system releases a flock
when its process ends, however it ends (``kill -9`` included), so a lock is never stale: a
leftover ``.lock`` file whose process is gone is simply taken over.

The second run is refused in one line naming the holder::

    hydra.run.dir=runs/a: in use by another run (pid 4242 on node1 since 2025-01-01 12:00:00: train.py ...)

Only global rank 0 locks: the other processes of a DDP run (re-launched by Lightning's ``ddp``
strategy, or started by torchrun or srun on this node or others) run in the same directory by design.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from lrframe.config.errors import ConfigError
from lrframe.config.launch import is_secondary_rank

LOCK_FILE = ".lock"


def _holder_text(lock_path: Path) -> str:
    try:
        holder = json.loads(lock_path.read_text())
        return (f"pid {holder['pid']} on {holder['host']} since {holder['since']}: "
                f"{' '.join(holder['command'])}")
    except (OSError, ValueError, KeyError, TypeError):
        return "its lock file names no holder"


def _busy(run_dir: Path, lock_path: Path) -> ConfigError:
    return ConfigError("hydra.run.dir", str(run_dir), f"in use by another run ({_holder_text(lock_path)}); wait "
                                                      "for it to end, or pick another directory")


def check_free(run_dir: Path) -> None:
    """Raise a one-line ConfigError if a live run holds ``run_dir``'s lock (nothing is taken)."""
    lock_path = run_dir / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return  # no lock file (or none we could read): the run's own lock decides
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(run_dir, lock_path) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the duration of the block; a ConfigError if another run holds it."""
    if is_secondary_rank():
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path = run_dir / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(run_dir, lock_path) from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": [Path(sys.argv[0]).name, *sys.argv[1:]]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
