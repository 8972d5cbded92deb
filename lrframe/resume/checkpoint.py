"""Checkpoint files: written atomically, read safely, and found again to resume a run.

A run keeps one file, ``<run dir>/checkpoints/last.ckpt``, always its newest state. It is written
to a temporary file of a fresh name in the same directory, flushed to disk (``fsync``) and renamed
over ``last.ckpt`` (see ``lrframe.run_files``), so a process killed while saving leaves the
previous ``last.ckpt`` intact; the temporary files such a kill leaves are removed by the next run's
first save (the run holds its directory's lock, so no other writer is at work there). Training does not wait for the disk: the checkpoint is
serialized where it is taken and written by a background thread. Checkpoints hold plain
containers and tensors only and are read with ``torch.load(weights_only=True)``; a file that
cannot be used is reported in one line (a ``ConfigError`` on the ``resume`` key), never with a
traceback.
"""

from __future__ import annotations

import _compat_pickle
import io
import logging
import pickle
import pickletools
import re
import warnings
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from lrframe.config.validate import Plan
from lrframe.config.errors import ConfigError, show
from lrframe.resume.changes import Change, config_changes, no_effect
from lrframe.run_files import partial_files, write_atomically

log = logging.getLogger(__name__)

LAST = "last.ckpt"
#: the keys that make the optimizer's effective (base) lr
LR_KEYS = ("optimizer.lr", "optimizer.lr_scaling", "optimizer.base_batch_size")


def last_checkpoint(run_dir: Path) -> Path:
    """Where a run directory's newest checkpoint lives."""
    return run_dir / "checkpoints" / LAST


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, made crash-safe and kept off the training path.

    ``save_checkpoint`` serializes the checkpoint in the caller's thread (a point-in-time copy,
    ~0.6 ms for the default model) and hands the bytes to one writer thread: temporary file,
    fsync, atomic rename (~2 ms, most of it waiting for the disk). Writes happen in order; a
    write's error is raised by the next save or by ``teardown``, which Lightning calls when the
    run ends, stops or fails, and which waits for the last write.
    """

    def __init__(self):
        super().__init__()
        self._writer: ThreadPoolExecutor | None = None  # started by the first save, stopped by teardown
        self._pending: Future | None = None

    def __getstate__(self) -> dict:
        # ddp_spawn pickles the Trainer, plugins included, into every worker: threads stay behind
        return {**self.__dict__, "_writer": None, "_pending": None}

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any = None) -> None:
        serialized = io.BytesIO()
        torch.save(checkpoint, serialized)
        self._wait()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-writer")
            for stale in partial_files(Path(path)):  # left by a process killed while saving
                stale.unlink(missing_ok=True)
        self._pending = self._writer.submit(write_atomically, serialized.getbuffer(), Path(path))

    def teardown(self) -> None:
        try:
            self._wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


#: what a checkpoint of an lrframe run holds, and the type of each
LRFRAME_KEYS = {"state_dict": dict, "loops": dict, "global_step": int, "optimizer_states": list,
                "lr_schedulers": list, "hyper_parameters": dict}


def read_checkpoint(path: Path, key: str = "resume", value: Any = None) -> dict:
    """The checkpoint at ``path``, or a one-line ConfigError on ``key=value`` saying why not.

    torch's warnings about the file (its pickle protocol) are kept off the console: the error, if
    any, says what is wrong in one line.
    """
    value = str(path) if value is None else value

    def refuse(why: str) -> ConfigError:
        return ConfigError(key, value, why)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise refuse("checkpoint file not found") from None
    except Exception as error:  # torch.load raises many types for a damaged file
        data = pickle_bytes(path)
        refused = [name for name in pickled_globals(data) if name not in _allowed_globals()]
        if refused:
            raise refuse(f"{path} holds Python objects ({refused[0]}), not only plain containers and tensors; "
                         "it will not be loaded (lrframe opens checkpoints with torch.load(weights_only=True))") from None
        reason = _load_error(error)
        if data[:1] == pickle.PROTO and len(data) > 1 and data[1] >= 4:  # its FRAME opcode is not read
            raise refuse(f"{path} was pickled with protocol {data[1]}, which torch.load(weights_only=True) does "
                         f"not read ({reason}); save it with torch.save's default pickle_protocol") from None
        raise refuse(f"{path} is truncated or corrupt ({reason})") from None
    if not isinstance(checkpoint, dict) or not {"state_dict", "loops", "global_step"} <= set(checkpoint):
        raise refuse(f"{path} is not a training checkpoint (no state_dict, loops and global_step)")
    if not isinstance(checkpoint.get("hyper_parameters"), dict) or \
            not isinstance(checkpoint["hyper_parameters"].get("config"), dict):
        raise refuse(f"{path} is not an lrframe checkpoint (it has no hyper_parameters.config)")
    wrong = [f"{name} ({kind.__name__})" for name, kind in LRFRAME_KEYS.items()
             if not isinstance(checkpoint.get(name), kind)]
    if wrong:
        raise refuse(f"{path} is not an lrframe checkpoint: it lacks {', '.join(wrong)}")
    return checkpoint


def pickle_bytes(path: Path) -> bytes:
    """The pickle of a checkpoint file: ``<name>/data.pkl`` of torch.save's zip format, else the
    file itself (a legacy checkpoint or a plain pickle); empty if unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(next(name for name in archive.namelist() if name.endswith("data.pkl")))
    except (zipfile.BadZipFile, StopIteration, OSError, KeyError):
        try:
            return Path(path).read_bytes()
        except OSError:
            return b""


def pickled_globals(data: bytes) -> list[str]:
    """The globals (``module.name``) a pickle refers to, in order, read with ``pickletools``: the
    opcodes are listed, nothing is imported or run. Best effort: a damaged pickle gives what could
    be read."""
    names, strings, memo = [], [], {}
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                names.append(_python3_name(*arg.split(" ")))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(_python3_name(strings[-2], strings[-1]))
            elif "UNICODE" in opcode.name:
                strings.append(arg)
            elif opcode.name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif opcode.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                strings.append(memo[arg])
    except Exception:  # noqa: BLE001 - a truncated or damaged pickle: what was read so far
        pass
    return names


def _python3_name(module: str, name: str) -> str:
    """``module.name`` as Python 3 imports it (protocol 2 writes ``__builtin__.slice`` for ``builtins.slice``)."""
    return f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}"


def _allowed_globals() -> set[str]:
    """The globals ``torch.load(weights_only=True)`` accepts (its allowlist and the user's additions)."""
    from torch import _weights_only_unpickler as unpickler

    return set(unpickler._get_allowed_globals()) | set(unpickler._get_user_allowed_globals())


def _load_error(error: Exception) -> str:
    """The gist of a torch.load error, in one short line: its first sentence, without torch's advice."""
    text = " ".join(str(error).split())
    if "WeightsUnpickler error:" in text:  # torch's weights-only unpickler wraps the reason in advice
        text = text.split("WeightsUnpickler error:")[1]
    text = re.split(r"(?<=[a-z0-9)])\. |\s+Check the documentation", text.strip())[0].strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class ResumePoint:
    """A checkpoint a run continues from, checked against the run's config."""

    path: Path
    step: int
    config: dict  # the checkpointed run's config
    changes: tuple[Change, ...]  # allowed differences (resume_allow_changes=true)
    shapes: dict[str, tuple[int, ...]]  # the model's parameter and buffer shapes
    lr_found: float | None  # with optimizer.lr=auto: the lr the range test found when the run started

    def check_model(self, module: torch.nn.Module, resume: Any) -> None:
        """Refuse, in one line, a checkpoint whose weights do not fit ``module``."""
        here = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
        if here == self.shapes:
            return
        differences = []
        for names, where in ((sorted(set(self.shapes) - set(here)), "the checkpoint"),
                             (sorted(set(here) - set(self.shapes)), "this config's model")):
            if names:
                differences.append(f"{', '.join(names)} only in {where}")
        differences += [f"{name} has shape {show(list(self.shapes[name]))} in the checkpoint, "
                        f"{show(list(here[name]))} in this config's model"
                        for name in here if name in self.shapes and here[name] != self.shapes[name]][:1]
        raise ConfigError("resume", resume, f"{self.path} holds another model: " + "; ".join(differences))


def check_target_changes(changes: list[Change], target: str, resume: Any) -> None:
    """Refuse changes to the lr or schedule of a scheduler given by ``_target_``: torch restores its
    state, base lrs and arguments included, over the new config's."""
    planned = [str(c) for c in changes if c.key.startswith(("scheduler.", "warmup.")) or c.key in LR_KEYS]
    if planned:
        raise ConfigError("resume_allow_changes", True, f"cannot apply {', '.join(planned)} to a scheduler "
                          f"given by _target_ ({target}): its checkpointed state would win")


def resume_point(plan: Plan, run_dir: Path) -> ResumePoint | None:
    """The checkpoint that ``plan.config['resume']`` names, checked; None to start fresh.

    ``resume=auto`` looks for ``<run_dir>/checkpoints/last.ckpt`` and, when there is none, starts
    fresh with a notice. A config that differs from the checkpoint's is refused unless
    ``resume_allow_changes=true``, in which case the changes are logged and the new values apply.
    """
    resume = plan.config["resume"]
    if resume is None:
        return None
    path = last_checkpoint(run_dir) if resume == "auto" else Path(resume)
    if resume == "auto" and not path.is_file():
        log.info(f"resume=auto: no checkpoint at {path}; starting fresh (to continue a run, pass its "
                 "directory: hydra.run.dir=...)")
        return None
    checkpoint = read_checkpoint(path, value=resume)
    saved = checkpoint["hyper_parameters"]["config"]
    step = int(checkpoint["global_step"])
    changes = config_changes(saved, plan.config)
    if changes and not plan.config["resume_allow_changes"]:
        raise ConfigError("resume", resume, f"the config differs from the one in {path} (after {step} "
                          "steps): " + ", ".join(map(str, changes)) + "; pass resume_allow_changes=true to "
                          "continue with the new values")
    target = plan.config["scheduler"].get("_target_")
    if changes and target:
        check_target_changes(changes, target, resume)
    if target and target.endswith("ReduceLROnPlateau"):
        log.warning("resume: Lightning steps a ReduceLROnPlateau given by scheduler._target_ and does not "
                    "replay the reduction due at the epoch the run resumes in; scheduler=plateau resumes exactly")
    if changes:
        notes = no_effect(changes)
        log.warning(f"resume: continuing from {path} (after {step} steps) with changed config: "
                    + ", ".join(map(str, changes)) + (f" ({'; '.join(notes)})" if notes else ""))
    shapes = {name: tuple(tensor.shape) for name, tensor in checkpoint["state_dict"].items()}
    total = plan.clock.total_steps
    if step > total:  # only with allowed changes: the same config plans the same run
        raise ConfigError("resume", resume, f"{path} is after {step} steps, past the end of this config's run "
                          f"({total} steps)")
    log.info(f"resume: continuing from {path} at step {step} of {total}"
             + (" (training is complete: nothing left to train)" if step >= total else ""))
    lr_found = None
    if saved["optimizer"]["lr"] == "auto":  # the optimizer's own lr (older checkpoints: the first group's)
        state = checkpoint["lr_schedulers"][0]
        lr_found = state.get("base_lr", state["base_lrs"][0])
    return ResumePoint(path, step, saved, tuple(changes), shapes, lr_found)
