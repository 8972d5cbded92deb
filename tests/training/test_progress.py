"""The console progress line: what it shows, how often it redraws, when it is on."""

import io
import os
import re
import time

import pytest

from conftest import fit_in_process, read_scalars
from lrframe.training.progress import REFRESH_SECONDS, wanted


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
    # at most one redraw per refresh interval (plus the final one), not one per step
    assert len(draws) <= elapsed / REFRESH_SECONDS + 2 < 46
