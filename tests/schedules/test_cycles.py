"""timm's cycle family against timm's _get_lr, written out: cosine_restarts (CosineLRScheduler) with
cycle_decay, cycle_limit and k_decay; cosine with k_decay; poly (PolyLRScheduler); tanh (TanhLRScheduler)."""

import math

import pytest

from curves import CLOCKS, LR, SPE, TOTAL, in_unit, node, ours, schedule_time

from lrframe.config.errors import ConfigError

NO_NOISE = dict(noise_range_t=None, noise_type="normal", noise_pct=0.67, noise_std=1.0, noise_seed=42)


def timm_lr(t, *, base_lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, shape,
            warmup_t=0, warmup_lr_init=0.0):
    """timm.scheduler's _get_lr of CosineLRScheduler / PolyLRScheduler / TanhLRScheduler (warmup_prefix=True).

    ``shape(t_curr, t_i)`` is the family's: cosine 0.5 * (1 + cos(pi t_curr^k / t_i^k)),
    poly (1 - t_curr^k / t_i^k)^power, tanh 0.5 * (1 - tanh(lb (1 - r) + ub r)).
    """
    if t < warmup_t:
        return warmup_lr_init + t * (base_lr - warmup_lr_init) / warmup_t
    t = t - warmup_t
    if cycle_mul != 1:
        i = math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))
        t_i = cycle_mul ** i * t_initial
        t_curr = t - (1 - cycle_mul ** i) / (1 - cycle_mul) * t_initial
    else:
        i = t // t_initial
        t_i = t_initial
        t_curr = t - t_initial * i
    if i >= cycle_limit:
        return lr_min
    lr_max = base_lr * cycle_decay ** i
    return lr_min + (lr_max - lr_min) * shape(t_curr, t_i)


def timm_cosine(k):
    return lambda t_curr, t_i: 0.5 * (1 + math.cos(math.pi * t_curr ** k / t_i ** k))


def timm_poly(k, power):
    return lambda t_curr, t_i: (1 - t_curr ** k / t_i ** k) ** power


def timm_tanh(lb, ub):
    return lambda t_curr, t_i: 0.5 * (1 - math.tanh(lb * (1.0 - t_curr / t_i) + ub * t_curr / t_i))


CYCLES = [  # t_initial (epochs), lr_min, cycle_mul, cycle_decay, cycle_limit (None: no limit), k_decay
    (2, 0.0, 1.0, 0.5, None, 1.0),
    (1, 0.001, 2.0, 0.7, None, 2.0),
    (3, 0.01, 1.0, 1.0, 2, 0.5),
    (1, 0.0, 3.0, 0.5, 2, 1.0),
    (1.5, 0.005, 1.5, 0.8, 3, 1.5),
]


def expected(shape, unit, interval, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit):
    return [timm_lr(schedule_time(s, unit, interval), base_lr=LR, t_initial=t_initial, lr_min=lr_min,
                    cycle_mul=cycle_mul, cycle_decay=cycle_decay, shape=shape,
                    cycle_limit=math.inf if cycle_limit is None else cycle_limit) for s in range(TOTAL)]


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay", CYCLES)
def test_cosine_restarts_equals_timm_cosine_lr_scheduler(unit, interval, t_initial, lr_min, cycle_mul, cycle_decay,
                                                         cycle_limit, k_decay):
    length = in_unit(t_initial, unit)
    got = ours(node("cosine_restarts", unit, interval, T_0=length, T_mult=cycle_mul, eta_min=lr_min,
                    cycle_decay=cycle_decay, cycle_limit=cycle_limit, k_decay=k_decay, **NO_NOISE))[0]
    assert got == pytest.approx(expected(timm_cosine(k_decay), unit, interval, length, lr_min, cycle_mul, cycle_decay,
                                         cycle_limit), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay", CYCLES)
@pytest.mark.parametrize("power", [0.5, 2.0])
def test_poly_equals_timm_poly_lr_scheduler(unit, interval, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit,
                                            k_decay, power):
    length = in_unit(t_initial, unit)
    got = ours(node("poly", unit, interval, t_initial=length, power=power, lr_min=lr_min, cycle_mul=cycle_mul,
                    cycle_decay=cycle_decay, cycle_limit=cycle_limit, k_decay=k_decay, **NO_NOISE))[0]
    assert got == pytest.approx(expected(timm_poly(k_decay, power), unit, interval, length, lr_min, cycle_mul,
                                         cycle_decay, cycle_limit), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, _", CYCLES)
@pytest.mark.parametrize("lb, ub", [(-7.0, 3.0), (-3.0, 5.0)])
def test_tanh_equals_timm_tanh_lr_scheduler(unit, interval, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit,
                                            _, lb, ub):
    length = in_unit(t_initial, unit)
    got = ours(node("tanh", unit, interval, t_initial=length, lb=lb, ub=ub, lr_min=lr_min, cycle_mul=cycle_mul,
                    cycle_decay=cycle_decay, cycle_limit=cycle_limit, **NO_NOISE))[0]
    assert got == pytest.approx(expected(timm_tanh(lb, ub), unit, interval, length, lr_min, cycle_mul, cycle_decay,
                                         cycle_limit), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("unit, interval", CLOCKS)
@pytest.mark.parametrize("k_decay", [0.5, 1.0, 3.0])
def test_cosine_with_k_decay_equals_timm_cosine_of_one_cycle(unit, interval, k_decay):
    # timm's default cycle_limit is 1: one cosine over t_initial, which torch's T_max is
    length = TOTAL if unit == "step" else TOTAL / SPE
    got = ours(node("cosine", unit, interval, T_max=None, eta_min=0.002, k_decay=k_decay))[0]
    assert got == pytest.approx(expected(timm_cosine(k_decay), unit, interval, length, 0.002, 1.0, 1.0, 1),
                                rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name", ["cosine_restarts", "poly", "tanh"])
def test_a_linear_warmup_then_a_cycle_schedule_equals_timm_with_warmup_prefix(name):
    # timm's warmup_t, warmup_lr_init and warmup_prefix=True are lrframe's warmup group
    W, warmup_lr_init = 9, 0.004
    keys = {"cosine_restarts": dict(T_0=20, T_mult=1.0, eta_min=0.001, k_decay=1.0),
            "poly": dict(t_initial=20, power=0.5, lr_min=0.001, cycle_mul=1.0, k_decay=1.0),
            "tanh": dict(t_initial=20, lb=-7.0, ub=3.0, lr_min=0.001, cycle_mul=1.0)}[name]
    shape = {"cosine_restarts": timm_cosine(1.0), "poly": timm_poly(1.0, 0.5), "tanh": timm_tanh(-7.0, 3.0)}[name]
    got = ours(node(name, "step", "step", cycle_decay=0.5, cycle_limit=2, **keys, **NO_NOISE),
               warmup={"name": "linear", "steps": W, "start_factor": warmup_lr_init / LR})[0]
    want = [timm_lr(s, base_lr=LR, t_initial=20, lr_min=0.001, cycle_mul=1.0, cycle_decay=0.5, cycle_limit=2,
                    shape=shape, warmup_t=W, warmup_lr_init=warmup_lr_init) for s in range(TOTAL)]
    if name == "tanh":  # the warmup ramps to where the schedule starts: tanh's (1 - tanh(-7)) / 2 * lr
        want[:W] = [w * shape(0, 1) for w in want[:W]]
    assert got == pytest.approx(want, rel=1e-6, abs=1e-12)


def test_cosine_restarts_without_the_timm_keys_is_torch_s_as_before():
    # a node written before the keys existed (a part of sequential): no decay, no limit, no k, no noise
    got = ours(node("cosine_restarts", "step", "step", T_0=10, T_mult=2, eta_min=0.0))[0]
    assert got == pytest.approx(expected(timm_cosine(1.0), "step", "step", 10, 0.0, 2, 1.0, None), rel=1e-9)


@pytest.mark.parametrize("name, keys, message", [
    ("cosine_restarts", dict(T_0=5, T_mult=0.5, eta_min=0.0), "scheduler.T_mult=0.5: expected a number >= 1"),
    ("cosine_restarts", dict(T_0=5, T_mult=1, eta_min=0.0, cycle_limit=0), "scheduler.cycle_limit=0: expected an integer >= 1"),
    ("cosine_restarts", dict(T_0=5, T_mult=1, eta_min=0.0, cycle_decay=0), "scheduler.cycle_decay=0: expected a number > 0"),
    ("cosine_restarts", dict(T_0=5, T_mult=1, eta_min=0.0, k_decay=-1), "scheduler.k_decay=-1: expected a number > 0"),
    ("poly", dict(t_initial=0, power=1.0, lr_min=0.0, cycle_mul=1.0, cycle_decay=1.0, cycle_limit=1, k_decay=1.0,
                  **NO_NOISE), "scheduler.t_initial=0: expected a number > 0"),
    ("tanh", dict(t_initial=None, lb=3.0, ub=-7.0, lr_min=0.0, cycle_mul=1.0, cycle_decay=1.0, cycle_limit=1,
                  **NO_NOISE), "scheduler.ub=-7.0: expected a number > lb (3)"),
    ("tanh", dict(t_initial=None, lb=-7.0, ub=3.0, lr_min=0.2, cycle_mul=1.0, cycle_decay=1.0, cycle_limit=1,
                  **NO_NOISE), "scheduler.lr_min=0.2: expected a number >= 0 and < 0.1"),
])
def test_bad_cycle_keys_are_one_line_errors(name, keys, message):
    with pytest.raises(ConfigError) as error:
        ours(node(name, "step", "step", **keys))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
