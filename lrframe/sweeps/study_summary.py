"""The summary of a search, read from its Optuna study (``hparams_search=...`` sets this callback).

A study may have trials of other workers: finished, running, on other hosts. So the rows are the
study's trials, not the job directories of this sweep directory: each row has the trial's state
(``completed``, ``pruned``, ``failed``, or ``running`` in another worker), its parameters and its
value from the study, and, when its job directory is on this machine, its metrics and error from
``metrics.json`` and ``job.json`` (a pruned trial's are those of the epoch it stopped at). The
files are those of a grid (``summary.csv``, ``summary.md``, ``summary.png``, see
``lrframe.sweeps.sweep``, and the sweep's TensorBoard run); ``summary.md`` adds the best trial of the study.

The process exits with status 1 when a trial it ran itself failed (a pruned trial is not a
failure; another worker's failures are that worker's exit status).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lrframe.sweeps.sweep import COLUMNS, JOB_FILE, METRICS, _cell, write_board, write_csv, write_figure
from lrframe.run_files import METRICS_FILE, read_metrics

log = logging.getLogger(__name__)

STATES = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "running"}


def job_dir(trial, sweep_dir: Path) -> Path | None:
    """The trial's job directory, if it is on this machine."""
    directory = trial.user_attrs.get("directory")
    if directory and Path(directory).is_dir():
        return Path(directory)
    return next((path.parent for path in sweep_dir.glob(f"{trial.number}_*/{JOB_FILE}")), None)


def study_rows(study, sweep_dir: Path) -> list[dict]:
    """One row per trial of the study (``COLUMNS`` of ``sweep.py``), in trial order."""
    rows = []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        state = STATES[trial.state.name]
        directory = job_dir(trial, sweep_dir)
        record = json.loads((directory / JOB_FILE).read_text()) if directory else {}
        metrics = read_metrics(directory) if directory and (directory / METRICS_FILE).is_file() else {}
        reports = trial.intermediate_values
        value = trial.value if trial.value is not None else reports[max(reports)] if reports else None
        error = record.get("error") or ""
        if state == "failed" and not error:
            error = "the trial ended without a result (see its worker's log)"
        rows.append({
            "job": trial.number,
            "overrides": " ".join(record.get("overrides") or [f"{k}={v}" for k, v in trial.params.items()]),
            "status": state,
            **{key: metrics.get(key) for key in METRICS},
            "val/acc": metrics.get("val/acc", value),
            "epochs": metrics.get("epochs", len(reports) or None),
            "wall_seconds": metrics.get("wall_seconds", record.get("seconds")),
            "error": error if state != "completed" else "",
            "directory": directory.name if directory else "",
        })
    return rows


def write_markdown(path: Path, rows: list[dict], study, figure: str | None) -> None:
    counts = {state: sum(row["status"] == state for row in rows) for state in dict.fromkeys(STATES.values())}
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n or state == "completed")
    lines = [f"# Search summary: study {study.study_name}", "", f"{len(rows)} trials: {shown}."]
    try:
        best = study.best_trial
        params = " ".join(f"{k}={v}" for k, v in best.params.items())
        lines[-1] += f" Best val/acc ({study.direction.name.lower()}d): {best.value:.4f} (trial {best.number}: {params})."
    except ValueError:  # no completed trial yet
        pass
    columns = [column for column in COLUMNS if column != "directory"]
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[column], column) for column in columns) + " |" for row in rows]
    if figure:
        lines += ["", f"![validation and lr curves of every trial]({figure})"]
    path.write_text("\n".join(lines) + "\n")


class StudySummary(Callback):
    """Hydra callback: the summary of the search when the multirun ends (see the module docstring)."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from lrframe.config.errors import fail
        from lrframe.sweeps.search import Search

        search = Search.latest
        if search is None or search.study is None:  # another sweeper ran (hydra/sweeper=basic): a grid's summary
            from lrframe.sweeps.sweep import SweepSummary

            return SweepSummary().on_multirun_end(config, **kwargs)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        rows = study_rows(search.study, sweep_dir)
        try:
            write_csv(sweep_dir / "summary.csv", rows)
            local = [row for row in rows if row["directory"]]
            figure = "summary.png" if local and write_figure(sweep_dir / "summary.png", sweep_dir, local) else None
            write_markdown(sweep_dir / "summary.md", rows, search.study, figure)
            write_board(sweep_dir, local, figure and sweep_dir / figure)
            log.info(f"search summary: {sweep_dir / 'summary.md'}")
        except Exception:  # noqa: BLE001 - the exit status must stay
            log.exception("the search summary could not be written")
        failed = [row for row in rows if row["status"] == "failed" and row["job"] in search.ran]
        if failed:
            named = ", ".join(str(row["job"]) for row in failed[:3]) + (
                f" and {len(failed) - 3} more" if len(failed) > 3 else "")
            fail(f"{len(failed)} of the {len(search.ran)} trials of this process failed (trial {named}); "
                 f"see {sweep_dir / 'summary.md'}")
