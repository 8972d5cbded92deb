"""Sweeps (``python train.py -m ...``): a record of every job, a summary at the end, threads per job.

Every job of a multirun runs through ``run_job``. It records the job's outcome in
``<job dir>/job.json`` (status ``running``, then ``completed`` or ``failed`` with a one-line error;
``pruned`` when its search's pruner stopped it early (``lrframe.sweeps.pruning``); ``interrupted``
when SIGTERM/SIGINT stops the job, which stops the sweep; ``seconds``: the time of every attempt,
a job run again with ``resume=auto`` adding to it) and does not let a
failure end the sweep: the other jobs run and keep their results. (Hydra's
sweepers re-raise a failed job's exception after its batch, and then skip ``on_multirun_end``;
so a failed job is logged, recorded, and returns None: no metric, which Optuna records as a
failed trial.) At the end, ``SweepSummary.on_multirun_end`` writes ``summary.csv``,
``summary.md`` and ``summary.png`` in the sweep directory and exits with status 1 if any job
failed.

The summary lists every job directory of the sweep directory, as ``tensorboard --logdir`` on it
shows every run. It is read from files (``job.json``, ``metrics.json``, TensorBoard events), so it
needs neither torch nor Lightning in the launching process.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lrframe.config.errors import ConfigError, Interrupted, message_of
from lrframe.run_files import METRICS_FILE, read_metrics, write_text_atomically
from lrframe.sweeps import trial, watchdog

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
#: the id of the multirun a job belongs to, set by ``SweepSummary.on_multirun_start`` and recorded
#: in each job.json: a sweep directory reused by another grid summarizes only the new grid's jobs
SWEEP_ID = "LRFRAME_SWEEP_ID"
METRICS = ("val/acc", "val/loss", "val/acc_best", "epochs", "global_step", "wall_seconds")
COLUMNS = ("job", "overrides", "status", *METRICS, "error", "directory")
CURVES = ("val/acc", "val/loss", "lr")
#: the sweep's own TensorBoard run, in the sweep directory
BOARD_DIR = "tensorboard"


def job_threads(launcher: dict, cores: int) -> int | None:
    """Torch threads for each job of a launcher that runs jobs in parallel, None for the others.

    ``hydra/launcher=joblib`` runs ``n_jobs`` jobs at once (``-1``: one per core, ``-2``: all cores
    but one, as joblib counts); each job gets ``cores // n_jobs`` threads, at least one, so the
    jobs share the cores instead of oversubscribing them. One job at a time (the basic launcher),
    or a job per cluster allocation (submitit), keeps torch's default: all the cores it can see.

    >>> job_threads({"n_jobs": 2}, cores=8), job_threads({"n_jobs": -1}, cores=8), job_threads({}, cores=8)
    (4, 1, None)
    """
    n_jobs = launcher.get("n_jobs")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        return None
    parallel = n_jobs if n_jobs > 0 else cores + 1 + n_jobs
    return max(cores // min(max(parallel, 1), cores), 1)


def check_search_space(cfg: DictConfig) -> None:
    """Raise ConfigError if a search (``hydra.sweeper.params``) samples a key the config lacks.

    E.g. ``hparams_search=optuna_lr warmup=none``: the search sets ``warmup.epochs``, which
    ``warmup=none`` does not have; Hydra would fail the first trial, and with it the search.
    """
    absent = object()
    for key, space in (OmegaConf.select(cfg, "hydra.sweeper.params") or {}).items():
        if not key.startswith("+") and OmegaConf.select(cfg, key, default=absent) is absent:
            raise ConfigError(f"hydra.sweeper.params.{key}", space,
                              "the search samples a key this config does not have; drop it from the search "
                              "or pick config options that have it")


def one_line(error: BaseException) -> str:
    """An exception as one line: lrframe's own errors by their message, others with their type."""
    own = message_of(error)
    if own is not None:
        return own
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[-1].strip() if lines else ''}"


def _write_record(run_dir: Path, record: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(json.dumps(record, indent=2) + "\n", run_dir / JOB_FILE)


def run_job(task: Callable[[], float | None]) -> float | None:
    """Run one job of a multirun: limit its threads, record its outcome, return ``task()``'s value.

    A failure is logged (with its traceback when it is not one of lrframe's own one-line errors)
    and recorded in ``job.json``; the job then returns None.
    """
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    run_dir = Path(hydra.runtime.output_dir)
    if watchdog.in_worker():
        watchdog.end_with_parent()  # an orphaned worker must not train on (kill -9 of the launcher)
    cores = os.cpu_count() or 1
    threads = job_threads(OmegaConf.to_container(hydra.launcher, resolve=True), cores)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
        log.info(f"job {hydra.job.num}: {threads} torch thread(s) of {cores} cores")
    record, earlier = start_record(hydra, run_dir)
    started = time.perf_counter()

    def seconds() -> float:  # of this attempt and the earlier ones
        return round(earlier + time.perf_counter() - started, 3)

    value = None
    try:
        value = task()
        trial.raise_if_pruned()
        record["status"] = "completed"
    except Interrupted as error:  # SIGTERM/SIGINT: the checkpoint is saved; the whole sweep stops
        record.update(status="interrupted", error=str(error),
                      seconds=seconds())
        _write_record(run_dir, record)
        watchdog.exit_if_orphaned()
        raise
    except Exception as error:  # noqa: BLE001 - every failure is recorded; the sweep goes on
        if trial.is_pruned(error):  # stopped early by its search's pruner: the sweeper tells the study
            record.update(status="pruned", error=str(error),
                          seconds=seconds())
            _write_record(run_dir, record)
            raise
        record.update(status="failed", error=one_line(error))
        if message_of(error) is not None:
            log.error(f"job {hydra.job.num} failed: {record['error']}")
        else:
            log.exception(f"job {hydra.job.num} failed: {record['error']}")
    record["seconds"] = seconds()
    _write_record(run_dir, record)
    watchdog.exit_if_orphaned()
    return value


def start_record(hydra: DictConfig, run_dir: Path) -> tuple[dict, float]:
    """Write the job's ``job.json`` as ``running``; returns the record and the seconds its earlier
    attempts took (a job run again with resume=auto adds to them)."""
    record = {"job": hydra.job.num, "overrides": list(hydra.overrides.task), "status": "running",
              "error": None, "seconds": None, "sweep": os.environ.get(SWEEP_ID)}
    earlier = _earlier_seconds(run_dir)  # read before this attempt's record replaces it
    _write_record(run_dir, record)
    return record, earlier


def _earlier_seconds(run_dir: Path) -> float:
    """The seconds the job's earlier attempts took (a job run again with resume=auto adds to them)."""
    try:
        return float(json.loads((run_dir / JOB_FILE).read_text())["seconds"] or 0)
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def read_jobs(sweep_dir: Path, sweep: str | None = None) -> list[dict]:
    """One row per job directory of ``sweep_dir`` (see ``COLUMNS``), in job order; with ``sweep``,
    only the jobs that multirun recorded (and those whose record cannot be read).

    A job still ``running`` when the sweep ended had its process killed: it is reported failed. A
    job whose job.json or metrics.json cannot be read is reported failed, saying why.
    """
    rows = []
    for path in sweep_dir.glob(f"*/{JOB_FILE}"):
        job_dir = path.parent
        try:
            record = json.loads(path.read_text())
            if sweep is not None and record.get("sweep") != sweep:
                continue  # a job of an earlier multirun in the same directory
            completed = record["status"] == "completed"  # preview and lr_find jobs write no metrics.json
            metrics = read_metrics(job_dir) if completed and (job_dir / METRICS_FILE).is_file() else {}
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.error(f"job {job_dir.name}: its record cannot be read ({one_line(error)}); reported as failed")
            rows.append(_unreadable(job_dir, error))
            continue
        error = record["error"] or ("" if completed else "the job ended without recording a result")
        rows.append({"job": record["job"], "overrides": " ".join(record["overrides"]),
                     "status": "completed" if completed else "failed",
                     **{key: metrics.get(key) for key in METRICS},
                     "wall_seconds": metrics.get("wall_seconds", record["seconds"]),
                     "error": error, "directory": job_dir.name})
    return sorted(rows, key=lambda row: (row["job"] is None, row["job"] or 0, row["directory"]))


def _unreadable(job_dir: Path, error: Exception) -> dict:
    """The row of a job whose record (job.json, metrics.json) cannot be read: failed, saying why."""
    number = job_dir.name.partition("_")[0]
    return {**dict.fromkeys(COLUMNS), "job": int(number) if number.isdigit() else None, "overrides": "",
            "status": "failed", "error": f"unreadable record: {one_line(error)}", "directory": job_dir.name}


def labels(rows: list[dict]) -> dict[int, str]:
    """``job: overrides`` naming each job by the overrides that differ between the jobs."""
    tokens = {row["job"]: row["overrides"].split() for row in rows}
    shared = set.intersection(*(set(t) for t in tokens.values())) if len(tokens) > 1 else set()
    return {job: f"{job}: " + " ".join(t for t in words if t not in shared) for job, words in tokens.items()}


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)


def _cell(value, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if column == "wall_seconds" else f"{value:.4f}"
    return str(value).replace("|", "\\|")


def write_markdown(path: Path, rows: list[dict], figure: str | None) -> None:
    failed = sum(row["status"] != "completed" for row in rows)
    lines = [f"# Sweep summary: {path.parent}", "",
             f"{len(rows)} jobs: {len(rows) - failed} completed, {failed} failed."]
    scored = [row for row in rows if row["val/acc"] is not None]
    if scored:
        best = max(scored, key=lambda row: row["val/acc"])
        lines[-1] += f" Best final val/acc: {best['val/acc']:.4f} (job {best['job']}: {best['overrides']})."
    columns = [column for column in COLUMNS if column != "directory"]
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[column], column) for column in columns) + " |" for row in rows]
    if figure:
        lines += ["", f"![validation and lr curves of every job]({figure})"]
    path.write_text("\n".join(lines) + "\n")


def read_curves(job_dir: Path) -> tuple[dict[str, list[tuple[int, float]]], float | None]:
    """The job's ``val/acc``, ``val/loss`` and ``lr`` series from its TensorBoard events, and its
    steps per epoch (from its HParams session), read with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    events_dir = job_dir / "tensorboard"
    if not events_dir.is_dir():
        return {}, None
    logging.getLogger("tensorboard").setLevel(logging.WARNING)  # not its file-by-file notices
    events = EventAccumulator(str(events_dir), size_guidance={"scalars": 0})
    events.Reload()
    curves = {}
    for tag in events.Tags()["scalars"]:
        curve = tag if tag in CURVES else "lr" if tag.startswith("lr/") else None
        if curve and curve not in curves:  # several parameter groups: the first group's lr
            curves[curve] = [(event.step, event.value) for event in events.Scalars(tag)]
    try:
        start = events.PluginTagToContent(metadata.PLUGIN_NAME).get(metadata.SESSION_START_INFO_TAG)
    except KeyError:  # no HParams session: the run failed before it ended
        start = None
    hparams = metadata.parse_session_start_info_plugin_data(start).hparams if start else {}
    per_epoch = hparams.get("resolved.steps_per_epoch")
    return curves, per_epoch.number_value if per_epoch is not None else None


def write_figure(path: Path, sweep_dir: Path, rows: list[dict]) -> bool:
    """Validation accuracy, validation loss and lr of every job, overlaid; False if none logged any."""
    from matplotlib.figure import Figure

    runs = {row["job"]: read_curves(sweep_dir / row["directory"]) for row in rows}
    if not any(curves for curves, _ in runs.values()):
        return False
    in_epochs = all(per_epoch for curves, per_epoch in runs.values() if curves)
    figure = Figure(figsize=(16, 5), layout="constrained")
    axes = figure.subplots(1, len(CURVES))
    names = labels(rows)
    for job, (curves, per_epoch) in runs.items():
        scale = per_epoch if in_epochs else 1
        for ax, tag in zip(axes, CURVES):
            points = curves.get(tag, [])
            status = next(row for row in rows if row["job"] == job)["status"]  # failed, or a search's pruned
            ax.plot([step / scale for step, _ in points], [value for _, value in points],
                    linestyle="-" if status == "completed" else "--",
                    label=names[job] + ("" if status == "completed" else f" ({status})"))
    for ax, tag in zip(axes, CURVES):
        ax.set_title(tag)
        ax.set_xlabel("epoch" if in_epochs else "optimizer step")
        ax.grid(alpha=0.3)
    axes[-1].set_yscale("log")
    axes[0].legend(fontsize="small")
    figure.savefig(path, dpi=100)
    return True


def read_session(job_dir: Path) -> dict[str, bool | float | str]:
    """The hyper-parameters of a job's HParams session ({} if it has none: it failed before ending)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    if not (job_dir / "tensorboard").is_dir():
        return {}
    events = EventAccumulator(str(job_dir / "tensorboard"), size_guidance={"scalars": 1})
    events.Reload()
    try:
        start = events.PluginTagToContent(metadata.PLUGIN_NAME).get(metadata.SESSION_START_INFO_TAG)
    except KeyError:
        return {}
    if start is None:
        return {}
    hparams = metadata.parse_session_start_info_plugin_data(start).hparams
    return {name: getattr(value, value.WhichOneof("kind")) for name, value in hparams.items()
            if value.WhichOneof("kind") in ("number_value", "string_value", "bool_value")}


def write_board(sweep_dir: Path, rows: list[dict], figure: Path | None) -> None:
    """The sweep's own TensorBoard run, ``<sweep dir>/tensorboard/``, written anew: the HParams
    experiment of all its jobs and the summary figure (tag ``summary``).

    The experiment declares every hyper-parameter of every job's session, the swept ones first (the
    keys the jobs' overrides set whose values differ between the jobs), then the lr-setting ones
    (``board.first_keys``: TensorBoard shows them without ticking boxes), and the metrics, the
    monitored one first (``board.declared_metrics``).
    TensorBoard takes one experiment for a whole ``--logdir``; the jobs of a multirun write none.
    """
    from lrframe.training import board

    sessions, overrides, monitor, names = [], [], None, set()
    for row in rows:
        job_dir = sweep_dir / row["directory"]
        session = read_session(job_dir)
        if session:
            sessions.append(session)
        overrides += (row["overrides"] or "").split()
        if (job_dir / METRICS_FILE).is_file():
            metrics = read_metrics(job_dir)
            monitor = monitor or metrics.get("monitor")
            names |= {key for key in metrics if key.startswith("val/") and not key.endswith("_best")}
    union = {name for session in sessions for name in session}
    missing = object()
    swept = [key for key in board.swept_keys(overrides, union)
             if len({repr(session.get(key, missing)) for session in sessions}) > 1]
    summaries = []
    if sessions:
        summaries.append(board.experiment_summary(sessions, board.first_keys(swept, union), board.declared_metrics(
            monitor or "val/acc", sorted(names | {"val/loss"}))))
    if figure is not None and figure.is_file():
        summaries.append(board.image_summary(board.SUMMARY_TAG, figure.read_bytes()))
    directory = sweep_dir / BOARD_DIR
    for old in directory.glob("events.out.tfevents.*"):  # TensorBoard would keep an older experiment
        old.unlink()
    if summaries:
        board.write_events(directory, summaries)


def write_summary(sweep_dir: Path, rows: list[dict]) -> None:
    """``summary.csv``, ``summary.png``, ``summary.md`` and the sweep's TensorBoard run in ``sweep_dir``."""
    write_csv(sweep_dir / "summary.csv", rows)
    figure = "summary.png" if write_figure(sweep_dir / "summary.png", sweep_dir, rows) else None
    write_markdown(sweep_dir / "summary.md", rows, figure)
    write_board(sweep_dir, rows, figure and sweep_dir / figure)


class SweepSummary(Callback):
    """Hydra callback (``hydra.callbacks`` in conf/train.yaml): the summary at the end of a multirun."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        os.environ[SWEEP_ID] = uuid.uuid4().hex  # jobs inherit it, in this process or in launched workers
        os.environ[watchdog.LAUNCHER_PID] = str(os.getpid())

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from lrframe.config.errors import fail

        sweep_dir = Path(config.hydra.sweep.dir)
        rows = read_jobs(sweep_dir, os.environ.get(SWEEP_ID))
        if not rows:
            return
        earlier = len(list(sweep_dir.glob(f"*/{JOB_FILE}"))) - len(rows)
        if earlier:
            log.warning(f"sweep summary: {earlier} job directories of an earlier multirun in {sweep_dir} are left out")
        try:
            write_summary(sweep_dir, rows)
            if earlier:
                with (sweep_dir / "summary.md").open("a") as file:
                    file.write(f"\n{earlier} job directories of an earlier multirun in this directory are left out.\n")
            log.info(f"sweep summary: {sweep_dir / 'summary.md'}")
            unwritten = None
        except Exception as error:  # noqa: BLE001 - Hydra would turn it into a warning; the exit status must stay
            unwritten = f"the sweep summary could not be written ({one_line(error)})"
        failed = [row["directory"] for row in rows if row["status"] != "completed"]
        if failed:
            named = ", ".join(failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
            fail(f"{len(failed)} of {len(rows)} jobs failed ({named}); "
                 + (unwritten or f"see {sweep_dir / 'summary.md'}"))
        if unwritten:
            fail(unwritten)
