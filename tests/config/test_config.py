"""Validation of composed configs: every bad input is one line naming key, value and what is allowed."""

import re

import numpy as np
import pytest
import torch
from hydra.errors import HydraException

from conftest import CONFIG_DIR, REPO, compose_config, make_plan
from lrframe.cli.precheck import check
from lrframe.config.validate import TRAINER_ARGS, validate
from lrframe.config.errors import ConfigError, shortened

TEXT = REPO / "tests" / "fixtures" / "text"  # files that data=text cannot train on
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")

BAD_CONFIGS = [
    (["scheduler=cosin"], r"^scheduler=cosin: no such option; expected one of .*cosine.*step"),
    (["optimizer=sgdd"], r"^optimizer=sgdd: no such option; expected one of .*adam.*sgd"),
    (["scheduler.T_maxx=3"], r"^scheduler\.T_maxx=3: unknown key; allowed: .*T_max"),
    (["+scheduler.foo=1"], r"^scheduler\.foo=1: unknown key for scheduler=cosine; allowed: .*eta_min"),
    (["+data.bach_size=3"], r"^data\.bach_size=3: unknown key for data=digits"),
    (["+trainer.logger=x"], r"^trainer\.logger=x: unknown key for trainer \(lrframe sets logger"),
    (["optimizer.lr=-1"], r"^optimizer\.lr=-1: expected a number > 0, or auto \(an LR range test finds it\)$"),
    (["optimizer.lr=0"], r"^optimizer\.lr=0: expected a number > 0, or auto"),
    (["optimizer.lr=abc"], r"^optimizer\.lr=abc: expected a number > 0, or auto"),
    (["optimizer.momentum=1.0"], r"^optimizer\.momentum=1\.0: expected a number >= 0 and < 1$"),
    (["optimizer=adam", "optimizer.betas=[0.9,1.0]"], r"^optimizer\.betas=\[0\.9,1\.0\]: expected two numbers"),
    (["optimizer=adam", "optimizer.eps=-1e-8"], r"^optimizer\.eps=-1e-08: expected a number > 0$"),
    (["optimizer.nesterov=true", "optimizer.momentum=0"], r"^optimizer\.nesterov=true: needs optimizer\.momentum > 0"),
    (["optimizer.lr_scaling=cubic"], r"^optimizer\.lr_scaling=cubic: expected one of none, linear, sqrt$"),
    (["data.batch_size=0"], r"^data\.batch_size=0: expected an integer >= 1$"),
    (["data.batch_size=2.5"], r"^data\.batch_size=2\.5: expected an integer >= 1$"),
    (["data.batch_size=5000", "data.drop_last=true"], r"^data\.batch_size=5000: larger than the training set"),
    (["data.batch_size=1000000000", "optimizer.lr_scaling=linear"],
     r"^data\.batch_size=1000000000: larger than the training set \(1437 samples\); expected at most 1437$"),
    (["data.batch_size=1000", "trainer.accumulate_grad_batches=2"],
     r"^data\.batch_size=1000: the global batch 2000 .* larger than the training set \(1437 samples\); "
     r"expected at most 718$"),
    (["trainer.max_epochs='3'"], r"^trainer\.max_epochs=3: expected an integer >= 1, not the string '3' \(drop the quotes\)$"),
    (["optimizer.lr='0.1'"], r"^optimizer\.lr=0\.1: expected a number > 0, or auto"),
    (["optimizer.lr=1e39"], r"^optimizer\.lr=1e\+39: the lr overflows float32; expected at most 3\.40282e\+38$"),
    (["optimizer.lr=1e38", "optimizer.lr_scaling=linear", "data.batch_size=1024"],
     r"^optimizer\.lr=1e\+38: the lr x 16 \(optimizer\.lr_scaling=linear\) overflows float32"),
    (["seed=4294967296"], r"^seed=4294967296: expected an integer >= 0 and <= 4294967295$"),
    (["+" + "k" * 5000 + "=1"], r"^k{60}\.\.\. \(5000 characters\)=1: no such config key or group \(File name too long\)$"),
    (["scheduler=lambda", "scheduler.lr_lambda='" + "(" * 3000 + "1" + ")" * 3000 + "'"],
     r"^scheduler\.lr_lambda=\({60}\.\.\. \(6001 characters\): expected an arithmetic expression"),
    (["scheduler=lambda", "scheduler.lr_lambda=" + "+".join(["epoch"] * 3000)],
     r"^scheduler\.lr_lambda=epoch\+.*\(17999 characters\): nested more than 100 deep"),
    (["data.val_fraction=1.0"], r"^data\.val_fraction=1\.0: expected a number > 0 and < 1$"),
    (["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=400", "data.batch_size=1"],
     r"^data\.val_fraction=0\.2: leaves 360 validation samples for 400 processes \(trainer\.devices x "
     r"trainer\.num_nodes\); expected at least one per process$"),
    (["data.shuffle=maybe"], r"^data\.shuffle=maybe: expected true or false$"),
    (["data=npz"], r"^data\.path=\?\?\?: required"),
    (["data=npz", "data.path=/no/such.npz"], r"^data\.path=/no/such\.npz: file not found$"),
    (["scheduler=step", "scheduler.gamma=0"], r"^scheduler\.gamma=0: expected a number > 0$"),
    (["scheduler=step", "scheduler.step_size=-2"], r"^scheduler\.step_size=-2: expected a number > 0$"),
    (["scheduler.interval=batch"], r"^scheduler\.interval=batch: expected one of step, epoch$"),
    (["scheduler.unit=iteration"], r"^scheduler\.unit=iteration: expected one of step, epoch$"),
    (["scheduler.T_max=5"], r"^scheduler\.T_max=5: shorter than the run \(437 steps after warmup\)"),
    (["scheduler.eta_min=0.5"], r"^scheduler\.eta_min=0\.5: expected a number >= 0 and < 0\.1$"),
    (["warmup.epochs=30"], r"^warmup\.epochs=30: expected a warmup shorter than the run \(460 steps\)$"),
    (["warmup.steps=-1"], r"^warmup\.steps=-1: expected an integer >= 0$"),
    (["warmup.start_factor=2"], r"^warmup\.start_factor=2: expected a number >= 0 and <= 1$"),
    (["trainer.max_epochs=0"], r"^trainer\.max_epochs=0: expected an integer >= 1$"),
    (["trainer.max_epochs=null"], r"^trainer\.max_epochs=null: set trainer\.max_epochs or trainer\.max_steps$"),
    (["trainer.accumulate_grad_batches=0"], r"^trainer\.accumulate_grad_batches=0: expected an integer >= 1$"),
    (["trainer.log_every_n_steps=0"], r"^trainer\.log_every_n_steps=0: expected an integer >= 1$"),
    (["trainer.enable_progress_bar=maybe"], r"^trainer\.enable_progress_bar=maybe: expected true, false or auto$"),
    (["model.hidden=[256,-1]"], r"^model\.hidden=-1: expected an integer >= 1$"),
    (["model.activation=softsign"], r"^model\.activation=softsign: expected one of relu, "),
    (["init.mode=fan_avg"], r"^init\.mode=fan_avg: expected one of fan_in, fan_out$"),
    (["seed=-1"], r"^seed=-1: expected an integer >= 0 and <= 4294967295$"),
    (["resume=/no/such.ckpt"], r"^resume=/no/such\.ckpt: checkpoint file not found$"),
    (["task=train"], r"^task=train: no such option; expected one of batch_size_find, fit, lr_find, preview$"),
    (["task=lr_find", "task.start_lr=0"], r"^task\.start_lr=0: expected a number > 0$"),
    (["task=lr_find", "task.end_lr=1e-8"], r"^task\.end_lr=1e-08: expected a number > task\.start_lr \(1e-07\)$"),
    (["task=lr_find", "task.end_lr=1e-7"], r"^task\.end_lr=1e-07: expected a number > task\.start_lr"),
    (["task=lr_find", "task.num_steps=5"], r"^task\.num_steps=5: expected an integer >= 20$"),
    (["task=lr_find", "task.num_steps=null", "data.batch_size=128"],
     r"^task\.num_steps=null: one epoch is only 12 optimizer steps; the test needs 20 or more: set task\.num_steps$"),
    (["task=lr_find", "task.mode=cubic"], r"^task\.mode=cubic: expected one of exponential, linear$"),
    (["task=lr_find", "task.smoothing=1"], r"^task\.smoothing=1: expected a number >= 0 and < 1$"),
    (["task=lr_find", "task.diverge_factor=1"], r"^task\.diverge_factor=1: expected a number > 1$"),
    (["task=lr_find", "task.suggestion=best"], r"^task\.suggestion=best: expected one of steepest, valley, minimum$"),
    (["task=lr_find", "+task.lr_find.end_lr=1"], r"^task\.lr_find=\{end_lr:1\}: unknown key for task=lr_find"),
    (["task.lr_find.num_steps=3"], r"^task\.lr_find\.num_steps=3: expected an integer >= 20$"),
    (["task.lr_find.name=fit"], r"^task\.lr_find\.name=fit: expected one of lr_find$"),
    (["optimizer.lr=auto", "scheduler.eta_min=20"],
     r"^scheduler\.eta_min=20: expected a number >= 0 and < 10 \(optimizer\.lr=auto finds an lr below "
     r"task\.lr_find\.end_lr\)$"),
    (["optimizer.lr=auto", "trainer.precision=64-true"],
     r"^trainer\.precision=64-true: the LR range test supports 32-true, 16-mixed, bf16-mixed"),
    (["task=lr_find", "trainer.accelerator=tpu"], r"^trainer\.accelerator=tpu: the LR range test supports auto, cpu"),
    (["scheduler.T_max=${oops}"], r"^scheduler\.T_max=null: .*oops"),
    (["scheduler=noam", "warmup=linear"], r"^warmup\.name=linear: .*scheduler=noam starts at 0 .*expected warmup=none$"),
    (["scheduler=sequential", "scheduler.schedulers.1.gamma=-1"], r"^scheduler\.schedulers\.1\.gamma=-1: expected a"),
    (["scheduler=lambda", "scheduler.lr_lambda='open(1)'"], r"^scheduler\.lr_lambda=open\(1\): 'open\(1\)' is not"),
    (["scheduler=cyclic", "scheduler.mode=triangle"], r"^scheduler\.mode=triangle: expected one of triangular, "),
    # workloads (issue 15): text files, models on data they cannot read, precisions this machine cannot run
    (["data=text", "model=transformer", f"data.path={TEXT}/missing.txt"],
     r"^data\.path=.*/missing\.txt: file not found; expected a UTF-8 text file$"),
    (["data=text", "model=transformer", f"data.path={TEXT}/empty.txt"],
     r"^data\.path=.*/empty\.txt: an empty file; expected a UTF-8 text file$"),
    (["data=text", "model=transformer", f"data.path={TEXT}/latin1.txt"],
     r"^data\.path=.*/latin1\.txt: not UTF-8 text \(invalid continuation byte at byte 3\); expected a UTF-8 text"),
    (["data=text", "model=transformer", f"data.path={TEXT}/nul.txt"],
     r"^data\.path=.*/nul\.txt: a binary file \(a NUL byte at character 2\); expected a UTF-8 text file$"),
    (["data=text", "model=transformer", f"data.path={TEXT}/short.txt"],
     r"^data\.path=.*/short\.txt: 10 characters, shorter than one window of data\.block_size \+ 1 = 129; expected "
     r"at least 257 characters \(two windows: training and validation\), or data\.block_size at most 4$"),
    (["data=text", "model=transformer", f"data.path={TEXT}/short.txt", "data.block_size=5"],
     r"^data\.block_size=5: longer than the text allows \(data\.path has 10 characters; training and validation "
     r"need a window of block_size \+ 1 each\); expected data\.block_size at most 4$"),
    (["data=text", "model=transformer", "data.block_size=10000000"],
     r"^data\.block_size=10000000: longer than the text allows \(pydoc_data\.topics has \d+ characters; .*\); "
     r"expected data\.block_size at most \d+$"),
    (["model=transformer"], r"^model=transformer: a character-level transformer reads windows of character ids, "
                            r"but data=digits gives 64 features per sample; expected data=text$"),
    (["model=cnn", "data=text"], r"^model=cnn: reads square images given as flat pixels, but data=text gives "
                                 r"windows of character ids; expected model=transformer for text, or data=digits$"),
    (["model=cnn", "data=diabetes", "loss=mse"],
     r"^model\.image_size=8: 8x8 pixels, but data=diabetes gives 10 features per sample; expected data whose "
     r"features are a square image \(data=digits: 8x8\)$"),
    (["model=cnn", "model.image_size=7"], r"^model\.image_size=7: 7x7 pixels, but data=digits gives 64 features "
                                          r"per sample; expected model\.image_size=8$"),
    (["data=text"], r"^model=mlp: reads flat feature vectors, but data=text gives windows of character ids"),
    (["trainer.precision=fp8"], r"^trainer\.precision=fp8: expected one of 32-true, bf16-mixed, 16-mixed, "
                                r"bf16-true, 16-true, 64-true \(16-mixed on a GPU only\)$"),
    (["trainer.precision=16-mixed", "trainer.accelerator=cpu"],
     r"^trainer\.precision=16-mixed: float16 mixed precision needs a GPU, and this run is on the CPU "
     r"\(trainer\.accelerator=cpu; Lightning would silently train in bf16-mixed instead\); expected bf16-mixed "
     r"or 32-true$"),
    pytest.param(["trainer.precision=16-mixed"], r"^trainer\.precision=16-mixed: .* on the CPU \(trainer\."
                 r"accelerator=auto finds no GPU;", marks=NO_GPU, id="trainer.precision=16-mixed on auto"),
    pytest.param(["trainer.precision=bf16-mixed", "trainer.accelerator=gpu"],
                 r"^trainer\.accelerator=gpu: this machine has no CUDA GPU \(torch\.cuda\.is_available\(\) is "
                 r"false\); expected cpu or auto$", marks=NO_GPU, id="trainer.accelerator=gpu without one"),
    (["trainer.precision=transformer-engine"], r"^trainer\.precision=transformer-engine: needs NVIDIA's "
                                               r"transformer_engine package"),
    # schedule-free optimizers replace the schedule; their warmup is linear, from 0 (RAdam's: none)
    (["optimizer=adamw_schedulefree", "scheduler=cosine"],
     r"^scheduler=cosine: optimizer=adamw_schedulefree replaces the lr schedule "
     r"\(it averages its iterates instead, Defazio et al\. 2024\); expected scheduler=none$"),
    (["optimizer=sgd_schedulefree", "scheduler=onecycle"], r"^scheduler=onecycle: optimizer=sgd_schedulefree replaces"),
    (["optimizer=sgd_schedulefree", "scheduler=none", "warmup=cosine"],
     r"^warmup=cosine: optimizer=sgd_schedulefree warms up linearly only \(its warmup_steps\); expected "
     r"warmup=linear or warmup=none$"),
    (["optimizer=adamw_schedulefree", "scheduler=none", "warmup.start_factor=0.1"],
     r"^warmup\.start_factor=0\.1: optimizer=adamw_schedulefree warms up from 0 to its lr \(its warmup_steps\); "
     r"expected warmup\.start_factor=0\.0$"),
    (["optimizer=radam_schedulefree", "warmup=linear"],
     r"^warmup=linear: optimizer=radam_schedulefree warms up by itself \(RAdam's rectification\); expected warmup=none$"),
    (["optimizer=sgd_schedulefree", "scheduler=none", "optimizer.momentum=0"],
     r"^optimizer\.momentum=0: expected a number > 0 and < 1 \(schedule-free SGD"),
    (["optimizer=adamw_schedulefree", "scheduler=none", "swa=default"],
     r"^swa=default: optimizer=adamw_schedulefree averages its iterates already; expected swa=none$"),
    # SWA: starts within the run, anneals to a positive lr
    (["swa=default", "swa.swa_epoch_start=21"],
     r"^swa\.swa_epoch_start=21: SWA would start after the end of training \(20 epochs\); expected an epoch from 1 "
     r"to 20 \(an int\), or a fraction of training in \[0, 1\] \(a float\)$"),
    (["swa=default", "trainer.max_steps=100", "swa.swa_epoch_start=6"],
     r"^swa\.swa_epoch_start=6: SWA would start after the end of training \(5 epochs\)"),
    (["swa=default", "swa.swa_epoch_start=1.5"], r"^swa\.swa_epoch_start=1\.5: expected a number >= 0 and <= 1$"),
    (["swa=default", "swa.swa_epoch_start=0"], r"^swa\.swa_epoch_start=0: expected an epoch from 1 to 20"),
    (["swa=default", "swa.swa_lrs=0"], r"^swa\.swa_lrs=0: expected a number > 0 \(the lr SWA anneals to\), or a list"),
    (["swa=default", "swa.swa_lrs=-0.1"], r"^swa\.swa_lrs=-0\.1: expected a number > 0"),
    (["swa=default", "swa.swa_lrs=[0.05,0]"], r"^swa\.swa_lrs=\[0\.05,0\]: expected a number > 0"),
    (["swa=default", "swa.annealing_strategy=exp"], r"^swa\.annealing_strategy=exp: expected one of cos, linear$"),
    (["swa=default", "swa.annealing_epochs=-1"], r"^swa\.annealing_epochs=-1: expected an integer >= 0$"),
    (["swa=default", "+swa.swa_lr=0.1"], r"^swa\.swa_lr=0\.1: unknown key for swa=default; allowed: "),
    (["swa=default", "scheduler=none", "warmup=none", "+scheduler._target_=torch.optim.lr_scheduler.StepLR",
      "+scheduler.step_size=2"],
     r"^swa=default: SWA's lr continues lrframe's schedule"),
]


@pytest.mark.parametrize("overrides, message", BAD_CONFIGS,
                         ids=lambda v: shortened(" ".join(v), 40) if isinstance(v, list) else "")
def test_bad_config_is_one_line_naming_key_value_and_what_is_allowed(overrides, message):
    with pytest.raises((ConfigError, HydraException)) as raised:  # HydraException: Hydra's own, made one line
        check(overrides, CONFIG_DIR)
    text = str(raised.value)
    assert "\n" not in text
    assert re.search(message, text), text


def test_default_config_is_valid_and_resolves_the_run():
    plan = make_plan()
    assert (plan.train_size, plan.val_size) == (1437, 360)
    assert plan.clock.steps_per_epoch == 23 and plan.clock.total_steps == 460
    assert plan.lr == 0.1 and plan.global_batch == 64


def test_lr_auto_is_valid_and_leaves_the_effective_lr_to_the_range_test():
    plan = make_plan("optimizer.lr=auto", "optimizer.lr_scaling=linear", "data.batch_size=128")
    assert plan.lr is None and plan.range_test == ("task.lr_find", plan.config["task"]["lr_find"])
    assert plan.config["task"]["lr_find"]["suggestion"] == "minimum"
    assert make_plan("task=lr_find").range_test[0] == "task"


def test_max_steps_shorter_than_the_epochs_ends_the_run_first():
    plan = make_plan("trainer.max_steps=100")
    assert plan.clock.total_steps == 100


@pytest.mark.parametrize("scaling, factor", [("none", 1.0), ("linear", 4.0), ("sqrt", 2.0)])
def test_lr_scaling_rule_uses_the_global_batch(scaling, factor):
    plan = make_plan(f"optimizer.lr_scaling={scaling}", "optimizer.base_batch_size=64", "data.batch_size=128",
                     "trainer.accumulate_grad_batches=2")
    assert plan.global_batch == 256
    assert plan.lr == pytest.approx(0.1 * factor)


def test_ddp_on_two_devices_keeps_the_schedule_in_epochs():
    one, two = make_plan("optimizer.lr_scaling=linear"), make_plan("trainer=ddp", "optimizer.lr_scaling=linear")
    # each device takes its shard of ceil(1437 / 2) = 719 samples: ceil(719 / 64) = 12 steps an epoch
    assert (one.clock.steps_per_epoch, two.clock.steps_per_epoch) == (23, 12)
    assert one.clock.epochs == two.clock.epochs == 20
    assert (one.schedule().warmup_steps, two.schedule().warmup_steps) == (23, 12)  # warmup: one epoch each
    assert (one.global_batch, two.global_batch) == (64, 128)
    assert (one.lr, two.lr) == (0.1, pytest.approx(0.2))  # linear scaling by the global batch


def test_npz_data_sizes_are_read_from_the_file(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, X=np.zeros((100, 3, 4)), y=np.arange(100) % 3)
    plan = make_plan("data=npz", f"data.path={path}")
    assert (plan.train_size, plan.val_size) == (80, 20)


def test_npz_with_mismatched_arrays_is_rejected(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, X=np.zeros((10, 3)), y=np.zeros(9, dtype=int))
    with pytest.raises(ConfigError, match=r"data\.path=.*expected X of shape \(n, \.\.\.\) and y of shape \(n,\)"):
        make_plan("data=npz", f"data.path={path}")


def test_trainer_arguments_offered_are_real_lightning_arguments():
    import inspect

    from lightning.pytorch import Trainer

    assert set(TRAINER_ARGS) <= set(inspect.signature(Trainer.__init__).parameters)


def test_validation_imports_neither_torch_nor_lightning():
    import subprocess
    import sys

    code = ("import sys; sys.path.insert(0, 'tests'); from conftest import make_plan; make_plan(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=CONFIG_DIR.parent)
    assert out.stdout.strip() == "[]", out.stderr


def test_validate_accepts_plain_dicts():
    from omegaconf import OmegaConf

    plan = validate(OmegaConf.to_container(compose_config(), resolve=True))
    assert plan.clock.total_steps == 460


def test_cycled_momentum_needs_an_optimizer_with_momentum():
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(compose_config("scheduler=onecycle", "optimizer=adagrad"), resolve=True)
    with pytest.raises(ConfigError, match=r"^scheduler\.cycle_momentum=true: optimizer=adagrad has no momentum"):
        validate(cfg)


def test_a_target_over_a_builtin_option_keeps_only_the_keys_set_otherwise_and_lrframes_own():
    """optimizer._target_=torch.optim.NAdam over optimizer=sgd: sgd's name, momentum, dampening,
    nesterov and weight_decay at their YAML defaults go (NAdam takes no momentum); a key set on the
    command line goes to the target; lrframe's own keys for an optimizer (lr, lr_scaling, ...) stay."""
    sgd = make_plan().config["optimizer"]
    plan = make_plan("++optimizer._target_=torch.optim.NAdam", "optimizer.weight_decay=0.01")
    assert plan.config["optimizer"] == {"_target_": "torch.optim.NAdam", "weight_decay": 0.01,
                                        **{key: sgd[key] for key in ("lr", "lr_scaling", "base_batch_size",
                                                                     "no_decay_bias_and_norm", "lr_multipliers",
                                                                     "param_groups", "layer_decay")}}
    assert make_plan("++loss._target_=torch.nn.CrossEntropyLoss").config["loss"] == {
        "_target_": "torch.nn.CrossEntropyLoss"}  # label_smoothing 0.0, the default, is cross_entropy's
    with pytest.raises(ConfigError, match=r"^optimizer\.nesterov=true: torch\.optim\.NAdam takes no argument nesterov"):
        make_plan("++optimizer._target_=torch.optim.NAdam", "optimizer.nesterov=true")


def test_a_target_typed_without_a_plus_is_hydras_add_or_override(tmp_path):
    from lrframe.cli.main import command_line

    assert command_line(["model._target_=my.Net", "+loss._target_=my.loss", "model.hidden=[8]", "-m"], tmp_path) == [
        "++model._target_=my.Net", "+loss._target_=my.loss", "model.hidden=[8]", "-m"]
