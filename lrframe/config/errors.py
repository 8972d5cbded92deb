"""The errors a user sees, each one line: a bad config, and why a run stopped early.

A config error names the key, the value and what is allowed::

    scheduler.gamma=-0.1: expected a number > 0

``Stopped`` says why training ended before its end (``Diverged``, ``Interrupted``) and which
checkpoint it left. The checks are plain Python (no torch), so a typo costs a fraction of a second.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn


def show(value: Any) -> str:
    """A value as a user would write it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if value and " " not in value else repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def shortened(text: str, keep: int = 60) -> str:
    """``text``, or for a long one its start and its length, so that an error stays one readable line.

    >>> shortened("x" * 5000, keep=4)
    'xxxx... (5000 characters)'
    """
    return text if len(text) <= 2 * keep else f"{text[:keep]}... ({len(text)} characters)"


def fail(message: object) -> NoReturn:
    """Print ``error: <message>`` (one line) and exit with status 1."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


class ConfigError(ValueError):
    """A config value that is not allowed."""

    def __init__(self, key: str, value: Any, expected: str):
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"{shortened(key)}={shortened(show(value))}: {expected}")

    def under(self, prefix: str) -> ConfigError:
        """The same error, with its key placed under `prefix` (e.g. `gamma` -> `scheduler.gamma`)."""
        key = f"{prefix}.{self.key}" if prefix else self.key
        return ConfigError(key, self.value, self.expected)


class Stopped(Exception):
    """Training stopped before its end; ``exit_code`` is what ``train.py`` exits with."""

    exit_code = 1
    kept = "last good checkpoint kept"  # how the message names the checkpoint left behind

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.checkpoint: tuple[str, int] | None = None  # (path, step) of the checkpoint left behind

    def __str__(self) -> str:
        if self.checkpoint is None:
            return f"{self.message}; no checkpoint was saved"
        path, step = self.checkpoint
        return f"{self.message}; {self.kept}: {path} (after {step} steps)"


class WriteFailed(Stopped):
    """A file of the run could not be written (disk full, a read-only or missing directory, ...).

    For a checkpoint, the previous one stays whole: it is named as the one kept.
    """

    def __init__(self, path, error: OSError):
        super().__init__(f"cannot write {path}: {error.strerror or error}")
        self.path = path


class Diverged(Stopped):
    """A non-finite loss (or weights): the run stops and its last good checkpoint stays untouched.

    ``step`` is the 0-based index of the optimizer step, as TensorBoard's ``lr`` shows it.
    """

    def __init__(self, step: int, loss: float, lrs: dict[str, float], detail: str = ""):
        lr_text = ", ".join(f"{tag}={show(lr)}" for tag, lr in lrs.items())
        super().__init__(f"training diverged at step {step}: loss={show(loss)}, {lr_text}{detail}")
        self.step = step


class Interrupted(Stopped):
    """SIGTERM or SIGINT: a checkpoint was saved at a step boundary and the run stopped.

    The exit code is the shell's convention for a process ended by a signal, 128 + the signal
    number (143 for SIGTERM, 130 for SIGINT): the run did not finish, so ``&&`` chains and job
    schedulers must not treat it as a success, and ``resume=auto`` continues it.
    """

    kept = "checkpoint saved"

    def __init__(self, signum: int):
        self.exit_code = 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")

    def __str__(self) -> str:
        return super().__str__() + "; continue it with resume=auto (same hydra.run.dir)"


def message_of(error: BaseException) -> str | None:
    """The one-line message of lrframe's own errors (ConfigError, and Stopped: Diverged,
    Interrupted, WriteFailed) and of the system's (an OSError: a full disk, a file not found);
    None for others.

    One raised in a ``ddp_spawn`` worker arrives as another exception holding the worker's
    traceback, whose last line is ``lrframe.config.errors.Diverged: <message>``.
    """
    if isinstance(error, (ConfigError, Stopped)):
        return str(error)
    lines = str(error).strip().splitlines()
    for own in (ConfigError, Diverged, Interrupted, WriteFailed):
        prefix = f"{own.__module__}.{own.__qualname__}: "
        if lines and lines[-1].startswith(prefix):
            return lines[-1][len(prefix):]
    from hydra.errors import InstantiationException

    if isinstance(error, InstantiationException):  # building a _target_: Hydra's message, without its advice
        return " ".join(line.strip() for line in lines if not line.startswith(("full_key:", "Set the env")))
    if isinstance(error, OSError) and error.strerror:  # the machine's refusal: a full disk, a missing file
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return None


def _bound_text(gt, ge, lt, le) -> str:
    parts = [f"> {gt}" if gt is not None else "", f">= {ge}" if ge is not None else "",
             f"< {lt}" if lt is not None else "", f"<= {le}" if le is not None else ""]
    return " and ".join(p for p in parts if p)


def _within(x: float, gt, ge, lt, le) -> bool:
    return ((gt is None or x > gt) and (ge is None or x >= ge)
            and (lt is None or x < lt) and (le is None or x <= le))


def _not_a_string(key: str, value: Any, expected: str) -> ConfigError:
    """The error for a value of the wrong type; a number in quotes (``x="3"``) is named a string."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            pass
        else:
            expected += f", not the string {value!r} (drop the quotes)"
    return ConfigError(key, value, expected)


def number(key: str, value: Any, *, gt=None, ge=None, lt=None, le=None) -> float:
    """A real number (ints allowed, booleans not), optionally bounded."""
    bounds = _bound_text(gt, ge, lt, le)
    expected = "expected a number" + (f" {bounds}" if bounds else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _not_a_string(key, value, expected)
    if value != value or value in (float("inf"), float("-inf")) or not _within(value, gt, ge, lt, le):
        raise ConfigError(key, value, expected)
    return float(value)


def integer(key: str, value: Any, *, gt=None, ge=None, lt=None, le=None) -> int:
    """A whole number, optionally bounded (a float such as 3.0 is not accepted)."""
    bounds = _bound_text(gt, ge, lt, le)
    expected = "expected an integer" + (f" {bounds}" if bounds else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _not_a_string(key, value, expected)
    if not _within(value, gt, ge, lt, le):
        raise ConfigError(key, value, expected)
    return value


def boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, value, "expected true or false")
    return value


def choice(key: str, value: Any, options: Iterable[str]) -> str:
    options = tuple(options)
    if value not in options:
        raise ConfigError(key, value, "expected one of " + ", ".join(options))
    return value


def text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(key, value, "expected a non-empty string")
    return value


def sorted_integers(key: str, value: Any, *, ge=None) -> list[int]:
    """A strictly increasing list of integers (milestones, boundaries)."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigError(key, value, "expected a list of integers")
    items = [integer(key, v, ge=ge) for v in value]
    if any(b <= a for a, b in zip(items, items[1:])):
        raise ConfigError(key, value, "expected strictly increasing integers")
    return items


def known_keys(node: dict, allowed: Iterable[str], where: str, prefix: str = "") -> None:
    """Reject keys of `node` that are not in `allowed` (a typo, or an option of another choice).

    `where` names the choice in the message (``data=digits``); `prefix` is the node's own key.
    """
    allowed = tuple(allowed)
    for key in node:
        if key not in allowed:
            raise ConfigError(f"{prefix}.{key}" if prefix else key, node[key],
                              f"unknown key for {where}; allowed: " + ", ".join(allowed))
