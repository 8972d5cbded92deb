"""sequential and chained against torch's SequentialLR and ChainedScheduler over their parts."""

from bisect import bisect_right

import pytest
import torch

from curves import CLOCKS, LR, SPE, TOTAL, closed_form, in_unit, node, ours, reference

from lrframe.config.errors import ConfigError

lr_scheduler = torch.optim.lr_scheduler


def parts(unit):
    """(our part configs, torch part constructors) of each case, durations in ``unit``."""
    d = lambda epochs: round(in_unit(epochs, unit))  # noqa: E731
    length = TOTAL if unit == "step" else TOTAL / SPE
    return [
        ([{"name": "constant", "factor": 0.1, "total_iters": 2}, {"name": "exponential", "gamma": 0.9}],
         [lambda o: lr_scheduler.ConstantLR(o, factor=0.1, total_iters=2),
          lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9)], [d(2)]),
        ([{"name": "linear", "start_factor": 0.1, "end_factor": 1.0, "total_iters": d(3)},
          {"name": "cosine", "T_max": None, "eta_min": 0.001}],
         [lambda o: lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=d(3)),
          lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=length - d(3), eta_min=0.001)], [d(3)]),
        ([{"name": "multistep", "milestones": [d(2)], "gamma": 0.5}, {"name": "step", "step_size": d(1), "gamma": 0.8},
          {"name": "constant", "factor": 0.5, "total_iters": None}],
         [lambda o: lr_scheduler.MultiStepLR(o, milestones=[d(2)], gamma=0.5),
          lambda o: lr_scheduler.StepLR(o, step_size=d(1), gamma=0.8),
          lambda o: lr_scheduler.ConstantLR(o, factor=0.5, total_iters=TOTAL)], [d(3), d(6)]),
    ]


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("case", [0, 1, 2])
def test_sequential_equals_torch_sequential_lr(unit, interval, case):
    configs, makers, milestones = parts(unit)[case]
    got = ours(node("sequential", unit, interval, schedulers=configs, milestones=milestones))[0]
    if (unit, interval) == ("epoch", "step"):
        # torch's SequentialLR only steps; at fractional epochs: the part of t, at t - its milestone
        starts = [0, *milestones]
        expected = []
        for s in range(TOTAL):
            t = s / SPE
            i = bisect_right(milestones, t)
            expected += closed_form(makers[i], [t - starts[i]])[0]
    else:
        make = lambda o: lr_scheduler.SequentialLR(o, [m(o) for m in makers], milestones=milestones)  # noqa: E731
        expected, _ = reference(make, unit, interval)
    assert got == pytest.approx(expected, rel=1e-6)


CHAINS = [
    ([{"name": "constant", "factor": 0.1, "total_iters": 2}, {"name": "exponential", "gamma": 0.9}],
     [lambda o, u: lr_scheduler.ConstantLR(o, factor=0.1, total_iters=round(in_unit(2, u))),
      lambda o, u: lr_scheduler.ExponentialLR(o, gamma=0.9 ** (1 / SPE) if u == "step" else 0.9)]),
    ([{"name": "linear", "start_factor": 0.5, "end_factor": 1.0, "total_iters": 4},
      {"name": "step", "step_size": 2, "gamma": 0.5}],
     [lambda o, u: lr_scheduler.LinearLR(o, start_factor=0.5, end_factor=1.0, total_iters=round(in_unit(4, u))),
      lambda o, u: lr_scheduler.StepLR(o, step_size=round(in_unit(2, u)), gamma=0.5)]),
    ([{"name": "cosine", "T_max": 10, "eta_min": 0.0}, {"name": "multistep", "milestones": [3, 6], "gamma": 0.5}],
     [lambda o, u: lr_scheduler.CosineAnnealingLR(o, T_max=in_unit(10, u)),
      lambda o, u: lr_scheduler.MultiStepLR(o, milestones=[round(in_unit(3, u)), round(in_unit(6, u))], gamma=0.5)]),
]


def in_units(config, unit):
    """A part's durations (written in epochs above) in ``unit``; exponential's rate per step."""
    durations = {k: round(in_unit(v, unit)) if k != "T_max" else in_unit(v, unit)
                 for k, v in config.items() if k in ("total_iters", "step_size", "T_max")}
    if "milestones" in config:
        durations["milestones"] = [round(in_unit(m, unit)) for m in config["milestones"]]
    if config["name"] == "exponential" and unit == "step":
        durations["gamma"] = config["gamma"] ** (1 / SPE)
    return {**config, **durations}


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("configs, makers", CHAINS)
def test_chained_equals_torch_chained_scheduler(unit, interval, configs, makers):
    got = ours(node("chained", unit, interval, schedulers=[in_units(c, unit) for c in configs]))[0]
    if (unit, interval) == ("epoch", "step"):
        # ChainedScheduler only steps; at fractional epochs: the product of its parts' closed forms
        times = [s / SPE for s in range(TOTAL)]
        curves = [closed_form(lambda o, m=m: m(o, unit), times)[0] for m in makers]
        expected = [LR * (a / LR) * (b / LR) for a, b in zip(*curves)]
    else:
        make = lambda o: lr_scheduler.ChainedScheduler([m(o, unit) for m in makers], optimizer=o)  # noqa: E731
        expected, _ = reference(make, unit, interval)
    assert got == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("scheduler, message", [
    (dict(name="sequential", schedulers=[{"name": "constant", "factor": 0.1, "total_iters": 2},
                                         {"name": "exponential"}], milestones=[2]),
     "scheduler.schedulers.1.gamma=null: missing; scheduler=exponential needs it"),
    (dict(name="sequential", schedulers=[{"name": "exponential", "gamma": -1}, 3], milestones=[2]),
     "scheduler.schedulers.0.gamma=-1: expected a number > 0"),
    (dict(name="chained", schedulers=[{"name": "exponential", "gamma": 0.9}, 3]),
     "scheduler.schedulers.1=3: expected a scheduler config"),
    (dict(name="chained", schedulers=[{"name": "expo", "gamma": 0.9}]),
     "scheduler.schedulers.0.name=expo: expected one of lambda,"),
    (dict(name="chained", schedulers=[{"name": "exponential", "gamma": 0.9, "interval": "step"}]),
     "scheduler.schedulers.0.interval=step: unknown key for scheduler=exponential; allowed: name, gamma"),
    (dict(name="chained", schedulers="exponential"), "scheduler.schedulers=exponential: expected a list"),
    (dict(name="sequential", schedulers=[{"name": "none"}, {"name": "none"}], milestones=[2, 4]),
     "scheduler.milestones=[2,4]: expected 1 milestones, one fewer than schedulers"),
    (dict(name="sequential", schedulers=[{"name": "none"}, {"name": "none"}], milestones=[66]),
     "scheduler.milestones=[66]: expected milestones inside the run (66 steps after warmup)"),
    (dict(name="chained", schedulers=[{"name": "plateau", "monitor": "val/loss", "mode": "min", "factor": 0.1,
                                       "patience": 1, "threshold": 0.0, "threshold_mode": "rel", "cooldown": 0,
                                       "min_lr": 0.0, "eps": 0.0}]),
     "scheduler.schedulers.0.name=plateau: depends on a metric"),
    (dict(name="sequential", schedulers=[{"name": "cosine", "T_max": 10, "eta_min": 0.0}, {"name": "none"}],
          milestones=[30]),
     "scheduler.schedulers.0.T_max=10: shorter than its part of the run (30 steps)"),
])
def test_errors_in_parts_name_the_part(scheduler, message):
    with pytest.raises(ConfigError) as error:
        ours({"interval": "step", **scheduler})
    assert str(error.value).startswith(message)
