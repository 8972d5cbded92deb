"""cosine against torch's CosineAnnealingLR; cosine_restarts against CosineAnnealingWarmRestarts."""

import pytest
import torch

from curves import CLOCKS, SPE, TOTAL, in_unit, node, ours, reference

from lrframe.config.errors import ConfigError

lr_scheduler = torch.optim.lr_scheduler


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("T_max, eta_min", [(10, 0.0), (None, 0.001), (25, 0.05)])
def test_cosine_equals_torch_cosine_annealing_lr(unit, interval, T_max, eta_min):
    length = TOTAL if unit == "step" else TOTAL / SPE  # null: to the end of the run
    t_max = length if T_max is None else in_unit(T_max, unit)
    expected, _ = reference(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min), unit, interval)
    got = ours(node("cosine", unit, interval, T_max=T_max if T_max is None else t_max, eta_min=eta_min))[0]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_cosine_shorter_than_the_run_is_a_config_error_pointing_at_null():
    with pytest.raises(ConfigError, match=r"^scheduler.T_max=5: shorter than the run \(66 steps after warmup\)"):
        ours(node("cosine", "step", "step", T_max=5, eta_min=0.0))


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("T_0, T_mult, eta_min", [(2, 1, 0.0), (1, 2, 0.001), (3, 1, 0.02), (1, 3, 0.0)])
def test_cosine_restarts_equals_torch_cosine_annealing_warm_restarts(unit, interval, T_0, T_mult, eta_min):
    t_0 = round(in_unit(T_0, unit))
    make = lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=t_0, T_mult=T_mult, eta_min=eta_min)  # noqa: E731
    expected, _ = reference(make, unit, interval)
    got = ours(node("cosine_restarts", unit, interval, T_0=t_0, T_mult=T_mult, eta_min=eta_min))[0]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)
