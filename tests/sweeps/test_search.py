"""lrframe's Optuna sweeper: the search space, storages and studies, shared studies, pruning."""

import csv
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from tensorboard.plugins.hparams import metadata

from conftest import REPO, hparam_values, read_hparams_sessions, read_metrics, train_cli
from lrframe.sweeps.search import StudyError, open_storage, open_study, search_space

#: a search that never diverges in a few epochs (lr up to 1 does, with SGD and momentum 0.9)
SAFE_LR = "optimizer.lr=tag(log,interval(0.003,0.1))"


@pytest.mark.parametrize("override, expected", [
    ("a=interval(0.1, 0.5)", FloatDistribution(0.1, 0.5)),
    ("a=tag(log, interval(1e-3, 1.0))", FloatDistribution(1e-3, 1.0, log=True)),
    ("a=interval(1, 8)", FloatDistribution(1, 8)),  # Hydra's interval is of floats
    ("a=int(interval(1, 8))", IntDistribution(1, 8)),
    ("a=tag(log, int(interval(1, 8)))", IntDistribution(1, 8, log=True)),
    ("a=choice(sgd, adam)", CategoricalDistribution(["sgd", "adam"])),
    ("a=sgd,adam", CategoricalDistribution(["sgd", "adam"])),
    ("a=range(1, 9, 2)", IntDistribution(1, 7, step=2)),  # Hydra's range excludes its end
    ("a=range(0.5, 2.0, 0.5)", FloatDistribution(0.5, 1.5, step=0.5)),
])
def test_hydra_sweep_syntax_becomes_optuna_distributions(override, expected):
    space, fixed = search_space([override, "trainer.max_epochs=2"])
    assert space == {"a": expected} and fixed == ["trainer.max_epochs=2"]


@pytest.mark.parametrize("url, message", [
    ("notaurl", "hydra.sweeper.storage=notaurl: not a database URL; e.g. sqlite:///optuna.db"),
    ("sqlite:////no/such/dir/x.db", "hydra.sweeper.storage=sqlite:////no/such/dir/x.db: cannot open the database: "
                                    "unable to open database file"),
    ("mysql://u@127.0.0.1:1/db", "hydra.sweeper.storage=mysql://u@127.0.0.1:1/db: its database driver is not installed"),
])
def test_a_storage_that_cannot_be_used_is_one_line(url, message):
    with pytest.raises(StudyError) as error:
        open_storage(url)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_study_joined_must_search_the_same_way(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    space = {"optimizer.lr": FloatDistribution(1e-3, 1.0, log=True)}
    open_study(open_storage(url), "s", "maximize", space, None, None)
    joined = open_study(open_storage(url), "s", "maximize", dict(space), None, None)  # same: joins
    assert joined.study_name == "s" and len(optuna.get_all_study_names(url)) == 1
    with pytest.raises(StudyError, match=r"^hydra.sweeper.direction=minimize: study s in this storage was made to "
                                         r"maximize; give another study_name or its direction$"):
        open_study(open_storage(url), "s", "minimize", space, None, None)
    with pytest.raises(StudyError, match=r"^hydra.sweeper.params.optimizer.lr: study s in this storage samples "
                                         r"log-uniform in \[0.001, 1.0\] there, this search uniform in \[0.1, 0.2\]; "):
        open_study(open_storage(url), "s", "maximize", {"optimizer.lr": FloatDistribution(0.1, 0.2)}, None, None)


def run_cli(*args, cwd=REPO):
    return train_cli("-m", "hparams_search=optuna_lr", *args, cwd=cwd, timeout=240)


def test_bad_storage_or_study_stops_before_any_training_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    open_study(open_storage(url), "optuna_lr", "minimize", {}, None, None)
    for args, expected in [
        ([f"hydra.sweeper.storage=sqlite:///{tmp_path}/no/such/dir.db"], "cannot open the database"),
        (["hydra.sweeper.storage=postgresql+nosuchdriver://u@localhost/db"], "not a database URL"),
        ([f"hydra.sweeper.storage={url}"], "hydra.sweeper.direction=maximize: study optuna_lr in this storage was made "
                                           "to minimize"),
    ]:
        sweep = tmp_path / "sweep"
        result = run_cli(*args, f"hydra.sweep.dir={sweep}")
        assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
        assert result.stderr.strip().splitlines()[-1].startswith("error: ") and expected in result.stderr
        assert not sweep.exists()  # no job started


def summary_rows(sweep):
    with (sweep / "summary.csv").open() as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def postgresql(tmp_path_factory):
    """A PostgreSQL server of its own on 127.0.0.1 (skipped where PostgreSQL is not installed)."""
    pytest.importorskip("psycopg")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    if not found[-1]:
        pytest.skip("no PostgreSQL server here (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
    # not under pytest's tmp_path, which only its owner may enter
    data = Path(tempfile.mkdtemp(prefix="lrframe-pg-")) if as_user else tmp_path_factory.mktemp("pgdata")
    if as_user:
        shutil.chown(data, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run([*as_user, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "lrframe"], check=True,
                   capture_output=True)
    subprocess.run([*as_user, bin_dir / "pg_ctl", "-D", data, "-w", "-l", data / "log", "-o",
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    subprocess.run([*as_user, bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "lrframe", "studies"],
                   check=True, capture_output=True)
    yield f"postgresql+psycopg://lrframe@127.0.0.1:{port}/studies"
    subprocess.run([*as_user, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(data, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_processes_share_one_study(database, tmp_path, request):
    """Two workers started at once: one study, trials numbered without gaps, each complete, reported
    every epoch, each in its own job directory; the summary lists the whole study."""
    url = f"sqlite:///{tmp_path / 'study.db'}" if database == "sqlite" else request.getfixturevalue("postgresql")
    sweep = tmp_path / "sweep"
    command = [sys.executable, str(REPO / "train.py"), "-m", "hparams_search=optuna_lr", SAFE_LR,
               "hydra.sweeper.n_trials=2", "trainer.max_epochs=2", f"hydra.sweeper.storage={url}",
               "hydra.sweeper.study_name=shared", f"hydra.sweep.dir={sweep}"]
    workers = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"}) for _ in range(2)]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=url)
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert len({t.user_attrs["directory"] for t in trials}) == 4
    for trial in trials:
        assert sorted(trial.intermediate_values) == [0, 1]  # one report per epoch
        job = sweep / trial.user_attrs["directory"].rpartition("/")[2]
        record = json.loads((job / "job.json").read_text())
        assert record["status"] == "completed" and record["job"] == trial.number
        assert job.name.startswith(f"{trial.number}_")
        assert read_metrics(job)["val/acc"] == pytest.approx(trial.value)
        assert trial.intermediate_values[1] == pytest.approx(trial.value)  # the last report is the final value
        assert 0.003 <= trial.params["optimizer.lr"] <= 0.1
    assert len({t.params["optimizer.lr"] for t in trials}) == 4  # no two trials sampled alike
    rows = summary_rows(sweep)  # the whole study: a trial the other worker was still running shows so
    assert [row["job"] for row in rows] == ["0", "1", "2", "3"]
    assert {row["status"] for row in rows} <= {"completed", "running"} and rows[0]["status"] == "completed"


@pytest.mark.slow
def test_a_pruner_stops_bad_trials_early_and_they_are_marked_pruned(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    result = run_cli(SAFE_LR, "hydra.sweeper.n_trials=5", "trainer.max_epochs=3", f"hydra.sweeper.storage={url}",
                     "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=1",
                     "hydra.sweeper.pruner.n_warmup_steps=0", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Error executing job" not in result.stderr
    study = optuna.load_study(study_name="optuna_lr", storage=url)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and len(pruned) < 5 and study.trials[0].state == TrialState.COMPLETE
    rows = {int(row["job"]): row for row in summary_rows(tmp_path / "sweep")}
    for trial in study.trials:
        job = tmp_path / "sweep" / trial.user_attrs["directory"].rpartition("/")[2]
        record = json.loads((job / "job.json").read_text())
        session = hparam_values(read_hparams_sessions(job)[metadata.SESSION_START_INFO_TAG][-1])
        metrics = read_metrics(job)  # a pruned trial ends like any run stopped early
        if trial.state == TrialState.PRUNED:
            last = max(trial.intermediate_values)
            assert metrics["epochs"] == last + 1 < 3 and record["status"] == "pruned"
            assert record["error"] == f"val/acc={trial.intermediate_values[last]:.4f} after epoch {last} (counted from 0)"
            assert rows[trial.number]["status"] == "pruned" and session["trial.state"] == "pruned"
        else:
            assert metrics["epochs"] == 3 and record["status"] == "completed"
            assert rows[trial.number]["status"] == "completed" and session["trial.state"] == "completed"
        assert session["trial.number"] == trial.number
    assert f"5 trials: {5 - len(pruned)} completed, {len(pruned)} pruned." in (tmp_path / "sweep" / "summary.md").read_text()


@pytest.mark.slow
def test_a_grid_runs_through_submitit(tmp_path):
    """hydra/launcher=submitit_local: what submitit_slurm does on a cluster, as local processes."""
    sweep = tmp_path / "sweep"
    result = train_cli("-m", "hydra/launcher=submitit_local", "optimizer=sgd,adam", "trainer.max_epochs=2",
                       f"hydra.sweep.dir={sweep}", "hydra.launcher.timeout_min=5", timeout=300)
    assert result.returncode == 0, result.stderr
    rows = summary_rows(sweep)
    assert [(row["job"], row["status"]) for row in rows] == [("0", "completed"), ("1", "completed")]
    for row in rows:
        assert read_metrics(sweep / row["directory"])["epochs"] == 2
    assert len(list((sweep / ".submitit").iterdir())) >= 2  # submitit's own job folders and logs
