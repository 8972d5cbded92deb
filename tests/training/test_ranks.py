"""The processes of a DDP run agree on one run, or all stop with the same one-line error."""

from pathlib import Path

from lrframe.training.ranks import disagreement, facts


def test_processes_that_would_train_different_runs_are_named_in_one_line(tmp_path):
    rank0 = facts(tmp_path, "auto", 46, 32, 23, 460, 64, 0.1)
    assert disagreement([rank0, facts(tmp_path, "auto", 46, 32, 23, 460, 64, 0.1)]) is None
    fresh = disagreement([rank0, facts(tmp_path, "auto", None, 32, 23, 460, 64, 0.1)])
    assert str(fresh) == ("resume=auto: rank 1 starts fresh, rank 0 resumes from step 46 (every node must see the "
                          "run directory: a shared file system)")
    other = disagreement([rank0, rank0, facts(tmp_path, "auto", 46, 64, 12, 240, 128, 0.1)])
    assert str(other) == ("data.batch_size=64: rank 2 plans 12 optimizer steps an epoch, 240 in all, global batch "
                          "128, rank 0 plans 23 optimizer steps an epoch, 460 in all, global batch 64; start every "
                          "process with the same command line and data")
    elsewhere = disagreement([rank0, facts(Path("runs/b"), "auto", 46, 32, 23, 460, 64, 0.1)])
    assert str(elsewhere).startswith(f"hydra.run.dir={Path('runs/b').resolve()}: rank 1 runs in")
    lr = disagreement([rank0, facts(tmp_path, "auto", 46, 32, 23, 460, 64, 0.05)])
    assert str(lr).startswith("optimizer.lr=0.05: rank 1 trains with base lr 0.05, rank 0 trains with base lr 0.1;")
