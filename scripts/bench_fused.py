"""Fused grids against Hydra's basic launcher: steady-state throughput of an lr grid of the default job.

    .venv/bin/python scripts/bench_fused.py [--repeats 3] [--epochs 10 30] [--members 8 16 32]
                                            [--basic-members 8] [--out docs/fused_speedup.png]

Each sweep is ``train.py -m optimizer.lr=<K values> trainer.max_epochs=E`` as a user runs it (a
fresh process, TensorBoard and checkpoints on), with ``hydra/launcher=basic`` or
``hydra/launcher=fused``. A launcher's steady-state cost per member-step is the difference of the
wall times at the two ``--epochs`` divided by the extra member-steps, so start-up (imports, data,
Trainer set-up, the summary) cancels. Arms are interleaved, ``--repeats`` times; medians are
reported. The basic launcher's cost per member-step does not depend on the grid's size (one job
after another), so it is measured on ``--basic-members`` jobs and the speed-up for K members is
``basic cost per member-step / fused cost per member-step``. The peak RSS of each fused group is
read from its log line. Writes a figure and prints a Markdown table.

    .venv/bin/python scripts/bench_fused.py --floor [--members 8] [--batch 64 16] [--repeats 7]

measures instead, in this process, the ceiling of any fused launcher on this machine: one bare
training step (forward, cross-entropy, backward, SGD with momentum; no logging, schedule, validation
or checkpoint) of the default job's MLP for each of K members one after another, against one fused
bare step of the K members as the launcher computes it (``linear_stack_forward``'s batched matmuls
on stacked parameters, each member's update at its own lr). Their ratio is what fusing saves in
compute; fusing can also remove the framework's per-step work, so the ceiling of the speed-up
against the basic launcher is its cost per member-step over the fused bare step's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS_PER_EPOCH = 23  # the default job: 1437 training samples, batch 64


def lrs(members: int) -> str:
    """``members`` lrs spaced geometrically from 0.01 to 0.3 (all of them train the default job)."""
    return ",".join(f"{0.01 * 30 ** (i / max(members - 1, 1)):.5g}" for i in range(members))


def sweep(launcher: str, members: int, epochs: int, root: Path) -> tuple[float, float | None]:
    """Wall seconds of one multirun, and the fused group's peak RSS (MB) from its log."""
    sweep_dir = root / f"{launcher}-{members}-{epochs}-{time.time_ns()}"
    command = [sys.executable, str(REPO / "train.py"), "-m", f"optimizer.lr={lrs(members)}",
               f"trainer.max_epochs={epochs}", f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep_dir}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    jobs = [json.loads(p.read_text())["status"] for p in sweep_dir.glob("*/job.json")]
    assert jobs == ["completed"] * members, jobs
    rss = re.findall(r"peak RSS (\d+) MB", done.stdout + done.stderr)
    return seconds, float(rss[-1]) if rss else None


def bare_steps(members: int, batch: int):
    """Two step functions over ``members`` MLPs of the default job (64-256-256-10, ReLU): one bare
    step of each member in turn, and one fused bare step of all of them (from the same initial
    weights, on the same batches); and the largest difference between the two arms' weights."""
    import torch
    import torch.nn.functional as F

    from lrframe.models.mlp import mlp
    from lrframe.sweeps.fused.vectorize import linear_stack_forward

    torch.manual_seed(0)
    models = [mlp(in_features=64, hidden=[256, 256], out_features=10, activation="relu") for _ in range(members)]
    lrs_ = [0.01 * (k + 1) for k in range(members)]
    optimizers = [torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9) for m, lr in zip(models, lrs_)]
    x, y = torch.randn(members, batch, 64), torch.randint(0, 10, (members, batch))
    forward = linear_stack_forward(models[0])
    stacked = {name: torch.stack([dict(m.named_parameters())[name].detach() for m in models]).requires_grad_()
               for name, _ in models[0].named_parameters()}
    buffers = {name: torch.zeros_like(p) for name, p in stacked.items()}

    def one_by_one() -> None:
        for k, (model, optimizer) in enumerate(zip(models, optimizers)):
            F.cross_entropy(model(x[k]), y[k]).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    def fused() -> None:
        output = forward(stacked, x)
        F.cross_entropy(output.flatten(0, 1), y.flatten(), reduction="none").view(members, batch).mean(1).sum().backward()
        with torch.no_grad():
            for name, p in stacked.items():
                buffers[name].mul_(0.9).add_(p.grad)
                for k, lr in enumerate(lrs_):
                    p[k].add_(buffers[name][k], alpha=-lr)
                p.grad = None

    def difference() -> float:
        return max((p.detach() - torch.stack([dict(m.named_parameters())[name].detach() for m in models])).abs().max()
                   .item() for name, p in stacked.items())

    return one_by_one, fused, difference


def floor(members: list[int], batches: list[int], repeats: int) -> None:
    """Print, per member count and batch size, the bare cost per member-step one by one and fused
    (medians of ``repeats`` interleaved rounds of 50 steps each, after 20 warm-up steps)."""
    import torch

    print(f"torch threads: {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}")
    print("| members | batch | one by one: ms per member-step | fused: ms per member-step | compute saved |")
    print("|---|---|---|---|---|")
    for k in members:
        for batch in batches:
            arms = dict(zip(("one by one", "fused"), bare_steps(k, batch)[:2]))
            per_member_step = {name: [] for name in arms}
            for step in arms.values():
                for _ in range(20):
                    step()
            for _ in range(repeats):
                for name, step in arms.items():
                    started = time.perf_counter()
                    for _ in range(50):
                        step()
                    per_member_step[name].append((time.perf_counter() - started) * 1e3 / (50 * k))
            one, fused = (statistics.median(per_member_step[name]) for name in arms)
            print(f"| {k} | {batch} | {one:.3f} | {fused:.3f} | {one / fused:.2f}x |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, nargs=2, default=[10, 30])
    parser.add_argument("--members", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--basic-members", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "fused_speedup.png")
    parser.add_argument("--floor", action="store_true", help="measure the bare compute ceiling in this process")
    parser.add_argument("--batch", type=int, nargs="+", default=[64], help="batch sizes of --floor")
    args = parser.parse_args()
    if args.floor:
        floor(args.members, args.batch, args.repeats)
        return
    short, long = args.epochs
    arms = [("basic", args.basic_members)] + [("fused", k) for k in args.members]
    times: dict[tuple[str, int, int], list[float]] = {}
    rss: dict[int, list[float]] = {}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for launcher, members in arms:
                for epochs in (short, long):
                    loads.append(os.getloadavg()[0])
                    seconds, peak = sweep(launcher, members, epochs, Path(tmp))
                    times.setdefault((launcher, members, epochs), []).append(seconds)
                    if peak is not None and epochs == long:
                        rss.setdefault(members, []).append(peak)
                    print(f"repeat {repeat}: {launcher} K={members} E={epochs}: {seconds:.2f} s", flush=True)
    extra_steps = (long - short) * STEPS_PER_EPOCH

    def per_member_step(launcher: str, members: int) -> float:
        """Median over repeats of the differenced cost, in ms per member-step."""
        pairs = zip(times[(launcher, members, long)], times[(launcher, members, short)])
        return statistics.median((a - b) * 1e3 / (extra_steps * members) for a, b in pairs)

    basic = per_member_step("basic", args.basic_members)
    rows = []
    for members in args.members:
        fused = per_member_step("fused", members)
        rows.append({"members": members, "fused_ms_per_member_step": fused, "fused_ms_per_group_step": fused * members,
                     "speedup": basic / fused, "peak_rss_mb": statistics.median(rss[members]) if members in rss else None})
    print(f"\nbasic launcher: {basic:.3f} ms per member-step (K={args.basic_members}); "
          f"load average during the runs {min(loads):.1f}-{max(loads):.1f}; {args.repeats} repeats, "
          f"epochs {short} and {long}")
    print("| members | fused ms per group step | fused ms per member-step | speed-up vs basic | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['members']} | {row['fused_ms_per_group_step']:.2f} | {row['fused_ms_per_member_step']:.3f} | "
              f"{row['speedup']:.2f}x | {row['peak_rss_mb'] or ''} |")
    print(json.dumps({"basic_ms_per_member_step": basic, "rows": rows, "times": {str(k): v for k, v in times.items()},
                      "load": [min(loads), max(loads)]}))
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    ax = figure.subplots()
    ax.plot([r["members"] for r in rows], [r["speedup"] for r in rows], "o-", label="fused vs basic launcher")
    ax.axhline(1, color="gray", lw=0.8)
    ax.set_xlabel("members (lrs in the grid)")
    ax.set_ylabel("steady-state throughput ratio")
    ax.set_title("Fused grid of the default job, 2 CPU cores")
    ax.grid(alpha=0.3)
    ax.legend()
    figure.savefig(args.out, dpi=100)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
