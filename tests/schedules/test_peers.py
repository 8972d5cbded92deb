"""A key of timm's, transformers', Paddle's or torch's on a schedule that does not take it: one line that names
the key, its value, whose key it is, where it belongs and what this schedule takes; no traceback."""

import pytest

from conftest import make_plan, train_cli

from lrframe.config.errors import ConfigError


@pytest.mark.parametrize("overrides, message", [
    (("scheduler=step", "+scheduler.cycle_decay=0.5"),
     "scheduler.cycle_decay=0.5: timm's key, not taken by scheduler=step (scheduler=cosine_restarts, poly, tanh "
     "take it); allowed: interval, unit, name, step_size, gamma"),
    (("+scheduler.noise_pct=0.5",),
     "scheduler.noise_pct=0.5: timm's key, not taken by scheduler=cosine (scheduler=cosine_restarts, poly, tanh take it)"),
    (("scheduler=cosine_restarts", "+scheduler.lr_min=0.001"),
     "scheduler.lr_min=0.001: timm's key, which scheduler=cosine_restarts calls eta_min; allowed: interval, unit, name, "
     "T_0, T_mult, eta_min, cycle_decay, cycle_limit, k_decay, noise_range_t"),
    (("scheduler=cosine_restarts", "+scheduler.t_initial=10"),
     "scheduler.t_initial=10: timm's key, which scheduler=cosine_restarts calls T_0"),
    (("scheduler=poly", "+scheduler.eta_min=0.001"), "scheduler.eta_min=0.001: torch's key, which scheduler=poly calls lr_min"),
    (("scheduler=tanh", "+scheduler.k_decay=2"),
     "scheduler.k_decay=2: timm's key, not taken by scheduler=tanh (scheduler=cosine, cosine_restarts, poly take it)"),
    (("+scheduler.warmup_t=5",),
     "scheduler.warmup_t=5: timm's key; here the warmup is its own group: warmup.steps or warmup.epochs"),
    (("scheduler=step", "+scheduler.num_cycles=2"),
     "scheduler.num_cycles=2: transformers' key, not taken by scheduler=step (scheduler=cosine, wsd, "
     "cosine_with_restarts, cosine_with_min_lr, warmup_stable_decay take it)"),
    (("scheduler=polynomial", "+scheduler.lr_end=1e-7"),
     "scheduler.lr_end=1e-07: transformers' key, which scheduler=polynomial calls end_lr"),
    (("scheduler=wsd", "+scheduler.num_decay_steps=50"),
     "scheduler.num_decay_steps=50: transformers' key, not taken by scheduler=wsd (scheduler=warmup_stable_decay takes it)"),
    (("scheduler=cosine_with_min_lr", "+scheduler.eta_min=0.001"),
     "scheduler.eta_min=0.001: torch's key, which scheduler=cosine_with_min_lr calls min_lr"),
    (("+scheduler.num_warmup_steps=100",),
     "scheduler.num_warmup_steps=100: transformers' key; here the warmup is its own group: warmup.steps"),
    (("scheduler=exponential", "+scheduler.end_lr=0.001"),
     "scheduler.end_lr=0.001: Paddle's key, not taken by scheduler=exponential (scheduler=polynomial takes it)"),
    (("warmup=constant", "+warmup.end_lr=0.05"),
     "warmup.end_lr=0.05: Paddle's key, not taken by warmup=constant (warmup=linear, exponential, cosine, 1-sqrt take it)"),
    (("scheduler=step", "+scheduler.step_sise=3"),  # a typo, no one's key: the plain message
     "scheduler.step_sise=3: unknown key for scheduler=step; allowed: interval, unit, name, step_size, gamma"),
])
def test_a_peer_key_on_a_schedule_that_does_not_take_it_is_a_one_line_error(overrides, message):
    with pytest.raises(ConfigError) as error:
        make_plan(*overrides)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_the_command_line_reports_a_peer_key_in_one_line_without_a_traceback():
    # (without the +, Hydra refuses a key the config lacks first: "unknown key; allowed: ...", also one line)
    added = train_cli("scheduler=step", "+scheduler.cycle_decay=0.5", "task=preview")
    assert added.returncode == 1 and added.stdout == ""
    assert added.stderr == ("error: scheduler.cycle_decay=0.5: timm's key, not taken by scheduler=step "
                            "(scheduler=cosine_restarts, poly, tanh take it); allowed: interval, unit, name, "
                            "step_size, gamma\n")
