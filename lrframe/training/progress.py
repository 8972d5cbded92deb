"""Console progress: one line with epoch, step, loss and lr, redrawn in place::

    epoch 3/20 [###-----------------] step 57/460  loss 0.2310  lr 8.730e-02  812 steps/s

A redraw happens at most every ``REFRESH_SECONDS``. Between redraws a training step costs one
clock read; the loss is read from the device (``.item()``, a synchronisation on a GPU) only when
the line is redrawn. ``trainer.enable_progress_bar: auto`` shows it when stderr is a terminal.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ProgressBar

REFRESH_SECONDS = 0.25
BAR_WIDTH = 20


def wanted(setting: bool | str, stream: TextIO | None = None) -> bool:
    """``trainer.enable_progress_bar`` (true, false or auto) as a yes or no."""
    if setting == "auto":
        return (stream or sys.stderr).isatty()
    return bool(setting)


class ProgressLine(ProgressBar):
    """The progress line of a ``total_steps`` optimizer-step run, written to ``stream`` (stderr)."""

    def __init__(self, total_steps: int, stream: TextIO | None = None,
                 refresh_seconds: float = REFRESH_SECONDS):
        super().__init__()
        self.total_steps, self.refresh_seconds = total_steps, refresh_seconds
        self.stream = stream  # None: sys.stderr when drawing (a stream does not pickle, for ddp_spawn)
        self.enabled = True
        self.draws = 0
        self._next_draw = 0.0
        self._started, self._first_step, self._width = 0.0, 0, 0

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started, self._first_step = time.monotonic(), trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        now = time.monotonic()
        if self.enabled and now >= self._next_draw:
            self._next_draw = now + self.refresh_seconds
            self._draw(trainer, pl_module, now)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.enabled:
            self._draw(trainer, pl_module, time.monotonic(), finished=True)
            self._write("\n")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if self.enabled and self.draws:
            self._write("\n")  # the error starts on a line of its own

    def line(self, trainer: pl.Trainer, pl_module: pl.LightningModule, now: float,
             finished: bool = False) -> str:
        step = trainer.global_step
        epoch = trainer.current_epoch + (0 if finished else 1)  # at the end: the epochs completed
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        done = round(BAR_WIDTH * step / self.total_steps) if self.total_steps else 0
        parts = [f"epoch {epoch}" + (f"/{epochs}" if epochs else ""),
                 f"[{'#' * done}{'-' * (BAR_WIDTH - done)}]", f"step {step}/{self.total_steps}"]
        loss = getattr(pl_module, "last_loss", None)
        if loss is not None:
            parts.append(f" loss {loss.item():.4f}")
        if trainer.optimizers:
            parts.append(f" lr {trainer.optimizers[0].param_groups[0]['lr']:.3e}")
        elapsed = now - self._started
        if elapsed > 0 and step > self._first_step:
            parts.append(f" {(step - self._first_step) / elapsed:.0f} steps/s")
        return " ".join(parts)

    def _draw(self, trainer: pl.Trainer, pl_module: pl.LightningModule, now: float,
              finished: bool = False) -> None:
        text = self.line(trainer, pl_module, now, finished)
        self._write("\r" + text.ljust(self._width))  # pad over a longer previous line
        self._width = len(text)
        self.draws += 1

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(text)
        stream.flush()
