"""The MLP's layer names: what config validation knows without torch is what torch builds."""

import pytest

from lrframe.config.groups import mlp_layer_names
from lrframe.models.mlp import mlp


@pytest.mark.parametrize("hidden", [[], [32], [32, 16, 8]])
def test_the_parameter_names_config_checks_patterns_against_are_the_models(hidden):
    model = mlp(in_features=64, hidden=hidden, out_features=10, activation="relu")
    expected = [f"{layer}.{p}" for layer in mlp_layer_names(hidden) for p in ("weight", "bias")]
    assert [name for name, _ in model.named_parameters()] == expected
    assert model.head.out_features == 10
    assert [name for name, _ in model.named_children()][:2] == (["hidden1", "act1"] if hidden else ["head"])
