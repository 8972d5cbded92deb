"""The optimizer and its parameter groups, as torch sees them and as training uses them."""

from collections import OrderedDict
from functools import cache

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import fit_in_process, make_plan, read_metrics, read_scalars
from lrframe.config.groups import OPTIMIZERS
from lrframe.data.datasets import load_split
from lrframe.config.errors import ConfigError
from lrframe.range_test.loop import range_test
from lrframe.models.mlp import mlp
from lrframe.optim.optimizer import build_optimizer
from lrframe.range_test.arithmetic import ramp


@cache
def optimizer_node(*overrides):
    return make_plan(*overrides).config["optimizer"]


def normed_net():
    """Linear layers with and without bias, a BatchNorm and a LayerNorm, and a head."""
    return nn.Sequential(OrderedDict(hidden1=nn.Linear(8, 16), norm1=nn.BatchNorm1d(16), act1=nn.ReLU(),
                                     hidden2=nn.Linear(16, 16, bias=False), norm2=nn.LayerNorm(16),
                                     head=nn.Linear(16, 4)))


def named_groups(model, optimizer):
    """group name -> (its parameters' names, lr, weight_decay), as torch holds them."""
    names = {id(p): name for name, p in model.named_parameters()}
    return {group["name"]: (sorted(names[id(p)] for p in group["params"]), group["lr"], group["weight_decay"])
            for group in optimizer.param_groups}


def test_biases_and_normalization_weights_get_no_decay_and_a_pattern_its_own_lr():
    model = normed_net()
    node = optimizer_node("optimizer=adamw", "optimizer.weight_decay=0.05",
                          "optimizer.lr_multipliers={head:10}")
    optimizer = build_optimizer(model, node, lr=0.002)
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["lr"] == 0.002
    assert named_groups(model, optimizer) == {
        "default": (["hidden1.weight", "hidden2.weight"], 0.002, 0.05),
        "default/no_decay": (["hidden1.bias", "norm1.bias", "norm1.weight", "norm2.bias", "norm2.weight"],
                             0.002, 0.0),
        "head": (["head.weight"], 0.02, 0.05),
        "head/no_decay": (["head.bias"], 0.02, 0.0),
    }
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_the_split_is_switchable_and_absent_without_weight_decay():
    model = normed_net()
    every = sorted(name for name, _ in model.named_parameters())
    node = optimizer_node("optimizer=adamw", "optimizer.no_decay_bias_and_norm=false")
    switched_off = build_optimizer(model, node, lr=0.001)
    assert named_groups(model, switched_off) == {"default": (every, 0.001, 0.01)}
    no_decay_at_all = build_optimizer(model, optimizer_node("optimizer=sgd"), lr=0.1)  # weight_decay 0
    assert named_groups(model, no_decay_at_all) == {"default": (every, 0.1, 0.0)}


@pytest.fixture(scope="module")
def batch():
    split = load_split({"name": "digits", "val_fraction": 0.2, "split_seed": 0})
    return torch.from_numpy(split.x_train[:64]), torch.from_numpy(split.y_train[:64])


def test_a_no_decay_group_really_gets_no_decay_in_sgd(batch):
    torch.manual_seed(0)
    model = mlp(in_features=64, hidden=[32], out_features=10, activation="relu")
    lr, wd = 0.1, 0.5
    node = optimizer_node("optimizer.momentum=0", f"optimizer.weight_decay={wd}")
    optimizer = build_optimizer(model, node, lr)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    F.cross_entropy(model(batch[0]), batch[1]).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    optimizer.step()
    for name, p in model.named_parameters():  # SGD: w <- w - lr * (g + weight_decay * w)
        decay = 0.0 if name.endswith("bias") else wd
        torch.testing.assert_close(p.detach(), before[name] - lr * (grads[name] + decay * before[name]))


def test_a_no_decay_group_really_gets_no_decay_in_adamw():
    torch.manual_seed(0)
    model = mlp(in_features=64, hidden=[32], out_features=10, activation="relu")
    lr, wd = 0.01, 0.1
    optimizer = build_optimizer(model, optimizer_node("optimizer=adamw", f"optimizer.weight_decay={wd}"), lr)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # Adam's own step is then 0: only the decoupled decay moves weights
    optimizer.step()
    for name, p in model.named_parameters():
        expected = before[name] if name.endswith("bias") else before[name] * (1 - lr * wd)
        torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-7)
    assert not torch.equal(model.hidden1.weight, before["hidden1.weight"])


def test_a_multiplier_holds_through_warmup_and_the_schedule(tmp_path):
    fit_in_process(tmp_path, "optimizer.lr_multipliers={head:10,hidden1:0.5}", "trainer.max_epochs=3",
                   "data.batch_size=128", "trainer.log_every_n_steps=1")
    base = read_scalars(tmp_path, "lr/default")
    head, first = read_scalars(tmp_path, "lr/head"), read_scalars(tmp_path, "lr/hidden1")
    assert [step for step, _ in base] == list(range(36))
    assert len({value for _, value in base}) > 30  # warmup then cosine: the lr changes every step
    assert [v for _, v in head] == pytest.approx([10 * v for _, v in base], rel=1e-6)
    assert [v for _, v in first] == pytest.approx([0.5 * v for _, v in base], rel=1e-6)
    assert max(v for _, v in base) == pytest.approx(0.1)


def test_the_lr_range_test_keeps_each_group_ratio_to_the_ramp(batch):
    torch.manual_seed(0)
    model = mlp(in_features=64, hidden=[32], out_features=10, activation="relu")
    optimizer = build_optimizer(model, optimizer_node("optimizer.lr_multipliers={head:10}"), lr=0.1)
    seen = []
    optimizer.register_step_pre_hook(lambda opt, *_: seen.append([g["lr"] for g in opt.param_groups]))
    lrs = ramp(1e-5, 1.0, 30, "exponential")
    curve = range_test(model, optimizer, [batch], lrs, smoothing=0.9, diverge_factor=None)
    assert [g["name"] for g in optimizer.param_groups] == ["default", "head"]
    assert len(seen) == 30
    assert [default for default, _ in seen] == pytest.approx(curve.lrs, rel=1e-12)
    assert [head for _, head in seen] == pytest.approx([10 * lr for lr in curve.lrs], rel=1e-12)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 1.0]  # restored


REJECTED_BY_TORCH = [
    ("sgd", "momentum", -0.5), ("sgd", "weight_decay", -1), ("sgd", "lr", -0.1),
    ("adam", "betas", [1.0, 0.999]), ("adam", "betas", [0.9, 1.0]), ("adam", "betas", [-0.1, 0.999]),
    ("adam", "eps", -1e-8), ("adam", "weight_decay", -0.1), ("adamw", "betas", [0.9, 1.5]),
    ("adamw", "eps", -1.0), ("adamw", "weight_decay", -0.01),
    ("adagrad", "lr_decay", -1), ("adagrad", "initial_accumulator_value", -0.1), ("adagrad", "eps", -1e-10),
    ("adagrad", "weight_decay", -1), ("rmsprop", "alpha", -0.5), ("rmsprop", "momentum", -0.9),
    ("rmsprop", "eps", -1e-8), ("rmsprop", "weight_decay", -1),
]


@pytest.mark.parametrize("name, key, value", REJECTED_BY_TORCH)
def test_config_validation_rejects_what_torch_would_reject(name, key, value):
    class_name, arguments = OPTIMIZERS[name]
    kwargs = {k: optimizer_node(f"optimizer={name}")[k] for k in arguments} | {key: value}
    with pytest.raises(ValueError):
        getattr(torch.optim, class_name)([nn.Parameter(torch.zeros(1))], **kwargs)
    shown = str(value).replace(" ", "")
    with pytest.raises(ConfigError, match=rf"^optimizer\.{key}="):
        make_plan(f"optimizer={name}", f"optimizer.{key}={shown}")


def test_nesterov_without_momentum_is_rejected_by_both():
    with pytest.raises(ValueError, match="Nesterov"):
        torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.0, nesterov=True)
    with pytest.raises(ConfigError, match=r"^optimizer\.nesterov=true: needs optimizer\.momentum > 0"):
        make_plan("optimizer.nesterov=true", "optimizer.momentum=0")


@pytest.mark.slow
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains_the_default_job_with_its_default_lr(tmp_path, name):
    fit_in_process(tmp_path, f"optimizer={name}", "logger=none")
    assert read_metrics(tmp_path)["val/acc"] >= 0.95
