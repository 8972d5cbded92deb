"""Files a run writes (``metrics.json``, ``last.ckpt``, ...), written atomically: a reader (or a crash)
sees the old file or the new, never half.

The data goes to a temporary file with a fresh name in the same directory, created exclusively
(``O_CREAT | O_EXCL | O_NOFOLLOW``: a file or symlink planted under that name is never opened, let
alone followed), is flushed to disk and renamed over the target (``os.replace`` is atomic on
POSIX; it replaces a symlink at the target itself, not the file it points to). A failed write
(disk full, read-only directory, ...) removes its temporary file and raises ``WriteFailed``, one
line naming the file and the cause; the target is left as it was. No torch here: sweeps use it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from lrframe.config.errors import WriteFailed

PARTIAL = ".partial"
#: what a finished task leaves in its run directory: its final metrics
METRICS_FILE = "metrics.json"


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / METRICS_FILE).read_text())


def partial_files(path: Path) -> list[Path]:
    """The temporary files of writes to ``path`` that never finished (their process was killed)."""
    return sorted(path.parent.glob(f"{path.name}.*{PARTIAL}"))


def write_atomically(data: bytes | memoryview, path: Path) -> None:
    """Write ``data`` to ``path`` so that ``path`` is always either the old or the new file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
        if os.name == "posix":  # make the rename itself durable
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
    except OSError as error:
        raise WriteFailed(path, error) from None


def write_text_atomically(text: str, path: Path) -> None:
    write_atomically(text.encode(), path)
