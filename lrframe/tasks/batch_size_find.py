"""``task=batch_size_find``: the largest batch that fits, and the gradient noise scale, on what ``task=fit`` trains.

The model, initialization, data, loss and optimizer come from the same builders as ``task=fit``
(``lrframe.training.pieces.build``, ``build_optimizer``), seeded as ``task=fit`` seeds them. Then:

1. **The largest batch that fits** (``lrframe.batch_size.search``, Lightning's ``power`` or ``binsearch``
   search): each trial is one training step (forward, backward, optimizer step with a fresh optimizer)
   at that batch size, its peak memory above the process's read as ``lrframe.batch_size.measure`` says;
   the model's weights are restored after each. It is bounded by the training set (a batch of at most
   ``train_size / (accumulate_grad_batches x devices)`` samples: the run's global batch must fit in it).
2. **The gradient noise scale** ``B_simple = tr(Sigma) / |G|^2`` (``lrframe.batch_size.noise``) from the
   squared gradient norms of ``noise_batches`` pairs of batches of ``small_batch`` and ``big_batch``
   samples, at the initial weights or after ``after_steps`` optimizer steps of the run (its optimizer
   and schedule, ``data.batch_size``).

The suggestion is a global batch of about ``B_simple`` (McCandlish et al.: about the critical batch),
as ``data.batch_size`` = ``ceil(B_simple / (accumulate_grad_batches x devices))``, at most the largest
batch that fits. Writes ``batch_size_find.json``, ``batch_size_find.png`` and, with
``logger=tensorboard``, ``tensorboard/batch_size_find`` (scalars, the figure, the JSON); prints one line.
Nothing is trained for keeps, and the random state is restored afterwards.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from lrframe.batch_size.measure import (MIB, MemoryProbe, default_limit, gradient_norms, take, to_device,
                                        train_size)
from lrframe.batch_size.noise import NoiseScale, noise_scale
from lrframe.batch_size.search import largest_batch
from lrframe.config.errors import ConfigError
from lrframe.config.validate import Plan
from lrframe.optim.optimizer import build_optimizer
from lrframe.range_test.loop import preserved_random_state, seed_everything
from lrframe.tasks.lr_find import device as trainer_device
from lrframe.training.pieces import Pieces, build


def batch_loss(pieces: Pieces):
    """A batch -> its mean training loss, as the module computes it."""
    if not pieces.own_module:
        return pieces.batch_loss()
    module = pieces.module
    return lambda batch: module.loss_fn(module.model(batch[0]), batch[1])


def noise_batches(settings: dict, plan: Plan) -> tuple[int, int]:
    """``(B_small, B_big)``: the settings', or ``data.batch_size`` and 8 x that (at most the training set)."""
    small = settings["small_batch"] or plan.config["data"]["batch_size"]
    return small, settings["big_batch"] or min(8 * small, plan.train_size)


def largest_fitting(pieces: Pieces, plan: Plan, settings: dict, device: torch.device, loss) -> dict:
    """Search the largest batch whose training step fits; the model is left as it was."""
    trained = pieces.module if not pieces.own_module else pieces.parameters
    node, lr = plan.config["optimizer"], pieces.lr or plan.lr
    limit = default_limit(device, settings["memory_limit_mb"], settings["memory_fraction"])
    probe, measured = MemoryProbe(device, limit), []
    initial = {name: tensor.detach().to("cpu", copy=True) for name, tensor in trained.state_dict().items()}
    trainer = plan.config["trainer"]
    upper = train_size(pieces.data.train) // (trainer.get("accumulate_grad_batches", 1) * plan.devices)
    order = torch.randperm(train_size(pieces.data.train), generator=torch.Generator().manual_seed(plan.config["seed"]))

    def fits(batch_size: int) -> bool:
        optimizer = build_optimizer(pieces.parameters, node, lr)

        def step() -> None:
            batch = to_device(take(pieces.data.train, order[:batch_size]), device)
            loss(batch).backward()
            optimizer.step()

        try:
            measured.append(probe(batch_size, step))
        finally:
            optimizer.zero_grad(set_to_none=True)
            del optimizer
            trained.load_state_dict(initial)
        return measured[-1].fits

    fits(min(settings["init_val"], upper))  # a first step allocates once for good (autograd, kernels): unmeasured
    measured.clear()
    largest, limited_by, _ = largest_batch(fits, init_val=settings["init_val"], max_trials=settings["max_trials"],
                                           mode=settings["mode"], upper=upper)
    return {"largest_batch_size": largest, "limited_by": limited_by, "upper": upper,
            "memory_limit_mb": None if limit is None else round(limit / MIB, 1),
            "trials": [{"batch_size": m.batch_size, "fits": m.fits,
                        "step_mb": None if m.step_bytes is None else round(m.step_bytes / MIB, 2),
                        "error": m.error} for m in measured]}


def train_first(pieces: Pieces, plan: Plan, steps: int, device: torch.device, loss) -> None:
    """``steps`` optimizer steps of the run's optimizer and schedule on its batches (no accumulation)."""
    from lrframe.training.optimization import configure_optimizers

    built = configure_optimizers(pieces.parameters, plan, pieces.lr or plan.lr)
    optimizer, scheduler = built["optimizer"], built["lr_scheduler"]["scheduler"]
    train, done, epoch = pieces.data.train, 0, 0
    while done < steps:
        if hasattr(getattr(train, "sampler", None), "set_epoch"):
            train.sampler.set_epoch(epoch)
        for batch in train:
            loss(to_device(batch, device)).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            done += 1
            if done == steps:
                break
        epoch += 1


def suggestion(scale: NoiseScale, largest: int | None, per_step: int) -> tuple[int | None, int | None]:
    """``(data.batch_size, the global batch it makes)`` for a global batch of about ``B_simple``."""
    if scale.b_simple is None:
        return None, None
    batch = max(1, math.ceil(scale.b_simple / per_step))
    if largest is not None:
        batch = min(batch, largest)
    return batch, batch * per_step


def measure(plan: Plan) -> dict:
    """Run both measurements; what ``batch_size_find.json`` holds."""
    started = time.perf_counter()
    cfg, settings = plan.config, plan.config["task"]
    device = trainer_device(cfg["trainer"])
    with preserved_random_state():
        seed_everything(cfg["seed"])  # as task=fit seeds before building: the same initial weights
        pieces = build(plan, plan.lr)
        plan = pieces.plan
        (pieces.module if not pieces.own_module else pieces.parameters).to(device)
        loss = batch_loss(pieces)
        search = largest_fitting(pieces, plan, settings, device, loss)
        if settings["after_steps"]:
            train_first(pieces, plan, settings["after_steps"], device, loss)
        b_small, b_big = noise_batches(settings, plan)
        params = [p for p in pieces.parameters.parameters() if p.requires_grad]
        norms = gradient_norms(params, loss, pieces.data.train, device, b_small=b_small, b_big=b_big,
                               pairs=settings["noise_batches"], seed=cfg["seed"])
    scale = noise_scale(b_small, b_big, norms)
    trainer = cfg["trainer"]
    per_step = trainer.get("accumulate_grad_batches", 1) * plan.devices
    batch, global_batch = suggestion(scale, search["largest_batch_size"], per_step)
    return {
        "suggested_batch_size": batch,
        "suggested_global_batch": global_batch,
        "gradient_noise_scale": scale.b_simple,
        **search,
        "noise": {"small_batch": b_small, "big_batch": b_big, "pairs": scale.pairs, "after_steps": settings["after_steps"],
                  "grad_sq": scale.g_sq, "grad_sq_stderr": scale.g_sq_stderr,
                  "trace_sigma": scale.trace, "trace_sigma_stderr": scale.trace_stderr,
                  "squared_norms": [{"small": small, "big": big} for small, big in norms]},
        "device": str(device),
        "seconds": round(time.perf_counter() - started, 3),
    }


def figure(result: dict):
    """Peak memory of each trial against its batch size (the limit dashed), and the mean squared gradient
    norms against 1/B with the line |G|^2 + tr(Sigma)/B they give: an RGBA image (H, W, 4)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.86, wspace=0.25)
    memory, noise = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    trials = [t for t in result["trials"] if t["step_mb"] is not None]
    for fits, color, label in ((True, "C2", "fits"), (False, "C3", "does not fit")):
        shown = [t for t in trials if t["fits"] == fits]
        if shown:
            memory.plot([t["batch_size"] for t in shown], [t["step_mb"] for t in shown], "o", color=color, label=label)
    if result["memory_limit_mb"] is not None:
        memory.axhline(result["memory_limit_mb"], color="k", ls="--", lw=1, label="limit")
    memory.set_xscale("log", base=2)
    memory.set_xlabel("batch size")
    memory.set_ylabel("a training step's peak memory above the process's (MiB)")
    memory.set_title(f"largest batch {result['largest_batch_size']} (limited by {result['limited_by']})", fontsize=9)
    memory.legend(fontsize=8)
    n = result["noise"]
    small = [m["small"] for m in n["squared_norms"]]
    big = [m["big"] for m in n["squared_norms"]]
    x = np.array([1 / n["big_batch"], 1 / n["small_batch"]])
    noise.plot(np.full(len(big), x[0]), big, ".", color="0.6")
    noise.plot(np.full(len(small), x[1]), small, ".", color="0.6", label="|G_B|^2 of each batch")
    noise.plot(x, [np.mean(big), np.mean(small)], "o", color="C0", label="mean")
    line = np.linspace(0, x[1] * 1.05, 50)
    noise.plot(line, n["grad_sq"] + n["trace_sigma"] * line, color="C1",
               label=f"|G|^2 + tr(Sigma)/B: |G|^2 {n['grad_sq']:.3g}, tr(Sigma) {n['trace_sigma']:.3g}")
    noise.set_xlabel("1 / batch size")
    noise.set_ylabel("squared gradient norm")
    b = result["gradient_noise_scale"]
    noise.set_title(f"gradient noise scale B_simple {b:.3g}" if b is not None else
                    "gradient noise scale: |G|^2 lost in the noise", fontsize=9)
    noise.legend(fontsize=8)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def write(result: dict, plan: Plan, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "batch_size_find.json").write_text(json.dumps(result, indent=2) + "\n")
    image = figure(result)
    from matplotlib.image import imsave

    imsave(run_dir / "batch_size_find.png", image)
    if plan.config["logger"]["name"] != "tensorboard":
        return
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(run_dir / "tensorboard" / "batch_size_find") as writer:
        for tag in ("largest_batch_size", "gradient_noise_scale", "suggested_batch_size"):
            if result[tag] is not None:
                writer.add_scalar(f"batch_size_find/{tag}", result[tag], 0)
        for trial in result["trials"]:
            if trial["step_mb"] is not None:
                writer.add_scalar("batch_size_find/step_mb", trial["step_mb"], trial["batch_size"])
        writer.add_image("batch_size_find", image[..., :3], 0, dataformats="HWC")
        writer.add_text("batch_size_find", f"```\n{json.dumps({k: v for k, v in result.items() if k != 'noise'}, indent=2)}\n```", 0)


def summary_line(result: dict, run_dir: Path) -> str:
    n, b = result["noise"], result["gradient_noise_scale"]
    largest = result["largest_batch_size"]
    limit = "" if result["memory_limit_mb"] is None else f" of {result['memory_limit_mb']:g} MiB allowed"
    peaks = [t["step_mb"] for t in result["trials"] if t["fits"] and t["batch_size"] == largest]
    peak = f"; its step {peaks[-1]:g} MiB{limit}" if peaks and peaks[-1] is not None else ""
    noise = (f"gradient noise scale B_simple {b:.4g}" if b is not None else
             "gradient noise scale unknown (|G|^2 estimate <= 0: raise task.noise_batches or task.big_batch)")
    suggested = (f"suggested data.batch_size {result['suggested_batch_size']} (global batch "
                 f"{result['suggested_global_batch']})" if result["suggested_batch_size"] else "no suggestion")
    return (f"batch_size_find: largest batch {largest} (limited by {result['limited_by']}{peak}), {noise} "
            f"(|G|^2 {n['grad_sq']:.4g}, tr(Sigma) {n['trace_sigma']:.4g}; {n['pairs']} pairs of batches "
            f"{n['small_batch']}/{n['big_batch']}), {suggested}; run directory: {run_dir}")


def run(plan: Plan, run_dir: Path) -> dict:
    result = measure(plan)
    write(result, plan, run_dir)
    if result["largest_batch_size"] is None:
        first = result["trials"][0]
        raise ConfigError("task.init_val", first["batch_size"], "even this batch does not fit ("
                          + (first["error"] or f"its step {first['step_mb']:g} MiB of {result['memory_limit_mb']:g} "
                                               "allowed") + "); lower it, or raise task.memory_limit_mb")
    print(summary_line(result, run_dir))
    return result
