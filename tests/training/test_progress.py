"""The console progress line: what it shows, how often it redraws, when it is on."""

import io
import os
import re
import time

import pytest

from conftest import fit_in_process, read_scalars
from lrframe.training.progress import REFRESH_SECONDS, ProgressLine, wanted


def test_auto_shows_progress_only_on_a_terminal():
    primary, secondary = os.openpty()
    with os.fdopen(secondary, "w") as terminal:
        assert wanted("auto", terminal) is True
    os.close(primary)
    assert wanted("auto", io.StringIO()) is False
    assert wanted(True, io.StringIO()) is True and wanted(False, io.StringIO()) is False


def test_the_line_shows_epoch_step_loss_and_lr_and_redraws_only_a_few_times(tmp_path, capsys):
    started = time.monotonic()
    fit_in_process(tmp_path, "trainer.enable_progress_bar=true", "trainer.max_epochs=2", "trainer.log_every_n_steps=1")
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert err.endswith("\n")
    draws = err.rstrip("\n").split("\r")[1:]
    final = draws[-1].strip()
    match = re.fullmatch(r"epoch 2/2 \[#{20}\] step 46/46  loss (\S+)  lr (\S+)  \d+ steps/s", final)
    assert match, final
    # the loss of the last step, as logged to TensorBoard; the lr after the last step: cosine at its end, 0
    last_step, last_loss = read_scalars(tmp_path, "train/loss")[-1]
    assert last_step == 45 and float(match[1]) == pytest.approx(last_loss, abs=5e-5)
    assert float(match[2]) == pytest.approx(0.0, abs=1e-12)
    # at most one redraw per refresh interval (plus the first and the final one), however busy the machine
    assert len(draws) <= elapsed / REFRESH_SECONDS + 2


def test_steps_within_one_refresh_interval_redraw_once_not_once_per_step():
    # the rate limit on its own, with an interval no machine's load reaches: no wall-time race
    from types import SimpleNamespace

    import torch

    stream = io.StringIO()
    line = ProgressLine(total_steps=1000, stream=stream, refresh_seconds=3600)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    trainer = SimpleNamespace(global_step=0, current_epoch=0, max_epochs=1, optimizers=[optimizer])
    module = SimpleNamespace(last_loss=torch.tensor(1.0))
    line.on_train_start(trainer, module)
    for step in range(1, 1001):
        trainer.global_step = step
        line.on_train_batch_end(trainer, module, None, None, step - 1)
    assert line.draws == 1 and stream.getvalue().count("\r") == 1
    line.on_train_end(trainer, module)
    assert line.draws == 2 and "step 1000/1000" in stream.getvalue().rsplit("\r", 1)[1]
