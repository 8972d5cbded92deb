"""Schedule-free optimizers in training: trained at y, validated and saved at x (the package's own ``eval()``),
the lr that TensorBoard shows is the package's, and validating or saving leaves training's path alone."""

import pytest
import schedulefree
import torch
from omegaconf import OmegaConf

from conftest import REPO, compose_config, fit_in_process, make_plan, read_metrics, read_scalars
from lrframe.config.validate import validate
from lrframe.resume.checkpoint import last_checkpoint
from lrframe.tasks import run_task

SHORT = ("scheduler=none", "trainer.max_epochs=3", "trainer.log_every_n_steps=1", "warmup.steps=10")
PROJECT = REPO / "tests" / "fixtures" / "user_project"


def checkpoint(run_dir):
    return torch.load(last_checkpoint(run_dir), weights_only=True)


def assert_saved_weights_are_x(saved: dict, prefix: str = "model.") -> None:
    """state_dict holds x = y + (z - y)(1 - 1/beta1), from the y and z the checkpoint carries (the package's eval())."""
    y = saved["callbacks"]["ScheduleFreeModes"]["y"]
    state, groups = saved["optimizer_states"][0]["state"], saved["optimizer_states"][0]["param_groups"]
    names = [name for name in saved["state_dict"] if name.startswith(prefix)]
    assert len(names) == len(y) == len(state)
    index = 0
    for group in groups:
        assert group["train_mode"] is False  # saved in eval mode, as the package asks
        beta1 = group["betas"][0] if "betas" in group else group["momentum"]
        for i in group["params"]:
            x = torch.lerp(y[index], state[i]["z"], 1 - 1 / beta1)
            torch.testing.assert_close(saved["state_dict"][names[index]], x, rtol=0, atol=1e-7)
            assert not torch.equal(x, y[index])
            index += 1


def validation_of(run_dir, weights: dict, *overrides) -> tuple[float, float]:
    """val/loss and val/acc of ``weights`` on the run's validation data, computed here."""
    from lrframe.training.pieces import build

    pieces = build(make_plan(*overrides), 0.1)
    pieces.module.load_state_dict({k: v for k, v in weights.items()})
    pieces.module.eval()
    x, y = pieces.data.val.x, pieces.data.val.y
    with torch.no_grad():
        logits = pieces.module.model(x)
    return torch.nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


@pytest.mark.parametrize("optimizer", ["adamw_schedulefree", "sgd_schedulefree"])
def test_validated_and_saved_weights_are_x_and_the_logged_lr_is_the_packages(tmp_path, optimizer):
    overrides = (f"optimizer={optimizer}", *SHORT, "checkpoint.every_n_steps=5")
    fit_in_process(tmp_path, *overrides)
    saved = checkpoint(tmp_path)
    assert_saved_weights_are_x(saved)
    # the final validation evaluated x (the saved weights), not y
    logged = read_metrics(tmp_path)
    loss_x, acc_x = validation_of(tmp_path, saved["state_dict"], *overrides)
    assert logged["val/loss"] == pytest.approx(loss_x, rel=1e-5) and logged["val/acc"] == pytest.approx(acc_x)
    y = dict(saved["state_dict"]) | dict(zip([n for n in saved["state_dict"] if n.startswith("model.")],
                                                 saved["callbacks"]["ScheduleFreeModes"]["y"]))
    assert validation_of(tmp_path, y, *overrides)[0] != pytest.approx(loss_x, rel=1e-5)
    # the lr of every step, as the package computed it (its warmup_steps = warmup.steps)
    arguments = {"lr": 0.0025 if optimizer == "adamw_schedulefree" else 1.0, "warmup_steps": 10}
    param = torch.nn.Parameter(torch.zeros(1))
    reference = getattr(schedulefree, {"adamw_schedulefree": "AdamWScheduleFree",
                                       "sgd_schedulefree": "SGDScheduleFree"}[optimizer])([param], **arguments)
    reference.train()
    expected = []
    for _ in range(69):
        param.grad = torch.ones(1)
        reference.step()
        expected.append(reference.param_groups[0]["scheduled_lr"])
    assert [value for _, value in read_scalars(tmp_path, "lr")] == pytest.approx(expected, rel=1e-6)
    assert saved["optimizer_states"][0]["param_groups"][0]["k"] == 69


def test_validating_and_saving_leave_the_training_path_bit_for_bit(tmp_path):
    often = ("optimizer=adamw_schedulefree", *SHORT, "checkpoint.every_n_steps=4")
    fit_in_process(tmp_path / "often", *often)
    fit_in_process(tmp_path / "rarely", *often[:-1], "trainer.check_val_every_n_epoch=3")
    often_y, rarely_y = (checkpoint(tmp_path / name)["callbacks"]["ScheduleFreeModes"]["y"] for name in ("often", "rarely"))
    assert all(torch.equal(a, b) for a, b in zip(often_y, rarely_y))


def test_a_users_lightning_module_is_validated_and_saved_at_x(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT))
    cfg = OmegaConf.to_container(compose_config("optimizer=sgd_schedulefree", *SHORT), resolve=True)
    cfg["module"] = {"_target_": "my_module.Classifier", "hidden": 32}
    run_task(validate(cfg), tmp_path)
    saved = checkpoint(tmp_path)
    assert_saved_weights_are_x(saved, prefix="net.")
    assert read_metrics(tmp_path)["val/acc"] > 0.8


def test_the_range_test_steps_in_train_mode_and_leaves_the_optimizer_as_it_was():
    from lrframe.range_test.arithmetic import ramp
    from lrframe.range_test.loop import range_test

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = schedulefree.AdamWScheduleFree(model.parameters(), lr=0.01, warmup_steps=5)
    before = [p.detach().clone() for p in model.parameters()]
    batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(5)]
    curve = range_test(model, optimizer, batches, ramp(1e-4, 1.0, 20, "exponential"), smoothing=0.9,
                       diverge_factor=None)
    assert len(curve.lrs) == 20 and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    group = optimizer.param_groups[0]
    assert (group["train_mode"], group["k"], group["lr"], dict(optimizer.state)) == (False, 0, 0.01, {})


def test_lr_find_runs_the_range_test_on_a_schedule_free_optimizer(tmp_path, capsys):
    run_task(make_plan("task=lr_find", "optimizer=sgd_schedulefree", "scheduler=none"), tmp_path)
    assert "lr_find: suggested lr" in capsys.readouterr().out


def test_a_schedule_with_a_schedule_free_optimizer_is_refused_in_one_line_before_anything_runs(tmp_path):
    from conftest import train_cli

    result = train_cli("optimizer=sgd_schedulefree", "scheduler=cosine", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 1 and not (tmp_path / "run").exists()
    assert result.stderr == ("error: scheduler=cosine: optimizer=sgd_schedulefree replaces the lr schedule (it averages "
                             "its iterates instead, Defazio et al. 2024); expected scheduler=none\n")
