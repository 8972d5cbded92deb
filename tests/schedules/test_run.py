"""The run's schedule: warmup joined to every kind of main schedule, on every clock."""

import math

import pytest

from curves import LR, SPE, TOTAL, node, ours

from lrframe.schedules import Clock, run_schedule


def transformers_cosine_with_warmup(step, num_warmup_steps, num_training_steps, num_cycles=0.5):
    """transformers.optimization._get_cosine_schedule_with_warmup_lr_lambda (get_cosine_schedule_with_warmup)."""
    if step < num_warmup_steps:
        return float(step) / float(max(1, num_warmup_steps))
    progress = float(step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


@pytest.mark.parametrize("warmup_steps, total", [(1, 66), (10, 66), (23, 460), (100, 1000)])
def test_linear_warmup_plus_cosine_equals_transformers_cosine_schedule_with_warmup(warmup_steps, total):
    lrs = ours(node("cosine", "step", "step", T_max=None, eta_min=0.0), total=total,
               warmup={"name": "linear", "steps": warmup_steps, "start_factor": 0.0})[0]
    expected = [LR * transformers_cosine_with_warmup(s, warmup_steps, total) for s in range(total)]
    assert lrs == pytest.approx(expected, rel=1e-6, abs=1e-15)


MAINS = [  # every kind of main schedule: decaying, per epoch, cyclic with momentum, history-dependent
    node("cosine", "step", "step", T_max=None, eta_min=0.0),
    node("step", "epoch", "epoch", step_size=2, gamma=0.5),
    node("cyclic", "epoch", "step", base_lr=None, max_lr=None, step_size_up=1, step_size_down=None,
         mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True,
         base_momentum=0.8, max_momentum=0.9),
    node("onecycle", "step", "step", max_lr=None, total_steps=None, pct_start=0.3, anneal_strategy="cos",
         cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.0, final_div_factor=1e4,
         three_phase=False),
    node("plateau", "step", "epoch", monitor="val/loss", mode="min", factor=0.1, patience=10, threshold=1e-4,
         threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8),
]


@pytest.mark.parametrize("main", MAINS, ids=lambda n: n["name"])
@pytest.mark.parametrize("shape, start_factor", [("linear", 0.0), ("linear", 0.2), ("exponential", 0.01),
                                                 ("constant", 0.1)])
def test_warmup_edges_on_every_kind_of_schedule(main, shape, start_factor):
    W = 10
    warmed, warmed_momentum = ours(main, warmup={"name": shape, "steps": W, "start_factor": start_factor})
    plain, plain_momentum = ours(main, total=TOTAL - W)  # the main schedule alone over the rest of the run
    first = plain[0]
    assert warmed[0] == pytest.approx(start_factor * first, rel=1e-6)                  # step 0
    ramp = {"linear": start_factor + (1 - start_factor) * (W - 1) / W,
            "exponential": start_factor ** (1 / W), "constant": start_factor}[shape]
    assert warmed[W - 1] == pytest.approx(ramp * first, rel=1e-6)                      # step W-1
    assert warmed[W] == pytest.approx(first, rel=1e-6)                                 # step W: its own beginning
    assert warmed[W:] == pytest.approx(plain, rel=1e-6)                                # ... through the last step
    if plain_momentum is not None:  # momentum holds the main schedule's first value during warmup
        assert warmed_momentum == pytest.approx([plain_momentum[0]] * W + plain_momentum, rel=1e-6)


def test_warmup_runs_per_optimizer_step_while_the_main_schedule_steps_per_epoch():
    # 7 steps an epoch, a 10-step warmup: the epochs of the step schedule count from the end of warmup
    lrs = ours(node("step", "epoch", "epoch", step_size=1, gamma=0.5),
               warmup={"name": "linear", "steps": 10, "start_factor": 0.0})[0]
    assert lrs[:10] == pytest.approx([LR * s / 10 for s in range(10)])
    assert lrs[10:] == pytest.approx([LR * 0.5 ** ((s - 10) // SPE) for s in range(10, TOTAL)])


def test_state_of_a_closed_form_run_schedule_is_empty_and_of_plateau_is_plain():
    clock = Clock(SPE, TOTAL)
    assert run_schedule(MAINS[0], {"name": "none"}, clock, LR).state_dict() == {}
    state = run_schedule(MAINS[-1], {"name": "none"}, clock, LR).state_dict()
    assert state == {"factor_now": 1.0, "best": math.inf, "num_bad_epochs": 0, "cooldown_counter": 0}
