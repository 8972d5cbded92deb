"""The fused loop: K members, one forward and one backward per step, each member's own update.

At every step the members at the group's current step stack their parameters (``torch.stack``,
differentiable: each member's leaves get exactly their own gradient), their batches (each from its
own data order) and run the fused forward; the loss is each member's own loss on its slice, and
their sum is backpropagated once. Then every member does what its solo run does between backward
and the next step: log (its lr, its loss), check for divergence at the logging cadence, clip, step
its optimizer and its schedule. Epoch ends validate every member in one fused forward; the
checkpoints of all members are serialized where they are taken and written by one background thread.

A member that diverges is stopped and recorded alone: the others never see its numbers (their
slices of every batched operation are computed from their own parameters only). Members resumed at
different steps (a group killed between two members' checkpoint writes) are brought level first:
only the members at the group's lowest step train until the others' steps are reached.
"""

from __future__ import annotations

import logging
import resource
import time

import torch

from lrframe.config.errors import Stopped
from lrframe.data.batches import Batches
from lrframe.objectives.metrics import flat
from lrframe.sweeps.fused.checkpoint import Writer
from lrframe.sweeps.fused.member import Member
from lrframe.sweeps.fused.vectorize import NotVectorizable, stacked, vectorize

log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_members(members: list[Member]) -> None:
    """Refuse, in one line, a group whose members' data cannot be stacked step by step."""
    first = members[0]
    for member in members:
        if type(member.train) is not Batches or type(member.val) is not Batches:
            raise NotVectorizable(f"data={first.plan.config['data'].get('name', 'a _target_')}: fused groups read "
                                  "in-memory data (data=digits|diabetes|npz)")
        if (member.steps_per_epoch, member.total_steps) != (first.steps_per_epoch, first.total_steps):
            raise NotVectorizable("the members' runs differ in length")
    if not torch.equal(first.val.x, members[-1].val.x):
        raise NotVectorizable("the members' validation sets differ")


def validate_members(members: list[Member], forward) -> None:
    """One fused forward per validation batch; each member's own loss and metrics on its slice."""
    val = members[0].val
    with torch.inference_mode():
        params = stacked([m.module.model for m in members])
        for x, y in val:
            output = forward(params, x.unsqueeze(0).expand(len(members), *x.shape))
            for k, member in enumerate(members):
                module = member.module
                module.val_loss.update(module.loss_fn(output[k], y), weight=len(y))
                module.metrics.update(*flat(output[k], y, module.kind))
    for member in members:
        module = member.module
        metrics = {"val/loss": module.val_loss.compute().item(),
                   **{name: value.item() for name, value in module.metrics.compute().items()}}
        module.val_loss.reset()
        module.metrics.reset()
        member.validated(metrics)


def _stop(member: Member, error: Stopped) -> None:
    member.fail(error)
    log.error(f"member {member.run_dir.name} stopped alone: {error}")


def train_group(members: list[Member]) -> None:
    """Train ``members`` (started: restored and logged) to their planned ends, in lockstep.

    Raises ``NotVectorizable`` before any step if the group cannot be fused.
    """
    live = [m for m in members if not m.finished]
    if not live:
        return
    check_members(live)
    start = min(m.step for m in live)
    forward = vectorize([m.module.model for m in live], live[0].batch(start)[0])
    every_n = live[0].every_n_steps
    val_batches = len(live[0].val)
    writer = Writer()
    started = time.perf_counter()
    try:
        while live:
            step = min(m.step for m in live)
            active = [m for m in live if m.step == step]
            batches = [m.batch(step) for m in active]
            x = torch.stack([b[0] for b in batches])
            output = forward(stacked([m.module.model for m in active]), x)
            losses = torch.stack([m.module.loss_fn(output[k], batches[k][1]) for k, m in enumerate(active)])
            losses.sum().backward()
            detached = losses.detach()
            values = detached.tolist() if step % every_n == 0 else None
            for k, member in enumerate(active):
                try:
                    member.before_update(detached[k], None if values is None else values[k])
                    member.update()
                except Stopped as error:
                    _stop(member, error)
            active = [m for m in active if not m.finished]
            ending = [m for m in active if m.step % m.steps_per_epoch == 0 or m.step >= m.total_steps]
            if ending:
                validate_members(ending, forward)
                for member in ending:
                    member.epoch_ended()
            saves = []
            for member in active:
                epoch_end = member in ending
                if epoch_end or (member.checkpoint_every and member.step % member.checkpoint_every == 0):
                    try:
                        saved = member.checkpoint(epoch_end, val_batches)
                    except Stopped as error:
                        _stop(member, error)
                        continue
                    if saved:
                        saves.append(saved)
            if saves:
                writer.save(saves)
            for member in ending:
                if member.step >= member.total_steps:
                    writer.wait()
                    member.finish()
            live = [m for m in live if not m.finished]
    finally:
        writer.close()
    seconds = time.perf_counter() - started
    log.info(f"fused group of {len(members)} trained in {seconds:.1f} s; peak RSS {peak_rss_mb():.0f} MB")
