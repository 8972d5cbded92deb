"""The schedule of a run: warmup joined to the main schedule, on the run's clock.

At optimizer step ``s`` with a warmup of ``W`` steps::

    factor(s) = main(0) * warmup(s)      for s < W   (warmup ramps to where the main schedule starts,
                                                      or to end_factor of it; end_lr: to that lr)
    factor(s) = main(time(s - W))        for s >= W  (the main schedule from its own beginning)

``time`` maps steps to the main schedule's unit and interval (see ``clock``). The lr of every
parameter group at step ``s`` is its base lr times ``factor(s)``.

A warmup of one's own is a ``_target_`` (``conf/warmup/NAME.yaml`` in the user's folder): called
with the node's keys but its length (``steps``/``epochs``, lrframe's) and with ``steps=W`` where it
takes it, it returns ``warmup(s)``, a function of the step; ``_partial_: true`` makes a function of
``(s, steps, ...)`` that. Its factors must be finite and >= 0 at every warmup step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lrframe.config.errors import ConfigError, choice, integer, number
from lrframe.config.registry import is_target, option
from lrframe.schedules import peers
from lrframe.schedules import warmup as warmups
from lrframe.schedules.base import Schedule
from lrframe.schedules.clock import UNITS, Clock
from lrframe.schedules.swa import SwaPhase

INTERVALS = ("step", "epoch")
CLOCK_KEYS = ("interval", "unit")


class RunSchedule:
    """The lr multiplier, and momentum where scheduled, at every optimizer step of a run."""

    def __init__(self, main: Schedule, time: Callable[[int], float],
                 warmup: Schedule | None = None, warmup_steps: int = 0, arguments: dict | None = None):
        self.main, self.time = main, time
        self.warmup, self.warmup_steps = warmup, warmup_steps
        #: the main schedule's constructor arguments as this run resolved them (null durations filled in)
        self.arguments = arguments or {}
        self._main_momentum = getattr(main, "momentum", None)
        #: stochastic weight averaging's phase (``lrframe.schedules.swa``): SWALR's lr from its start on
        self.swa: SwaPhase | None = None

    def __call__(self, step: int) -> float:
        """The factor of the base lr at ``step`` (before SWA starts: see ``lr``)."""
        if step < self.warmup_steps:
            return self.main(0) * self.warmup(step)
        return self.main(self.time(step - self.warmup_steps))

    def lr(self, step: int, base: float, group: int = 0) -> float:
        """The lr at ``step`` of parameter group ``group``, whose base lr is ``base``: ``base * self(step)``,
        and once SWA has started, SWALR's anneal from the lr at its start to ``swa_lrs``."""
        swa = self.swa
        if swa is None or step < swa.start_step:
            return base * self(step)
        alpha = swa.alpha(step)
        return swa.swa_lr(group) * alpha + base * self(swa.start_step) * (1 - alpha)

    def with_swa(self, swa: SwaPhase | None) -> RunSchedule:
        self.swa = swa
        return self

    @property
    def schedules_momentum(self) -> bool:
        return self._main_momentum is not None

    def momentum(self, step: int) -> float:
        """The scheduled momentum (held at the main schedule's first value during warmup, and at its
        value when SWA starts from then on)."""
        if self.swa is not None:
            step = min(step, self.swa.start_step)
        return self._main_momentum(self.time(max(step - self.warmup_steps, 0)))

    @property
    def observes_metric(self) -> bool:
        return hasattr(self.main, "observe")

    def observe(self, step: int, metrics: dict[str, float]) -> None:
        """Feed validation metrics (``val/loss``, ``val/acc``) to a history-dependent schedule.

        Metrics reported during warmup are ignored: the main schedule has not started yet; and
        after SWA's first step: SWALR has replaced it (the lr SWA starts from takes in what was
        reported just before its start, as with Lightning's callback).
        """
        if self.swa is not None and step > self.swa.start_step:
            return
        if self.observes_metric and step >= self.warmup_steps:
            self.main.observe(metrics)

    def state_dict(self) -> dict[str, Any]:
        """Plain containers only; closed-form schedules have no state beyond the step counter."""
        return self.main.state_dict() if hasattr(self.main, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.main, "load_state_dict"):
            self.main.load_state_dict(state)


#: a warmup's own keys, never passed to a ``_target_``: its length
LENGTH_KEYS = ("name", "steps", "epochs")
#: the name ``warmup_arguments`` gives a warmup of one's own
TARGET = "_target_"


def warmup_steps(node: dict, clock: Clock) -> int:
    """The warmup length in optimizer steps: ``warmup.steps`` if set, else ``warmup.epochs``."""
    if node.get("name", "none") == "none" and not is_target(node):
        return 0
    if node.get("steps") is not None:
        steps = integer("warmup.steps", node["steps"], ge=0)
        key, value = "warmup.steps", node["steps"]
    else:
        epochs = number("warmup.epochs", node.get("epochs"), ge=0)
        steps = clock.to_steps(epochs, "epoch")
        key, value = "warmup.epochs", node["epochs"]
    if steps >= clock.total_steps:
        raise ConfigError(key, value, f"expected a warmup shorter than the run ({clock.total_steps} steps)")
    return steps


def warmup_keys(name: str) -> tuple[str, ...]:
    """The keys of a ``warmup=NAME`` node: the duration, and the shape's own."""
    if name == "none":  # nothing to shape; the keys every warmup had before the shapes had their own
        return ("name", "steps", "epochs", "start_factor")
    shape = [key for key in inspect.signature(warmups.SHAPES[name]).parameters if key != "steps"]
    extras = [key for key in warmups.EXTRAS if "end_factor" in shape and key not in shape]
    return ("name", "steps", "epochs", *shape, *extras)


def warmup_arguments(node: dict, clock: Clock) -> tuple[str, int, dict]:
    """The warmup's name (``TARGET`` for a ``_target_``), length in optimizer steps and the shape's
    arguments (extras filled in; a ``_target_``'s: its node)."""
    if is_target(node):
        return TARGET, _target_steps(node, clock), node
    name = choice("warmup.name", node.get("name"), ("none", *warmups.SHAPES))
    allowed = warmup_keys(name)
    for key in node:
        if key not in allowed:
            raise peers.unknown_key(key, node[key], f"warmup={name}", allowed,
                                    {shape: warmup_keys(shape) for shape in warmups.SHAPES}, "warmup")
    steps = warmup_steps(node, clock)
    arguments = {key: node.get(key, warmups.EXTRAS.get(key)) for key in allowed
                 if key not in ("name", "steps", "epochs")}
    return name, steps, arguments


def _target_steps(node: dict, clock: Clock) -> int:
    """A ``_target_`` warmup's length, its target imported and its keys checked against its signature."""
    from lrframe.config.targets import check_target

    if node.get("name", "none") != "none":
        raise ConfigError("warmup._target_", node["_target_"], f"given on top of warmup={node['name']}, whose keys "
                          "would go to it; expected warmup=none +warmup._target_=... or a conf/warmup/NAME.yaml")
    if node.get("steps") is None and node.get("epochs") is None:
        raise ConfigError("warmup.steps", None, "missing; a warmup given by _target_ needs its length "
                                                "(warmup.steps or warmup.epochs)")
    check_target("warmup", node, own_keys=LENGTH_KEYS, provided=("steps",))
    return warmup_steps(node, clock)


def _own_warmup(node: dict, steps: int) -> Schedule:
    """Build a ``_target_`` warmup of ``steps`` steps and check its factor at every one of them."""
    from lrframe.config.targets import build_target

    shape = build_target("warmup", node, own_keys=LENGTH_KEYS, provided={"steps": steps})
    if not callable(shape):
        raise ConfigError("warmup._target_", node["_target_"], f"returned {type(shape).__name__}; expected a function "
                                                               "of the step (or _partial_: true)")
    for s in range(steps):
        try:
            factor = float(shape(s))
        except Exception as error:  # noqa: BLE001 - the user's function failed: one line
            raise ConfigError("warmup._target_", node["_target_"], f"failed at step {s}: {type(error).__name__}: "
                              f"{' '.join(str(error).split())[:200]}") from None
        if not factor >= 0 or factor == float("inf"):
            raise ConfigError("warmup._target_", node["_target_"], f"gives the factor {factor} at step {s}; "
                                                                   "expected a finite number >= 0")
    return shape


def build_warmup(name: str, steps: int, arguments: dict, lr: float, start: float) -> Schedule | None:
    """The warmup's shape; ``end_lr`` (an lr), if set, gives the ``end_factor`` of the main schedule's
    starting factor ``start`` that the warmup ends at."""
    if name == "none" or steps == 0:
        return None
    if name == TARGET:
        return _own_warmup(arguments, steps)
    arguments = dict(arguments)
    end_lr = arguments.pop("end_lr", None)
    try:
        if end_lr is not None:
            arguments["end_factor"] = number("end_lr", end_lr, ge=0) / (lr * start)
        return warmups.SHAPES[name](**arguments, steps=steps)
    except ConfigError as error:
        raise error.under("warmup") from None


@dataclass(frozen=True)
class Pieces:
    """Builds schedules from config nodes on one clock; composite schedules get one for their parts.

    ``length`` is the share of the run the schedule being built lasts and ``warmup`` the run's
    warmup, both in ``unit``; ``lr`` is the optimizer's effective lr.
    """

    catalogue: dict[str, Callable[..., Schedule]]
    length: float
    unit: str
    lr: float
    warmup: float
    part: bool = False  # building a part of a composite schedule (its length is the part's)

    #: constructor arguments that are not config keys: the optimizer's lr and this builder
    INJECTED = ("lr", "pieces")

    def build(self, node: dict, clock_keys: tuple[str, ...] = ()) -> Schedule:
        name = choice("name", node.get("name"), self.catalogue)
        constructor = self.catalogue[name]
        return constructor(**self.arguments(constructor, node, clock_keys))

    def __call__(self, key: str, node: Any, length: float) -> Schedule:
        """A part of a composite schedule: ``node`` lasting ``length``, its errors under ``key``."""
        if not isinstance(node, dict):
            raise ConfigError(key, node, "expected a scheduler config, e.g. {name: exponential, gamma: 0.9}")
        try:
            return replace(self, length=length, part=True).build(node)
        except ConfigError as error:
            raise error.under(key) from None

    def arguments(self, constructor, node: dict, clock_keys: tuple[str, ...]) -> dict:
        """The constructor's keyword arguments from a scheduler node, durations resolved.

        Arguments named ``lr`` and ``pieces`` are not config keys: they receive ``self.lr`` and
        ``self``.
        """
        params = inspect.signature(constructor).parameters
        injected = dict(zip(self.INJECTED, (self.lr, self)))
        configurable = [p for p in params if p not in injected]
        where = f"scheduler={node['name']}"
        allowed = (*clock_keys, "name", *configurable)
        for key in node:
            if key not in allowed:
                options = {option: inspect.signature(c).parameters for option, c in self.catalogue.items()}
                raise peers.unknown_key(key, node[key], where, allowed, options)
        kwargs = {name: value for name, value in injected.items() if name in params}
        extras = getattr(constructor, "extras", {})
        for name in configurable:
            if name not in node and name in extras:  # a key added later: absent, the original curve
                kwargs[name] = extras[name]
                continue
            if name not in node:
                raise ConfigError(name, None, f"missing; {where} needs it")
            value = node[name]
            if value is None and name in constructor.to_end:
                value = self.length
            elif value is None and name in constructor.from_warmup:
                if not self.warmup:
                    raise ConfigError(name, None, "null means as long as the warmup, and there is none; "
                                                  "set it, or a warmup")
                value = self.warmup
            elif name in constructor.covers_run and isinstance(value, (int, float)) and 0 < value < self.length:
                span = f"its part of the run ({self.length:g} {self.unit}s)" if self.part else \
                    f"the run ({self.length:g} {self.unit}s after warmup)"
                raise ConfigError(name, value, f"shorter than {span}; set it to null to last to the end")
            kwargs[name] = value
        return kwargs


def build_run_schedule(scheduler: dict, warmup: dict, clock: Clock, lr: float,
                       catalogue: dict[str, Callable[..., Schedule]]) -> RunSchedule:
    """Build the run's schedule from the ``scheduler`` and ``warmup`` config nodes.

    Raises ConfigError with keys under ``scheduler.`` / ``warmup.``.
    """
    warmup_name, steps, warmup_kwargs = warmup_arguments(warmup, clock)
    try:
        interval = choice("interval", scheduler.get("interval"), INTERVALS)
        unit = scheduler.get("unit") or interval
        choice("unit", unit, UNITS)
        pieces = Pieces(catalogue, length=clock.in_unit(clock.total_steps - steps, unit), unit=unit, lr=lr,
                        warmup=clock.in_unit(steps, unit))
        constructor = catalogue[choice("name", scheduler.get("name"), catalogue)]
        arguments = pieces.arguments(constructor, scheduler, CLOCK_KEYS)
        main = constructor(**arguments)
    except ConfigError as error:
        raise error.under("scheduler") from None
    if warmup_name != "none" and steps and main(0) == 0:
        raise ConfigError(*option("warmup", warmup, "warmup.name"), f"warms up to where the schedule starts, and "
                          f"scheduler={scheduler['name']} starts at 0 (it warms up by itself); expected warmup=none")
    warmup_fn = build_warmup(warmup_name, steps, warmup_kwargs, lr, main(0))
    resolved = {name: value for name, value in arguments.items() if name not in Pieces.INJECTED}
    return RunSchedule(main, clock.timer(unit, interval), warmup_fn, steps, resolved)
