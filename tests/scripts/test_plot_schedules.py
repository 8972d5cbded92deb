"""scripts/plot_schedules.py, as docs/guide.md runs it."""

import runpy

import pytest

from conftest import REPO

from lrframe.schedules import CATALOGUE


@pytest.mark.slow
def test_the_figure_is_drawn_from_the_configs_of_every_decay_family(tmp_path, capsys):
    script = runpy.run_path(str(REPO / "scripts" / "plot_schedules.py"))
    script["main"](tmp_path / "schedules.png")
    assert (tmp_path / "schedules.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = {name for members in script["FAMILIES"].values() for name, _ in members}
    assert drawn == set(CATALOGUE) - {"none", "plateau"}  # the two flat ones are left out
