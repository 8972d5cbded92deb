"""User-written factors: LambdaLR and MultiplicativeLR (torch), LambdaDecay (Paddle).

``lr_lambda`` is either a dotted path to a Python callable (``mypackage.schedules.warm``) or an
arithmetic expression in ``epoch``, the scheduler's clock (``'0.95 ** epoch'``). Expressions are
parsed with :mod:`ast` and checked against a whitelist: numbers, the variable, ``+ - * / // % **``,
unary minus, and the functions and constants of :data:`FUNCTIONS` / :data:`CONSTANTS`. They are
never ``eval``-ed: the checked tree is turned into nested closures.
"""

from __future__ import annotations

import ast
import importlib
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
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ConfigError(key, text, _expected(variable)) from None
    return _compile(tree.body, variable, key, text)


def imported(key: str, path: str) -> Callable:
    """The callable at a dotted path: ``package.module.function`` or ``package.module:function``."""
    module_path, _, attributes = path.partition(":")
    if not attributes:
        module_path, _, attributes = path.rpartition(".")
    while True:  # the longest importable module prefix, then attributes
        try:
            target = importlib.import_module(module_path)
            break
        except ModuleNotFoundError:
            module_path, _, head = module_path.rpartition(".")
            if not module_path:
                raise ConfigError(key, path, "no importable module in this dotted path") from None
            attributes = f"{head}.{attributes}"
    for name in attributes.split("."):
        if not hasattr(target, name):
            raise ConfigError(key, path, f"{module_path} has no attribute {attributes}")
        target = getattr(target, name)
    if not callable(target):
        raise ConfigError(key, path, "expected a callable")
    return target


def user_function(key: str, value: Any, variable: str) -> Callable[[float], float]:
    """A dotted path to a callable, or a whitelisted expression in ``variable``; checked at 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = repr(value)  # a bare number is a (constant) expression
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, _expected(variable))
    value = value.strip()
    is_path = DOTTED_PATH.fullmatch(value) and not value.startswith(tuple(f"{c}." for c in CONSTANTS))
    function = imported(key, value) if is_path else expression(key, value, variable)
    try:
        first = function(0)
    except Exception as error:  # the user's code: report any failure in one line
        raise ConfigError(key, value, f"fails at {variable}=0: {error}") from None
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
