"""A scheduler node with _target_ (a user's torch LRScheduler): what validation can check without torch."""

import pytest

from conftest import make_plan

from lrframe.config.errors import ConfigError
from lrframe.schedules.target import target_arguments

TARGET = ("scheduler=none", "+scheduler._target_=torch.optim.lr_scheduler.StepLR", "+scheduler.step_size=2",
          "scheduler.interval=epoch")


def test_a_target_node_validates_and_passes_its_own_arguments_to_the_class():
    plan = make_plan(*TARGET, "warmup=none")
    assert target_arguments(plan.config["scheduler"]) == {"_target_": "torch.optim.lr_scheduler.StepLR",
                                                           "step_size": 2}


@pytest.mark.parametrize("overrides, message", [
    ((), "warmup.name=linear: cannot be joined to a scheduler given by _target_"),
    (("warmup=none", "task=preview"), "task.name=preview: previews lrframe's own schedules"),
    (("warmup=none", "scheduler.unit=step"), "scheduler.unit=step: a scheduler given by _target_ counts its own"),
    (("warmup=none", "scheduler.interval=batch"), "scheduler.interval=batch: expected one of step, epoch"),
    (("warmup=none", "+scheduler.monitor=train/loss"), "scheduler.monitor=train/loss: expected one of val/loss"),
    (("warmup=none", "scheduler=cosine"),
     "scheduler._target_=torch.optim.lr_scheduler.StepLR: given on top of scheduler=cosine, whose keys "
     "(T_max, eta_min, num_cycles, k_decay, step_size) would go to the class"),
    (("warmup=none", "scheduler._target_=torchh.optim.StepLR"),
     "scheduler._target_=torchh.optim.StepLR: no importable module in this dotted path (no module named torchh)"),
])
def test_what_cannot_work_with_a_target_is_a_one_line_error(overrides, message):
    with pytest.raises(ConfigError) as error:
        make_plan(*TARGET, *overrides)
    assert str(error.value).startswith(message)
