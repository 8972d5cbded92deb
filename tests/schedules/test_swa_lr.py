"""swa=default's lr in task=preview: the run's schedule until SWA starts, then torch's SWALR (stepped once per
epoch, as Lightning's StochasticWeightAveraging steps it) from the lr at SWA's start to swa_lrs."""

import pytest
import torch
from torch.optim.swa_utils import SWALR

from conftest import make_plan
from lrframe.tasks.preview import table

EPOCHS, STEPS_PER_EPOCH = 10, 23


def lightning_start(start) -> int:
    """The 0-based epoch Lightning's StochasticWeightAveraging starts at (its swa_epoch_start reading)."""
    nth = int(EPOCHS * start) if isinstance(start, float) else start
    return max(nth - 1, 0)


@pytest.mark.parametrize("strategy, anneal, start, scheduler", [
    ("cos", 2, 0.75, "cosine"), ("linear", 3, 5, "cosine"), ("cos", 0, 1.0, "step"), ("cos", 20, 0.05, "cosine"),
    ("linear", 1, 3, "onecycle")])
def test_lr_follows_torch_swalr_from_the_lr_at_swa_start(strategy, anneal, start, scheduler):
    common = (f"scheduler={scheduler}", "warmup=none" if scheduler == "onecycle" else "warmup.steps=5",
              f"trainer.max_epochs={EPOCHS}") + \
        (("scheduler.step_size=2", "scheduler.interval=epoch") if scheduler == "step" else ())
    swa = table(make_plan(*common, "swa=default", f"swa.annealing_strategy={strategy}",
                          f"swa.annealing_epochs={anneal}", f"swa.swa_epoch_start={start}", "swa.swa_lrs=0.03"))
    plain = table(make_plan(*common))
    s0 = lightning_start(start) * STEPS_PER_EPOCH
    assert swa.swa_step == s0
    assert swa.lr[:s0] == plain.lr[:s0]
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=plain.lr[s0])  # the lr the schedule gives when SWA starts
    swalr = SWALR(optimizer, swa_lr=0.03, anneal_epochs=anneal, anneal_strategy=strategy)
    expected = []
    for _ in range(lightning_start(start), EPOCHS):
        expected += [optimizer.param_groups[0]["lr"]] * STEPS_PER_EPOCH
        optimizer.step()
        swalr.step()
    assert swa.lr[s0:] == pytest.approx(expected, rel=1e-9)
    if plain.momentum is not None:  # scheduled momentum: held at its value when SWA starts
        assert swa.momentum == plain.momentum[:s0] + [plain.momentum[s0]] * (EPOCHS * STEPS_PER_EPOCH - s0)


def test_per_group_swa_lrs_anneal_each_group_from_its_own_lr():
    from lrframe.schedules.scheduler import ScheduledLR

    plan = make_plan("swa=default", "swa.swa_lrs=[0.05,0.2]", "swa.annealing_epochs=3", "swa.swa_epoch_start=4",
                     "scheduler=none", "warmup=none", f"trainer.max_epochs={EPOCHS}")
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    ours = torch.optim.SGD([{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 1.0}], lr=0.1)
    scheduler = ScheduledLR(ours, plan.schedule(0.1))
    reference = torch.optim.SGD([{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 1.0}], lr=0.1)
    swalr = None
    for step in range(EPOCHS * STEPS_PER_EPOCH):
        if step == 3 * STEPS_PER_EPOCH:
            swalr = SWALR(reference, swa_lr=[0.05, 0.2], anneal_epochs=3)
        elif swalr is not None and step % STEPS_PER_EPOCH == 0:
            swalr.step()
        assert [g["lr"] for g in ours.param_groups] == pytest.approx([g["lr"] for g in reference.param_groups],
                                                                     rel=1e-9), step
        ours.step()
        scheduler.step()
        reference.step()
    assert [g["lr"] for g in ours.param_groups] == pytest.approx([0.05, 0.2])


def test_a_list_of_swa_lrs_has_one_per_parameter_group():
    from lrframe.config.errors import ConfigError
    from lrframe.schedules.scheduler import ScheduledLR

    plan = make_plan("swa=default", "swa.swa_lrs=[0.05,0.2]")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ConfigError, match=r"^swa\.swa_lrs=\[0\.05,0\.2\]: expected one number, or one per parameter "
                                          r"group \(1: 0\)$"):
        ScheduledLR(optimizer, plan.schedule(0.1))
