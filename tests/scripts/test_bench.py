"""scripts/bench.py: the report lands between the markers of docs/performance.md and nowhere else."""

import runpy

import pytest

from conftest import REPO

BENCH = runpy.run_path(str(REPO / "scripts" / "bench.py"))
START, END = BENCH["MARKERS"]


def test_the_table_replaces_only_the_text_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n{START}\nold table\n{END}\n\nprose after\n")
    BENCH["write_into"](readme, "| new | table |\n")
    assert readme.read_text() == f"# intro\n{START}\n| new | table |\n{END}\n\nprose after\n"


def test_a_readme_without_the_markers_is_left_alone_with_a_one_line_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit, match="lacks the lines"):
        BENCH["write_into"](readme, "| new | table |\n")
    assert readme.read_text() == "# no markers\n"


def test_the_performance_page_has_the_markers_and_is_where_the_script_writes():
    text = (REPO / "docs" / "performance.md").read_text()
    assert text.index(START) < text.index(END)
    assert BENCH["arguments"]([]).page == REPO / "docs" / "performance.md"
    assert START not in (REPO / "README.md").read_text()
