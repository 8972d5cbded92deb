"""Monitoring callbacks in a real fit: divergence stops the run, and says so in one line."""

import pytest
from tensorboard.plugins.hparams import api_pb2, metadata

from conftest import fit_in_process, read_hparams_sessions, read_scalars
from lrframe.errors import Diverged


def test_a_diverging_run_stops_after_the_first_validation_and_records_a_failed_session(tmp_path):
    with pytest.raises(Diverged, match=r"^training diverged: val/loss=nan at the end of epoch 1 \(step 23\)"):
        fit_in_process(tmp_path, "optimizer.lr=10", "warmup=none", "trainer.max_epochs=5",
                       "trainer.log_every_n_steps=1")
    assert [step for step, _ in read_scalars(tmp_path, "lr")] == list(range(23))  # one epoch, not five
    assert not (tmp_path / "metrics.json").exists()
    ends = read_hparams_sessions(tmp_path)[metadata.SESSION_END_INFO_TAG]
    assert [end.status for end in ends] == [api_pb2.STATUS_FAILURE]
