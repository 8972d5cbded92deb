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


def _shards(monkeypatch, world, **kwargs):
    """Each of ``world`` DDP processes' samples of epoch 0, as each process's loader gives them."""
    import lrframe.data.batches as module

    shards = []
    for rank in range(world):
        monkeypatch.setattr(module, "_distributed", lambda rank=rank: (rank, world))
        batches = _batches(**kwargs)
        shards.append((len(batches), sum(_epoch(batches, 0), [])))
    return shards


def test_training_shards_are_padded_as_distributed_sampler_pads_them(monkeypatch):
    # 10 samples over 3 processes: 4 each, the epoch's first 2 samples taken twice
    order = sum(_epoch(_batches(shuffle=True, seed=0), 0), [])  # one process
    shards = _shards(monkeypatch, 3, shuffle=True, seed=0)
    assert [len(samples) for _, samples in shards] == [4, 4, 4] and [n for n, _ in shards] == [2, 2, 2]
    assert sorted(sum((s for _, s in shards), [])) == sorted(order + order[:2])
    dropped = _shards(monkeypatch, 3, shuffle=True, seed=0, drop_last=True)  # 3 each: the last sample dropped
    assert sorted(sum((s for _, s in dropped), [])) == sorted(order[:9])


def test_validation_shards_hold_every_sample_once_whatever_the_world_size(monkeypatch):
    for world in (1, 2, 3, 4, 10):
        shards = _shards(monkeypatch, world, pad=False)
        assert sorted(sum((samples for _, samples in shards), [])) == list(range(10)), world
        assert [n for n, _ in shards] == [len(range(rank, 10, world)) // 3 + bool(len(range(rank, 10, world)) % 3)
                                          for rank in range(world)]
