"""``python train.py`` as a user runs it: real processes, real Hydra run directories."""

import os
import subprocess
import sys
from pathlib import Path

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
    ["trainer.num_nodes=2", "trainer.strategy=ddp"],
    ["model=transformer"],  # image data: failed to interpolate data.block_size; model=cnn data=text built a run dir
    ["trainer.precision=16-mixed", "trainer.accelerator=cpu"],  # trained, silently in bf16-mixed  # no torchrun/srun: would wait for the other node for good
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


def _unwritable(tmp_path):
    """A directory this process cannot write in: chmod a-w, or for root (whom modes do not stop) a
    directory of sysfs, where nobody may create files."""
    if os.geteuid() != 0:
        (tmp_path / "read_only").mkdir()
        (tmp_path / "read_only").chmod(0o555)
        return tmp_path / "read_only"
    return Path("/sys/fs")


@pytest.mark.parametrize("where, complaint", [
    (lambda tmp: tmp / "a_file", "{tmp}/a_file is a file, not a directory"),
    (lambda tmp: tmp / "a_file" / "run", "{tmp}/a_file is a file, not a directory"),
    (lambda tmp: tmp / "with_files", "{tmp}/with_files/checkpoints is a file, not a directory"),
    (lambda tmp: _unwritable(tmp) / "run", "cannot write in {ro} ("),
], ids=["output path is a file", "under a file", "checkpoints is a file", "read-only"])
def test_an_output_directory_a_run_cannot_use_is_one_line_before_hydra_writes(tmp_path, where, complaint):
    (tmp_path / "a_file").write_text("mine")
    (tmp_path / "with_files").mkdir()
    (tmp_path / "with_files" / "checkpoints").write_text("mine too")
    before = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*"))
    for args in ([f"hydra.run.dir={where(tmp_path)}"], ["-m", "seed=1,2", f"hydra.sweep.dir={where(tmp_path)}"]):
        if args[0] == "-m" and "checkpoints" in complaint:
            continue  # a sweep directory has no checkpoints of its own
        result = train_cli(*args, "trainer.max_epochs=2", cwd=tmp_path)
        key = "hydra.sweep.dir" if args[0] == "-m" else "hydra.run.dir"
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: {key}={where(tmp_path)}: ") and result.stderr.count("\n") == 1
        assert complaint.format(tmp=tmp_path, ro=_unwritable(tmp_path)) in result.stderr, result.stderr
        assert sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*")) == before


def test_a_dotted_lr_lambda_that_exits_fails_in_one_line_with_status_1(tmp_path):
    (tmp_path / "my_schedules.py").write_text("import sys\ndef stop(epoch):\n    sys.exit(0)\n")
    for path, complaint in [("sys.exit", "not a function written in Python"), ("os._exit", "not a function"),
                            ("my_schedules.stop", "fails at epoch=0: SystemExit: 0")]:
        result = train_cli("scheduler=lambda", f"scheduler.lr_lambda={path}", "warmup=none", "task=preview",
                           f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: scheduler.lr_lambda={path}: ") and complaint in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr


def test_a_yaml_tag_that_builds_python_objects_is_one_line_and_never_run(tmp_path):
    (tmp_path / "conf" / "scheduler").mkdir(parents=True)
    (tmp_path / "conf" / "scheduler" / "evil.yaml").write_text(
        "name: step\ninterval: epoch\nstep_size: !!python/object/apply:os.system ['touch pwned']\ngamma: 0.5\n")
    result = train_cli("scheduler=evil", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {tmp_path}/conf/scheduler/evil.yaml:3: could not determine a "
                                    "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["conf"]  # no pwned, no run directory


def test_a_target_the_class_refuses_is_one_line_without_hydras_advice(tmp_path):
    result = train_cli("scheduler=none", "+scheduler._target_=torch.optim.lr_scheduler.StepLR", "warmup=none",
                       "trainer.max_epochs=2", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr == ("error: Error in call to target 'torch.optim.lr_scheduler.StepLR': TypeError(\"StepLR."
                             "__init__() missing 1 required positional argument: 'step_size'\")\n")


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
