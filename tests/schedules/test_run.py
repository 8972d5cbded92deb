"""The run's schedule: warmup joined to every kind of main schedule, on every clock."""

import math

import pytest

from torch.optim import lr_scheduler

from curves import LR, SPE, TOTAL, node, ours, reference

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
W = 10  # the warmup's steps in test_warmup_edges_on_every_kind_of_schedule
#: torch's class for each of MAINS, over the rest of the run after a warmup of W steps (no metric is
#: fed to ReduceLROnPlateau, so it holds the lr)
TORCH = {
    "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=TOTAL - W, eta_min=0.0),
    "step": lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "cyclic": lambda opt: lr_scheduler.CyclicLR(opt, base_lr=LR / 4, max_lr=LR, step_size_up=1, mode="triangular",
                                                cycle_momentum=True, base_momentum=0.8, max_momentum=0.9),
    "onecycle": lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=TOTAL - W, pct_start=0.3,
                                                    anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                                                    max_momentum=0.95, div_factor=25.0, final_div_factor=1e4),
    "plateau": lambda opt: lr_scheduler.ReduceLROnPlateau(opt),
}


@pytest.mark.parametrize("main", MAINS, ids=lambda n: n["name"])
@pytest.mark.parametrize("shape, start_factor", [("linear", 0.0), ("linear", 0.2), ("exponential", 0.01),
                                                 ("constant", 0.1)])
def test_warmup_edges_on_every_kind_of_schedule(main, shape, start_factor):
    warmed, warmed_momentum = ours(main, warmup={"name": shape, "steps": W, "start_factor": start_factor})
    # the main schedule from its own beginning at step W, as torch's class computes it
    if main["name"] == "plateau":
        torch_lrs, torch_momenta = [LR] * (TOTAL - W), None
    else:
        torch_lrs, torch_momenta = reference(TORCH[main["name"]], main["unit"], main["interval"], total=TOTAL - W)
    first = torch_lrs[0]
    warmup = {"linear": lambda s: start_factor + (1 - start_factor) * s / W,  # the shapes' formulas
              "exponential": lambda s: start_factor ** (1 - s / W), "constant": lambda s: start_factor}[shape]
    assert warmed[:W] == pytest.approx([warmup(s) * first for s in range(W)], rel=1e-6, abs=1e-15)
    assert warmed[0] == pytest.approx(start_factor * first, rel=1e-6)                  # step 0
    assert warmed[W:] == pytest.approx(torch_lrs, rel=1e-6, abs=1e-15)                # step W on: the main one
    if main.get("cycle_momentum"):  # momentum holds the main schedule's first value during warmup
        assert warmed_momentum == pytest.approx([torch_momenta[0]] * W + torch_momenta, rel=1e-6)


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
