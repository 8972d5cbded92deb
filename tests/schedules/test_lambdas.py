"""lambda and multiplicative against torch's LambdaLR / MultiplicativeLR; the expression whitelist."""

import math

import pytest
import torch

from curves import CLOCKS, node, ours, reference

from lrframe.config.errors import ConfigError
from lrframe.schedules.lambdas import expression, multiplicative

lr_scheduler = torch.optim.lr_scheduler
CALLS = []


def halving_every_three(epoch):
    """A user's own lr_lambda, named by its dotted path."""
    CALLS.append(epoch)
    return 0.5 ** (epoch // 3)


LAMBDAS = [  # (lr_lambda in the config, the same function written in Python for torch)
    ("0.95 ** epoch", lambda epoch: 0.95 ** epoch),
    ("1 / (1 + 0.3 * epoch)", lambda epoch: 1 / (1 + 0.3 * epoch)),
    ("0.5 * (1 + cos(pi * epoch / 20)) + -0.01 * (epoch % 4)",
     lambda epoch: 0.5 * (1 + math.cos(math.pi * epoch / 20)) + -0.01 * (epoch % 4)),
    ("max(0.1, exp(-epoch / 5)) * sqrt(1 + floor(epoch) // 2)",
     lambda epoch: max(0.1, math.exp(-epoch / 5)) * math.sqrt(1 + math.floor(epoch) // 2)),
    (f"{__name__}.halving_every_three", halving_every_three),
]


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("text, function", LAMBDAS)
def test_lambda_equals_torch_lambda_lr(unit, interval, text, function):
    expected, _ = reference(lambda opt: lr_scheduler.LambdaLR(opt, lr_lambda=function), unit, interval)
    assert ours(node("lambda", unit, interval, lr_lambda=text))[0] == pytest.approx(expected, rel=1e-6)


MULTIPLIERS = [
    ("0.9", lambda epoch: 0.9),
    ("1 - 0.01 * epoch", lambda epoch: 1 - 0.01 * epoch),
    ("0.99 ** epoch", lambda epoch: 0.99 ** epoch),
    (f"{__name__}.halving_every_three", halving_every_three),
]


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("text, function", MULTIPLIERS)
def test_multiplicative_equals_torch_multiplicative_lr(unit, interval, text, function):
    # a running product changes at whole units of its clock, so the smooth clock is torch stepped per epoch
    stepping = ("epoch", "epoch") if (unit, interval) == ("epoch", "step") else (unit, interval)
    expected, _ = reference(lambda opt: lr_scheduler.MultiplicativeLR(opt, lr_lambda=function), *stepping)
    assert ours(node("multiplicative", unit, interval, lr_lambda=text))[0] == pytest.approx(expected, rel=1e-6)


def test_multiplicative_caches_its_running_product():
    schedule = multiplicative(lr_lambda=f"{__name__}.halving_every_three")
    CALLS.clear()
    for t in range(0, 100_001, 8):
        schedule(t)
    schedule(50_000)
    assert sorted(CALLS) == list(range(1, 100_001))  # one call per new unit of time, never recomputed


@pytest.mark.parametrize("text, complaint", [
    ("__import__('os').system('true')", ".system('true')\" is not allowed"),
    ("epoch.real", "no importable module"),
    ("lambda epoch: 0.9", "expected an arithmetic expression in epoch"),
    ("0.9 if epoch < 3 else 0.1", "is not allowed"),
    ("x ** 2", "'x' is not allowed"),
    ("exp(epoch=1)", "is not allowed"),
    ("True * epoch", "'True' is not allowed"),
    ("'a' * 3", "is not allowed"),
    ("epoch[0]", "is not allowed"),
    ("0.9 **", "expected an arithmetic expression"),
    ("log(epoch)", "fails at epoch=0: math domain error"),
    ("1 / epoch", "fails at epoch=0: float division by zero"),
    ("os.path.sep", "expected a callable"),
    ("lrframe.nothing_here", "lrframe has no attribute nothing_here"),
    ("", "expected an arithmetic expression"),
])
def test_anything_but_arithmetic_is_a_one_line_config_error(text, complaint):
    with pytest.raises(ConfigError) as error:
        ours(node("lambda", "step", "epoch", lr_lambda=text))
    message = str(error.value)
    assert message.startswith("scheduler.lr_lambda=") and complaint in message and "\n" not in message


def test_powers_run_on_floats_so_a_huge_exponent_overflows_instead_of_hanging():
    with pytest.raises(OverflowError):
        expression("lr_lambda", "9 ** 9 ** 9", "epoch")(0)
