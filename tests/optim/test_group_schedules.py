"""optimizer.param_groups: a group's own lr, weight decay and schedule, against torch's per-group schedulers
(LambdaLR with one lr_lambda per group, CyclicLR(base_lr=[...], max_lr=[...]), OneCycleLR(max_lr=[...]))."""

import csv
import math

import pytest
import torch

from conftest import fit_in_process, make_plan, read_scalars
from lrframe.models.mlp import mlp
from lrframe.training.optimization import configure_optimizers


def model():
    torch.manual_seed(0)
    return mlp(in_features=64, hidden=[32, 32], out_features=10, activation="relu")


def ours(*overrides):
    """The optimizer and ScheduledLR that task=fit builds for the digits MLP."""
    plan = make_plan("model.hidden=[32,32]", *overrides)
    built = configure_optimizers(model(), plan, plan.lr)
    return plan, built["optimizer"], built["lr_scheduler"]["scheduler"]


def reference_optimizer(optimizer, **kwargs):
    """A torch SGD over the same parameter groups (default, head), at the groups' initial lrs."""
    groups = [{"params": group["params"], "lr": group["initial_lr"]} for group in optimizer.param_groups]
    return torch.optim.SGD(groups, lr=groups[0]["lr"], **kwargs)


def lockstep(optimizer, scheduler, reference, torch_scheduler, steps, keys=("lr",)):
    """Step both; at every step each group's values (lr, momentum) must agree to 1e-9 relative."""
    for step in range(steps):
        for key in keys:
            mine = [g[key] for g in optimizer.param_groups]
            theirs = [g[key] for g in reference.param_groups]
            assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-15), f"{key} at step {step}"
        for opt, sched in ((optimizer, scheduler), (reference, torch_scheduler)):
            opt.step()
            sched.step()


def test_per_group_cyclic_base_and_max_lr_equal_torch_cyclic_lr():
    _, optimizer, scheduler = ours("scheduler=cyclic", "scheduler.unit=step", "scheduler.step_size_up=7",
                                   "warmup=none", "optimizer.param_groups={head:{scheduler:{base_lr:0.001,max_lr:0.3}}}")
    assert [g["name"] for g in optimizer.param_groups] == ["default", "head"]
    reference = reference_optimizer(optimizer, momentum=0.9)
    cyclic = torch.optim.lr_scheduler.CyclicLR(reference, base_lr=[0.025, 0.001], max_lr=[0.1, 0.3], step_size_up=7,
                                               base_momentum=0.8, max_momentum=0.9)
    lockstep(optimizer, scheduler, reference, cyclic, 60, keys=("lr", "momentum"))


def test_per_group_onecycle_max_lr_equals_torch_one_cycle_lr():
    plan, optimizer, scheduler = ours("scheduler=onecycle", "warmup=none",
                                      "optimizer.param_groups={head:{scheduler:{max_lr:0.5}}}")
    reference = reference_optimizer(optimizer, momentum=0.9)
    onecycle = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=[0.1, 0.5], total_steps=plan.clock.total_steps)
    lockstep(optimizer, scheduler, reference, onecycle, plan.clock.total_steps, keys=("lr", "momentum"))


def test_a_group_with_its_own_lr_schedule_and_warmup_equals_lambda_lr_with_one_lambda_per_group():
    plan, optimizer, scheduler = ours(
        "warmup.start_factor=0.1", "optimizer.param_groups={head:{lr:0.02,scheduler:{name:exponential,"
        "interval:step,gamma:0.99},warmup:{name:none}}}")
    total, warm = plan.clock.total_steps, plan.clock.steps_per_epoch  # warmup: one epoch

    def default(s):  # torch's LinearLR(start_factor=0.1, total_iters=warm), then CosineAnnealingLR(T_max=total-warm)
        return 0.1 + 0.9 * s / warm if s < warm else (1 + math.cos(math.pi * (s - warm) / (total - warm))) / 2

    reference = reference_optimizer(optimizer)
    assert [g["lr"] for g in reference.param_groups] == pytest.approx([0.1, 0.02])
    lambdas = torch.optim.lr_scheduler.LambdaLR(reference, [default, lambda s: 0.99 ** s])
    lockstep(optimizer, scheduler, reference, lambdas, total)


def test_a_group_lr_is_its_lr_at_optimizer_lr_and_scales_with_the_batch_as_the_rest():
    _, optimizer, _ = ours("optimizer=adamw", "optimizer.weight_decay=0.05", "optimizer.lr_scaling=linear",
                           "data.batch_size=128", "optimizer.lr_multipliers={hidden1:0.5}",
                           "optimizer.param_groups={head:{lr:0.004,weight_decay:0.2},hidden1:{scheduler:{eta_min:0}}}")
    groups = {g["name"]: (g["initial_lr"], g["weight_decay"], len(g["params"])) for g in optimizer.param_groups}
    scale = 128 / 64  # lr_scaling=linear, base_batch_size 64
    assert groups == {
        "default": (pytest.approx(0.001 * scale), 0.05, 1), "default/no_decay": (pytest.approx(0.001 * scale), 0.0, 1),
        "hidden1": (pytest.approx(0.0005 * scale), 0.05, 1), "hidden1/no_decay": (pytest.approx(0.0005 * scale), 0.0, 1),
        "head": (pytest.approx(0.004 * scale), 0.2, 1), "head/no_decay": (pytest.approx(0.004 * scale), 0.0, 1),
    }


def test_plateau_in_one_group_reduces_that_group_only_and_observes_once():
    _, optimizer, scheduler = ours("scheduler=none", "warmup=none", "optimizer.param_groups={head:{scheduler:"
                                   "{name:plateau,patience:0,factor:0.5}}}")
    reference = reference_optimizer(optimizer)
    # torch reduces every group: the default group (scheduler=none) is pinned by its min_lr
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(reference, patience=0, factor=0.5, min_lr=[0.1, 0.0])
    for loss in (1.0, 0.9, 0.95, 0.97, 0.8, 0.85):
        scheduler.observe({"val/loss": loss, "val/acc": 0.5})
        plateau.step(loss)
        assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([g["lr"] for g in reference.param_groups])
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    state = scheduler.state_dict()
    assert isinstance(state["schedule"], list) and len(state["schedule"]) == 2  # the run's and the head's


def read_columns(path):
    with open(path) as file:
        rows = list(csv.DictReader(file))
    return {key: [float(row[key]) for row in rows] for key in rows[0]}


def test_schedule_csv_and_tensorboard_record_every_group_the_same(tmp_path):
    overrides = ("model.hidden=[32,32]", "trainer.max_epochs=3", "data.batch_size=128", "trainer.log_every_n_steps=1",
                 "optimizer.layer_decay=0.5", "optimizer.param_groups={head:{lr:0.3,scheduler:{name:step,"
                 "interval:step,step_size:10,gamma:0.5},warmup:{name:none}}}")
    fit_in_process(tmp_path / "fit", *overrides)
    planned = read_columns(tmp_path / "fit" / "schedule.csv")
    assert list(planned) == ["step", "epoch", "lr", "lr/layer_0", "lr/layer_1", "lr/layer_2", "lr/head"]
    assert planned["lr/head"] == pytest.approx([0.3 * 0.5 ** (s // 10) for s in range(36)], rel=1e-12)
    for name in ("layer_0", "layer_1", "head"):  # layer_2 (the head's layer) has no parameter left: the pattern took them
        logged = read_scalars(tmp_path / "fit", f"lr/{name}")
        assert [step for step, _ in logged] == list(range(36))
        assert [value for _, value in logged] == pytest.approx(planned[f"lr/{name}"], rel=1e-6)
    assert planned["lr/layer_0"] == pytest.approx([0.25 * lr for lr in planned["lr"]], rel=1e-12)
    previewed = tmp_path / "preview"
    previewed.mkdir()
    from lrframe.tasks import run_task

    run_task(make_plan("task=preview", *overrides), previewed)
    assert read_columns(previewed / "schedule.csv") == planned
