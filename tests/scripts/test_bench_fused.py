"""scripts/bench_fused.py --floor: its fused bare step is the members' own bare steps, fused."""

import runpy

from conftest import REPO

BENCH_FUSED = runpy.run_path(str(REPO / "scripts" / "bench_fused.py"))


def test_the_fused_bare_step_trains_each_member_as_its_own_bare_step_does():
    one_by_one, fused, difference = BENCH_FUSED["bare_steps"](3, 16)
    for _ in range(5):
        one_by_one()
    moved = difference()  # the members trained, the fused arm not yet
    for _ in range(5):
        fused()
    assert moved > 1e-3
    assert difference() < 1e-6  # equal on this CPU; float reassociation could differ elsewhere


def test_the_floor_prints_a_row_per_member_count_and_batch(capsys):
    BENCH_FUSED["floor"]([2], [4, 8], 1)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 2 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["4", "8"]
    assert all(float(row.split("|")[5].strip().rstrip("x")) > 0 for row in rows)
