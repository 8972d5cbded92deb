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


BARE = runpy.run_path(str(REPO / "scripts" / "bench_bare.py"))


def test_the_bare_transformer_trains_lrframes_job_and_validates_after_each_epoch(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 60)  # 168 windows of 16: 151 to train, 5 batches an epoch
    BARE["main"](["--model", "transformer", "--epochs", "2", f"data.path={text}", "data.block_size=16",
                  "warmup.steps=1"])
    steps, loss = (field.split("=")[1] for field in capsys.readouterr().out.split())
    assert int(steps) == 10
    assert 0 < float(loss) < 10


def test_cnn_is_the_user_cnn_and_a_run_stopped_mid_epoch_is_not_validated(capsys):
    BARE["main"](["--cnn", "--steps", "2", "warmup.steps=1"])
    assert capsys.readouterr().out.split() == ["steps=2", "val/loss=nan"]


def test_only_and_lengths_pick_the_groups_and_their_runs():
    groups = BENCH["selected"](BENCH["arguments"](["--only", "cnn", "transformer", "--lengths", "transformer=20,60"]))
    assert list(groups) == ["cnn", "transformer"]
    assert groups["transformer"].lengths == (20, 60) and groups["cnn"].lengths == BENCH["GROUPS"]["cnn"].lengths
    with pytest.raises(SystemExit):
        BENCH["arguments"](["--lengths", "transformer=60,20"])


def test_a_pair_runs_the_same_job_bare_and_through_lrframe(tmp_path):
    bare, ours = (command(40, tmp_path) for command in BENCH["GROUPS"]["transformer"].rows.values())
    assert bare[-4:] == ["transformer", "--steps", "40", "warmup.steps=5"]
    assert ours[2:6] == ["model=transformer", "data=text", "trainer.max_steps=40", "warmup.steps=5"]


def test_the_report_says_whether_each_goal_is_met():
    groups = BENCH["selected"](BENCH["arguments"](["--only", "cnn"]))
    bare, ours = groups["cnn"].rows
    result = {"startup_s": 1.0, "rss_short_mib": 300, "rss_long_mib": 300}
    table = BENCH["report"](groups, {bare: {**result, "ms_per_step": 10.0}, ours: {**result, "ms_per_step": 11.0}},
                            [], "scripts/bench.py --only cnn")
    assert f"| {ours} | 2 / 26 epochs | 11.000 | 1.10x |" in table
    assert "**1.10x** (goal <= 1.05x: not met)" in table
