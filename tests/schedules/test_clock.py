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


@pytest.mark.parametrize("devices", [2, 3, 4])
@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("accumulate", [1, 3])
def test_steps_per_epoch_on_several_devices_equal_torchs_distributed_sampler_and_loader(devices, drop_last,
                                                                                        accumulate):
    # 1279 samples: 639.5 per device on 2, so every floor differs from its ceil; batch 64 does not
    # divide a shard either (639 -> 9 full batches, 640 -> 10)
    from torch.utils.data import DataLoader, DistributedSampler

    data = list(range(1279))
    for rank in range(devices):
        sampler = DistributedSampler(data, num_replicas=devices, rank=rank, shuffle=False, drop_last=drop_last)
        batches = len(DataLoader(data, batch_size=64, sampler=sampler, drop_last=drop_last))
        assert steps_per_epoch(train_size=1279, batch_size=64, drop_last=drop_last, accumulate=accumulate,
                               devices=devices) == math.ceil(batches / accumulate)
    assert steps_per_epoch(train_size=1279, batch_size=64, drop_last=True, accumulate=1, devices=2) == 9
    assert steps_per_epoch(train_size=1279, batch_size=64, drop_last=False, accumulate=1, devices=2) == 10


def test_timer_maps_steps_to_the_schedules_unit_and_interval():
    clock = Clock(steps_per_epoch=10, total_steps=100)
    assert [clock.timer("step", "step")(s) for s in (0, 7, 25)] == [0, 7, 25]
    assert [clock.timer("epoch", "step")(s) for s in (0, 7, 25)] == [0.0, 0.7, 2.5]   # smooth epochs
    assert [clock.timer("epoch", "epoch")(s) for s in (0, 7, 25)] == [0, 0, 2]        # whole epochs
    assert [clock.timer("step", "epoch")(s) for s in (0, 7, 25)] == [0, 0, 20]        # steps, held per epoch
    assert clock.to_steps(1.5, "epoch") == 15 and clock.in_unit(25, "epoch") == 2.5
    assert math.isclose(clock.epochs, 10.0)
