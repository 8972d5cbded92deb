"""Initialization schemes against their papers' variances, and the seed's claims about them."""

import math

import pytest
import torch
from torch import nn

from conftest import fit_in_process, make_plan, read_metrics
from lrframe.data.build import build_data
from lrframe.models.init import activation_variances, initialize
from lrframe.models.build import build_model


def _model(plan):
    """The model task=fit builds for ``plan`` (digits: 64 features, 10 classes)."""
    return build_model(plan.config, build_data(plan)[0])


@pytest.mark.parametrize("scheme, options, variance", [
    ("xavier_uniform", {}, 2 / (2000 + 500)),                       # Glorot & Bengio: 2 / (fan_in + fan_out)
    ("xavier_normal", {}, 2 / (2000 + 500)),
    ("xavier_normal", {"gain": 2.0}, 4 * 2 / (2000 + 500)),
    ("kaiming_uniform", {"nonlinearity": "relu"}, 2 / 2000),        # He et al.: 2 / fan_in for ReLU
    ("kaiming_normal", {"nonlinearity": "relu"}, 2 / 2000),
    ("kaiming_normal", {"nonlinearity": "relu", "mode": "fan_out"}, 2 / 500),
    ("kaiming_normal", {"nonlinearity": "tanh"}, (5 / 3) ** 2 / 2000),
    ("normal", {"std": 0.01}, 1e-4),
    ("uniform", {"a": -0.05, "b": 0.05}, 0.1 ** 2 / 12),
])
def test_weight_variance_is_the_papers_within_5_percent_on_a_large_layer(scheme, options, variance):
    torch.manual_seed(0)
    layer = initialize(nn.Linear(2000, 500), scheme, bias="zeros", **options)  # fan_in 2000, fan_out 500
    assert layer.weight.var().item() == pytest.approx(variance, rel=0.05)
    assert layer.weight.mean().item() == pytest.approx(0, abs=0.05 * math.sqrt(variance))
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize("scheme, options, support", [
    ("xavier_uniform", {}, math.sqrt(6 / (2000 + 500))),          # U(-b, b), b = sqrt(3 * variance)
    ("kaiming_uniform", {"nonlinearity": "relu"}, math.sqrt(6 / 2000)),
    ("uniform", {"a": -0.05, "b": 0.08}, (-0.05, 0.08)),
    ("xavier_normal", {}, None),                                   # None: normal, unbounded
    ("kaiming_normal", {"nonlinearity": "relu"}, None),
    ("normal", {"mean": 0.0, "std": 0.01}, None),
])
def test_uniform_schemes_fill_exactly_their_bounds_and_normal_ones_go_beyond(scheme, options, support):
    # the variance alone does not tell U(-b, b) from N(0, b^2 / 3): their supports do
    torch.manual_seed(0)
    weights = initialize(nn.Linear(2000, 500), scheme, bias="zeros", **options).weight.detach()
    if support is None:
        std = weights.std().item()
        beyond = (weights.abs() > math.sqrt(3) * std).float().mean().item()  # never for a uniform
        assert beyond == pytest.approx(math.erfc(math.sqrt(3 / 2)), abs=0.005)  # 8.3% for a normal
    else:
        low, high = support if isinstance(support, tuple) else (-support, support)
        assert low <= weights.min().item() < low + 1e-4 * (high - low)
        assert high - 1e-4 * (high - low) < weights.max().item() <= high


FAN = 1024
YAML_VARIANCES = {  # conf/init/NAME.yaml's defaults, on a ReLU MLP's 1024 x 1024 layer
    "xavier_uniform": 2 / (FAN + FAN), "xavier_normal": 2 / (FAN + FAN), "kaiming_uniform": 2 / FAN,
    "kaiming_normal": 2 / FAN, "normal": 0.01 ** 2, "uniform": 0.1 ** 2 / 12, "zeros": 0.0,
}


@pytest.mark.parametrize("scheme", YAML_VARIANCES)
def test_each_init_option_gives_its_variance_in_the_built_model(scheme):
    torch.manual_seed(0)
    model = _model(make_plan(f"init={scheme}", f"model.hidden=[{FAN},{FAN}]"))
    assert model.hidden2.weight.var().item() == pytest.approx(YAML_VARIANCES[scheme], rel=0.05)
    assert torch.count_nonzero(model.hidden2.bias) == 0  # init.bias: zeros


def test_kaiming_gain_follows_the_models_activation_and_bias_default_keeps_torchs():
    torch.manual_seed(0)
    plan = make_plan("model.activation=tanh", f"model.hidden=[{FAN},{FAN}]", "init.bias=default")
    model = _model(plan)
    assert model.hidden2.weight.var().item() == pytest.approx((5 / 3) ** 2 / FAN, rel=0.05)
    bound = 1 / math.sqrt(FAN)  # torch's Linear bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert model.hidden2.bias.abs().max().item() <= bound
    assert model.hidden2.bias.var().item() == pytest.approx(bound ** 2 / 3, rel=0.2)


def test_bias_has_no_python_default_and_a_bad_value_is_refused():
    with pytest.raises(TypeError, match="bias"):
        initialize(nn.Linear(2, 2), "zeros")
    with pytest.raises(ValueError, match="expected zeros or default"):
        initialize(nn.Linear(2, 2), "zeros", bias="ones")


DEEP = "model.hidden=[256,256,256,256,256,256,256,256]"


@pytest.fixture(scope="module")
def digits_batch():
    train = build_data(make_plan("data.batch_size=512"))[0].train
    return next(iter(train))[0]


@pytest.mark.parametrize("scheme, low, high", [
    ("kaiming_normal", 0.5, 2.0),     # steady: within a factor 2 over eight ReLU layers
    ("xavier_normal", 0.001, 0.02),   # halves every ReLU layer: 0.5 ** 7 = 0.008
    ("normal", 0, 1e-10),             # x (256 * 0.01^2 / 2) = 0.0128 per layer: vanishes
])
def test_kaiming_keeps_activation_variance_steady_across_a_deep_relu_mlp(digits_batch, scheme, low, high):
    torch.manual_seed(0)
    model = _model(make_plan(f"init={scheme}", DEEP))
    variances = activation_variances(model, digits_batch)[:8]  # the eight hidden layers' pre-activations
    assert low <= variances[-1] / variances[0] <= high


def test_zeros_cannot_learn_its_neurons_stay_identical_far_below_the_default(tmp_path):
    fit_in_process(tmp_path / "zeros", "init=zeros", "logger=none")
    fit_in_process(tmp_path / "kaiming", "logger=none")
    weights = torch.load(tmp_path / "zeros" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert read_metrics(tmp_path / "zeros")["global_step"] == 460
    for layer in ("hidden1", "hidden2"):  # every neuron (row) of a layer is the same as the first
        weight, bias = weights[f"model.{layer}.weight"], weights[f"model.{layer}.bias"]
        assert torch.equal(weight, weight[:1].expand_as(weight))
        assert torch.equal(bias, bias[:1].expand_as(bias))
    assert read_metrics(tmp_path / "zeros")["val/acc"] < 0.25
    assert read_metrics(tmp_path / "kaiming")["val/acc"] > 0.95
