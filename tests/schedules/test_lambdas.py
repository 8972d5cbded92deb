"""lambda and multiplicative against torch's LambdaLR / MultiplicativeLR; the expression whitelist."""

import math
import os
import sys

import pytest
import torch

from curves import CLOCKS, NO_WARMUP, node, ours, reference

from lrframe.config.errors import ConfigError
from lrframe.schedules import run_schedule
from lrframe.schedules.clock import Clock
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
    ("log(epoch)", "fails at epoch=0: ValueError: math domain error"),
    ("1 / epoch", "fails at epoch=0: ZeroDivisionError: float division by zero"),
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


def test_nesting_deeper_than_the_limit_is_a_one_line_config_error_not_a_recursion_error():
    for text in ("+".join(["1"] * 3000), "-" * 3000 + "1", "1" + "*epoch" * 150):
        with pytest.raises(ConfigError, match="nested more than 100 deep") as error:
            ours(node("lambda", "step", "epoch", lr_lambda=text))
        assert len(str(error.value)) < 400  # the value is shortened to its start and its length


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of the user's on the path that leaves a file behind when it is imported."""
    marker = tmp_path / "imported"
    (tmp_path / "adversarial_user_schedules.py").write_text(
        "import pathlib, sys\n"
        f"pathlib.Path({str(marker)!r}).touch()\n"
        "def halving(epoch):\n    return 0.5 ** epoch\n"
        "def exits(epoch):\n    sys.exit(0)\n")
    (tmp_path / "adversarial_exits_on_import.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    for name in ("adversarial_user_schedules", "adversarial_exits_on_import"):
        sys.modules.pop(name, None)


def test_validation_neither_imports_nor_calls_a_dotted_path_building_the_schedule_does(user_module):
    from conftest import make_plan

    plan = make_plan("scheduler=lambda", "warmup=none", "scheduler.lr_lambda=adversarial_user_schedules.halving")
    assert not user_module.exists() and "adversarial_user_schedules" not in sys.modules
    schedule = plan.schedule()  # built to run: imported now, and it is the user's function
    assert user_module.exists()
    assert [schedule(s * plan.clock.steps_per_epoch) for s in range(3)] == [1.0, 0.5, 0.25]


def test_a_dotted_path_to_a_module_that_does_not_exist_is_refused_by_validation(user_module):
    from conftest import make_plan

    with pytest.raises(ConfigError, match="no module named adversarial_nowhere"):
        make_plan("scheduler=lambda", "scheduler.lr_lambda=adversarial_nowhere.f")


@pytest.mark.parametrize("path, complaint", [
    ("sys.exit", "is a builtin_function_or_method, not a function written in Python"),
    ("os._exit", "is a builtin_function_or_method, not a function written in Python"),
    ("os.umask", "is a builtin_function_or_method, not a function written in Python"),
    ("os.system", "refused by Hydra's target policy"),
    ("shutil.rmtree", "refused by Hydra's target policy"),
    ("adversarial_user_schedules.exits", "fails at epoch=0: SystemExit: 0"),
    ("adversarial_exits_on_import.f", "importing adversarial_exits_on_import fails: SystemExit: 3"),
])
def test_user_code_that_exits_or_is_not_a_schedule_is_a_one_line_error_when_built(user_module, path, complaint):
    umask = os.umask(0o022)
    os.umask(umask)
    with pytest.raises(ConfigError) as error:
        ours(node("lambda", "step", "epoch", lr_lambda=path))
    message = str(error.value)
    assert message.startswith(f"scheduler.lr_lambda={path}: ") and complaint in message and "\n" not in message
    assert os.umask(umask) == umask  # os.umask was never called


def test_a_user_function_failing_later_in_training_is_a_one_line_error_naming_the_time():
    schedule = run_schedule(node("lambda", "epoch", "epoch", lr_lambda="1 / (3 - epoch)"), NO_WARMUP,
                            Clock(10, 100), 1.0)
    assert schedule(0) == pytest.approx(1 / 3)
    with pytest.raises(ConfigError, match=r"fails at epoch=3: ZeroDivisionError"):
        schedule(30)
