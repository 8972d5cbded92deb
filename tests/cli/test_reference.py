"""docs/reference.md and ``python train.py --help``: both list what conf/ holds, checked against the files.

The facts compared with are read here from the YAML files themselves (every ``conf/<group>/<name>.yaml``,
its keys and values by ``yaml.safe_load``), not from the generator.
"""

import re
from pathlib import Path

import pytest
import yaml

from conftest import CONFIG_DIR, REPO, train_cli
from lrframe.cli import reference

REFERENCE = REPO / "docs" / "reference.md"


def option_files() -> list[Path]:
    return sorted(path for path in CONFIG_DIR.rglob("*.yaml") if path.parent != CONFIG_DIR)


def group_of(path: Path) -> str:
    return str(path.parent.relative_to(CONFIG_DIR))


def leaves(node, prefix=""):
    """``{"a.b": value}`` for every key of a YAML mapping whose value is not a mapping."""
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def rows(text: str) -> dict[str, tuple[str, str]]:
    """key -> (default, meaning) of every table row of the reference, per section (``### group=option``)."""
    found, section = {}, None
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.lstrip("# ").strip()
        cells = re.match(r"^\| `([^`]+)` \| `(.*)` \| (.*) \|$", line)
        if cells:
            found[(section, cells.group(1))] = (cells.group(2), cells.group(3))
    return found


@pytest.fixture(scope="module")
def text():
    return REFERENCE.read_text()


def test_docs_reference_md_is_the_generated_one(text):
    assert text == reference.render(), "docs/reference.md is stale: run " + reference.COMMAND


@pytest.mark.parametrize("path", option_files(), ids=lambda path: str(path.relative_to(CONFIG_DIR)))
def test_every_option_and_key_of_conf_is_in_the_reference_with_its_default_and_a_meaning(path, text):
    group, option = group_of(path), path.stem
    section = f"{group}={option}"
    assert f"\n### {section}\n" in text
    content = yaml.safe_load(path.read_text()) or {}
    global_ = path.read_text().startswith("# @package _global_")
    prefix = "" if global_ else group.replace("/", ".") + "."
    table = rows(text)
    for key, value in leaves({k: v for k, v in content.items() if k not in ("defaults", "name", "_target_")}):
        default, meaning = table[(section, prefix + key)]
        assert (None if default == "??? (required)" else yaml.safe_load(default)) == (
            None if value == "???" else value), key
        assert meaning.strip(), f"{path.relative_to(REPO)}: {key} has no comment to say what it means"


def test_the_shared_keys_of_train_yaml_and_the_top_level_keys_have_defaults_and_meanings(text):
    config = yaml.safe_load((CONFIG_DIR / "train.yaml").read_text())
    table = rows(text)
    for key, value in leaves({k: v for k, v in config.items() if k not in ("defaults", "hydra")}):
        group, dot, _ = key.partition(".")
        default, meaning = table[(group if dot else "Top-level keys", key)]
        assert yaml.safe_load(default) == value and meaning.strip(), key


def test_each_groups_default_is_the_one_train_yaml_selects(text):
    selected = {}
    for entry in yaml.safe_load((CONFIG_DIR / "train.yaml").read_text())["defaults"]:
        if isinstance(entry, dict):
            selected.update(entry)
    index = {line.split("`")[1]: line.split("`")[3] for line in text.splitlines() if line.startswith("| [`")}
    for group, option in selected.items():
        assert index[group] == (option if option is not None else "none"), group


def test_every_registered_built_in_has_an_option_in_conf(text):
    import lrframe.config.groups  # noqa: F401 - registers the built-ins
    from lrframe.config.registry import BUILTINS
    from lrframe.schedules import CATALOGUE

    registered = {(group, name) for group, names in BUILTINS.items() for name in names}
    registered |= {("scheduler", name) for name in CATALOGUE}
    files = {(group_of(path), path.stem) for path in option_files()}
    assert registered <= files  # a built-in without a file cannot be picked with group=name
    for group, name in registered:
        assert f"\n### {group}={name}\n" in text


def test_help_lists_every_group_and_option_of_conf():
    result = train_cli("--help")
    assert result.returncode == 0, result.stderr
    listed = dict(line.split(": ", 1) for line in
                  result.stdout.split("== Config groups (GROUP=OPTION) ==\n", 1)[1].split("\n\n", 1)[0].splitlines())
    expected = {}
    for path in option_files():
        if not group_of(path).startswith("hydra"):
            expected.setdefault(group_of(path), []).append(path.stem)
    assert {group: options.split(", ") for group, options in listed.items()} == {
        group: sorted(options) for group, options in expected.items()}
    assert "docs/reference.md" in result.stdout
