"""The configuration reference, generated: every group, every option, every key with its default and meaning.

    python -m lrframe.cli.reference > docs/reference.md

The groups and their options are those Hydra finds (``conf/`` and the launchers' plugins: the same
listing ``python train.py --help`` prints); a key's default is its value in the option's file, and
its meaning is the file's comment on it (on its line, the lines under it indented further, or the
lines right above it). An option's own file gives its description (its first comment lines) and
its keys; the keys every option of a group shares are those of ``conf/train.yaml``, listed once per
group (an option's file that sets one again shows its own default, with the shared meaning). A
built-in option names the function the registry builds it with (``lrframe.config.registry``, the
schedules' ``CATALOGUE``). Nothing is listed by hand: a new group, option or key appears here when
its file does. ``tests/cli/test_reference.py`` fails when docs/reference.md is stale, and when a
key of ``conf/`` has no comment.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lrframe.config.defaults import CONFIG_DIR
from lrframe.config.validate import TRAINER_ARGS

#: what generates the reference, as its header says
COMMAND = "python -m lrframe.cli.reference > docs/reference.md"
#: Hydra's groups lrframe documents besides those it has files for (under conf/hydra/)
HYDRA_GROUPS = ("hydra/launcher",)
#: keys of train.yaml that are not settings (the help text itself)
SKIPPED = ("hydra.help",)


@dataclass
class Key:
    name: str
    default: str  # as it would be written on the command line
    meaning: str


@dataclass
class ConfigFile:
    """What one YAML file (or structured config) says: its description, keys and defaults list."""

    description: list[str] = field(default_factory=list)  # its first comment lines
    keys: list[Key] = field(default_factory=list)
    defaults: list[tuple[str, str]] = field(default_factory=list)  # (entry, its comment)
    package: str | None = None
    source: str = ""  # where it is defined


def show(value) -> str:
    """A value as on the command line (null, true, [a, b], {k: v})."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    if value == "???":
        return "??? (required)"
    try:
        plain = yaml.safe_load(str(value)) == value
    except yaml.YAMLError:
        plain = False
    return str(value) if plain else yaml.safe_dump(value).removesuffix("\n...\n").strip()  # quoted


def _comment_after(line: str, column: int) -> str:
    """The comment on ``line`` after ``column`` ('' if none)."""
    rest = line[column:].strip()
    return rest[1:].strip() if rest.startswith("#") else ""


def _is_comment(line: str) -> bool:
    return line.strip().startswith("#")


def meaning(lines: list[str], index: int, column: int, end_column: int, header_end: int) -> str:
    """The comment that explains the key at ``lines[index]`` (its name at ``column``, its value
    ending at ``end_column``): the comment lines right above it (at its indentation, below the
    file's header), the comment on its line, and the comment lines under it indented further."""
    above = []
    row = index - 1
    while row >= header_end and _is_comment(lines[row]) and lines[row].index("#") == column:
        above.insert(0, lines[row].strip()[1:].strip())
        row -= 1
    parts = [*above, _comment_after(lines[index], end_column)]
    row = index + 1
    while row < len(lines) and _is_comment(lines[row]) and lines[row].index("#") > column:
        parts.append(lines[row].strip()[1:].strip())
        row += 1
    return " ".join(part for part in parts if part)


def read_yaml(path: Path) -> ConfigFile:
    """The description, keys (dotted, with defaults and meanings) and defaults list of a config file."""
    text = path.read_text()
    lines = text.splitlines()
    header = 0
    while header < len(lines) and (_is_comment(lines[header]) or not lines[header].strip()):
        header += 1
    found = ConfigFile(source=f"`{path.relative_to(CONFIG_DIR.parent)}`")
    comments = [line.strip()[1:].removeprefix(" ").rstrip() for line in lines[:header] if _is_comment(line)]
    for comment in comments:
        if comment.startswith("@package"):
            found.package = comment.split()[1]
    found.description = [c for c in comments if not c.startswith("@package")]
    root = yaml.compose(text)
    if root is not None:
        _walk(root, "", lines, header, found, "")
    return found


def _walk(node, prefix: str, lines: list[str], header: int, found: ConfigFile, inherited: str) -> None:
    """The keys below ``node``; a leaf without a comment of its own takes its parent's
    (``summary:  # the sweep's summary`` over ``_target_: ...``)."""
    for key_node, value_node in node.value:
        name = prefix + key_node.value
        if name in SKIPPED:
            continue
        line, column = key_node.start_mark.line, key_node.start_mark.column
        if name == "defaults":
            found.defaults += [(show(yaml.safe_load(yaml.serialize(item))).strip("{}"),
                                _comment_after(lines[item.end_mark.line], item.end_mark.column))
                               for item in value_node.value]
        elif isinstance(value_node, yaml.MappingNode) and not value_node.flow_style and value_node.value:
            own = meaning(lines, line, column, key_node.end_mark.column + 1, header)
            _walk(value_node, name + ".", lines, header, found, own or inherited)
        else:
            end = value_node.end_mark.column if value_node.end_mark.line == line else key_node.end_mark.column + 1
            found.keys.append(Key(name, show(yaml.safe_load(yaml.serialize(value_node))),
                                  meaning(lines, line, column, end, header) or inherited))


def read_dataclass(cls: type) -> ConfigFile:
    """A structured config's fields with their defaults and the comments beside or above them (in the
    source of the class that declares each, a base class included)."""
    import dataclasses

    sources = [[line.rstrip("\n") for line in inspect.getsourcelines(base)[0]]
               for base in cls.__mro__ if dataclasses.is_dataclass(base)]
    doc = cls.__dict__.get("__doc__") or ""
    if doc.startswith(f"{cls.__name__}("):  # the signature dataclasses writes where there is no docstring
        doc = ""
    found = ConfigFile(description=inspect.cleandoc(doc).split("\n\n")[0].splitlines(),
                       source=f"`{cls.__module__}.{cls.__qualname__}`, a Hydra plugin's")
    for item in dataclasses.fields(cls):
        if item.name.startswith("_"):
            continue
        default = item.default if item.default is not dataclasses.MISSING else (
            item.default_factory() if item.default_factory is not dataclasses.MISSING else "???")
        text = ""
        for lines in sources:
            index = next((i for i, line in enumerate(lines) if line.strip().startswith(f"{item.name}:")), None)
            if index is not None:
                code = lines[index].split("#", 1)[0]
                text = meaning(lines, index, lines[index].index(item.name), len(code), 0)
                break
        found.keys.append(Key(item.name, show(default), text))
    return found


# ---- what Hydra finds ------------------------------------------------------------------------------

def _loader():
    from hydra.core.global_hydra import GlobalHydra

    return GlobalHydra.instance().config_loader()


def groups() -> list[str]:
    """Every config group of lrframe (``conf/``), nested ones included, then the Hydra groups it
    documents; as Hydra lists them (``python train.py --help``)."""
    loader = _loader()

    def below(parent: str) -> list[str]:
        names = []
        for name in loader.list_groups(parent):
            group = f"{parent}/{name}" if parent else name
            if group != "hydra":
                names += [group, *below(group)]
        return names

    own = [group for group in below("") if loader.get_group_options(group)]
    documented = {*HYDRA_GROUPS, *(str(path.parent.relative_to(CONFIG_DIR)) for path in
                                   (CONFIG_DIR / "hydra").rglob("*.yaml"))}
    return own + sorted(documented)


def chosen() -> dict[str, str | None]:
    """The option each group's default selects (``hydra.runtime.choices``)."""
    from hydra import compose

    cfg = compose(config_name="train", return_hydra_config=True)
    return dict(cfg.hydra.runtime.choices)


def read_option(group: str, option: str) -> ConfigFile:
    """An option's file in conf/, or, for a plugin's option, its structured config."""
    path = CONFIG_DIR / group / f"{option}.yaml"
    if path.is_file():
        return read_yaml(path)
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    node = ConfigStore.instance().load(f"{group}/{option}.yaml").node
    kind = OmegaConf.get_type(node)
    if kind is not None and kind is not dict:
        return read_dataclass(kind)
    return ConfigFile(keys=[Key(k, show(v), "") for k, v in OmegaConf.to_container(node).items()
                            if not k.startswith("_")], source=f"Hydra's `{group}/{option}`")


def built_by(group: str, option: str) -> str | None:
    """The function or class the registry builds a built-in option with."""
    import lrframe.config.groups  # noqa: F401 - registers the built-ins
    from lrframe.config.registry import BUILTINS
    from lrframe.schedules import CATALOGUE

    if group == "scheduler" and option in CATALOGUE:
        made = CATALOGUE[option]
        return f"{made.__module__}.{made.__qualname__}"
    entry = BUILTINS.get(group, {}).get(option)
    return entry.build.replace(":", ".") if entry else None


# ---- the page ---------------------------------------------------------------------------------------

def _escape(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _table(keys: list[Key], prefix: str, fallback: dict[str, str]) -> list[str]:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in keys:
        text = _escape(key.meaning or fallback.get(key.name, "")).replace("|", "&#124;")
        rows.append(f"| `{prefix}{key.name}` | `{key.default.replace('|', '&#124;')}` | {text} |")
    return rows


def _description(lines: list[str]) -> list[str]:
    """A file's first comment lines as markdown: an indented line is a command (and its remark)."""
    import re

    out = []
    for line in lines:
        if line.startswith("  "):
            command, *remark = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            out.append(f"`{command}`" + (f" {_escape(remark[0])}" if remark else ""))
        else:
            out.append(_escape(line))
    return out


def _notes(read: ConfigFile, group: str) -> list[str]:
    notes = []
    for entry, comment in read.defaults:
        if entry == "_self_":
            continue
        target, _, option = entry.partition(": ")
        where = target.replace("override ", "").lstrip("/").split("@")[0]
        if option and where != group:
            notes.append(f"Selects `{where}={option}` unless the command line picks another." +
                         (f" ({comment})" if comment else ""))
        elif option or "@" in entry:
            notes.append(f"Includes `{entry}`" + (f": {comment}" if comment else "") + ".")
        else:
            notes.append(f"Extends `{group}={entry}`: its keys too.")
    if read.package == "_global_":
        notes.append("Sets keys anywhere in the config (`# @package _global_`): the keys below are full paths.")
    return notes


def render() -> str:
    """docs/reference.md."""
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        names = groups()
        defaults = chosen()
        options = {group: _loader().get_group_options(group) for group in names}
        read = {group: {option: read_option(group, option) for option in options[group]} for group in names}
    train = read_yaml(CONFIG_DIR / "train.yaml")
    shared = {group: [Key(k.name.partition(".")[2], k.default, k.meaning) for k in train.keys
                      if k.name.partition(".")[0] == group] for group in names}
    top = [key for key in train.keys if "." not in key.name]
    hydra_keys = [key for key in train.keys if key.name.startswith("hydra.")]
    out = ["# Configuration reference", "",
           f"Generated from `conf/` and lrframe's registries by `{COMMAND}`; do not edit by hand",
           "(`tests/cli/test_reference.py` fails when it is stale). `python train.py --help` lists the same groups.",
           "", "Pick an option with `GROUP=OPTION`, set a key with `GROUP.KEY=VALUE`; `python train.py --cfg job "
           "[overrides]` prints the composed config. Every option can also be replaced by your own code with "
           "`_target_` ([bring your own](bring-your-own.md)).", "",
           "| group | default | options |", "|---|---|---|"]
    for group in names:
        default = defaults.get(group)
        links = ", ".join(f"[`{option}`](#{_anchor(group, option)})" for option in options[group])
        out.append(f"| [`{group}`](#{_anchor(group)}) | `{default if default else 'none'}` | {links} |")
    out += ["", "## Top-level keys", "", *_table(top, "", {})]
    for group in names:
        out += ["", f"## {group}", ""]
        default = defaults.get(group)
        out.append(f"Default: `{group}={default}`." if default else
                   f"Default: none (add one with `{'+' if group not in defaults else ''}{group}=OPTION`).")
        prefix = "" if group.startswith("hydra/") else f"{group}."
        if group.startswith("hydra/"):
            prefix = group.replace("/", ".") + "."
        if shared[group]:
            out += ["", f"Keys every option of `{group}` has (`conf/train.yaml`):", "",
                    *_table(shared[group], prefix, {})]
        fallback = {key.name: key.meaning for key in shared[group]}
        for option in options[group]:
            found = read[group][option]
            out += ["", f"### {group}={option}", ""]
            made = built_by(group, option)
            target = next((key.default for key in found.keys if key.name == "_target_"), None)
            out += [*_description(found.description), f"({found.source}" + (f"; built by `{made}`" if made else "")
                    + (f"; instantiates `{target}`" if target else "") + ")"]
            notes = _notes(found, group)
            if notes:
                out += ["", *(f"- {note}" for note in notes)]
            keys = [key for key in found.keys if key.name not in ("name", "_target_")]
            if keys:
                full = "" if found.package == "_global_" else prefix
                out += ["", *_table(keys, full, fallback)]
        if group == "trainer":
            listed = {key.name for option in read[group].values() for key in option.keys}
            more = [name for name in TRAINER_ARGS if name not in listed]
            out += ["", "Lightning `Trainer` arguments also accepted, added with `+trainer.KEY=VALUE`: "
                    + ", ".join(f"`{name}`" for name in more) + "."]
    out += ["", "## Hydra settings (`conf/train.yaml`)", "", *_table(hydra_keys, "", {})]
    return "\n".join(out) + "\n"


def _anchor(group: str, option: str | None = None) -> str:
    """GitHub's anchor of the heading ``group`` or ``group=option``."""
    heading = group if option is None else f"{group}={option}"
    return "".join(c for c in heading.lower() if c.isalnum() or c in "-_ ").replace(" ", "-")


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
