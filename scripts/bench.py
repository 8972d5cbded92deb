"""Side-by-side cost of lrframe against a bare PyTorch loop and a tutorial-style Lightning script.

    .venv/bin/python scripts/bench.py [--repeats 5] [--page docs/performance.md]

All four run the default job (digits MLP, batch 64, SGD momentum, linear warmup + cosine per step,
validation each epoch) as whole processes, children of this one, interleaved so that load on a
shared machine hits them alike:

  (a) scripts/bench_bare.py        a bare PyTorch loop
  (b) scripts/bench_lightning.py   the same job as tutorials write it in Lightning
  (c) python train.py              lrframe, default logging
  (d) scripts/bench_lightning.py --loop-only   Lightning's loop alone: nothing logged or saved

and a user's own model, the SmallCNN of tests/fixtures/user_project, as a bare loop
(``bench_bare.py --cnn``) and through lrframe from the user's folder (``lrframe model=my_cnn``).

Per optimizer step cost = (time of a long run - time of a short run) / (extra steps): start-up
cancels out. Medians over repeats; ratios are to (a). Also: start-up time, time to a config error,
peak resident memory (and whether it grows with the number of epochs), a 100k-step preview, and
the LR range test against torch-lr-finder (whole processes, as ``scripts/lr_find_compare.py``).
The report replaces the part of docs/performance.md between the two ``BENCHMARK`` marker lines.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
STEPS_PER_EPOCH = 23  # the default job: ceil(1437 training samples / 64)
LOOP_ONLY = "Lightning's loop alone (nothing logged or saved)"
PROJECT = REPO / "tests" / "fixtures" / "user_project"
CNN_BARE, CNN_LRFRAME = "user CNN, bare PyTorch loop", "user CNN, lrframe (model=my_cnn from the user's folder)"
MARKERS = ("<!-- BENCHMARK: written by scripts/bench.py -->", "<!-- /BENCHMARK -->")


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


def jobs(scratch: Path) -> dict[str, callable]:
    """Each reference job as a function of the number of epochs -> its command."""
    return {
        "bare PyTorch loop": lambda e: [PYTHON, "scripts/bench_bare.py", "--epochs", str(e)],
        "Lightning, tutorial style": lambda e: [PYTHON, "scripts/bench_lightning.py", "--epochs", str(e),
                                                "--out", str(scratch / f"lightning-{e}")],
        "lrframe (python train.py)": lambda e: [PYTHON, "train.py", f"trainer.max_epochs={e}",
                                                f"hydra.run.dir={scratch / f'lrframe-{e}'}"],
        LOOP_ONLY: lambda e: [
            PYTHON, "scripts/bench_lightning.py", "--loop-only", "--epochs", str(e), "--out", str(scratch / "loop")],
        CNN_BARE: lambda e: [PYTHON, "scripts/bench_bare.py", "--cnn", "--epochs", str(e)],
        CNN_LRFRAME: lambda e: [PYTHON, str(REPO / "train.py"), "model=my_cnn", f"trainer.max_epochs={e}",
                                f"hydra.run.dir={scratch / f'cnn-{e}'}"],
    }


#: jobs run from the user's project folder (its conf/ and modules), the rest from the repository
CWD = {CNN_LRFRAME: PROJECT}


def measure_steps(repeats: int, short: int, long: int, scratch: Path) -> dict[str, dict]:
    """Per-step cost, start-up and peak memory of each job, from interleaved short and long runs."""
    runs = {name: {"short": [], "long": [], "rss_short": [], "rss_long": []} for name in jobs(scratch)}
    for repeat in range(repeats):
        for name, command in jobs(scratch).items():
            for length, epochs in (("short", short), ("long", long)):
                seconds, rss = timed(command(epochs), CWD.get(name, REPO))
                runs[name][length].append(seconds)
                runs[name][f"rss_{length}"].append(rss)
        print(f"repeat {repeat + 1}/{repeats} done", file=sys.stderr)
    extra_steps = (long - short) * STEPS_PER_EPOCH
    results = {}
    for name, run in runs.items():
        per_step = statistics.median((b - a) / extra_steps for a, b in zip(run["short"], run["long"]))
        results[name] = {
            "ms_per_step": per_step * 1e3,
            "startup_s": statistics.median(run["short"]) - short * STEPS_PER_EPOCH * per_step,
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
    return (f"{os.cpu_count()} CPU cores ({model}), Python {platform.python_version()}, torch {torch.__version__}, "
            f"Lightning {lightning.__version__}; load average at the end: {load}")


def report(steps: dict[str, dict], extras: list[tuple[str, str]], args: argparse.Namespace) -> str:
    bare = steps["bare PyTorch loop"]["ms_per_step"]
    lines = [
        f"Measured by `scripts/bench.py --repeats {args.repeats}` on {machine()}.",
        f"Per-step cost from {args.short}- and {args.long}-epoch runs; medians of {args.repeats} interleaved repeats.",
        "",
        "| job | ms / optimizer step | ratio to bare loop | start-up (s) | peak RSS, "
        f"{args.short} / {args.long} epochs (MiB) |",
        "|---|---|---|---|---|",
    ]
    for name, result in steps.items():
        lines.append(f"| {name} | {result['ms_per_step']:.3f} | {result['ms_per_step'] / bare:.2f}x | "
                     f"{result['startup_s']:.2f} | {result['rss_short_mib']:.0f} / {result['rss_long_mib']:.0f} |")
    lightning_ms = steps["Lightning, tutorial style"]["ms_per_step"]
    lrframe_ms = steps["lrframe (python train.py)"]["ms_per_step"]
    loop_ms = steps[LOOP_ONLY]["ms_per_step"]
    cnn_ratio = steps[CNN_LRFRAME]["ms_per_step"] / steps[CNN_BARE]["ms_per_step"]
    lines += ["", f"lrframe is {lightning_ms / lrframe_ms:.2f}x faster per step than the tutorial-style Lightning script; "
              f"of its {lrframe_ms - bare:.3f} ms per step over the bare loop, Lightning's loop alone takes "
              f"{loop_ms - bare:.3f} ms. A user's CNN through lrframe costs {cnn_ratio:.2f}x its bare loop per step.",
              "", "| whole process | seconds |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in extras]
    return "\n".join(lines) + "\n"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--short", type=int, default=5, help="epochs of the short run")
    parser.add_argument("--long", type=int, default=45, help="epochs of the long run")
    parser.add_argument("--page", "--readme", dest="page", type=Path, default=REPO / "docs" / "performance.md",
                        help="the page whose BENCHMARK section the table replaces")
    return parser.parse_args(argv)


def main() -> None:
    args = arguments()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        steps = measure_steps(args.repeats, args.short, args.long, scratch)
        preview = [PYTHON, "train.py", "task=preview", "trainer.max_epochs=null", "trainer.max_steps=100000",
                   f"hydra.run.dir={scratch / 'preview'}"]
        lr_find, torch_lr_finder = lr_find_times(args.repeats)
        extras = [("config error (`python train.py optimizer.lr=-1`)",
                   f"{median_time([PYTHON, 'train.py', 'optimizer.lr=-1'], args.repeats):.2f}"),
                  ("`task=preview` of 100,000 steps", f"{median_time(preview, args.repeats):.2f}"),
                  ("`task=lr_find` (100 steps, files written) / a torch-lr-finder script on the same job",
                   f"{lr_find:.2f} / {torch_lr_finder:.2f}")]
    table = report(steps, extras, args)
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
