import torch

from lrframe.data.batches import Batches


def _batches(**kwargs):
    x = torch.arange(10, dtype=torch.float32).unsqueeze(1)
    return Batches(x, torch.arange(10), batch_size=3, **kwargs)


def _epoch(batches, epoch):
    batches.sampler.set_epoch(epoch)
    return [y.tolist() for _, y in batches]


def test_every_sample_once_per_epoch_in_slices_of_batch_size():
    batches = _batches(shuffle=True, seed=0)
    order = _epoch(batches, 0)
    assert [len(b) for b in order] == [3, 3, 3, 1] and len(batches) == 4
    assert sorted(sum(order, [])) == list(range(10))


def test_order_depends_only_on_seed_and_epoch():
    assert _epoch(_batches(shuffle=True, seed=0), 1) == _epoch(_batches(shuffle=True, seed=0), 1)
    assert _epoch(_batches(shuffle=True, seed=0), 1) != _epoch(_batches(shuffle=True, seed=0), 2)
    assert _epoch(_batches(shuffle=True, seed=0), 1) != _epoch(_batches(shuffle=True, seed=1), 1)
    assert _epoch(_batches(shuffle=False), 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_drop_last_drops_the_partial_batch():
    batches = _batches(shuffle=False, drop_last=True)
    assert len(batches) == 3 and _epoch(batches, 0)[-1] == [6, 7, 8]


def test_state_dict_resumes_mid_epoch_with_the_remaining_batches():
    batches = _batches(shuffle=True, seed=0)
    full = _epoch(_batches(shuffle=True, seed=0), 2)
    batches.sampler.set_epoch(2)
    iterator = iter(batches)
    seen = [next(iterator)[1].tolist() for _ in range(2)]
    state = batches.state_dict()
    assert state == {"epoch": 2, "position": 2}

    resumed = _batches(shuffle=True, seed=0)
    resumed.load_state_dict(state)
    assert seen + _epoch(resumed, 2) == full
    assert _epoch(resumed, 3) == _epoch(_batches(shuffle=True, seed=0), 3)  # next epoch starts over
