"""The commands of README.md and docs/*.md (and of ``python train.py --help``), run or checked.

Every fenced ``bash`` block is one of:

- unmarked: each of its commands is ``python train.py ...`` (``.venv/bin/python train.py``, ``lrframe``)
  and must compose and validate as the pre-check does it before anything runs (``lrframe.cli.precheck``,
  in a fresh folder); the cheap ones, ``task=preview``, also run for real (slow);
- ``<!-- run in order by tests/test_docs.py -->``: run for real, one after another in one fresh folder,
  each **shortened with ``trainer.max_epochs=3``** appended (slow); checked as unmarked ones too, but
  for ``resume=PATH``, which needs the run before it;
- ``<!-- checked from a copy of tests/fixtures/user_project by tests/test_docs.py -->``: a user's
  project: checked as above from a copy of the example project (``cd my_project`` is that copy,
  ``/path/to/lrframe/train.py`` is this repository's);
- ``<!-- run by tests/PATH.py -->``: a script another test runs: that file exists and names it;
- ``<!-- not run by the tests: REASON -->``: needs what the tests do not have (a cluster, a server,
  minutes of benchmark), and says so.

A ``console`` block is a transcript: each ``$ python train.py ...`` that the pre-check refuses must
print exactly the ``error:`` line shown under it (``...`` standing for any text); a command the
pre-check lets through is run (slow), and must fail with the ``error:`` line shown, or succeed where
none is shown; but for a ``resume=`` command, which needs a run the transcript does not show.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import CONFIG_DIR, REPO
from lrframe.cli.main import command_line
from lrframe.cli.precheck import precheck

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- (.+?) -->$")
IN_ORDER = "run in order by tests/test_docs.py"
USER_PROJECT = "checked from a copy of tests/fixtures/user_project by tests/test_docs.py"
NOT_RUN = "not run by the tests: "
RUN_BY = re.compile(r"^run by (tests/\S+\.py)$")
#: what a command run in order gets appended, to keep the test short (3 epochs: longer than the
#: warmups the commands set)
SHORTENED = ["trainer.max_epochs=3"]


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    kind: str  # bash, console, ...
    text: str
    marker: str | None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    found, lines = [], page.read_text().splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"^\s*```(\w*)\s*$", lines[index])
        if fence:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
            above = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = MARKER.match(above)
            text = "\n".join(line.strip() for line in lines[index + 1:end])
            found.append(Block(page, index + 1, fence.group(1), text, marker and marker.group(1)))
            index = end
        index += 1
    return found


ALL = [block for page in PAGES for block in blocks(page)]
BASH = [block for block in ALL if block.kind == "bash"]
CONSOLE = [block for block in ALL if block.kind == "console"]


def commands(text: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped, ``a && b`` split."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        for part in line.split("&&"):
            tokens = shlex.split(part, comments=True)
            while tokens and re.match(r"^[A-Z_]+=", tokens[0]):  # OMP_NUM_THREADS=1 lrframe ...
                tokens = tokens[1:]
            if tokens:
                found.append(tokens)
    return found


def train_arguments(tokens: list[str]) -> list[str] | None:
    """The arguments of a ``python train.py``/``lrframe`` command; None for any other command."""
    if tokens[0] == "lrframe":
        return tokens[1:]
    if Path(tokens[0]).name == "python" and len(tokens) > 1 and Path(tokens[1]).name == "train.py":
        return tokens[2:]
    return None


def checked(arguments: list[str], folder: Path, monkeypatch, capsys) -> str | None:
    """Run the pre-check on ``arguments`` as ``lrframe`` would from ``folder``; its error line, or None."""
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))  # a user's modules, as lrframe.cli.main puts them on the path
    try:
        precheck(command_line(arguments, folder), CONFIG_DIR)
    except SystemExit as stop:
        assert stop.code == 1
        return capsys.readouterr().err.strip()
    return None


def run(arguments: list[str], folder: Path) -> subprocess.CompletedProcess:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, str(REPO / "train.py"), *arguments], cwd=folder, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})


def user_project(tmp_path: Path) -> Path:
    folder = tmp_path / "my_project"
    shutil.copytree(REPO / "tests" / "fixtures" / "user_project", folder)
    return folder


def test_every_command_block_is_checked_or_says_why_not():
    assert len(BASH) > 20 and CONSOLE
    for block in BASH:
        marker = block.marker or ""
        if marker.startswith(NOT_RUN):
            assert len(marker) > len(NOT_RUN) + 10, f"{block.name}: say why it is not run"
        elif RUN_BY.match(marker):
            test = REPO / RUN_BY.match(marker).group(1)
            assert test.is_file(), f"{block.name}: {test} does not exist"
            for tokens in commands(block.text):
                script = next(token for token in tokens if token.endswith(".py"))
                assert Path(script).stem in test.read_text(), f"{block.name}: {test.name} does not run {script}"
        else:
            assert marker in ("", IN_ORDER, USER_PROJECT), f"{block.name}: unknown marker {marker!r}"
            for tokens in commands(block.text):
                if marker == USER_PROJECT and tokens[0] == "cd":
                    continue
                assert train_arguments(tokens) is not None, (
                    f"{block.name}: {' '.join(tokens)} is neither train.py nor marked as run elsewhere")


def costly(block: Block) -> bool:
    """A block whose check takes seconds: grids (every job is composed) and a user's project."""
    return block.marker == USER_PROJECT or any("-m" in tokens or any(t.startswith("+experiment=") for t in tokens)
                                               for tokens in commands(block.text))


@pytest.mark.parametrize("block", [pytest.param(b, marks=pytest.mark.slow) if costly(b) else b
                                   for b in BASH if b.marker in (None, IN_ORDER, USER_PROJECT)], ids=lambda b: b.name)
def test_every_documented_command_composes_and_validates(block, tmp_path, monkeypatch, capsys):
    folder = user_project(tmp_path) if block.marker == USER_PROJECT else tmp_path
    for tokens in commands(block.text):
        arguments = train_arguments(tokens)
        if block.marker == IN_ORDER and any(re.match(r"^resume=(?!auto$|null$)", a) for a in arguments or []):
            continue  # resume=PATH needs the run before it: checked when the block runs, in order (slow)
        if arguments is not None:
            assert checked(arguments, folder, monkeypatch, capsys) is None, f"{block.name}: {' '.join(tokens)}"


def help_commands() -> list[list[str]]:
    """The example commands of ``python train.py --help`` (conf/train.yaml's help template)."""
    template = yaml.safe_load((CONFIG_DIR / "train.yaml").read_text())["hydra"]["help"]["template"]
    lines = [re.split(r"\s{2,}", line.strip())[0] for line in template.splitlines()
             if line.strip().startswith("python train.py") and not re.search(r"\[|GROUP|\.\.\.", line)]
    return [shlex.split(line)[2:] for line in lines]


def test_the_help_examples_compose_and_validate(tmp_path, monkeypatch, capsys):
    examples = help_commands()
    assert len(examples) >= 4
    for arguments in examples:
        assert checked(arguments, tmp_path, monkeypatch, capsys) is None, arguments


def transcripts(block: Block) -> list[tuple[list[str], list[str]]]:
    """(command, the lines it printed) of each ``$ `` line of a console block."""
    found = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            found.append((shlex.split(line[2:]), []))
        elif found:
            found[-1][1].append(line)
    return found


@pytest.mark.parametrize("block", CONSOLE, ids=lambda b: b.name)
def test_documented_config_errors_are_what_the_precheck_prints(block, tmp_path, monkeypatch, capsys):
    for tokens, printed in transcripts(block):
        arguments = train_arguments(tokens)
        if arguments is None:
            continue  # a script's measurement, not a command of lrframe's
        error = checked(arguments, tmp_path, monkeypatch, capsys)
        if error is not None:  # refused before running: the documented line must be the one printed
            assert matches(error, printed), f"{block.name}: {' '.join(tokens)} prints\n{error}\nnot\n{printed}"


def matches(error: str, printed: list[str]) -> bool:
    """Whether ``error`` is one of the ``error:`` lines ``printed`` (in which ``...`` is any text)."""
    patterns = [re.escape(line).replace(re.escape("..."), ".*") for line in printed if line.startswith("error: ")]
    return any(re.fullmatch(pattern, error) for pattern in patterns)


@pytest.mark.slow
@pytest.mark.parametrize("block", CONSOLE, ids=lambda b: b.name)
def test_documented_run_time_errors_are_what_the_runs_print(block, tmp_path, monkeypatch, capsys):
    for number, (tokens, printed) in enumerate(transcripts(block)):
        arguments = train_arguments(tokens)
        if arguments is None or any(a.startswith("resume=") for a in arguments):
            continue
        if checked(arguments, tmp_path, monkeypatch, capsys) is not None:
            continue  # refused before running: the fast test compares it
        result = run(arguments, tmp_path / str(number))
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        if any(line.startswith("error: ") for line in printed):
            assert result.returncode == 1 and len(errors) == 1 and matches(errors[0], printed), (
                f"{block.name}: {' '.join(tokens)} prints\n{result.stderr[-2000:]}\nnot\n{printed}")
        else:
            assert result.returncode == 0, f"{block.name}: {' '.join(tokens)}\n{result.stderr[-2000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BASH if b.marker == IN_ORDER], ids=lambda b: b.name)
def test_blocks_meant_to_run_do_run_in_order(block, tmp_path):
    for tokens in commands(block.text):
        result = run(train_arguments(tokens) + SHORTENED, tmp_path)
        assert result.returncode == 0, f"{block.name}: {' '.join(tokens)}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_documented_previews_run(tmp_path):
    previews = [arguments for block in BASH if block.marker is None for tokens in commands(block.text)
                if (arguments := train_arguments(tokens)) and "task=preview" in arguments]
    assert len(previews) >= 2
    for number, arguments in enumerate(previews):
        result = run(arguments, tmp_path / str(number))
        assert result.returncode == 0, f"{' '.join(arguments)}\n{result.stderr[-3000:]}"
        assert "preview: " in result.stdout


def test_the_readme_is_a_front_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "make train" in text and "make test" in text  # .ci/run calls `make test`
    assert "--config-dir" in text and "_target_" in text and "docs/bring-your-own.md" in text
    for page in ("guide", "reference", "experiments", "performance", "scaling", "bring-your-own"):
        assert f"(docs/{page}.md)" in text
        assert (REPO / "docs" / f"{page}.md").is_file()


def test_links_and_images_of_the_pages_exist():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"^[a-z]+://", target):
                assert (page.parent / target).exists(), f"{page.relative_to(REPO)}: {target}"
