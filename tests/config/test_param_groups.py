"""optimizer.param_groups and layer_decay: bad input is one line, found before torch is imported."""

import re
import subprocess
import sys

import pytest

from conftest import REPO, make_plan
from lrframe.config.errors import ConfigError

GROUPS = "optimizer.param_groups"


@pytest.mark.parametrize("overrides, message", [
    ([f"{GROUPS}={{nope:{{lr:0.1}}}}"],
     r"^optimizer\.param_groups\.nope=\{lr:0\.1\}: the pattern matches no parameter; parameters: hidden1\.weight"),
    ([f"{GROUPS}={{head:{{scheduler:{{gamma:0.5}}}}}}"],
     r"^optimizer\.param_groups\.head\.scheduler\.gamma=0\.5: unknown key for scheduler=cosine; allowed: interval, "
     r"unit, name, T_max, eta_min, num_cycles, k_decay$"),
    ([f"{GROUPS}={{head:{{scheduler:{{name:step,T_max:3}}}}}}"],
     r"^optimizer\.param_groups\.head\.scheduler\.T_max=3: torch's key, not taken by scheduler=step \(scheduler=cosine "
     r"takes it\)"),
    ([f"{GROUPS}={{head:{{warmup:{{cycle_decay:0.5}}}}}}"],
     r"^optimizer\.param_groups\.head\.warmup\.cycle_decay=0\.5: timm's key"),
    ([f"{GROUPS}={{head:{{scheduler:{{name:bogus}}}}}}"],
     r"^optimizer\.param_groups\.head\.scheduler\.name=bogus: expected one of chained, constant"),
    ([f"{GROUPS}={{head:{{scheduler:{{gamma:0}},foo:1}}}}"],
     r"^optimizer\.param_groups\.head\.foo=1: unknown key for a parameter group; allowed: lr, lr_multiplier, "
     r"weight_decay, scheduler, warmup$"),
    ([f"{GROUPS}={{head:{{lr:0.1,lr_multiplier:2}}}}"],
     r"^optimizer\.param_groups\.head\.lr=0\.1: and optimizer\.param_groups\.head\.lr_multiplier both set"),
    (["optimizer.lr_multipliers={head:10}", f"{GROUPS}={{head:{{lr_multiplier:2}}}}"],
     r"^optimizer\.param_groups\.head\.lr_multiplier=2: optimizer\.lr_multipliers\.head sets this group's lr"),
    ([f"{GROUPS}={{head:{{lr:-1}}}}"], r"^optimizer\.param_groups\.head\.lr=-1: expected a number > 0$"),
    ([f"{GROUPS}={{head:{{weight_decay:-1}}}}"], r"^optimizer\.param_groups\.head\.weight_decay=-1: expected a number >= 0$"),
    (["optimizer.lr=auto", f"{GROUPS}={{head:{{lr:0.01}}}}"],
     r"^optimizer\.param_groups\.head\.lr=0\.01: is the group's lr at optimizer\.lr, and optimizer\.lr=auto"),
    ([f"{GROUPS}={{head:3}}"], r"^optimizer\.param_groups\.head=3: expected the group's keys"),
    ([f"{GROUPS}=[head]"], r"^optimizer\.param_groups=\[head\]: expected a mapping of parameter name pattern"),
    ([f"{GROUPS}={{head:{{scheduler:{{name:onecycle}}}}}}", "optimizer=adagrad"],
     r"^optimizer\.param_groups\.head\.scheduler\.cycle_momentum=true: optimizer=adagrad has no momentum to cycle"),
    ([f"{GROUPS}={{head:{{scheduler:{{name:step}}}}}}", "scheduler=none", "warmup=none",
      "+scheduler._target_=torch.optim.lr_scheduler.StepLR", "+scheduler.step_size=3"],
     r"^optimizer\.param_groups\.head\.scheduler=\{name:step\}: a group's own schedule needs one of lrframe's"),
    (["optimizer.lr_multipliers={head:10}", f"{GROUPS}={{head*:{{lr:1}}}}"],
     r"^optimizer\.param_groups\.head\*=\{lr:1\}: head\.weight also matches 'head'"),
    (["optimizer.layer_decay=0.5", "model.hidden=[8]", f"{GROUPS}={{layer_0:{{lr:1}}}}"],
     r"^optimizer\.param_groups\.layer_0=\{lr:1\}: the pattern matches no parameter"),
])
def test_bad_param_groups_are_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError) as error:
        make_plan(*overrides)
    assert re.search(message, str(error.value)), str(error.value)
    assert "\n" not in str(error.value)


def test_a_group_schedule_naming_another_schedule_takes_that_schedules_yaml_defaults():
    plan = make_plan(f"{GROUPS}={{head:{{scheduler:{{name:poly,t_initial:50}}}}}}", "seed=7")
    schedule = plan.group_schedules()["head"]
    assert schedule.arguments["t_initial"] == 50 and schedule.arguments["power"] == 0.5  # conf/scheduler/poly.yaml
    assert schedule.arguments["noise_seed"] == 7  # its ${seed}, resolved against the run's config
    assert schedule.warmup_steps == plan.schedule().warmup_steps  # the run's warmup, inherited


def test_the_cli_reports_a_bad_group_in_one_line_before_importing_torch(tmp_path):
    code = ("import runpy, sys; sys.argv = ['train.py', 'optimizer.param_groups={head:{scheduler:{gamma:2}}}', "
            f"'hydra.run.dir={tmp_path}']\n"
            "try:\n    runpy.run_path('train.py', run_name='__main__')\n"
            "except SystemExit as e:\n    print(e.code, sorted({m.split('.')[0] for m in sys.modules} & {'torch'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "1 []"
    assert result.stderr == ("error: optimizer.param_groups.head.scheduler.gamma=2: unknown key for scheduler=cosine; "
                             "allowed: interval, unit, name, T_max, eta_min, num_cycles, k_decay\n")
