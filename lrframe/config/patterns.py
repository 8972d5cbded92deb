"""Which parameters a group applies to: glob patterns over parameter names (torch-free).

The patterns are the keys of ``optimizer.lr_multipliers`` and ``optimizer.param_groups`` (see
``lrframe.config.param_groups``).

A pattern matches a parameter name (as ``model.named_parameters()`` gives it, e.g. ``head.weight``)
when the name matches it as a glob (``fnmatch``: ``*`` any run of characters, dots included, ``?``
one character, ``[seq]`` one of seq), or when it names a module the parameter belongs to::

    head       head.weight, head.bias           (the module head)
    hidden*    hidden1.weight, hidden2.bias, ...
    *.bias     every bias
    hidden1    hidden1.weight, hidden1.bias     (but not hidden10.weight)

Every pattern must match at least one parameter, and no parameter may match two patterns, so what
a config says is what the optimizer gets.

    >>> assign(["hidden1.weight", "hidden1.bias", "head.weight", "head.bias"], {"head": 10})
    {'hidden1.weight': None, 'hidden1.bias': None, 'head.weight': 'head', 'head.bias': 'head'}
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from lrframe.config.errors import ConfigError, number

KEY = "optimizer.lr_multipliers"
_SYNTAX = re.compile(r"[\w.*?!\-\[\]]+")


def matches(pattern: str, name: str) -> bool:
    """True if parameter ``name`` matches glob ``pattern``, or lies in the module ``pattern`` matches."""
    return fnmatchcase(name, pattern) or fnmatchcase(name, pattern + ".*")


def check_pattern(key: str, pattern: Any, value: Any) -> str:
    """A parameter name pattern (the key of a mapping under ``key``), or a one-line error."""
    if (not isinstance(pattern, str) or not _SYNTAX.fullmatch(pattern)
            or pattern.count("[") != pattern.count("]")):
        raise ConfigError(f"{key}.{pattern}", value, "expected a parameter name pattern of letters, "
                                                     "digits, _ . - and the wildcards * ? [...]")
    return pattern


def check_multipliers(value: Any) -> dict[str, float]:
    """``optimizer.lr_multipliers``: a mapping of name pattern -> multiplier > 0 (null: none)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(KEY, value, "expected a mapping of parameter name pattern -> lr multiplier, "
                                      "e.g. {head:10}")
    for pattern, multiplier in value.items():
        check_pattern(KEY, pattern, multiplier)
        number(f"{KEY}.{pattern}", multiplier, gt=0)
    return value


def assign(names: list[str], multipliers: dict[str, float] | None,
           others: dict[str, tuple[str, Any]] | None = None) -> dict[str, str | None]:
    """Each parameter name -> the pattern it matches (None: no pattern, the base lr).

    ``others``: more patterns, each with the key and value an error about it names
    (``optimizer.param_groups``' patterns: ``{"head": ("optimizer.param_groups.head", {...})}``); a
    pattern of ``multipliers`` among them is one pattern, named as ``multipliers`` names it.
    """
    patterns = {pattern: (f"{KEY}.{pattern}", value) for pattern, value in check_multipliers(multipliers).items()}
    patterns |= {pattern: named for pattern, named in (others or {}).items() if pattern not in patterns}
    owner: dict[str, str | None] = dict.fromkeys(names)
    for pattern, (key, value) in patterns.items():
        matched = [name for name in names if matches(pattern, name)]
        if not matched:
            shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            raise ConfigError(key, value, f"the pattern matches no parameter; parameters: {shown}")
        for name in matched:
            if owner[name] is not None:
                raise ConfigError(key, value, f"{name} also matches {owner[name]!r}; a parameter may match "
                                              "one pattern only")
            owner[name] = pattern
    return owner
