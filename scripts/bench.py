"""Side-by-side cost of lrframe against the same jobs as bare PyTorch loops, and against Lightning.

    .venv/bin/python scripts/bench.py [--repeats 5] [--only GROUP ...] [--lengths GROUP=SHORT,LONG ...]
                                      [--page docs/performance.md]

Every row is a whole process, a child of this one; the rows of all groups run interleaved so that
load on a shared machine hits them alike. The groups (``--only`` picks some; ``extras`` is the
whole-process times below):

  mlp          the default job (digits MLP, batch 64, SGD momentum, linear warmup + cosine per step,
               validation each epoch): (a) ``scripts/bench_bare.py``, a bare PyTorch loop; (b)
               ``scripts/bench_lightning.py``, the job as tutorials write it in Lightning; (c)
               ``python train.py``, lrframe with default logging; (d) ``bench_lightning.py
               --loop-only``, Lightning's loop alone, nothing logged or saved. Goal: (c) <= 1.15x (d).
  user_cnn     the SmallCNN of tests/fixtures/user_project, bare (``bench_bare.py --model user_cnn``)
               and through lrframe from the user's folder (``lrframe model=my_cnn``).
  cnn          the built-in ``model=cnn`` on digits, bare and through lrframe.
  transformer  the built-in ``model=transformer data=text``, bare and through lrframe, in steps
               (an epoch is 103 steps) with a 5-step warmup.
  Goal of the last three: lrframe <= 1.05x its bare loop. The bare loops build lrframe's job
  (its model builder, data builder, optimizer and schedule; see bench_bare.py).

Per optimizer step cost = (time of a long run - time of a short run) / (extra steps): start-up
cancels out. Medians over repeats; ratios are to the group's bare loop. Also: start-up time, peak
resident memory (and whether it grows with the run), and, with ``extras``, the time to a config
error, a 100k-step preview and the LR range test against torch-lr-finder (whole processes, as
``scripts/lr_find_compare.py``). The report replaces the part of docs/performance.md between the
two ``BENCHMARK`` marker lines.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from bench_bare import JOBS  # noqa: E402  (the overrides that make each model's lrframe job)

PYTHON = sys.executable
STEPS_PER_EPOCH = 23  # digits: ceil(1437 training samples / 64)
PROJECT = REPO / "tests" / "fixtures" / "user_project"
BARE, LRFRAME = "bare PyTorch loop", "lrframe (python train.py)"
LOOP_ONLY = "Lightning's loop alone (nothing logged or saved)"
MARKERS = ("<!-- BENCHMARK: written by scripts/bench.py -->", "<!-- /BENCHMARK -->")


@dataclass(frozen=True)
class Group:
    """Jobs timed against one bare loop: each row's command for a run of ``n`` units (epochs or steps)."""

    rows: dict[str, Callable[[int, Path], list[str]]]
    unit: str  # "epochs" or "steps": what a run length counts
    lengths: tuple[int, int]  # the short and the long run
    goal: tuple[str, str, float]  # (row, reference row, at most this ratio of their costs per step)
    steps_per_unit: int = 1
    cwd: dict[str, Path] = field(default_factory=dict)  # rows run from elsewhere than the repository

    def steps(self, length: int) -> int:
        """Optimizer steps in a run of ``length`` units."""
        return length * self.steps_per_unit


def bare(model: str, unit: str, extra: tuple[str, ...] = ()) -> Callable[[int, Path], list[str]]:
    """``scripts/bench_bare.py`` on the model's job."""
    return lambda n, scratch: [PYTHON, "scripts/bench_bare.py", "--model", model, f"--{unit}", str(n), *extra]


def lrframe(model: str, unit: str, extra: tuple[str, ...] = ()) -> Callable[[int, Path], list[str]]:
    """``python train.py`` on the model's job, in a fresh run directory."""
    return lambda n, scratch: [PYTHON, "train.py", *JOBS[model], f"trainer.max_{unit}={n}", *extra,
                               f"hydra.run.dir={scratch / f'{model}-{n}'}"]


def lightning(*flags: str) -> Callable[[int, Path], list[str]]:
    """``scripts/bench_lightning.py`` on the default job."""
    return lambda n, scratch: [PYTHON, "scripts/bench_lightning.py", *flags, "--epochs", str(n),
                               "--out", str(scratch / f"lightning{''.join(flags)}-{n}")]


def user_cnn(n: int, scratch: Path) -> list[str]:
    """The user's CNN through lrframe, run from the user's folder (its conf/ and modules)."""
    return [PYTHON, str(REPO / "train.py"), "model=my_cnn", f"trainer.max_epochs={n}",
            f"hydra.run.dir={scratch / f'user-cnn-{n}'}"]


def pair(label: str, model: str, unit: str, lengths: tuple[int, int], steps_per_unit: int = 1,
         extra: tuple[str, ...] = ()) -> Group:
    """A built-in model's job as a bare loop and through lrframe; goal: lrframe within 1.05x."""
    rows = {f"{label}, {BARE}": bare(model, unit, extra),
            f"{label}, lrframe ({' '.join(JOBS[model])})": lrframe(model, unit, extra)}
    return Group(rows, unit, lengths, (*reversed(rows), 1.05), steps_per_unit)


USER_CNN = "user CNN, lrframe (model=my_cnn from the user's folder)"
GROUPS = {
    "mlp": Group({BARE: bare("mlp", "epochs"), "Lightning, tutorial style": lightning(),
                  LRFRAME: lrframe("mlp", "epochs"), LOOP_ONLY: lightning("--loop-only")},
                 "epochs", (5, 45), (LRFRAME, LOOP_ONLY, 1.15), STEPS_PER_EPOCH),
    "user_cnn": Group({f"user CNN, {BARE}": bare("user_cnn", "epochs"), USER_CNN: user_cnn}, "epochs", (5, 45),
                      (USER_CNN, f"user CNN, {BARE}", 1.05), STEPS_PER_EPOCH, {USER_CNN: PROJECT}),
    "cnn": pair("CNN", "cnn", "epochs", (2, 26), STEPS_PER_EPOCH),
    # steps, not epochs (an epoch is 103 slow steps); its warmup of one epoch is longer than such runs
    "transformer": pair("transformer", "transformer", "steps", (10, 100), extra=("warmup.steps=5",)),
}


def timed(command: list[str], cwd: Path = REPO) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one child process; raises if it fails."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read()
    child.stderr.close()
    if child.returncode not in (0, 1) or (child.returncode == 1 and "error:" not in errors):
        raise RuntimeError(f"{' '.join(command)} failed:\n{errors[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def measure_steps(groups: dict[str, Group], repeats: int, scratch: Path) -> dict[str, dict]:
    """Per-step cost, start-up and peak memory of each row, from interleaved short and long runs."""
    rows = [(group, name, command) for group in groups.values() for name, command in group.rows.items()]
    runs = {name: {"short": [], "long": [], "rss_short": [], "rss_long": []} for _, name, _ in rows}
    for repeat in range(repeats):
        for group, name, command in rows:
            for length, n in zip(("short", "long"), group.lengths):
                seconds, rss = timed(command(n, scratch), group.cwd.get(name, REPO))
                runs[name][length].append(seconds)
                runs[name][f"rss_{length}"].append(rss)
                print(f"{name}, {n} {group.unit}: {seconds:.2f} s", file=sys.stderr)
        print(f"repeat {repeat + 1}/{repeats} done; load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    results = {}
    for group, name, _ in rows:
        run, (short, long) = runs[name], group.lengths
        per_step = statistics.median((b - a) / group.steps(long - short) for a, b in zip(run["short"], run["long"]))
        results[name] = {
            "ms_per_step": per_step * 1e3,
            "startup_s": statistics.median(run["short"]) - group.steps(short) * per_step,
            "rss_short_mib": statistics.median(run["rss_short"]),
            "rss_long_mib": statistics.median(run["rss_long"]),
        }
    return results


def median_time(command: list[str], repeats: int) -> float:
    return statistics.median(timed(command)[0] for _ in range(repeats))


def lr_find_times(repeats: int) -> tuple[float, float]:
    """Whole-process seconds of ``train.py task=lr_find`` and of a standalone torch-lr-finder script
    on the default job (``scripts/lr_find_compare.py`` runs both)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from lr_find_compare import compose, process_times

    return process_times([], compose([]), repeats)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    import lightning
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    threads = os.environ.get("OMP_NUM_THREADS", "unset (torch's default)")
    return (f"{os.cpu_count()} CPU cores ({model}), Python {platform.python_version()}, torch {torch.__version__}, "
            f"Lightning {lightning.__version__}, OMP_NUM_THREADS {threads}; load average at the end: {load}")


def report(groups: dict[str, Group], steps: dict[str, dict], extras: list[tuple[str, str]], command: str) -> str:
    """The markdown the page gets: one table of per-step costs, the goals, the whole-process times."""
    lines = [f"Measured by `{command}` on {machine()}.",
             "Per-step cost from a short and a long run of each job; medians of interleaved repeats.", "",
             "| job | runs | ms / optimizer step | ratio to its bare loop | start-up (s) | peak RSS, short / long (MiB) |",
             "|---|---|---|---|---|---|"]
    goals = []
    for group in groups.values():
        reference = steps[next(iter(group.rows))]["ms_per_step"]
        for name in group.rows:
            result = steps[name]
            lines.append(f"| {name} | {' / '.join(map(str, group.lengths))} {group.unit} | "
                         f"{result['ms_per_step']:.3f} | {result['ms_per_step'] / reference:.2f}x | "
                         f"{result['startup_s']:.2f} | {result['rss_short_mib']:.0f} / {result['rss_long_mib']:.0f} |")
        row, against, bound = group.goal
        ratio = steps[row]["ms_per_step"] / steps[against]["ms_per_step"]
        goals.append(f"{row} / {against}: **{ratio:.2f}x** (goal <= {bound}x: {'met' if ratio <= bound else 'not met'})")
    lines += ["", "Goals, per optimizer step:", "", *(f"- {goal}" for goal in goals)]
    if extras:
        lines += ["", "| whole process | seconds |", "|---|---|", *(f"| {name} | {value} |" for name, value in extras)]
    return "\n".join(lines) + "\n"


def extra_times(repeats: int, scratch: Path) -> list[tuple[str, str]]:
    """Whole-process times: a config error, a 100k-step preview, the LR range test against torch-lr-finder."""
    preview = [PYTHON, "train.py", "task=preview", "trainer.max_epochs=null", "trainer.max_steps=100000",
               f"hydra.run.dir={scratch / 'preview'}"]
    lr_find, torch_lr_finder = lr_find_times(repeats)
    return [("config error (`python train.py optimizer.lr=-1`)",
             f"{median_time([PYTHON, 'train.py', 'optimizer.lr=-1'], repeats):.2f}"),
            ("`task=preview` of 100,000 steps", f"{median_time(preview, repeats):.2f}"),
            ("`task=lr_find` (100 steps, files written) / a torch-lr-finder script on the same job",
             f"{lr_find:.2f} / {torch_lr_finder:.2f}")]


def length_pair(text: str) -> tuple[str, tuple[int, int]]:
    """``GROUP=SHORT,LONG`` -> (group, (short, long))."""
    group, _, lengths = text.partition("=")
    short, long = map(int, lengths.split(","))
    if group not in GROUPS or not 0 < short < long:
        raise argparse.ArgumentTypeError(f"expected GROUP=SHORT,LONG with GROUP in {', '.join(GROUPS)} and "
                                         f"0 < SHORT < LONG, got {text}")
    return group, (short, long)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=[*GROUPS, "extras"], default=[*GROUPS, "extras"],
                        help="the row groups to measure (default: all, and the whole-process extras)")
    parser.add_argument("--lengths", nargs="+", type=length_pair, default=[], metavar="GROUP=SHORT,LONG",
                        help="a group's short and long run in its unit: " +
                             ", ".join(f"{name}={g.lengths[0]},{g.lengths[1]} {g.unit}" for name, g in GROUPS.items()))
    parser.add_argument("--page", "--readme", dest="page", type=Path, default=REPO / "docs" / "performance.md",
                        help="the page whose BENCHMARK section the table replaces")
    return parser.parse_args(argv)


def selected(args: argparse.Namespace) -> dict[str, Group]:
    """The groups ``--only`` names, with the run lengths ``--lengths`` gives."""
    lengths = dict(args.lengths)
    return {name: replace(group, lengths=lengths.get(name, group.lengths))
            for name, group in GROUPS.items() if name in args.only}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = arguments(argv)
    groups = selected(args)
    with tempfile.TemporaryDirectory() as scratch:
        steps = measure_steps(groups, args.repeats, Path(scratch))
        extras = extra_times(args.repeats, Path(scratch)) if "extras" in args.only else []
    table = report(groups, steps, extras, " ".join(["scripts/bench.py", *argv]))
    print(table)
    write_into(args.page, table)


def write_into(page: Path, table: str) -> None:
    """Replace the text between the ``MARKERS`` lines of ``page`` with ``table``."""
    text = page.read_text()
    head, start, rest = text.partition(MARKERS[0] + "\n")
    _, end, tail = rest.partition(MARKERS[1])
    if not (start and end):
        sys.exit(f"error: {page} lacks the lines {MARKERS[0]} and {MARKERS[1]}; the table is above")
    page.write_text(head + start + table + end + tail)


if __name__ == "__main__":
    main()
