"""Validation of the composed config, before torch or Lightning is imported.

``validate(cfg)`` checks every group (each built-in's own check from ``lrframe.config.groups``,
or a ``_target_``'s import and signature, ``lrframe.config.targets``) and returns a ``Plan``: the
config as plain Python containers plus what the run is made of once durations are resolved (data
sizes, the clock of optimizer steps, the effective learning rate). Every problem is a
``ConfigError`` whose message is one line naming the key, the value and what is allowed.

Built-in data has a known size, so its plan is complete here. A user's data (``data._target_``) is
sized by its real loaders: ``Plan.with_data`` completes the plan once they exist, with the same
checks, still before any training.

Defaults live in the YAML files under ``conf/``; this module only says what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lrframe.config import groups, param_groups
from lrframe.config.errors import ConfigError, boolean, choice, integer, known_keys, number, show
from lrframe.config.registry import builtin, chosen, is_target, option
from lrframe.config.targets import check_target
from lrframe.data.datasets import split_sizes
from lrframe.range_test.arithmetic import MIN_STEPS, RAMPS, SUGGESTIONS
from lrframe.schedules import RunSchedule, run_schedule, schedule_free
from lrframe.schedules.clock import Clock, steps_per_epoch
from lrframe.schedules.lambdas import user_code_deferred
from lrframe.schedules.swa import swa_phase
from lrframe.schedules.target import check_target as check_scheduler_target

GROUPS = ("data", "model", "init", "optimizer", "scheduler", "warmup", "swa", "loss", "metrics", "module", "trainer",
          "logger", "checkpoint", "task")
TOP_LEVEL = (*GROUPS, "seed", "resume", "resume_allow_changes")
#: groups that take a built-in name or a _target_ through the registry (scheduler: its catalogue)
REGISTERED = ("data", "model", "init", "optimizer", "loss", "metrics", "module")
#: the keys lrframe reads itself in a registered group given by _target_ (kept when one replaces a built-in)
TARGET_OWN_KEYS = {"data": groups.DATA_KEYS, "init": groups.INIT_KEYS, "optimizer": (*groups.OPTIMIZER_KEYS, "lr")}

LR_SCALING = {"none": lambda ratio: 1.0, "linear": lambda ratio: ratio, "sqrt": math.sqrt}
#: the largest learning rate a float32 parameter group can hold
MAX_LR = 3.4028234663852886e38
#: numpy's seeds are 32-bit
MAX_SEED = 2**32 - 1

#: Trainer arguments a config may set. lrframe sets logger, callbacks and checkpointing itself
#: (the `logger` and `checkpoint` groups), and plans the schedule on max_epochs/max_steps, so
#: arguments that change the number of training steps some other way are not offered.
TRAINER_ARGS = ("accelerator", "strategy", "devices", "num_nodes", "precision", "max_epochs", "max_steps",
                "accumulate_grad_batches", "log_every_n_steps", "gradient_clip_val",
                "gradient_clip_algorithm", "check_val_every_n_epoch", "num_sanity_val_steps",
                "limit_val_batches", "deterministic", "benchmark", "inference_mode", "detect_anomaly",
                "enable_progress_bar", "enable_model_summary", "max_time", "profiler")

LOGGERS = ("tensorboard", "none")
LOGGER_KEYS = ("name", "step_sizes_every_n_steps")
RANGE_TEST_KEYS = ("start_lr", "end_lr", "num_steps", "mode", "smoothing", "diverge_factor", "suggestion")
BATCH_SIZE_FIND_KEYS = ("mode", "init_val", "max_trials", "memory_limit_mb", "memory_fraction", "small_batch",
                        "big_batch", "noise_batches", "after_steps")
#: task -> its keys; task=fit holds the LR range test's settings for optimizer.lr=auto under task.lr_find
TASKS = {"fit": ("lr_find",), "preview": (), "lr_find": RANGE_TEST_KEYS, "batch_size_find": BATCH_SIZE_FIND_KEYS}
#: trainer.precision -> the torch.autocast dtype of the LR range test's forward pass (None: float32)
RANGE_TEST_PRECISIONS = {None: None, 32: None, "32": None, "32-true": None, 16: "float16", "16": "float16",
                         "16-mixed": "float16", "bf16": "bfloat16", "bf16-mixed": "bfloat16"}
RANGE_TEST_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


@dataclass(frozen=True)
class Plan:
    """A validated run: the config as plain containers and the numbers derived from it.

    ``clock`` is None until the training data's size is known (``with_data``): at once for
    built-in data, when its loaders are built for a user's.
    """

    config: dict
    devices: int  # processes that train: trainer.devices x trainer.num_nodes
    train_size: int | None = None
    val_size: int | None = None
    global_batch: int | None = None
    clock: Clock | None = None
    lr_scale: float = 1.0

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
        """The run's schedule, for a base lr of ``lr`` (the effective lr by default): the lr every optimizer
        step gets, SWA's phase included; with a schedule-free optimizer, the lr it computes itself."""
        cfg = self.config
        if groups.is_schedule_free(cfg["optimizer"]):
            return schedule_free.run_schedule(cfg["optimizer"], cfg["warmup"], self.clock)
        schedule = run_schedule(cfg["scheduler"], cfg["warmup"], self.clock, lr or self.lr)
        return schedule.with_swa(swa_phase(cfg["swa"], self.clock))

    @property
    def optimizer_warmup_steps(self) -> int:
        """The ``warmup_steps`` of a built-in schedule-free optimizer (lrframe's warmup, mapped); else 0."""
        cfg = self.config
        if cfg["optimizer"].get("name") in schedule_free.WARMED_UP:
            return schedule_free.warmup_steps(cfg["optimizer"], cfg["warmup"], self.clock)
        return 0

    def group_schedules(self, lr: float | None = None) -> dict[str, RunSchedule]:
        """Pattern -> the schedule of each parameter group with one of its own (``optimizer.param_groups``),
        for a run's base lr of ``lr``: built for the group's base lr (``lr`` x its multiplier). The other
        groups follow ``schedule(lr)``."""
        lr, optimizer = lr or self.lr, self.config["optimizer"]
        found = {}
        for pattern, (scheduler, warmup) in param_groups.own_schedules(self.config).items():
            try:
                found[pattern] = run_schedule(scheduler, warmup, self.clock,
                                              lr * param_groups.multiplier(optimizer, pattern)
                                              ).with_swa(swa_phase(self.config["swa"], self.clock))
            except ConfigError as error:
                raise error.under(f"{param_groups.KEY}.{pattern}") from None
        return found

    @property
    def layers(self) -> int | None:
        """A built-in model's number of layers (``optimizer.layer_decay``); None for a user's model,
        whose layers are known once it is built."""
        model = self.config["model"]
        count = None if is_target(model) else groups.LAYER_COUNTS.get(model["name"])
        return count and count(model)

    def with_data(self, *, train_size: int, val_size: int, batch_size: int, drop_last: bool,
                  batches_per_epoch: int | None = None) -> Plan:
        """The plan completed with the training data: the clock, the global batch, the lr scaling.

        ``batches_per_epoch`` (a loader lrframe does not own: its own length per process) replaces
        the count from ``train_size``, ``batch_size`` and ``drop_last``. Raises ConfigError (one line)
        where the schedule or the range test does not fit the run.
        """
        cfg = self.config
        trainer = cfg["trainer"]
        accumulate = trainer.get("accumulate_grad_batches", 1)
        if batches_per_epoch is not None:
            per_epoch = math.ceil(batches_per_epoch / accumulate)
        else:
            per_epoch = steps_per_epoch(train_size=train_size, batch_size=batch_size, drop_last=drop_last,
                                        accumulate=accumulate, devices=self.devices)
        global_batch = batch_size * accumulate * self.devices
        if global_batch > train_size:  # an optimizer step would see fewer samples than the batch it reports
            of = "" if global_batch == batch_size else \
                f"the global batch {global_batch} (x trainer.devices x trainer.num_nodes x " \
                f"trainer.accumulate_grad_batches) is "
            raise ConfigError("data.batch_size", batch_size,
                              f"{of}larger than the training set ({train_size} samples); expected at most "
                              f"{train_size // (global_batch // batch_size)}")
        if 0 < val_size < self.devices:  # a process with no validation batch would skip validation and
            # leave the others waiting for its metrics
            raise ConfigError("data.val_fraction", cfg["data"].get("val_fraction"),
                              f"leaves {val_size} validation sample{'s' * (val_size != 1)} for {self.devices} "
                              "processes (trainer.devices x trainer.num_nodes); expected at least one per process")
        max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
        limits = ([max_epochs * per_epoch] if max_epochs else []) + ([max_steps] if max_steps > 0 else [])
        optimizer = cfg["optimizer"]
        lr_scale = LR_SCALING[optimizer["lr_scaling"]](global_batch / optimizer["base_batch_size"])
        # Lightning stops at whichever limit comes first
        plan = replace(self, train_size=train_size, val_size=val_size, global_batch=global_batch,
                       clock=Clock(per_epoch, min(limits)), lr_scale=lr_scale)
        plan._check_clocked()
        return plan

    def _check_clocked(self) -> None:
        """The checks that need the clock: the range test's length, the schedule's arguments."""
        cfg, task = self.config, self.config["task"]["name"]
        if self.lr is not None and self.lr > MAX_LR:
            optimizer = cfg["optimizer"]
            scaled = "" if self.lr_scale == 1 else \
                f" x {self.lr_scale:g} (optimizer.lr_scaling={optimizer['lr_scaling']})"
            raise ConfigError("optimizer.lr", optimizer["lr"],
                              f"the lr{scaled} overflows float32; expected at most {MAX_LR:.6g}")
        if task in ("preview", "batch_size_find") and self.lr is None:
            raise ConfigError("optimizer.lr", "auto", f"task={task} needs a number: find one with task=lr_find")
        if task == "batch_size_find":
            _check_batch_size_find(cfg["task"], self)
        if task == "lr_find" or "lr_find" in TASKS[task]:  # the task runs, or may run, the LR range test
            key, settings = self.range_test
            _check_range_test(settings, key, self.clock.steps_per_epoch)
        if task == "lr_find" or self.lr is None:
            _check_range_test_trainer(cfg["trainer"])
        if is_target(cfg["scheduler"]):
            return
        # builds (and so checks) the scheduler and warmup nodes; for optimizer.lr=auto against the test's
        # end_lr, which the lr it finds is below (checked again once it is found)
        lr, source = (self.lr, None) if self.lr else \
            (self.range_test[1]["end_lr"], f"optimizer.lr=auto finds an lr below {self.range_test[0]}.end_lr")
        schedule = check_schedule(self, lr, source)
        own = check_schedule(self, lr, source, Plan.group_schedules)
        optimizer = cfg["optimizer"]
        for key, cycled in (("scheduler", schedule), *((f"{param_groups.KEY}.{p}.scheduler", s) for p, s in own.items())):
            if (cycled.schedules_momentum and not is_target(optimizer)
                    and not {"momentum", "betas"} & set(groups.OPTIMIZERS[optimizer["name"]][1])):
                raise ConfigError(f"{key}.cycle_momentum", True,
                                  f"optimizer={optimizer['name']} has no momentum to cycle; expected false")


def _node(cfg: dict, key: str) -> dict:
    node = cfg.get(key)
    if not isinstance(node, dict):
        raise ConfigError(key, node, "expected a config group (pick one with " + f"{key}=NAME)")
    return node


def _replacing_builtin(group: str, node: dict, cfg: dict) -> dict:
    """A ``_target_`` given on top of a built-in option (``model._target_=my_model.Net`` with the
    default ``model=mlp``) replaces it: the option's name and its keys still at their YAML defaults go;
    keys set otherwise go to the target, and the keys lrframe reads itself for a target stay."""
    from lrframe.config.defaults import option_node

    if not is_target(node) or "name" not in node:
        return node
    try:
        defaults = option_node(group, node["name"], cfg)
    except ConfigError:
        return node  # not one of lrframe's options: its keys go to the target as they are
    own = TARGET_OWN_KEYS.get(group, ())
    return {key: value for key, value in node.items()
            if key != "name" and (key in own or key not in defaults or defaults[key] != value)}


def _check_data_keys(node: dict) -> None:
    integer("data.batch_size", node.get("batch_size"), ge=1)
    integer("data.val_batch_size", node.get("val_batch_size"), ge=1)
    number("data.val_fraction", node.get("val_fraction"), gt=0, lt=1)
    integer("data.split_seed", node.get("split_seed"), ge=0)
    boolean("data.shuffle", node.get("shuffle"))
    boolean("data.drop_last", node.get("drop_last"))


def _check_group(group: str, node: dict) -> Any:
    """A registered group's node: its built-in's check, or its target's import and signature."""
    if not is_target(node):
        return builtin(group, node).check(node)
    if group == "data":
        return check_target("data", node, shared_keys=(*groups.DATA_KEYS, "num_classes"))
    if group == "model":
        return check_target("model", node, provided=groups.MODEL_CONTEXT)
    if group == "init":  # called on each weight: fn(weight, **arguments)
        check_target("init", node, own_keys=groups.INIT_KEYS, provided=("tensor",))
        return choice("init.bias", node.get("bias"), ("zeros", "default"))
    if group == "optimizer":
        groups.check_optimizer_keys(node)
        return check_target("optimizer", node, own_keys=(*groups.OPTIMIZER_KEYS, "lr"), provided=("params", "lr"))
    if group == "module":
        cls = check_target("module", node, provided=groups.MODULE_CONTEXT)
        return groups.check_user_module(cls, node["_target_"])
    return check_target(group, node)  # loss, metrics: called as they are


def _check_trainer(node: dict) -> int:
    """The trainer node; returns the number of processes that train (devices x nodes)."""
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
    integer("trainer.accumulate_grad_batches", node.get("accumulate_grad_batches", 1), ge=1)
    integer("trainer.log_every_n_steps", node.get("log_every_n_steps"), ge=1)
    integer("trainer.check_val_every_n_epoch", node.get("check_val_every_n_epoch", 1), ge=1)
    if node.get("gradient_clip_val") is not None:
        number("trainer.gradient_clip_val", node["gradient_clip_val"], gt=0)
    progress = node.get("enable_progress_bar")
    if progress is not True and progress is not False and progress != "auto":
        raise ConfigError("trainer.enable_progress_bar", progress, "expected true, false or auto")
    nodes = integer("trainer.num_nodes", node.get("num_nodes", 1), ge=1)
    check_precision(node)
    return device_count(node) * nodes


#: trainer.precision values Lightning 2.6 accepts (16 and "16" mean 16-mixed, "bf16" bf16-mixed)
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "transformer-engine",
              "transformer-engine-float16", 64, 32, 16, "64", "32", "16", "bf16")


def check_precision(node: dict) -> None:
    """A precision (and accelerator) this machine can run: refused in one line rather than failing in
    Lightning or, for 16-mixed on the CPU, silently replaced by bf16-mixed. torch is imported only
    where the answer depends on the GPU (an accelerator naming it, half precision on ``auto``)."""
    precision, accelerator = node.get("precision", "32-true"), node.get("accelerator", "auto")
    if precision not in PRECISIONS:
        raise ConfigError("trainer.precision", precision, "expected one of " + ", ".join(
            str(p) for p in PRECISIONS[:6]) + " (16-mixed on a GPU only)")
    name = str(precision)
    if name.startswith("transformer-engine"):
        import importlib.util

        if importlib.util.find_spec("transformer_engine") is None:
            raise ConfigError("trainer.precision", precision, "needs NVIDIA's transformer_engine package, which is "
                                                              "not installed; expected bf16-mixed or 16-mixed")
    half = name in ("16-mixed", "16", "bf16-mixed", "bf16", "bf16-true") or name.startswith("transformer-engine")
    if accelerator not in ("gpu", "cuda") and not (accelerator == "auto" and half):
        if accelerator == "cpu" and name in ("16-mixed", "16"):
            raise _fp16_on_cpu(precision, "trainer.accelerator=cpu")
        return
    import torch  # only here: whether this machine has a GPU, and what it can do

    gpu = torch.cuda.is_available()
    if accelerator in ("gpu", "cuda") and not gpu:
        raise ConfigError("trainer.accelerator", accelerator, "this machine has no CUDA GPU "
                                                              "(torch.cuda.is_available() is false); expected cpu or auto")
    if not gpu:
        if name in ("16-mixed", "16"):
            raise _fp16_on_cpu(precision, "trainer.accelerator=auto finds no GPU")
        return
    if name.startswith("bf16") and not torch.cuda.is_bf16_supported():
        raise ConfigError("trainer.precision", precision, f"the GPU ({torch.cuda.get_device_name()}) has no "
                                                          "bfloat16; expected 16-mixed or 32-true")


def _fp16_on_cpu(precision, why: str) -> ConfigError:
    return ConfigError("trainer.precision", precision, f"float16 mixed precision needs a GPU, and this run is on the "
                       f"CPU ({why}; Lightning would silently train in bf16-mixed instead); expected bf16-mixed "
                       "or 32-true")


def device_count(node: dict) -> int:
    """How many devices ``trainer.devices`` means, as Lightning counts them: a number, a list of
    device indices, or ``auto`` (-1 too): every GPU of the accelerator, one process on the CPU."""
    devices, accelerator = node.get("devices", 1), node.get("accelerator", "auto")
    if isinstance(devices, list) and devices and all(isinstance(d, int) and not isinstance(d, bool)
                                                     for d in devices):
        return len(devices)
    if devices not in ("auto", -1):
        return integer("trainer.devices", devices, ge=1)
    if accelerator == "cpu":
        return 1
    import torch  # only here: how many GPUs this machine has

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1


def _check_averaging(cfg: dict) -> None:
    """What schedule-free optimizers and SWA take the place of: the schedule, each other."""
    optimizer, scheduler, swa = cfg["optimizer"], cfg["scheduler"], cfg["swa"]
    if not isinstance(swa.get("name"), str):
        raise ConfigError("swa.name", swa.get("name"), "expected none or default (pick one with swa=NAME)")
    if groups.is_schedule_free(optimizer):
        which = chosen("optimizer", optimizer)
        if is_target(scheduler) or scheduler.get("name") != "none":
            raise ConfigError(*option("scheduler", scheduler), f"{which} replaces the lr schedule (it averages its iterates instead, "
                              "Defazio et al. 2024); expected scheduler=none")
        if swa["name"] != "none":
            raise ConfigError("swa", swa["name"], f"{which} averages its iterates already; expected swa=none")
    elif swa["name"] != "none" and is_target(scheduler):
        raise ConfigError("swa", swa["name"], "SWA's lr continues lrframe's schedule, and a scheduler given by "
                          "scheduler._target_ has no closed form; expected swa=none or a built-in scheduler")


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


def _check_batch_size_find(node: dict, plan: Plan) -> None:
    """task=batch_size_find's settings, against the training set and the run's length."""
    from lrframe.batch_size.search import MODES

    choice("task.mode", node.get("mode"), MODES)
    integer("task.init_val", node.get("init_val"), ge=1)
    integer("task.max_trials", node.get("max_trials"), ge=1)
    if node.get("memory_limit_mb") is not None:
        number("task.memory_limit_mb", node["memory_limit_mb"], gt=0)
    number("task.memory_fraction", node.get("memory_fraction"), gt=0, le=1)
    integer("task.noise_batches", node.get("noise_batches"), ge=1)
    integer("task.after_steps", node.get("after_steps"), ge=0, le=plan.clock.total_steps)
    if node["after_steps"] and is_target(plan.config["scheduler"]):
        raise ConfigError("task.after_steps", node["after_steps"], "trains with lrframe's own schedules; a "
                          "scheduler given by _target_ is stepped by Lightning: expected 0")
    size = plan.train_size
    small = node.get("small_batch")
    if small is not None:
        integer("task.small_batch", small, ge=1, lt=size)
    small = small or plan.config["data"]["batch_size"]
    big = node.get("big_batch")
    if big is not None:
        integer("task.big_batch", big, ge=1, le=size)
        if big <= small:
            raise ConfigError("task.big_batch", big, f"expected more than B_small ({small}: task.small_batch, or "
                                                     "data.batch_size); the noise scale needs two batch sizes")
    elif small >= size:
        raise ConfigError("task.small_batch", node.get("small_batch"), f"B_small is data.batch_size ({small}), the "
                          f"whole training set ({size}): set task.small_batch below it")


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
    cfg = {**cfg, **{group: _replacing_builtin(group, cfg[group], cfg) for group in REGISTERED}}
    integer("seed", cfg.get("seed"), ge=0, le=MAX_SEED)
    _check_resume(cfg.get("resume"))
    boolean("resume_allow_changes", cfg.get("resume_allow_changes"))
    _check_data_keys(cfg["data"])
    groups.check_model_data(cfg["model"], cfg["data"])
    checked = {group: _check_group(group, cfg[group]) for group in REGISTERED}
    if isinstance(checked["model"], list):  # model=mlp names its parameters before it is built
        param_groups.check_names(checked["model"], cfg["optimizer"], groups.LAYER_COUNTS["mlp"](cfg["model"]))
    # other models: the names are checked when the model is built (lrframe.optim.optimizer.check_groups)
    devices = _check_trainer(cfg["trainer"])
    choice("logger.name", cfg["logger"].get("name"), LOGGERS)
    known_keys(cfg["logger"], LOGGER_KEYS, "logger", "logger")
    integer("logger.step_sizes_every_n_steps", cfg["logger"].get("step_sizes_every_n_steps"), ge=0)
    known_keys(cfg["checkpoint"], ("every_n_steps",), "checkpoint", "checkpoint")
    integer("checkpoint.every_n_steps", cfg["checkpoint"].get("every_n_steps"), ge=0)
    task = choice("task.name", cfg["task"].get("name"), TASKS)
    known_keys(cfg["task"], ("name", *TASKS[task]), f"task={task}", "task")
    if is_target(cfg["scheduler"]):
        check_scheduler_target(cfg["scheduler"], cfg["warmup"], task)
        for pattern, own in param_groups.check_param_groups(cfg["optimizer"]).items():
            for name in param_groups.SCHEDULE_KEYS:
                if own.get(name) is not None:
                    raise ConfigError(f"{param_groups.KEY}.{pattern}.{name}", own[name], "a group's own schedule "
                                      "needs one of lrframe's schedules for the run; scheduler._target_ steps every "
                                      "group by itself")
    _check_averaging(cfg)

    plan = Plan(cfg, devices)
    if is_target(cfg["data"]):
        return plan  # sized by its loaders: Plan.with_data
    data = cfg["data"]
    train, val = split_sizes(checked["data"], data["val_fraction"])
    if train < 1 or val < 1:
        raise ConfigError("data.val_fraction", data["val_fraction"],
                          f"leaves no training or no validation samples out of {train + val}")
    return plan.with_data(train_size=train, val_size=val, batch_size=data["batch_size"],
                          drop_last=data["drop_last"])


def check_schedule(plan: Plan, lr: float, lr_source: str | None = None, build=Plan.schedule):
    """Build the run's schedule (or with ``build=Plan.group_schedules``, the parameter groups' own) for
    base lr ``lr``; an error names ``lr_source`` (where ``lr`` came from).

    The user's own functions (a dotted-path ``lr_lambda``) are not imported or called: that happens
    when the schedule is built to run.
    """
    try:
        with user_code_deferred():
            return build(plan, lr)
    except ConfigError as error:
        if lr_source is None:
            raise
        raise ConfigError(error.key, error.value, f"{error.expected} ({lr_source})") from None
