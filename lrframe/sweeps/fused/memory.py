"""How many members a fused group may hold: a planned size per member against the memory available.

A member holds its parameters, their gradients, the stacked copies the fused forward makes, its
optimizer state (up to two slots per parameter: Adam's moments), its copy of the data and its share of
the batched activations (forward and backward). ``members_that_fit`` divides ``memory_fraction`` of
the machine's available memory by that size.
"""

from __future__ import annotations

import os

#: parameter-sized tensors per member: weights, gradients, stacked copy and its gradient, 2 optimizer slots
PARAMETER_COPIES = 6
#: activation-sized tensors per layer output: forward value, its gradient, the activation's
ACTIVATION_COPIES = 3


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux), else the physical memory."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def member_bytes(plan) -> int:
    """The planned memory of one member of ``plan`` (its model and data built once to measure them)."""
    import torch

    from lrframe.training.pieces import build

    state = torch.get_rng_state()
    try:
        pieces = build(plan, plan.lr or 1.0)
    finally:
        torch.set_rng_state(state)
    model, train = pieces.module.model, pieces.data.train
    parameters = sum(p.numel() * p.element_size() for p in model.parameters())
    batch = plan.config["data"]["batch_size"]
    widths = sum(m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)) or 1
    activations = batch * widths * 4 * ACTIVATION_COPIES
    data = sum(t.numel() * t.element_size() for t in (getattr(train, "x", None), getattr(train, "y", None))
               if t is not None)
    return PARAMETER_COPIES * parameters + activations + data


def members_that_fit(plan, memory_fraction: float) -> int:
    """At least 1: the most members of ``plan`` that ``memory_fraction`` of available memory holds."""
    return max(int(available_bytes() * memory_fraction // max(member_bytes(plan), 1)), 1)
