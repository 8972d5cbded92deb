"""Schedule-free optimizers' lr in task=preview: what the schedulefree package computes itself (its
``scheduled_lr``), with lrframe's warmup mapped onto its ``warmup_steps``."""

import pytest
import schedulefree
import torch

from conftest import make_plan
from lrframe.schedules.schedule_free import group_lr
from lrframe.tasks.preview import table


def package_lrs(optimizer_class, steps: int, **arguments) -> list[float]:
    """The lr each step of the package's optimizer used, read from its groups after the step."""
    param = torch.nn.Parameter(torch.zeros(3))
    optimizer = optimizer_class([param], **arguments)
    optimizer.train()
    lrs = []
    for _ in range(steps):
        param.grad = torch.ones(3)
        optimizer.step()
        lrs.append(optimizer.param_groups[0]["scheduled_lr"])
    return lrs


CASES = {
    "adamw, warmup of one epoch": (("optimizer=adamw_schedulefree",),
                                   schedulefree.AdamWScheduleFree, {"lr": 0.0025, "warmup_steps": 23}),
    "adamw, warmup of 0.5 epochs": (("optimizer=adamw_schedulefree", "warmup.epochs=0.5"),
                                    schedulefree.AdamWScheduleFree, {"lr": 0.0025, "warmup_steps": 12}),
    "sgd, warmup of 40 steps": (("optimizer=sgd_schedulefree", "warmup.steps=40", "optimizer.lr=0.5"),
                                schedulefree.SGDScheduleFree, {"lr": 0.5, "warmup_steps": 40}),
    "sgd, no warmup": (("optimizer=sgd_schedulefree", "warmup=none"), schedulefree.SGDScheduleFree, {"lr": 1.0}),
    "radam": (("optimizer=radam_schedulefree", "warmup=none"), schedulefree.RAdamScheduleFree, {"lr": 0.0025}),
    "radam, beta2 0.99, no silent phase": (("optimizer=radam_schedulefree", "warmup=none", "optimizer.betas=[0.9,0.99]",
                                            "optimizer.silent_sgd_phase=false"),
                                           schedulefree.RAdamScheduleFree,
                                           {"lr": 0.0025, "betas": (0.9, 0.99), "silent_sgd_phase": False}),
}


@pytest.mark.parametrize("name", CASES)
def test_preview_is_the_lr_the_package_uses_at_every_step(name):
    overrides, optimizer_class, arguments = CASES[name]
    previewed = table(make_plan("task=preview", "scheduler=none", "trainer.max_epochs=3", *overrides))
    assert previewed.lr == pytest.approx(package_lrs(optimizer_class, 69, **arguments), rel=1e-12, abs=0)


def test_the_lr_a_group_will_use_is_the_one_the_package_then_uses():
    for optimizer_class, arguments in ((schedulefree.SGDScheduleFree, {"lr": 0.5, "warmup_steps": 7}),
                                       (schedulefree.RAdamScheduleFree, {"lr": 0.01})):
        param = torch.nn.Parameter(torch.zeros(3))
        optimizer = optimizer_class([param], **arguments)
        optimizer.train()
        for _ in range(12):
            expected = group_lr(optimizer.param_groups[0])
            param.grad = torch.ones(3)
            optimizer.step()
            assert optimizer.param_groups[0]["scheduled_lr"] == expected
    assert group_lr({"lr": 0.1, "momentum": 0.9}) == 0.1  # any other optimizer: its lr
