"""constant against torch's ConstantLR; none is the optimizer's lr throughout."""

import pytest
import torch

from curves import CLOCKS, LR, TOTAL, in_unit, node, ours, reference


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("factor, total_iters", [(1 / 3, 5), (0.5, 1), (0.05, 2), (1.0, 3)])
def test_constant_equals_torch_constant_lr(unit, interval, factor, total_iters):
    iters = round(in_unit(total_iters, unit))
    expected, _ = reference(lambda opt: torch.optim.lr_scheduler.ConstantLR(opt, factor=factor, total_iters=iters),
                            unit, interval)
    got = ours(node("constant", unit, interval, factor=factor, total_iters=iters))[0]
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_constant_with_null_total_iters_holds_the_factor_to_the_end():
    assert ours(node("constant", "step", "step", factor=0.25, total_iters=None))[0] == pytest.approx([LR / 4] * TOTAL)


def test_none_is_the_optimizer_lr_at_every_step():
    assert ours({"name": "none", "interval": "step"})[0] == [LR] * TOTAL
