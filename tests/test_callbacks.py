"""Monitoring in a real fit: a diverging run stops at its first non-finite loss, in one line, and
its TensorBoard HParams session is recorded as failed."""

import pytest
from tensorboard.plugins.hparams import api_pb2, metadata

from conftest import fit_in_process, read_hparams_sessions, read_scalars
from lrframe.errors import Diverged


def test_a_diverging_run_stops_at_its_first_non_finite_loss_and_records_a_failed_session(tmp_path):
    with pytest.raises(Diverged, match=r"^training diverged at step (\d+): loss=(nan|inf), lr=10\.0") as stop:
        fit_in_process(tmp_path, "optimizer.lr=10", "warmup=none", "scheduler=none", "trainer.max_epochs=5",
                       "trainer.log_every_n_steps=1")
    assert stop.value.step < 23  # within the first epoch, not after five
    assert max(step for step, _ in read_scalars(tmp_path, "lr")) <= stop.value.step
    assert not (tmp_path / "metrics.json").exists()
    ends = read_hparams_sessions(tmp_path)[metadata.SESSION_END_INFO_TAG]
    assert [end.status for end in ends] == [api_pb2.STATUS_FAILURE]
