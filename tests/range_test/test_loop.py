"""The range test's torch loop: it leaves no trace, steps as Lightning would, and records the same
losses as torch-lr-finder (the independent reference) on the same model and data."""

import copy
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lrframe.data.batches import Batches
from lrframe.data.datasets import load_split
from lrframe.range_test.loop import range_test, windows
from lrframe.models.mlp import mlp
from lrframe.range_test.arithmetic import ramp


@pytest.fixture(scope="module")
def digits():
    split = load_split({"name": "digits", "val_fraction": 0.2, "split_seed": 0})
    return torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)


def model_and_optimizer(seed=0, dropout=0.0, **sgd):
    torch.manual_seed(seed)
    model = mlp(in_features=64, hidden=[32], out_features=10, activation="relu")
    if dropout:
        model = torch.nn.Sequential(model.hidden1, model.act1, torch.nn.Dropout(dropout), model.head)
    return model, torch.optim.SGD(model.parameters(), **{"lr": 0.1, "momentum": 0.9, **sgd})


def random_state():
    return torch.get_rng_state(), random.getstate(), np.random.get_state()


def test_weights_gradients_optimizer_state_mode_epoch_and_random_state_are_exactly_as_before(digits):
    model, optimizer = model_and_optimizer(dropout=0.5)  # dropout: the test draws random numbers
    batches = Batches(*digits, batch_size=32, shuffle=True)
    for x, y in list(batches)[:3]:  # some history: momentum buffers exist
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    batches.sampler.set_epoch(7)
    weights, state = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    grads = [p.grad.clone() for p in model.parameters()]
    rng = random_state()

    curve = range_test(model, optimizer, batches, ramp(1e-4, 10.0, 40, "exponential"), smoothing=0.9,
                       diverge_factor=4.0)

    assert len(curve.lrs) > 20  # it did train
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    after = optimizer.state_dict()
    assert after["param_groups"] == state["param_groups"]  # lr 0.1 again
    assert all(torch.equal(state["state"][i]["momentum_buffer"], s["momentum_buffer"])
               for i, s in after["state"].items())
    assert not model.training and batches.sampler.epoch == 7
    new_rng = random_state()
    assert torch.equal(rng[0], new_rng[0]) and rng[1] == new_rng[1]
    assert all(np.array_equal(a, b) for a, b in zip(rng[2], new_rng[2]))


def test_state_is_restored_when_a_step_fails(digits):
    model, optimizer = model_and_optimizer()
    weights = copy.deepcopy(model.state_dict())
    calls = []

    def failing_loss(logits, y):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("out of memory")
        return F.cross_entropy(logits, y)

    with pytest.raises(RuntimeError):
        range_test(model, optimizer, Batches(*digits, batch_size=32), ramp(1e-3, 1.0, 20, "exponential"),
                   smoothing=0.9, diverge_factor=4.0, loss_fn=failing_loss)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert optimizer.param_groups[0]["lr"] == 0.1 and not optimizer.state


def test_every_parameter_group_follows_the_ramp_at_its_own_ratio(digits):
    torch.manual_seed(0)
    model = mlp(in_features=64, hidden=[32], out_features=10, activation="relu")
    body, head = list(model[0].parameters()), list(model[2].parameters())
    optimizer = torch.optim.SGD([{"params": body}, {"params": head, "lr": 0.5}], lr=0.05)  # head: 10x
    seen = []

    def loss_fn(logits, y):
        seen.append([group["lr"] for group in optimizer.param_groups])
        return F.cross_entropy(logits, y)

    lrs = ramp(1e-5, 1e-2, 20, "exponential")
    range_test(model, optimizer, Batches(*digits, batch_size=32), lrs, smoothing=0.9, diverge_factor=None,
               loss_fn=loss_fn)
    assert [body_lr for body_lr, _ in seen] == pytest.approx(lrs)
    assert [head_lr for _, head_lr in seen] == pytest.approx([10 * lr for lr in lrs])
    assert [group["lr"] for group in optimizer.param_groups] == [0.05, 0.5]


class Iterating:
    """torch-lr-finder's way to read batches that are not a DataLoader."""

    def __new__(cls, batches):
        from torch_lr_finder import TrainDataLoaderIter

        class BatchesIter(TrainDataLoaderIter):
            def inputs_labels_from_batch(self, batch):
                return batch

        return BatchesIter(batches)


@pytest.mark.parametrize("accumulate", [1, 3])
def test_losses_equal_torch_lr_finders_on_the_same_model_and_data(digits, accumulate):
    from torch_lr_finder import LRFinder

    steps = 45 // accumulate  # within one epoch of 45 batches
    ours_model, ours_optimizer = model_and_optimizer(weight_decay=1e-4, nesterov=True)
    ours = range_test(ours_model, ours_optimizer, Batches(*digits, batch_size=32),
                      ramp(1e-4, 1.0, steps, "exponential"), smoothing=0.0, diverge_factor=None,
                      accumulate=accumulate)

    model, optimizer = model_and_optimizer(weight_decay=1e-4, nesterov=True)
    finder = LRFinder(model, optimizer, torch.nn.CrossEntropyLoss())
    finder.range_test(Iterating(Batches(*digits, batch_size=32)), start_lr=1e-4, end_lr=1.0, num_iter=steps,
                      step_mode="exp", smooth_f=0.0, diverge_th=1e30, accumulation_steps=accumulate)

    assert ours.lrs == pytest.approx(finder.history["lr"], rel=1e-12)
    if accumulate == 1:
        assert ours.losses == finder.history["loss"]  # bit for bit
    else:  # torch-lr-finder sums loss / k, lrframe averages the k losses: equal up to rounding
        assert ours.losses == pytest.approx(finder.history["loss"], rel=1e-5)


def test_accumulated_windows_equal_one_batch_of_the_global_size(digits):
    """k mini-batches of b with the loss divided by k give the gradient of one batch of k * b."""
    lrs = ramp(1e-3, 1.0, 12, "exponential")
    small = range_test(*model_and_optimizer(), Batches(*digits, batch_size=16), lrs, smoothing=0.0,
                       diverge_factor=None, accumulate=4)
    large = range_test(*model_and_optimizer(), Batches(*digits, batch_size=64), lrs, smoothing=0.0,
                       diverge_factor=None)
    assert small.losses == pytest.approx(large.losses, rel=1e-4)


def test_windows_follow_lightnings_accumulation_and_epochs():
    x = torch.arange(10.0).unsqueeze(1)
    batches = Batches(x, torch.zeros(10, dtype=torch.long), batch_size=3, shuffle=True, seed=0)
    groups = [window for _, window in zip(range(4), windows(batches, 3))]
    assert [len(window) for window in groups] == [3, 1, 3, 1]  # 4 batches an epoch; the short window steps
    epoch_0 = torch.cat([b[0] for window in groups[:2] for b in window]).flatten().tolist()
    epoch_1 = torch.cat([b[0] for window in groups[2:] for b in window]).flatten().tolist()
    assert sorted(epoch_0) == sorted(epoch_1) == list(range(10)) and epoch_0 != epoch_1  # set_epoch(1) reshuffled


def test_clipping_runs_before_every_step(digits):
    norms = []

    def clip(params):
        norms.append(torch.nn.utils.clip_grad_norm_(params, 1e-3).item())

    lrs = ramp(1e-3, 1.0, 20, "exponential")
    clipped = range_test(*model_and_optimizer(), Batches(*digits, batch_size=32), lrs, smoothing=0.0,
                         diverge_factor=None, clip=clip)
    free = range_test(*model_and_optimizer(), Batches(*digits, batch_size=32), lrs, smoothing=0.0,
                      diverge_factor=None)
    assert len(norms) == 20 and min(norms) > 1e-3  # every step's gradient was clipped
    assert np.mean(clipped.losses[-5:]) > np.mean(free.losses[-5:]) + 0.5  # so the loss hardly fell


def test_bf16_autocast_runs_the_forward_pass_in_bfloat16(digits):
    dtypes = []

    def loss_fn(logits, y):
        dtypes.append(logits.dtype)
        return F.cross_entropy(logits, y)

    lrs = ramp(1e-3, 0.1, 20, "exponential")
    mixed = range_test(*model_and_optimizer(), Batches(*digits, batch_size=32), lrs, smoothing=0.0,
                       diverge_factor=None, loss_fn=loss_fn, autocast_dtype=torch.bfloat16)
    full = range_test(*model_and_optimizer(), Batches(*digits, batch_size=32), lrs, smoothing=0.0,
                      diverge_factor=None)
    assert set(dtypes) == {torch.bfloat16}
    assert mixed.losses != full.losses and mixed.losses == pytest.approx(full.losses, rel=0.05)


def test_the_docstring_example_runs():
    import doctest

    import lrframe.range_test.loop

    assert doctest.testmod(lrframe.range_test.loop).failed == 0
