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


#: script -> (its arguments: tiny sweeps, a few steps each; what its report must print, and how often: pairs)
CHEAP = {
    "init_experiment": (["model.hidden=[32,32]", "init=zeros,kaiming_normal", "trainer.max_epochs=2"],
                        ("val/acc", 2)),
    "batch_size": (["data.batch_size=128,256", "seed=0", "trainer.max_epochs=2"], ("val/acc", 4)),
    "linear_scaling": (["data.batch_size=64,1024", "seed=0", "trainer.max_epochs=2"], ("final val/acc", 6)),
    "warmup": (["trainer.max_steps=6", "warmup.steps=2", "optimizer.lr=0.01,0.3", "data.block_size=16"],
               ("| 0.", 2)),
    "schedules_budget": (["--seeds", "1", "--cnn-epochs", "2", "--transformer-steps", "6"], ("| 1 |", 12)),
    # diabetes at lr 10 diverges: a failed job, which the sweep records and the script reports like the others
    "lr_find_grid": (["--seeds", "1", "--cnn-epochs", "2", "--transformer-steps", "4", "--grid", "cnn=0.1",
                      "--grid", "transformer=0.001", "--grid", "diabetes=0.01,10", "task.lr_find.num_steps=20"],
                     ("| 0 |", 3, "| 10 | diverged |", 1)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CHEAP)
def test_an_experiment_script_runs_its_sweep_and_draws_from_the_runs(tmp_path, capsys, name):
    main = script(name)["main"]
    arguments, expected = CHEAP[name]
    main(["--out", str(tmp_path / "figure.png"), "--sweep-dir", str(tmp_path / "sweep"), *arguments])
    assert (tmp_path / "figure.png").read_bytes()[:8] == PNG
    out = capsys.readouterr().out
    for text, count in zip(expected[::2], expected[1::2]):
        assert out.count(text) == count, out


def test_the_warmup_experiments_arm_with_warmup_is_noam_and_the_other_holds_the_peak():
    """docs/workloads.md: linear warmup over 50 steps + inverse_sqrt = scheduler=noam (d_model 128,
    warmup_steps 50) at lr = 80 x the peak; start_factor 1 holds the peak for those 50 steps, then the same."""
    from conftest import make_plan
    from lrframe.schedules import Clock, run_schedule

    peak, clock = 0.01, Clock(103, 200)  # the text's 103 steps per epoch, 200 steps
    noam = run_schedule({"name": "noam", "interval": "step", "unit": "step", "d_model": 128, "warmup_steps": 50},
                        {"name": "none"}, clock, 80 * peak)
    arms = {}
    for factor in (0, 1):
        cfg = make_plan("+experiment=warmup", f"warmup.start_factor={factor}").config
        arms[factor] = run_schedule(cfg["scheduler"], cfg["warmup"], clock, peak)
    assert [peak * arms[0](s) for s in range(200)] == pytest.approx([80 * peak * noam(s) for s in range(200)],
                                                                   rel=1e-12, abs=1e-15)
    assert [arms[1](s) for s in range(51)] == [1.0] * 51
    assert [arms[1](s) for s in range(50, 200)] == [arms[0](s) for s in range(50, 200)]


@pytest.mark.parametrize("name", ["warmup", "linear_scaling"])
def test_every_cell_of_the_new_experiment_files_is_valid(name):
    from conftest import CONFIG_DIR
    from lrframe.cli.precheck import precheck

    precheck([f"+experiment={name}"], CONFIG_DIR)  # exits 1 with a one-line error on a bad cell
