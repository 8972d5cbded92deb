import math

import pytest

from lrframe.schedules.clock import Clock, steps_per_epoch


@pytest.mark.parametrize("n, batch, drop_last, accumulate, devices, expected", [
    (1437, 64, False, 1, 1, 23),     # ceil(1437 / 64)
    (1437, 64, True, 1, 1, 22),      # the partial batch is dropped
    (1437, 64, False, 4, 1, 6),      # 23 batches -> 5 full windows of 4 + one partial window that still steps
    (1437, 64, False, 1, 2, 12),     # each device: ceil(1437/2)=719 samples -> 12 batches
    (1437, 64, True, 1, 2, 11),      # each device: 718 samples -> 11 full batches
])
def test_steps_per_epoch_counts_optimizer_steps(n, batch, drop_last, accumulate, devices, expected):
    assert steps_per_epoch(train_size=n, batch_size=batch, drop_last=drop_last, accumulate=accumulate,
                           devices=devices) == expected


def test_timer_maps_steps_to_the_schedules_unit_and_interval():
    clock = Clock(steps_per_epoch=10, total_steps=100)
    assert [clock.timer("step", "step")(s) for s in (0, 7, 25)] == [0, 7, 25]
    assert [clock.timer("epoch", "step")(s) for s in (0, 7, 25)] == [0.0, 0.7, 2.5]   # smooth epochs
    assert [clock.timer("epoch", "epoch")(s) for s in (0, 7, 25)] == [0, 0, 2]        # whole epochs
    assert [clock.timer("step", "epoch")(s) for s in (0, 7, 25)] == [0, 0, 20]        # steps, held per epoch
    assert clock.to_steps(1.5, "epoch") == 15 and clock.in_unit(25, "epoch") == 2.5
    assert math.isclose(clock.epochs, 10.0)
