"""The Python API for plain PyTorch loops: the YAML's defaults, the same schedule as task=preview."""

import pytest
import torch

import lrframe
from conftest import make_plan
from lrframe.tasks.preview import table


@pytest.mark.parametrize("overrides, scheduler, warmup", [
    (("scheduler=cosine", "warmup=linear"), "cosine", "linear"),
    (("scheduler=step", "scheduler.step_size=2", "warmup=none"), {"name": "step", "step_size": 2}, None),
    (("scheduler=onecycle", "warmup=none"), "onecycle", None),
    (("scheduler=wsd", "warmup=linear", "warmup.epochs=2"), "wsd", {"name": "linear", "epochs": 2}),
])
def test_create_scheduler_steps_the_previewed_schedule_and_round_trips(overrides, scheduler, warmup):
    plan = make_plan(*overrides, "trainer.max_epochs=6")
    planned = table(plan).lr  # what task=preview writes, from the composed config
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=plan.lr, momentum=0.9)
    schedule = lrframe.create_scheduler(optimizer, scheduler, warmup, steps_per_epoch=plan.clock.steps_per_epoch,
                                        max_epochs=6)
    stepped = []
    for step in range(len(planned)):
        stepped.append(optimizer.param_groups[0]["lr"])
        if step == 40:  # a fresh scheduler loaded from the state continues identically
            state = schedule.state_dict()
            schedule = lrframe.create_scheduler(optimizer, scheduler, warmup,
                                                steps_per_epoch=plan.clock.steps_per_epoch, max_epochs=6)
            schedule.load_state_dict(state)
            assert schedule.state_dict() == state
        optimizer.step()
        schedule.step()
    assert stepped == pytest.approx(planned, rel=1e-12, abs=1e-15)


def test_create_scheduler_needs_a_length_and_refuses_bad_arguments_in_one_line():
    optimizer = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="give max_steps, or steps_per_epoch and max_epochs"):
        lrframe.create_scheduler(optimizer, "cosine")
    with pytest.raises(ValueError, match=r"^scheduler.gamma=-1: expected a number > 0"):
        lrframe.create_scheduler(optimizer, {"name": "exponential", "gamma": -1}, max_steps=10)


def test_initialize_takes_the_yaml_bias_default_and_the_papers_variance():
    torch.manual_seed(0)
    layer = lrframe.initialize(torch.nn.Linear(2000, 500), "kaiming_normal")  # no bias= needed
    assert torch.count_nonzero(layer.bias) == 0  # conf/train.yaml: init.bias: zeros
    assert layer.weight.var().item() == pytest.approx(2 / 2000, rel=0.05)  # He et al., relu, fan_in


def test_build_optimizer_uses_the_yaml_defaults_and_parameter_groups():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    optimizer = lrframe.build_optimizer(model, {"name": "adamw", "weight_decay": 0.1})
    assert isinstance(optimizer, torch.optim.AdamW)
    decays = sorted(group["weight_decay"] for group in optimizer.param_groups)
    assert decays == [0.0, 0.1]  # biases and the norm's parameters get none
    assert optimizer.defaults["lr"] == make_plan("optimizer=adamw").config["optimizer"]["lr"]


def test_lr_find_on_a_plain_loop_suggests_an_lr_and_leaves_the_model_as_it_was(digits_batches):
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = lrframe.lr_find(model, digits_batches, torch.nn.functional.cross_entropy, optimizer)
    assert 1e-4 < result["suggestion"] < 10 and result["method"] == "minimum"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert optimizer.param_groups[0]["lr"] == 0.1


@pytest.fixture
def digits_batches():
    from lrframe.data.build import build_data

    return build_data(make_plan())[0].train


def test_the_documented_plain_loop_example_runs_and_anneals_to_zero():
    from conftest import REPO

    text = (REPO / "docs" / "bring-your-own.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "docs/bring-your-own.md", "exec"), namespace)  # noqa: S102 - our own documentation
    optimizer = namespace["optimizer"]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine's end after 1000 steps
    assert namespace["scheduler"].last_epoch == 1000


def test_create_scheduler_with_one_schedule_per_group_equals_torch_schedulers_on_each_group():
    layers = torch.nn.Linear(3, 2), torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD([{"params": layers[0].parameters(), "lr": 0.1},
                                 {"params": layers[1].parameters(), "lr": 0.03}], lr=0.1)
    ours = lrframe.create_scheduler(optimizer, [{"name": "cosine", "eta_min": 0.001},
                                                {"name": "step", "interval": "step", "step_size": 7, "gamma": 0.5}],
                                    max_steps=50)
    first = torch.optim.SGD(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    second = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.03)
    references = [(first, torch.optim.lr_scheduler.CosineAnnealingLR(first, T_max=50, eta_min=0.001)),
                  (second, torch.optim.lr_scheduler.StepLR(second, step_size=7, gamma=0.5))]
    for _ in range(50):
        expected = [opt.param_groups[0]["lr"] for opt, _ in references]
        assert [g["lr"] for g in optimizer.param_groups] == pytest.approx(expected, rel=1e-9)
        for opt, scheduler in ((optimizer, ours), *references):
            opt.step()
            scheduler.step()
    with pytest.raises(ValueError, match=r"expected one per parameter group \(2\)"):
        lrframe.create_scheduler(optimizer, ["cosine"], max_steps=50)
