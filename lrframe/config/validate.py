"""Validation of the composed config, before torch or Lightning is imported.

``validate(cfg)`` checks every group against the schema below and returns a ``Plan``: the config
as plain Python containers plus what the run is made of once durations are resolved (data sizes,
the clock of optimizer steps, the effective learning rate). Every problem is a ``ConfigError``
whose message is one line naming the key, the value and what is allowed.

Defaults live in the YAML files under ``conf/``; this module only says what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrframe.data import datasets
from lrframe.config.errors import ConfigError, boolean, choice, integer, known_keys, number, show
from lrframe.config.patterns import assign as assign_patterns
from lrframe.lr_find.range_test import MIN_STEPS, RAMPS, SUGGESTIONS
from lrframe.schedules import RunSchedule, run_schedule
from lrframe.schedules.clock import Clock, steps_per_epoch
from lrframe.schedules.lambdas import user_code_deferred
from lrframe.schedules.target import check_target

GROUPS = ("data", "model", "init", "optimizer", "scheduler", "warmup", "trainer", "logger", "checkpoint",
          "task")
TOP_LEVEL = (*GROUPS, "seed", "resume", "resume_allow_changes")

DATASETS = {"digits": (), "npz": ("path",)}
DATA_KEYS = ("name", "batch_size", "val_batch_size", "val_fraction", "split_seed", "shuffle", "drop_last")

#: activation name -> torch.nn class name
ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid",
               "gelu": "GELU", "silu": "SiLU"}


def mlp_layer_names(hidden: list[int]) -> list[str]:
    """The Linear layers of model=mlp: ``hidden1`` ... ``hiddenN``, then ``head`` (the classifier).

    Their parameters are ``NAME.weight`` and ``NAME.bias``; activations are ``act1`` ... ``actN``.
    """
    return [f"hidden{i}" for i in range(1, len(hidden) + 1)] + ["head"]


#: initialization scheme -> the options it takes (see lrframe.models.init)
INIT_SCHEMES = {
    "default": (),
    "xavier_uniform": ("gain",),
    "xavier_normal": ("gain",),
    "kaiming_uniform": ("mode", "nonlinearity"),
    "kaiming_normal": ("mode", "nonlinearity"),
    "normal": ("mean", "std"),
    "uniform": ("a", "b"),
    "zeros": (),
}
INIT_NONLINEARITIES = ("relu", "leaky_relu", "tanh", "sigmoid", "linear", "selu")

#: optimizer name -> (torch.optim class name, its arguments that configs may set)
OPTIMIZERS = {
    "sgd": ("SGD", ("lr", "momentum", "dampening", "weight_decay", "nesterov")),
    "adam": ("Adam", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
    "adamw": ("AdamW", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
    "adagrad": ("Adagrad", ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")),
    "rmsprop": ("RMSprop", ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")),
}
OPTIMIZER_KEYS = ("name", "lr_scaling", "base_batch_size", "no_decay_bias_and_norm", "lr_multipliers")
LR_SCALING = {"none": lambda ratio: 1.0, "linear": lambda ratio: ratio, "sqrt": math.sqrt}
#: the largest learning rate a float32 parameter group can hold
MAX_LR = 3.4028234663852886e38
#: numpy's seeds are 32-bit
MAX_SEED = 2**32 - 1

#: Trainer arguments a config may set. lrframe sets logger, callbacks and checkpointing itself
#: (the `logger` and `checkpoint` groups), and plans the schedule on max_epochs/max_steps, so
#: arguments that change the number of training steps some other way are not offered.
TRAINER_ARGS = ("accelerator", "strategy", "devices", "precision", "max_epochs", "max_steps",
                "accumulate_grad_batches", "log_every_n_steps", "gradient_clip_val",
                "gradient_clip_algorithm", "check_val_every_n_epoch", "num_sanity_val_steps",
                "limit_val_batches", "deterministic", "benchmark", "inference_mode", "detect_anomaly",
                "enable_progress_bar", "enable_model_summary", "max_time", "profiler")

LOGGERS = ("tensorboard", "none")
LOGGER_KEYS = ("name", "step_sizes_every_n_steps")
RANGE_TEST_KEYS = ("start_lr", "end_lr", "num_steps", "mode", "smoothing", "diverge_factor", "suggestion")
#: task -> its keys; task=fit holds the LR range test's settings for optimizer.lr=auto under task.lr_find
TASKS = {"fit": ("lr_find",), "preview": (), "lr_find": RANGE_TEST_KEYS}
#: trainer.precision -> the torch.autocast dtype of the LR range test's forward pass (None: float32)
RANGE_TEST_PRECISIONS = {None: None, 32: None, "32": None, "32-true": None, 16: "float16", "16": "float16",
                         "16-mixed": "float16", "bf16": "bfloat16", "bf16-mixed": "bfloat16"}
RANGE_TEST_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


@dataclass(frozen=True)
class Plan:
    """A validated run: the config as plain containers and the numbers derived from it."""

    config: dict
    train_size: int
    val_size: int
    global_batch: int
    clock: Clock
    lr_scale: float

    @property
    def lr(self) -> float | None:
        """The optimizer's effective learning rate: ``optimizer.lr`` times the batch-size scaling.

        None for ``optimizer.lr=auto``: the LR range test finds it, at the run's global batch, when
        the run starts (so the scaling rule does not apply to it).
        """
        lr = self.config["optimizer"]["lr"]
        return None if lr == "auto" else lr * self.lr_scale

    @property
    def range_test(self) -> tuple[str, dict]:
        """The LR range test's settings and their key: ``task`` for task=lr_find, else ``task.lr_find``
        (what optimizer.lr=auto runs)."""
        task = self.config["task"]
        return ("task", task) if task["name"] == "lr_find" else ("task.lr_find", task.get("lr_find"))

    def schedule(self, lr: float | None = None) -> RunSchedule:
        """The run's schedule, for a base lr of ``lr`` (the effective lr by default)."""
        return run_schedule(self.config["scheduler"], self.config["warmup"], self.clock, lr or self.lr)


def _node(cfg: dict, key: str) -> dict:
    node = cfg.get(key)
    if not isinstance(node, dict):
        raise ConfigError(key, node, "expected a config group (pick one with " + f"{key}=NAME)")
    return node


def _check_data(node: dict) -> tuple[int, int]:
    name = choice("data.name", node.get("name"), DATASETS)
    known_keys(node, (*DATA_KEYS, *DATASETS[name]), f"data={name}", "data")
    integer("data.batch_size", node.get("batch_size"), ge=1)
    integer("data.val_batch_size", node.get("val_batch_size"), ge=1)
    number("data.val_fraction", node.get("val_fraction"), gt=0, lt=1)
    integer("data.split_seed", node.get("split_seed"), ge=0)
    boolean("data.shuffle", node.get("shuffle"))
    boolean("data.drop_last", node.get("drop_last"))
    train, val = datasets.split_sizes(datasets.dataset_length(node), node["val_fraction"])
    if train < 1 or val < 1:
        raise ConfigError("data.val_fraction", node["val_fraction"],
                          f"leaves no training or no validation samples out of {train + val}")
    return train, val


def _check_model(node: dict) -> None:
    choice("model.name", node.get("name"), ("mlp",))
    known_keys(node, ("name", "hidden", "activation"), "model=mlp", "model")
    hidden = node.get("hidden")
    if not isinstance(hidden, list):
        raise ConfigError("model.hidden", hidden, "expected a list of layer widths, e.g. [256,256]")
    for width in hidden:
        integer("model.hidden", width, ge=1)
    choice("model.activation", node.get("activation"), ACTIVATIONS)


def _check_init(node: dict) -> None:
    name = choice("init.name", node.get("name"), INIT_SCHEMES)
    known_keys(node, ("name", "bias", *INIT_SCHEMES[name]), f"init={name}", "init")
    choice("init.bias", node.get("bias"), ("zeros", "default"))
    if "gain" in node:
        number("init.gain", node["gain"], gt=0)
    if "mode" in node:
        choice("init.mode", node["mode"], ("fan_in", "fan_out"))
    if node.get("nonlinearity") is not None:
        choice("init.nonlinearity", node["nonlinearity"], INIT_NONLINEARITIES)
    if "std" in node:
        number("init.mean", node.get("mean"))
        number("init.std", node["std"], gt=0)
    if "a" in node:
        low = number("init.a", node["a"])
        number("init.b", node.get("b"), gt=low)


def _check_optimizer(node: dict, parameter_names: list[str]) -> None:
    name = choice("optimizer.name", node.get("name"), OPTIMIZERS)
    known_keys(node, (*OPTIMIZER_KEYS, *OPTIMIZERS[name][1]), f"optimizer={name}", "optimizer")
    for key in OPTIMIZERS[name][1]:
        if key not in node:
            raise ConfigError(f"optimizer.{key}", None, f"missing; optimizer={name} needs it")
    if node["lr"] != "auto":
        try:
            number("optimizer.lr", node["lr"], gt=0)
        except ConfigError:
            raise ConfigError("optimizer.lr", node["lr"], "expected a number > 0, or auto (an LR range test "
                                                          "finds it)") from None
    choice("optimizer.lr_scaling", node.get("lr_scaling"), LR_SCALING)
    integer("optimizer.base_batch_size", node.get("base_batch_size"), ge=1)
    boolean("optimizer.no_decay_bias_and_norm", node.get("no_decay_bias_and_norm"))
    assign_patterns(parameter_names, node.get("lr_multipliers"))
    checks = {
        "momentum": lambda k, v: number(k, v, ge=0, lt=1),
        "dampening": lambda k, v: number(k, v, ge=0, le=1),
        "weight_decay": lambda k, v: number(k, v, ge=0),
        "eps": lambda k, v: number(k, v, gt=0),
        "alpha": lambda k, v: number(k, v, ge=0, lt=1),
        "lr_decay": lambda k, v: number(k, v, ge=0),
        "initial_accumulator_value": lambda k, v: number(k, v, ge=0),
        "nesterov": boolean, "amsgrad": boolean, "centered": boolean,
        "betas": _check_betas,
    }
    for key in OPTIMIZERS[name][1]:
        if key in checks:
            checks[key](f"optimizer.{key}", node[key])
    if node.get("nesterov") and (node["momentum"] <= 0 or node["dampening"] != 0):
        raise ConfigError("optimizer.nesterov", True, "needs optimizer.momentum > 0 and optimizer.dampening=0")


def _check_betas(key: str, value: Any) -> None:
    expected = "expected two numbers [beta1,beta2], each >= 0 and < 1"
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(key, value, expected)
    try:
        for beta in value:
            number(key, beta, ge=0, lt=1)
    except ConfigError:
        raise ConfigError(key, value, expected) from None


def _check_trainer(node: dict) -> tuple[int | None, int, int, int]:
    known_keys(node, TRAINER_ARGS, "trainer (lrframe sets logger, callbacks and checkpointing itself)",
               "trainer")
    max_epochs = node.get("max_epochs")
    max_steps = node.get("max_steps", -1)
    if max_epochs is not None:
        integer("trainer.max_epochs", max_epochs, ge=1)
    if max_steps != -1:
        integer("trainer.max_steps", max_steps, ge=1)
    if max_epochs is None and max_steps == -1:
        raise ConfigError("trainer.max_epochs", None, "set trainer.max_epochs or trainer.max_steps")
    accumulate = integer("trainer.accumulate_grad_batches", node.get("accumulate_grad_batches", 1), ge=1)
    integer("trainer.log_every_n_steps", node.get("log_every_n_steps"), ge=1)
    integer("trainer.check_val_every_n_epoch", node.get("check_val_every_n_epoch", 1), ge=1)
    if node.get("gradient_clip_val") is not None:
        number("trainer.gradient_clip_val", node["gradient_clip_val"], gt=0)
    progress = node.get("enable_progress_bar")
    if progress is not True and progress is not False and progress != "auto":
        raise ConfigError("trainer.enable_progress_bar", progress, "expected true, false or auto")
    devices = node.get("devices", 1)
    if devices != "auto":
        integer("trainer.devices", devices, ge=1)
    return max_epochs, max_steps, accumulate, 1 if devices == "auto" else devices


def _check_range_test(node: Any, key: str, steps_per_epoch: int) -> None:
    if not isinstance(node, dict):
        raise ConfigError(key, node, "expected the LR range test's settings (see conf/task/lr_find.yaml)")
    known_keys(node, ("name", *RANGE_TEST_KEYS), "the LR range test", key)
    choice(f"{key}.name", node.get("name"), ("lr_find",))
    start = number(f"{key}.start_lr", node.get("start_lr"), gt=0)
    end = number(f"{key}.end_lr", node.get("end_lr"), gt=0)
    if end <= start:
        raise ConfigError(f"{key}.end_lr", node["end_lr"],
                          f"expected a number > {key}.start_lr ({show(start)})")
    if node.get("num_steps") is not None:
        integer(f"{key}.num_steps", node["num_steps"], ge=MIN_STEPS)
    elif steps_per_epoch < MIN_STEPS:
        raise ConfigError(f"{key}.num_steps", None, f"one epoch is only {steps_per_epoch} optimizer "
                          f"steps; the test needs {MIN_STEPS} or more: set {key}.num_steps")
    choice(f"{key}.mode", node.get("mode"), RAMPS)
    number(f"{key}.smoothing", node.get("smoothing"), ge=0, lt=1)
    if node.get("diverge_factor") is not None:
        number(f"{key}.diverge_factor", node["diverge_factor"], gt=1)
    choice(f"{key}.suggestion", node.get("suggestion"), SUGGESTIONS)


def _check_range_test_trainer(node: dict) -> None:
    """What the range test's own training loop supports of the trainer's settings."""
    if node.get("accelerator", "auto") not in RANGE_TEST_ACCELERATORS:
        raise ConfigError("trainer.accelerator", node["accelerator"],
                          "the LR range test supports " + ", ".join(RANGE_TEST_ACCELERATORS))
    if node.get("precision") not in RANGE_TEST_PRECISIONS:
        names = ", ".join(p for p in RANGE_TEST_PRECISIONS if "-" in str(p))
        raise ConfigError("trainer.precision", node["precision"],
                          f"the LR range test supports {names} (and 32, 16, bf16)")


def _check_resume(value: Any) -> None:
    if value is None or value == "auto":
        return
    if not isinstance(value, str):
        raise ConfigError("resume", value, "expected null, auto, or the path of a checkpoint")
    if not Path(value).is_file():
        raise ConfigError("resume", value, "checkpoint file not found")


def _plain(cfg: Any) -> dict:
    """A composed DictConfig as plain containers, with missing (???) values reported by key."""
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as error:
        raise ConfigError(error.full_key, "???", "required: set it on the command line") from None
    except OmegaConfBaseException as error:
        raise ConfigError(error.full_key, None, " ".join(str(error).splitlines()[:1])) from None


def validate(cfg: Any) -> Plan:
    """Check a composed config (a DictConfig or plain dict) and derive the run's plan."""
    if not isinstance(cfg, dict):
        cfg = _plain(cfg)
    known_keys(cfg, TOP_LEVEL, "the config")
    for group in GROUPS:
        _node(cfg, group)
    integer("seed", cfg.get("seed"), ge=0, le=MAX_SEED)
    _check_resume(cfg.get("resume"))
    boolean("resume_allow_changes", cfg.get("resume_allow_changes"))
    train_size, val_size = _check_data(cfg["data"])
    _check_model(cfg["model"])
    _check_init(cfg["init"])
    layers = mlp_layer_names(cfg["model"]["hidden"])
    _check_optimizer(cfg["optimizer"], [f"{layer}.{p}" for layer in layers for p in ("weight", "bias")])
    max_epochs, max_steps, accumulate, devices = _check_trainer(cfg["trainer"])
    choice("logger.name", cfg["logger"].get("name"), LOGGERS)
    known_keys(cfg["logger"], LOGGER_KEYS, "logger", "logger")
    integer("logger.step_sizes_every_n_steps", cfg["logger"].get("step_sizes_every_n_steps"), ge=0)
    known_keys(cfg["checkpoint"], ("every_n_steps",), "checkpoint", "checkpoint")
    integer("checkpoint.every_n_steps", cfg["checkpoint"].get("every_n_steps"), ge=0)
    task = choice("task.name", cfg["task"].get("name"), TASKS)
    known_keys(cfg["task"], ("name", *TASKS[task]), f"task={task}", "task")

    batch = cfg["data"]["batch_size"]
    global_batch = batch * accumulate * devices
    if global_batch > train_size:  # an optimizer step would see fewer samples than the batch it reports
        of = "" if global_batch == batch else \
            f"the global batch {global_batch} (x trainer.devices x trainer.accumulate_grad_batches) is "
        raise ConfigError("data.batch_size", batch, f"{of}larger than the training set ({train_size} samples); "
                                                    f"expected at most {train_size // (global_batch // batch)}")
    per_epoch = steps_per_epoch(train_size=train_size, batch_size=batch, drop_last=cfg["data"]["drop_last"],
                                accumulate=accumulate, devices=devices)
    limits = ([max_epochs * per_epoch] if max_epochs else []) + ([max_steps] if max_steps > 0 else [])
    total = min(limits)  # Lightning stops at whichever limit comes first
    optimizer = cfg["optimizer"]
    lr_scale = LR_SCALING[optimizer["lr_scaling"]](global_batch / optimizer["base_batch_size"])
    plan = Plan(cfg, train_size, val_size, global_batch, Clock(per_epoch, total), lr_scale)
    if plan.lr is not None and plan.lr > MAX_LR:
        scaled = "" if lr_scale == 1 else f" x {lr_scale:g} (optimizer.lr_scaling={optimizer['lr_scaling']})"
        raise ConfigError("optimizer.lr", optimizer["lr"], f"the lr{scaled} overflows float32; expected at most "
                                                           f"{MAX_LR:.6g}")
    if task == "preview" and plan.lr is None:
        raise ConfigError("optimizer.lr", "auto", "task=preview needs a number: find one with task=lr_find")
    if task == "lr_find" or "lr_find" in TASKS[task]:  # the task runs, or may run, the LR range test
        key, settings = plan.range_test
        _check_range_test(settings, key, per_epoch)
    if task == "lr_find" or plan.lr is None:
        _check_range_test_trainer(cfg["trainer"])
    if "_target_" in cfg["scheduler"]:
        check_target(cfg["scheduler"], cfg["warmup"], task)
        return plan
    # builds (and so checks) the scheduler and warmup nodes; for optimizer.lr=auto against the test's
    # end_lr, which the lr it finds is below (checked again once it is found)
    schedule = check_schedule(plan, plan.lr or settings["end_lr"],
                              None if plan.lr else f"optimizer.lr=auto finds an lr below {key}.end_lr")
    if schedule.schedules_momentum and not {"momentum", "betas"} & set(OPTIMIZERS[optimizer["name"]][1]):
        raise ConfigError("scheduler.cycle_momentum", True,
                          f"optimizer={optimizer['name']} has no momentum to cycle; expected false")
    return plan


def check_schedule(plan: Plan, lr: float, lr_source: str | None = None) -> RunSchedule:
    """Build the run's schedule for base lr ``lr``; an error names ``lr_source`` (where ``lr`` came from).

    The user's own functions (a dotted-path ``lr_lambda``) are not imported or called: that happens
    when the schedule is built to run.
    """
    try:
        with user_code_deferred():
            return plan.schedule(lr)
    except ConfigError as error:
        if lr_source is None:
            raise
        raise ConfigError(error.key, error.value, f"{error.expected} ({lr_source})") from None
