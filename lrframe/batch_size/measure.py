"""What ``task=batch_size_find`` measures: a training step's peak memory, and gradient norms.

**What "fits" means.** A trial is one training step (forward, backward, optimizer step with a
fresh optimizer, so that its state is counted) and its memory is the step's peak above what the
process held just before it: the batch, activations, gradients, optimizer state and temporaries, not
the weights already there. On a GPU, as for Lightning's ``Tuner.scale_batch_size``, a step fits when
it runs without a CUDA out-of-memory error (and, with ``memory_limit_mb``, its peak allocated memory
above the allocation before it, ``torch.cuda.max_memory_allocated``, is under the limit). On the CPU
there is no out-of-memory error to catch (the kernel's OOM killer ends the process, or the machine
swaps), so a step fits when its peak resident memory above the resident memory before it (Linux
``VmHWM`` against ``VmRSS``, the peak reset through ``/proc/self/clear_refs`` after freed heap is
returned by ``malloc_trim``) is under the limit, and the allocator did not refuse memory. The limit is
``memory_limit_mb``, or on the CPU ``memory_fraction`` of the machine's available memory
(``MemAvailable``) when the task starts. Where the peak cannot be reset (not Linux), the step's
memory is the rise of the process's peak so far, which undercounts a step smaller than an earlier one.
"""

from __future__ import annotations

import ctypes
import gc
import re
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lrframe.config.errors import ConfigError
from lrframe.data.batches import Batches, DatasetBatches

MIB = 2**20


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as file:
            found = re.search(rf"^{field}:\s+(\d+) kB", file.read(), re.MULTILINE)
    except OSError:
        return None
    return int(found[1]) if found else None


def resident_bytes() -> int:
    """The process's resident memory now (Linux), else its peak so far."""
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else _peak_so_far()


def _peak_so_far() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux kilobytes


def _reset_cpu_peak() -> bool:
    """Return freed heap to the system and reset the peak resident memory to the current (Linux)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


def _cpu_peak() -> int:
    kib = _status_kib("VmHWM")
    return kib * 1024 if kib is not None else _peak_so_far()


def out_of_memory(error: BaseException) -> bool:
    """An allocator's refusal: CUDA's out-of-memory error, or the CPU allocator's."""
    oom = getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(error, oom) or (isinstance(error, RuntimeError)
                                      and ("out of memory" in str(error) or "can't allocate memory" in str(error)))


@dataclass(frozen=True)
class Measured:
    batch_size: int
    fits: bool
    step_bytes: int | None  # the step's peak above the memory before it; None: it ran out of memory
    error: str | None


class MemoryProbe:
    """Runs a step and reads its peak memory on ``device`` above the memory before it, against ``limit``
    bytes (None: no limit but the device's own out-of-memory error)."""

    def __init__(self, device: torch.device, limit: int | None):
        self.device, self.limit = device, limit

    def __call__(self, batch_size: int, step: Callable[[], None]) -> Measured:
        gc.collect()
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            before = torch.cuda.memory_allocated(self.device)
        else:
            before = resident_bytes() if _reset_cpu_peak() else _cpu_peak()
        try:
            step()
            if cuda:
                torch.cuda.synchronize(self.device)
        except Exception as error:  # noqa: BLE001 - only an allocator's refusal means "does not fit"
            if not out_of_memory(error):
                raise
            return Measured(batch_size, False, None, " ".join(str(error).split())[:200])
        peak = (torch.cuda.max_memory_allocated(self.device) if cuda else _cpu_peak()) - before
        return Measured(batch_size, self.limit is None or peak <= self.limit, max(peak, 0), None)


def default_limit(device: torch.device, memory_limit_mb: float | None, memory_fraction: float) -> int | None:
    """The limit in bytes: ``memory_limit_mb``; else on the CPU ``memory_fraction`` of the available
    memory; else (GPU) none but out-of-memory."""
    if memory_limit_mb is not None:
        return int(memory_limit_mb * MIB)
    if device.type == "cuda":
        return None
    from lrframe.sweeps.fused.memory import available_bytes

    return int(memory_fraction * available_bytes())


def take(train, indices: torch.Tensor):
    """The training samples at ``indices`` (any number, repeats allowed) as one batch."""
    if isinstance(train, Batches):
        return train.x[indices], train.y[indices]
    if isinstance(train, DatasetBatches):
        loader = torch.utils.data.DataLoader(train.dataset, batch_sampler=[indices.tolist()], **train.loader_args)
        return next(iter(loader))
    raise ConfigError("task.name", "batch_size_find", f"draws batches of any size from the training set, which needs "
                      f"a map-style dataset batched by lrframe; the training loader is a {type(train).__name__} "
                      "(an iterable dataset, or a loader lrframe does not own)")


def train_size(train) -> int:
    return len(train.x) if isinstance(train, Batches) else len(train.dataset)


def to_device(batch, device: torch.device):
    return tuple(t.to(device) if torch.is_tensor(t) else t for t in batch) if isinstance(batch, (tuple, list)) \
        else batch.to(device)


def squared_gradient_norm(params: list[torch.nn.Parameter], loss: Callable[[], torch.Tensor]) -> float:
    """``|g|^2`` of the gradient of ``loss()`` (a batch's mean loss), summed in float64."""
    for p in params:
        p.grad = None
    loss().backward()
    total = sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None)
    for p in params:
        p.grad = None
    return float(total)


def gradient_norms(params: list[torch.nn.Parameter], batch_loss: Callable, train, device: torch.device, *,
                   b_small: int, b_big: int, pairs: int, seed: int) -> list[tuple[float, float]]:
    """``(|G_small|^2, |G_big|^2)`` for ``pairs`` batches: each a big batch of ``b_big`` samples drawn
    with replacement (so that ``E|G_B|^2 = |G|^2 + tr(Sigma)/B`` holds for the training set's own
    Sigma), the small batch its first ``b_small``; all at the same weights."""
    generator = torch.Generator().manual_seed(seed)
    size, norms = train_size(train), []
    for _ in range(pairs):
        indices = torch.randint(size, (b_big,), generator=generator)
        big = to_device(take(train, indices), device)
        small = to_device(take(train, indices[:b_small]), device)
        norms.append((squared_gradient_norm(params, lambda: batch_loss(small)),
                      squared_gradient_norm(params, lambda: batch_loss(big))))
    return norms
