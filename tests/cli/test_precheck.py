"""``python train.py`` as a user runs it: real processes, real Hydra run directories."""

import subprocess
import sys

import pytest

from conftest import REPO, read_metrics, train_cli
from lrframe.config.errors import shortened

BAD = [
    ["scheduler=cosin"],
    ["optimizer.lr=-1"],
    ["scheduler.T_maxx=3"],
    ["data=npz", "data.path=/no/such.npz"],
    ["-m", "optimizer.lr=0.1,-0.1"],  # one bad cell stops the whole grid before any job starts
    ["-m", "hparams_search=optuna_lr", "warmup=none"],  # the search would set warmup.epochs, which none lacks
    # each of these ended in a traceback after start-up
    ["seed=99999999999"],  # numpy's seed range
    ["optimizer.lr=1e39"],  # overflows float32
    ["+" + "a" * 5000 + "=1"],  # a key too long for a file name (Hydra looks it up as a config group)
    ["scheduler=lambda", "scheduler.lr_lambda=" + "+".join(["epoch"] * 3000)],  # RecursionError
    ["data.batch_size=1000000000"],  # larger than the training set
]


@pytest.mark.parametrize("args", BAD, ids=lambda args: shortened(" ".join(args), 40))
def test_bad_config_fails_with_one_line_and_leaves_nothing_behind(tmp_path, args):
    result = train_cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", BAD, ids=lambda args: shortened(" ".join(args), 40))
def test_bad_config_is_reported_before_torch_or_lightning_is_imported(args):
    # what makes the error fast (importing Lightning alone takes seconds); the time itself is
    # measured by scripts/bench.py
    code = ("import atexit, runpy, sys; atexit.register(lambda: print(sorted({m.split('.')[0] for m in sys.modules}"
            " & {'torch', 'lightning'}))); sys.argv = ['train.py', *sys.argv[1:]]; "
            "runpy.run_path('train.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr.startswith("error: "), result.stderr
    assert result.stdout.strip() == "[]"


def test_a_run_writes_its_directory(tmp_path):
    result = train_cli("trainer.max_epochs=2", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    for product in ("metrics.json", "checkpoints/last.ckpt", ".hydra/config.yaml"):
        assert (run / product).is_file(), product
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert "val/acc=" in result.stdout and read_metrics(run)["epochs"] == 2


def test_multirun_grid_runs_every_job_in_its_own_directory(tmp_path):
    result = train_cli("-m", "optimizer.lr=0.01,0.1", "scheduler=cosine,step", "trainer.max_epochs=2",
                       f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    runs = sorted(path.parent.name for path in tmp_path.glob("*/metrics.json"))
    assert runs == ["0_optimizer.lr=0.01,scheduler=cosine,trainer.max_epochs=2",
                    "1_optimizer.lr=0.01,scheduler=step,trainer.max_epochs=2",
                    "2_optimizer.lr=0.1,scheduler=cosine,trainer.max_epochs=2",
                    "3_optimizer.lr=0.1,scheduler=step,trainer.max_epochs=2"]


def test_an_experiment_file_sweeps_by_itself_and_precheck_checks_its_every_cell(capsys):
    from conftest import CONFIG_DIR
    from lrframe.cli.precheck import config_sweep, jobs, precheck

    multirun, params = config_sweep(["+experiment=batch_size"], CONFIG_DIR)
    assert multirun and params == ["data.batch_size=16,32,64,128,256,512", "optimizer.lr_scaling=none,linear",
                                   "seed=0,1,2"]
    # the command line follows the experiment's params, as Hydra's basic sweeper does: a key it repeats wins
    grid = jobs([*params, "+experiment=batch_size", "seed=7", "data.batch_size=64,0"])
    assert grid == [["data.batch_size=64", f"optimizer.lr_scaling={s}", "seed=7", "+experiment=batch_size"]
                    for s in ("none", "linear")] + \
                   [["data.batch_size=0", f"optimizer.lr_scaling={s}", "seed=7", "+experiment=batch_size"]
                    for s in ("none", "linear")]
    precheck(["+experiment=init"], CONFIG_DIR)  # all ten cells are valid
    with pytest.raises(SystemExit) as exit_:
        precheck(["+experiment=batch_size", "data.batch_size=64,0"], CONFIG_DIR)  # a sweep without -m
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "error: data.batch_size=0: expected an integer >= 1\n"
