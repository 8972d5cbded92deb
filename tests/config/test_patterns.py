"""optimizer.lr_multipliers: glob patterns over parameter names, checked before torch is imported."""

import re

import pytest

from conftest import make_plan
from lrframe.config.errors import ConfigError
from lrframe.config.patterns import assign, matches

NAMES = ["hidden1.weight", "hidden1.bias", "hidden10.weight", "head.weight", "head.bias"]


@pytest.mark.parametrize("pattern, matched", [
    ("head", ["head.weight", "head.bias"]),                      # a module: all its parameters
    ("hidden1", ["hidden1.weight", "hidden1.bias"]),             # not hidden10
    ("hidden*", ["hidden1.weight", "hidden1.bias", "hidden10.weight"]),
    ("*.bias", ["hidden1.bias", "head.bias"]),
    ("hidden1.weight", ["hidden1.weight"]),                      # one parameter
    ("h?ad", ["head.weight", "head.bias"]),
    ("hidden[!1]*", []),
])
def test_a_pattern_matches_names_as_a_glob_or_the_module_they_belong_to(pattern, matched):
    assert [name for name in NAMES if matches(pattern, name)] == matched


def test_each_parameter_gets_the_pattern_it_matches_and_the_rest_none():
    owner = assign(NAMES, {"head": 10, "hidden1": 0.5})
    assert owner == {"hidden1.weight": "hidden1", "hidden1.bias": "hidden1", "hidden10.weight": None,
                     "head.weight": "head", "head.bias": "head"}


@pytest.mark.parametrize("overrides, message", [
    (["optimizer.lr_multipliers={nope:2}"],
     r"^optimizer\.lr_multipliers\.nope=2: the pattern matches no parameter; parameters: hidden1\.weight, "
     r"hidden1\.bias, hidden2\.weight, hidden2\.bias, head\.weight, head\.bias$"),
    (["optimizer.lr_multipliers={head:0}"], r"^optimizer\.lr_multipliers\.head=0: expected a number > 0$"),
    (["optimizer.lr_multipliers={head:-1}"], r"^optimizer\.lr_multipliers\.head=-1: expected a number > 0$"),
    (["optimizer.lr_multipliers={head:x}"], r"^optimizer\.lr_multipliers\.head=x: expected a number > 0$"),
    (["optimizer.lr_multipliers={head:10,*.bias:0.5}"],
     r"^optimizer\.lr_multipliers\.\*\.bias=0\.5: head\.bias also matches 'head'; a parameter may match "
     r"one pattern only$"),
    (["optimizer.lr_multipliers=10"], r"^optimizer\.lr_multipliers=10: expected a mapping of parameter name "
                                      r"pattern -> lr multiplier, e\.g\. \{head:10\}$"),
    (["model.hidden=[32]", "optimizer.lr_multipliers={hidden2:2}"],
     r"^optimizer\.lr_multipliers\.hidden2=2: the pattern matches no parameter; parameters: hidden1\.weight"),
    (["optimizer.no_decay_bias_and_norm=maybe"],
     r"^optimizer\.no_decay_bias_and_norm=maybe: expected true or false$"),
])
def test_bad_multipliers_are_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError) as error:
        make_plan(*overrides)
    assert re.search(message, str(error.value)), str(error.value)


@pytest.mark.parametrize("pattern", ["head weight", "hidden[1", "head/weight", ""])
def test_a_pattern_with_other_characters_or_an_open_bracket_is_a_syntax_error(pattern):
    expected = "expected a parameter name pattern of letters, digits, _ . - and the wildcards * ? [...]"
    with pytest.raises(ConfigError) as error:
        assign(NAMES, {pattern: 2})
    assert str(error.value) == f"optimizer.lr_multipliers.{pattern}=2: {expected}"


def test_null_means_no_multipliers():
    assert assign(NAMES, None) == dict.fromkeys(NAMES)
