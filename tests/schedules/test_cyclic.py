"""cyclic and onecycle against torch's CyclicLR and OneCycleLR, momentum (SGD) and beta1 (Adam) included."""

import pytest
import torch

from curves import CLOCKS, LR, TOTAL, in_unit, node, ours, reference

from lrframe.config.errors import ConfigError

lr_scheduler = torch.optim.lr_scheduler
MOMENTA = dict(cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)


def check(got, expected):
    (lrs, momenta), (torch_lrs, torch_momenta) = got, expected
    assert lrs == pytest.approx(torch_lrs, rel=1e-6)
    assert momenta == pytest.approx(torch_momenta, rel=1e-6)


CYCLIC = [  # (our arguments, torch's arguments) beyond the shared ones
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=None, mode="triangular"),
     dict(base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=None, mode="triangular")),
    (dict(base_lr=None, max_lr=None, step_size_up=1.5, step_size_down=3, mode="triangular2"),  # null: LR / 4, LR
     dict(base_lr=LR / 4, max_lr=LR, step_size_up=1.5, step_size_down=3, mode="triangular2")),
    (dict(base_lr=0.02, max_lr=0.5, step_size_up=2, step_size_down=1, mode="exp_range", gamma=0.97),
     dict(base_lr=0.02, max_lr=0.5, step_size_up=2, step_size_down=1, mode="exp_range", gamma=0.97)),
    (dict(base_lr=0.01, max_lr=0.2, step_size_up=1, step_size_down=None, scale_fn="1 / (1 + x)", scale_mode="iterations"),
     dict(base_lr=0.01, max_lr=0.2, step_size_up=1, step_size_down=None, scale_fn=lambda x: 1 / (1 + x),
          scale_mode="iterations")),
]


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("ours_args, torch_args", CYCLIC)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_cyclic_and_its_momentum_equal_torch_cyclic_lr(unit, interval, ours_args, torch_args, kind):
    sizes = {key: in_unit(ours_args[key], unit) for key in ("step_size_up", "step_size_down") if ours_args[key]}
    arguments = {"gamma": 1.0, "scale_fn": None, "scale_mode": "cycle", "mode": "triangular", **MOMENTA,
                 **ours_args, **sizes}
    make = lambda opt: lr_scheduler.CyclicLR(opt, **{**MOMENTA, **torch_args, **sizes})  # noqa: E731
    check(ours(node("cyclic", unit, interval, **arguments)), reference(make, unit, interval, kind=kind))


ONECYCLE = [
    dict(total_steps=10, pct_start=0.3, anneal_strategy="cos", three_phase=False, max_lr=None,
         div_factor=25.0, final_div_factor=1e4),
    dict(total_steps=12, pct_start=0.25, anneal_strategy="linear", three_phase=True, max_lr=0.5,
         div_factor=10.0, final_div_factor=100.0),
    dict(total_steps=10, pct_start=0.45, anneal_strategy="cos", three_phase=True, max_lr=0.05,
         div_factor=5.0, final_div_factor=1e3),
]


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("arguments", ONECYCLE)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_onecycle_and_its_momentum_equal_torch_one_cycle_lr(unit, interval, arguments, kind):
    total = round(in_unit(arguments["total_steps"], unit))
    momenta = dict(cycle_momentum=True, base_momentum=0.85, max_momentum=0.95)
    torch_args = {**arguments, **momenta, "total_steps": total, "max_lr": arguments["max_lr"] or LR}
    expected = reference(lambda opt: lr_scheduler.OneCycleLR(opt, **torch_args), unit, interval, kind=kind)
    check(ours(node("onecycle", unit, interval, **{**arguments, **momenta, "total_steps": total})), expected)


def test_onecycle_with_null_total_steps_ends_with_the_run_and_without_momentum_when_not_cycled():
    arguments = {**ONECYCLE[0], "total_steps": None, "cycle_momentum": False, "base_momentum": 0.85,
                 "max_momentum": 0.95}
    lrs, momenta = ours(node("onecycle", "step", "step", **arguments))
    torch_args = {**ONECYCLE[0], "total_steps": TOTAL, "max_lr": LR, "cycle_momentum": False}
    assert lrs == pytest.approx(reference(lambda opt: lr_scheduler.OneCycleLR(opt, **torch_args), "step", "step")[0])
    assert momenta is None


def test_onecycle_with_an_empty_phase_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^scheduler.pct_start=0.01: gives an empty phase"):
        ours(node("onecycle", "step", "step", **{**ONECYCLE[0], "pct_start": 0.01, "total_steps": None, **MOMENTA}))
