"""The effective step size of adaptive optimizers: exactly what torch's step divided the lr by."""

import pytest
import torch

from lrframe.optim.step_sizes import Sampler, is_adaptive, step_sizes

CASES = [
    (torch.optim.Adagrad, {"lr": 0.1}),
    (torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1, "eps": 1e-3}),
    (torch.optim.RMSprop, {"lr": 0.01}),
    (torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "centered": True}),
    (torch.optim.Adam, {"lr": 0.01}),
    (torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True, "eps": 1e-4}),
    (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.0}),
]


@pytest.mark.parametrize("cls, kwargs", CASES, ids=lambda case: getattr(case, "__name__", str(case)))
def test_step_size_is_the_parameter_change_per_unit_of_the_direction_torch_stepped_along(cls, kwargs):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(500, dtype=torch.float64))
    optimizer = cls([w], **kwargs)
    scales = torch.logspace(-3, 1, 500, dtype=torch.float64)  # gradients from tiny to large
    for t in range(1, 7):
        w.grad = torch.randn(500, dtype=torch.float64) * scales
        before = w.detach().clone()
        optimizer.step()
        moved = before - w.detach()
        if cls in (torch.optim.Adam, torch.optim.AdamW):  # along Adam's bias-corrected momentum m_hat
            direction = optimizer.state[w]["exp_avg"] / (1 - optimizer.param_groups[0]["betas"][0] ** t)
        else:  # along the gradient (RMSprop without momentum, AdaGrad)
            direction = w.grad
        torch.testing.assert_close(step_sizes(optimizer)[0], moved / direction, rtol=1e-9, atol=0)


def test_adagrad_step_size_shrinks_like_one_over_the_root_of_the_summed_squares():
    w = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.Adagrad([w], lr=1.0, eps=0.0)
    for _ in range(4):
        w.grad = torch.tensor([1.0, 3.0])
        optimizer.step()
    assert step_sizes(optimizer)[0].tolist() == pytest.approx([1 / 2, 1 / 6])  # 1 / sqrt(4 g^2)


def test_sgd_has_none_and_groups_leave_out_parameters_without_state():
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    assert step_sizes(torch.optim.SGD([a], lr=0.1)) is None and not is_adaptive(torch.optim.SGD([a], lr=0.1))
    optimizer = torch.optim.RMSprop([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = torch.ones(3)
    optimizer.step()  # b has no gradient: no state
    first, second = step_sizes(optimizer)
    assert len(first) == 3 and len(second) == 0


def test_the_sample_is_fixed_per_length_and_leaves_the_global_random_state_alone():
    sample = Sampler(size=100)
    values = torch.arange(1000.0)
    state = torch.get_rng_state()
    first = sample(values)
    assert torch.equal(torch.get_rng_state(), state)
    assert len(first) == 100 and len(set(first.tolist())) == 100
    assert torch.equal(sample(values * 2), first * 2)
    assert torch.equal(sample(values[:50]), values[:50])  # short enough: all of it
