"""User-written factors: LambdaLR and MultiplicativeLR (torch), LambdaDecay (Paddle).

``lr_lambda`` is either an arithmetic expression in ``epoch``, the scheduler's clock
(``'0.95 ** epoch'``), or the dotted path of a Python function of the user's own
(``mypackage.schedules.warm``). Expressions are parsed with :mod:`ast` and checked against a
whitelist: numbers, the variable, ``+ - * / // % **``, unary minus, and the functions and constants
of :data:`FUNCTIONS` / :data:`CONSTANTS`, nested at most :data:`MAX_DEPTH` deep. They are never
``eval``-ed: the checked tree is turned into nested closures.

A dotted path is user code, run only when the schedule is built to be run or previewed, never while
a config is validated (see ``user_code_deferred``). Then it is imported as Hydra imports a
``_target_``, under Hydra's blocklist of targets, and must be a function written in Python (``def``
or ``lambda``): a built-in such as ``sys.exit`` or ``os.umask`` is refused. Whatever the function
raises, ``SystemExit`` included, becomes a one-line ConfigError naming the key.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import importlib
import importlib.util
import inspect
import math
import operator
import re
from array import array
from collections.abc import Callable
from typing import Any

from lrframe.config.errors import ConfigError
from lrframe.schedules.base import Schedule, schedule

OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
             ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS = {name: getattr(math, name) for name in (
    "exp", "log", "log2", "log10", "sqrt", "cos", "sin", "tan", "acos", "asin", "atan", "cosh", "sinh",
    "tanh", "fabs")}
FUNCTIONS.update(floor=lambda x: float(math.floor(x)), ceil=lambda x: float(math.ceil(x)),
                 abs=abs, min=min, max=max)
CONSTANTS = {"pi": math.pi, "e": math.e}
DOTTED_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*([.:][A-Za-z_]\w*)")
#: how deep an expression may nest (``1+1+...`` of 3000 terms is 3000 deep): deeper ones are refused
MAX_DEPTH = 100
#: True while a config is validated: a dotted path is checked by its form, not imported or called
_DEFERRED = contextvars.ContextVar("lrframe_user_code_deferred", default=False)


@contextlib.contextmanager
def user_code_deferred():
    """Validate without running user code: within, a dotted-path ``lr_lambda`` (or ``scale_fn``) is
    checked by its form and by whether its top-level module exists, without importing it, and stands
    in for the constant 1 in the schedule being checked."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def _expected(variable: str) -> str:
    return (f"expected an arithmetic expression in {variable} (numbers, {variable}, + - * / // % **, "
            f"{', '.join(FUNCTIONS)}, {', '.join(CONSTANTS)}) or a dotted path to a Python callable")


def _compile(node: ast.AST, variable: str, key: str, text: str) -> Callable[[float], float]:
    """Closures for a whitelisted expression tree (numbers become floats, so ``**`` cannot run away)."""
    def sub(child):
        return _compile(child, variable, key, text)

    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = float(node.value)
        return lambda x: value
    if isinstance(node, ast.Name) and node.id == variable:
        return lambda x: x
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        value = CONSTANTS[node.id]
        return lambda x: value
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        op, left, right = OPERATORS[type(node.op)], sub(node.left), sub(node.right)
        return lambda x: op(left(x), right(x))
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        op, operand = UNARY[type(node.op)], sub(node.operand)
        return lambda x: op(operand(x))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
            and node.args and not node.keywords):
        function, args = FUNCTIONS[node.func.id], [sub(arg) for arg in node.args]
        return lambda x: function(*(arg(x) for arg in args))
    raise ConfigError(key, text, f"{ast.unparse(node)!r} is not allowed; {_expected(variable)}")


def expression(key: str, text: str, variable: str) -> Callable[[float], float]:
    """``text`` as a function of ``variable``; a ConfigError names ``key`` if it is not allowed.

    >>> expression("lr_lambda", "0.5 * (1 + cos(pi * epoch / 10))", "epoch")(5)
    0.5
    """
    too_deep = ConfigError(key, text, f"nested more than {MAX_DEPTH} deep; {_expected(variable)}")
    try:
        tree = ast.parse(text, mode="eval")
    except (RecursionError, MemoryError):  # the parser's own limit on nesting
        raise too_deep from None
    except (SyntaxError, ValueError):  # ValueError: a null byte
        raise ConfigError(key, text, _expected(variable)) from None
    if _depth(tree.body) > MAX_DEPTH:
        raise too_deep
    return _compile(tree.body, variable, key, text)


def _depth(tree: ast.AST) -> int:
    """How deep ``tree`` nests, counted without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def importable(key: str, path: str) -> None:
    """Check a dotted path without importing anything: its top-level module must exist."""
    top = path.partition(":")[0].partition(".")[0]
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(key, path, f"no importable module in this dotted path (no module named {top})")


def imported(key: str, path: str) -> Callable:
    """The Python function at a dotted path: ``package.module.function`` or ``package.module:function``.

    Importing runs the module's code; anything it raises is a one-line ConfigError. The function
    must pass Hydra's ``_target_`` policy and be written in Python.
    """
    module_path, _, attributes = path.partition(":")
    if not attributes:
        module_path, _, attributes = path.rpartition(".")
    while True:  # the longest importable module prefix, then attributes
        try:
            target = importlib.import_module(module_path)
            break
        except ModuleNotFoundError as error:
            if error.name is not None and not module_path.startswith(error.name):
                raise ConfigError(key, path, f"importing {module_path} fails: {_one_line(error)}") from None
            module_path, _, head = module_path.rpartition(".")
            if not module_path:
                raise ConfigError(key, path, "no importable module in this dotted path") from None
            attributes = f"{head}.{attributes}"
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # the module's own code, run by the import: SystemExit included
            raise ConfigError(key, path, f"importing {module_path} fails: {_one_line(error)}") from None
    for name in attributes.split("."):
        if not hasattr(target, name):
            raise ConfigError(key, path, f"{module_path} has no attribute {attributes}")
        target = getattr(target, name)
    if not callable(target):
        raise ConfigError(key, path, "expected a callable")
    _allowed_by_hydra(key, f"{module_path}.{attributes}")
    if not inspect.isfunction(target):
        raise ConfigError(key, path, f"is a {type(target).__name__}, not a function written in Python; expected "
                                     "an expression, or the path of your own function (def f(epoch): ...)")
    return target


def _allowed_by_hydra(key: str, path: str) -> None:
    """Refuse a target that Hydra's instantiate refuses (its blocklist: os.system, shutil.rmtree, ...)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        instantiate({"_target_": path, "_partial_": True})
    except InstantiationException as error:
        reason = " ".join(str(error).split("full_key:")[0].split())
        raise ConfigError(key, path, f"refused by Hydra's target policy ({reason})") from None


def _guarded(key: str, value: str, variable: str, function: Callable) -> Callable[[float], float]:
    """``function``, whose failures (any exception, SystemExit included) are one-line ConfigErrors."""
    def call(x: float) -> float:
        try:
            return function(x)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # the user's code: report any failure in one line
            raise ConfigError(key, value, f"fails at {variable}={x:g}: {_one_line(error)}") from None

    return call


def user_function(key: str, value: Any, variable: str) -> Callable[[float], float]:
    """A whitelisted expression in ``variable``, or a dotted path to a function; checked at 0.

    While a config is validated (``user_code_deferred``) a dotted path is checked by its form only
    and stands in for the constant 1; it is imported and called when the schedule is built.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = repr(value)  # a bare number is a (constant) expression
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, _expected(variable))
    value = value.strip()
    is_path = DOTTED_PATH.fullmatch(value) and not value.startswith(tuple(f"{c}." for c in CONSTANTS))
    if is_path and _DEFERRED.get():
        importable(key, value)
        return lambda x: 1.0
    function = _guarded(key, value, variable, imported(key, value) if is_path else expression(key, value, variable))
    first = function(0)
    if isinstance(first, bool) or not isinstance(first, (int, float)) or not math.isfinite(first):
        raise ConfigError(key, value, f"expected a finite number at {variable}=0, got {first!r}")
    return function


@schedule()
def lambda_lr(*, lr_lambda: Any) -> Schedule:
    """LambdaLR: lr(t) = lr * lr_lambda(t)   (t is ``epoch``, the scheduler's clock)

    >>> f = lambda_lr(lr_lambda="0.95 ** epoch")
    >>> f(0), f(2)
    (1.0, 0.9025)
    """
    return user_function("lr_lambda", lr_lambda, "epoch")


@schedule()
def multiplicative(*, lr_lambda: Any) -> Schedule:
    """MultiplicativeLR: lr(t) = lr * prod_{k=1}^{floor(t)} lr_lambda(k)

    A running product, so it changes at whole units of its clock. Prefix products are cached: a
    preview of a million steps costs one multiplication per new unit of time.

    >>> f = multiplicative(lr_lambda="0.5")
    >>> f(0), f(1), f(2.5)
    (1.0, 0.5, 0.25)
    """
    factor = user_function("lr_lambda", lr_lambda, "epoch")
    products = array("d", [1.0])

    def running_product(t: float) -> float:
        k = math.floor(t)
        while len(products) <= k:
            products.append(products[-1] * factor(len(products)))
        return products[k]

    return running_product
