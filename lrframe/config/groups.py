"""The built-in options of every config group: their torch-free checks, registered with their builders.

Each ``check`` receives the group's node (defaults already merged in by Hydra from
``conf/<group>/<name>.yaml``) and raises a one-line ConfigError; a data check returns the number
of samples, which plans the clock before any data is loaded.
"""

from __future__ import annotations

import math
from typing import Any

from lrframe.config.errors import ConfigError, boolean, choice, integer, known_keys, number, text
from lrframe.config.param_groups import check_layer_decay, check_param_groups
from lrframe.config.registry import is_target, register
from lrframe.data import datasets

# ---- data -------------------------------------------------------------------------------------

#: keys every data option has (train.yaml): lrframe batches and splits the data with them
DATA_KEYS = ("name", "batch_size", "val_batch_size", "val_fraction", "split_seed", "shuffle", "drop_last")


def _data_check(extra_keys: tuple[str, ...], length):
    def check(node: dict) -> int:
        known_keys(node, (*DATA_KEYS, *extra_keys), f"data={node['name']}", "data")
        return length(node)
    return check


register("data", "digits", build="lrframe.data.build:builtin_arrays",
         check=_data_check(("num_classes",), lambda node: datasets.LENGTHS["digits"]))
register("data", "diabetes", build="lrframe.data.build:builtin_arrays",
         check=_data_check(("num_targets",), lambda node: datasets.LENGTHS["diabetes"]))
register("data", "npz", build="lrframe.data.build:builtin_arrays",
         check=_data_check(("path",), lambda node: datasets.npz_length(node["path"])))


def _text_windows(node: dict) -> int:
    from lrframe.data.text import window_count

    if node.get("path") is not None:
        text("data.path", node["path"])
    return window_count({**node, "block_size": integer("data.block_size", node.get("block_size"), ge=1)})


register("data", "text", build="lrframe.data.build:builtin_text",
         check=_data_check(("path", "block_size"), _text_windows))

# ---- model ------------------------------------------------------------------------------------

#: activation name -> torch.nn class name
ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid",
               "gelu": "GELU", "silu": "SiLU"}
#: what lrframe passes a model's constructor (built-in or _target_) when its node does not set it
MODEL_CONTEXT = ("in_features", "out_features", "num_classes")


def mlp_layer_names(hidden: list[int]) -> list[str]:
    """The Linear layers of model=mlp: ``hidden1`` ... ``hiddenN``, then ``head`` (the classifier).

    Their parameters are ``NAME.weight`` and ``NAME.bias``; activations are ``act1`` ... ``actN``.
    """
    return [f"hidden{i}" for i in range(1, len(hidden) + 1)] + ["head"]


def _check_mlp(node: dict) -> list[str]:
    known_keys(node, ("name", "hidden", "activation"), "model=mlp", "model")
    hidden = node.get("hidden")
    if not isinstance(hidden, list):
        raise ConfigError("model.hidden", hidden, "expected a list of layer widths, e.g. [256,256]")
    for width in hidden:
        integer("model.hidden", width, ge=1)
    choice("model.activation", node.get("activation"), ACTIVATIONS)
    return [f"{layer}.{p}" for layer in mlp_layer_names(hidden) for p in ("weight", "bias")]


register("model", "mlp", build="lrframe.models.mlp:build", check=_check_mlp)


def _model_check(name: str, positive: tuple[str, ...], rest: tuple[str, ...] = ()):
    def check(node: dict) -> None:
        known_keys(node, ("name", *positive, *rest), f"model={name}", "model")
        for key in positive:
            integer(f"model.{key}", node.get(key), ge=1)
    return check


#: built-in model -> its number of layers for optimizer.layer_decay, from its node (torch-free; the built
#: model's own order is lrframe.optim.layers.layer_ids'): mlp hidden1..hiddenN, head; cnn its three
#: convolutions, head; transformer the embeddings, each block, the final norm with the head
LAYER_COUNTS = {"mlp": lambda node: len(node["hidden"]) + 1, "cnn": lambda node: 4,
                "transformer": lambda node: node["n_layers"] + 2}


register("model", "cnn", build="lrframe.models.cnn:build", check=_model_check("cnn", ("channels", "image_size")))
register("model", "transformer", build="lrframe.models.transformer:build",
         check=_model_check("transformer", ("block_size", "d_model", "n_layers", "n_heads"), ("dropout",)))


def _inputs(data: dict) -> int | None:
    """What a built-in data set gives a model per sample: the number of flat features, or None for
    windows of character ids (data=text)."""
    name = data["name"]
    if name == "text":
        return None
    return datasets.npz_features(data["path"]) if name == "npz" else datasets.FEATURES[name]


def check_model_data(model: dict, data: dict) -> None:
    """A built-in model on built-in data it can read (a ``_target_`` on either side is checked on its
    first batch instead): one line naming what the model reads and what the data gives."""
    if is_target(model) or is_target(data) or model.get("name") not in ("mlp", "cnn", "transformer") \
            or data.get("name") not in ("digits", "diabetes", "npz", "text"):
        return
    name, features = model["name"], _inputs(data)
    gives = (f"data={data['name']} gives {features} features per sample" if features is not None else
             "data=text gives windows of character ids")
    if name == "transformer" and features is not None:
        raise ConfigError("model", name, f"a character-level transformer reads windows of character ids, but "
                                         f"{gives}; expected data=text")
    if name in ("mlp", "cnn") and features is None:
        reads = "square images given as flat pixels" if name == "cnn" else "flat feature vectors"
        raise ConfigError("model", name, f"reads {reads}, but {gives}; expected model=transformer "
                                         f"for text, or data=digits")
    if name == "cnn" and features != integer("model.image_size", model.get("image_size"), ge=1) ** 2:
        size, side = model["image_size"], math.isqrt(features)
        fits = (f"model.image_size={side}" if side * side == features else
                "data whose features are a square image (data=digits: 8x8)")
        raise ConfigError("model.image_size", size, f"{size}x{size} pixels, but {gives}; expected {fits}")


# ---- init -------------------------------------------------------------------------------------

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
#: init keys lrframe reads itself, for a built-in scheme and a _target_ alike
INIT_KEYS = ("name", "bias")


def _init_check(scheme: str):
    def check(node: dict) -> None:
        known_keys(node, (*INIT_KEYS, *INIT_SCHEMES[scheme]), f"init={scheme}", "init")
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
    return check


for _scheme in INIT_SCHEMES:
    register("init", _scheme, build="lrframe.models.init:initialize_from_config", check=_init_check(_scheme))

# ---- optimizer --------------------------------------------------------------------------------

#: optimizer name -> (torch.optim class name, its arguments that configs may set)
OPTIMIZERS = {
    "sgd": ("SGD", ("lr", "momentum", "dampening", "weight_decay", "nesterov")),
    "adam": ("Adam", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
    "adamw": ("AdamW", ("lr", "betas", "eps", "weight_decay", "amsgrad")),
    "adagrad": ("Adagrad", ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")),
    "rmsprop": ("RMSprop", ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")),
}
#: the schedule-free optimizers (Defazio et al. 2024; the ``schedulefree`` package): name -> ("module:class",
#: its arguments that configs may set). They replace the lr schedule: lrframe's linear warmup becomes their
#: ``warmup_steps`` (RAdam's has none: its rectification warms up by itself).
SCHEDULE_FREE = {
    "adamw_schedulefree": ("schedulefree:AdamWScheduleFree",
                           ("lr", "betas", "eps", "weight_decay", "r", "weight_lr_power")),
    "sgd_schedulefree": ("schedulefree:SGDScheduleFree", ("lr", "momentum", "weight_decay", "r", "weight_lr_power")),
    "radam_schedulefree": ("schedulefree:RAdamScheduleFree",
                           ("lr", "betas", "eps", "weight_decay", "r", "weight_lr_power", "silent_sgd_phase")),
}
OPTIMIZERS |= SCHEDULE_FREE
#: optimizer keys lrframe reads itself (for a built-in and a _target_ alike); lr is passed scaled
OPTIMIZER_KEYS = ("name", "lr_scaling", "base_batch_size", "no_decay_bias_and_norm", "lr_multipliers", "param_groups",
                  "layer_decay")
LR_SCALING = ("none", "linear", "sqrt")


def _check_betas(key: str, value: Any) -> None:
    expected = "expected two numbers [beta1,beta2], each >= 0 and < 1"
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(key, value, expected)
    try:
        for beta in value:
            number(key, beta, ge=0, lt=1)
    except ConfigError:
        raise ConfigError(key, value, expected) from None


ARGUMENT_CHECKS = {
    "momentum": lambda k, v: number(k, v, ge=0, lt=1),
    "dampening": lambda k, v: number(k, v, ge=0, le=1),
    "weight_decay": lambda k, v: number(k, v, ge=0),
    "eps": lambda k, v: number(k, v, gt=0),
    "alpha": lambda k, v: number(k, v, ge=0, lt=1),
    "lr_decay": lambda k, v: number(k, v, ge=0),
    "initial_accumulator_value": lambda k, v: number(k, v, ge=0),
    "nesterov": boolean, "amsgrad": boolean, "centered": boolean, "silent_sgd_phase": boolean,
    "betas": _check_betas,
    "r": lambda k, v: number(k, v, ge=0),  # schedule-free: the average's weights grow as (k + 1)^r
    "weight_lr_power": lambda k, v: number(k, v, ge=0),  # schedule-free: and as lr_max^weight_lr_power
}


def is_schedule_free(node: dict) -> bool:
    """A schedule-free optimizer: a built-in one, or a ``_target_`` in the ``schedulefree`` package."""
    return node.get("name") in SCHEDULE_FREE or str(node.get("_target_", "")).startswith("schedulefree.")


def check_lr(node: dict) -> None:
    """``optimizer.lr``: a number > 0, or ``auto`` (the LR range test finds it)."""
    if node.get("lr") != "auto":
        try:
            number("optimizer.lr", node.get("lr"), gt=0)
        except ConfigError:
            raise ConfigError("optimizer.lr", node.get("lr"), "expected a number > 0, or auto (an LR range test "
                                                              "finds it)") from None


def check_optimizer_keys(node: dict) -> None:
    """The keys lrframe reads from every optimizer node, built-in or ``_target_``."""
    check_lr(node)
    choice("optimizer.lr_scaling", node.get("lr_scaling"), LR_SCALING)
    integer("optimizer.base_batch_size", node.get("base_batch_size"), ge=1)
    boolean("optimizer.no_decay_bias_and_norm", node.get("no_decay_bias_and_norm"))
    check_param_groups(node)
    check_layer_decay(node)


def _optimizer_check(name: str):
    def check(node: dict) -> None:
        arguments = OPTIMIZERS[name][1]
        known_keys(node, (*OPTIMIZER_KEYS, *arguments), f"optimizer={name}", "optimizer")
        for key in arguments:
            if key not in node:
                raise ConfigError(f"optimizer.{key}", None, f"missing; optimizer={name} needs it")
        check_optimizer_keys(node)
        for key in arguments:
            if key in ARGUMENT_CHECKS:
                ARGUMENT_CHECKS[key](f"optimizer.{key}", node[key])
        if name == "sgd_schedulefree" and node["momentum"] == 0:
            raise ConfigError("optimizer.momentum", 0, "expected a number > 0 and < 1 (schedule-free SGD "
                                                        "interpolates between its iterates with it)")
        if node.get("nesterov") and (node["momentum"] <= 0 or node["dampening"] != 0):
            raise ConfigError("optimizer.nesterov", True, "needs optimizer.momentum > 0 and optimizer.dampening=0")
    return check


for _name in OPTIMIZERS:
    register("optimizer", _name, build="lrframe.optim.optimizer:build_optimizer", check=_optimizer_check(_name))

# ---- loss -------------------------------------------------------------------------------------

#: loss name -> the targets it applies to: class labels (integers) or real values (floats)
LOSSES = {"cross_entropy": "labels", "nll": "labels", "mse": "values", "huber": "values",
          "smooth_l1": "values", "bce_with_logits": "values"}
LOSS_OPTIONS = {"huber": ("delta",), "smooth_l1": ("beta",), "cross_entropy": ("label_smoothing",)}


def _loss_check(name: str):
    def check(node: dict) -> None:
        known_keys(node, ("name", *LOSS_OPTIONS.get(name, ())), f"loss={name}", "loss")
        for key in LOSS_OPTIONS.get(name, ()):
            number(f"loss.{key}", node.get(key), ge=0, lt=1 if key == "label_smoothing" else None)
    return check


for _name in LOSSES:
    register("loss", _name, build=f"lrframe.objectives.losses:{_name}", check=_loss_check(_name))

# ---- metrics ----------------------------------------------------------------------------------

#: metrics name -> what it measures (torchmetrics); ``auto`` follows the targets
METRICS = {"auto": "accuracy for class labels, mae, rmse and r2 for real values",
           "accuracy": "the fraction of correct classes", "regression": "mae, rmse and r2",
           "perplexity": "exp of the mean cross-entropy per token", "none": "only val/loss"}


def _check_metrics(node: dict) -> None:
    known_keys(node, ("name",), f"metrics={node['name']}", "metrics")


for _name in METRICS:
    register("metrics", _name, build="lrframe.objectives.metrics:build_metrics", check=_check_metrics)

# ---- module -----------------------------------------------------------------------------------

#: what lrframe passes a user's LightningModule when its node does not set it
MODULE_CONTEXT = ("model", "loss", "num_classes", "in_features", "out_features")


def _check_lrframe_module(node: dict) -> None:
    known_keys(node, ("name",), "module=lrframe", "module")


register("module", "lrframe", build="lrframe.training.module:TrainingModule", check=_check_lrframe_module)


def check_user_module(cls: Any, target: str) -> None:
    """A user's LightningModule gets lrframe's optimizer and schedule: it must not bring its own."""
    for klass in getattr(cls, "__mro__", ()):
        if klass.__module__.split(".")[0] in ("lightning", "pytorch_lightning"):
            break
        if "configure_optimizers" in vars(klass):
            raise ConfigError("module._target_", target, f"{klass.__qualname__} defines configure_optimizers; "
                              "lrframe builds the optimizer and schedule from the config (optimizer=, "
                              "scheduler=, warmup=): remove the method")
