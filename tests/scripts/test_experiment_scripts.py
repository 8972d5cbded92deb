"""The experiment scripts, as docs/experiments.md runs them (small versions: few steps, few runs)."""

import runpy
import sys

import pytest

from conftest import REPO

PNG = b"\x89PNG\r\n\x1a\n"


def script(name):
    sys.path.insert(0, str(REPO / "scripts"))  # as `python scripts/NAME.py` has it, for experiment_runs
    try:
        return runpy.run_path(str(REPO / "scripts" / f"{name}.py"))
    finally:
        sys.path.remove(str(REPO / "scripts"))


def test_error_surface_writes_its_figure_from_lrframe_optimizers_and_schedules(tmp_path, capsys):
    surface = script("error_surface")
    surface["main"](["--out", str(tmp_path / "surface.png"), "--steps", "400"])
    assert (tmp_path / "surface.png").read_bytes()[:8] == PNG
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(surface["CASES"]) + 1
    cases, trajectory = surface["CASES"], surface["trajectory"]
    weights, _ = trajectory(cases["SGD, tiny lr 0.01 (crawls along the valley)"], 400)
    assert weights[-1][0] > 9  # crawls: after 400 steps still near x = 10
    sgd_large, _ = trajectory(cases["SGD, large lr 1.98 (oscillates across the valley)"], 20)
    assert all(a * b < 0 for a, b in zip(sgd_large[1:, 1], sgd_large[2:, 1]))  # crosses the valley every step


@pytest.mark.slow
@pytest.mark.parametrize("name, overrides", [
    ("init_experiment", ["model.hidden=[32,32]", "init=zeros,kaiming_normal", "trainer.max_epochs=2"]),
    ("batch_size", ["data.batch_size=128,256", "seed=0", "trainer.max_epochs=2"]),
])
def test_an_experiment_script_runs_its_sweep_and_draws_from_the_runs(tmp_path, capsys, name, overrides):
    main = script(name)["main"]
    main(["--out", str(tmp_path / "figure.png"), "--sweep-dir", str(tmp_path / "sweep"), *overrides])
    assert (tmp_path / "figure.png").read_bytes()[:8] == PNG
    out = capsys.readouterr().out
    assert out.count("val/acc") == (2 if name == "init_experiment" else 4)
