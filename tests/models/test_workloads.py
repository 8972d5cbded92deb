"""The built-in workloads train to what a practitioner expects of them (issue 15's checks), each the
default job of its model and data, run as ``task=fit`` does."""

import numpy as np
import pytest

from conftest import fit_in_process, read_metrics


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_the_cnn_reads_digits_to_97_percent_in_5_epochs(tmp_path, precision):
    fit_in_process(tmp_path, "model=cnn", "trainer.max_epochs=5", f"trainer.precision={precision}")
    assert read_metrics(tmp_path)["val/acc"] >= (0.97 if precision == "32-true" else 0.95)


@pytest.mark.slow
def test_the_char_transformer_beats_the_unigram_entropy_by_far_in_400_steps(tmp_path):
    from lrframe.data.text import windows

    unigram = windows({"path": None, "block_size": 128, "val_fraction": 0.1}).unigram_entropy()  # ~3.25 nats
    fit_in_process(tmp_path, "model=transformer", "data=text", "trainer.max_steps=400")
    assert read_metrics(tmp_path)["val/loss"] < 0.8 * unigram


@pytest.mark.slow
def test_the_mlp_regresses_diabetes_well_under_predicting_the_mean_at_the_lr_finders_lr(tmp_path):
    """At the digits job's lr (SGD 0.1, momentum 0.9) this regression diverges or collapses to the mean
    (docs/workloads.md's grid); the LR range test's pick trains it."""
    from lrframe.data.datasets import load_split

    split = load_split({"name": "diabetes", "val_fraction": 0.2, "split_seed": 0})
    mean_loss = float(np.mean((split.y_val - split.y_train.mean()) ** 2))  # predict the training mean: ~0.8
    fit_in_process(tmp_path, "data=diabetes", "loss=mse", "optimizer.lr=auto")
    assert read_metrics(tmp_path)["val/loss"] < 0.8 * mean_loss
