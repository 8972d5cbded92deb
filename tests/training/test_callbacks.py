"""What the monitoring writes to TensorBoard: the lr the run trains with, adaptive step
sizes; and a diverging run stops at its first non-finite loss, its HParams session recorded as failed."""

import csv

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata

from conftest import fit_in_process, make_plan, read_hparams_sessions, read_metrics, read_scalars
from lrframe.config.errors import Diverged
from lrframe.optim.step_sizes import QUANTILES
from lrframe.tasks import run_task


def tags(run_dir):
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"histograms": 0, "scalars": 0})
    events.Reload()
    return events


def test_linear_scaling_previews_trains_and_logs_4x_the_configured_lr(tmp_path, capsys):
    scaling = ("optimizer.lr_scaling=linear", "optimizer.base_batch_size=64", "data.batch_size=256",
               "trainer.max_epochs=4")
    (tmp_path / "preview").mkdir()
    run_task(make_plan("task=preview", *scaling), tmp_path / "preview")
    with open(tmp_path / "preview" / "schedule.csv") as file:
        previewed = [float(row["lr"]) for row in csv.DictReader(file)]
    fit_in_process(tmp_path / "fit", *scaling, "trainer.log_every_n_steps=1")
    used = [value for _, value in read_scalars(tmp_path / "fit", "lr")]  # read from the optimizer's group
    assert max(previewed) == pytest.approx(4 * 0.1) and previewed[6] == pytest.approx(0.4)  # 6 warmup steps
    assert used == pytest.approx(previewed, rel=1e-6)
    metrics = read_metrics(tmp_path / "fit")  # (in TensorBoard: the text `run`, see test_board.py)
    assert metrics["effective_lr"] == pytest.approx(0.4) and metrics["global_batch"] == 256
    assert "after 24 steps" in capsys.readouterr().out.split("lr 0.4, global batch 256; run directory")[0]
    assert not [tag for tag in tags(tmp_path / "fit").Tags()["scalars"] if tag.startswith("step_size")]  # SGD


def test_adaptive_step_size_quantiles_and_histograms_are_those_of_the_optimizer_state(tmp_path):
    # 1210 parameters (< the sample size): the quantiles are those of every parameter, exactly
    fit_in_process(tmp_path, "optimizer=adam", "model.hidden=[16]", "optimizer.lr_multipliers={head:10}",
                   "trainer.max_epochs=3", "trainer.log_every_n_steps=1",
                   "logger.step_sizes_every_n_steps=17")
    events = tags(tmp_path)
    for group in ("default", "head"):
        assert [e.step for e in events.Scalars(f"step_size/{group}/p50")] == [0, 17, 34, 51, 68]
        assert [e.value for e in events.Scalars(f"step_size/{group}/p95")][0] == 0  # warmup starts at lr 0
        assert [e.step for e in events.Histograms(f"step_size/{group}/log10")] == [17, 34, 51, 68]
    # the last step (68) from the checkpoint's optimizer state, which step 68 left behind
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    state = checkpoint["optimizer_states"][0]["state"]
    for group, indices in (("default", [0, 1]), ("head", [2, 3])):
        lr = read_scalars(tmp_path, f"lr/{group}")[68][1]
        v = np.concatenate([state[i]["exp_avg_sq"].double().numpy().ravel() for i in indices])
        v_hat = v / (1 - 0.999 ** float(state[indices[0]]["step"]))
        expected = np.quantile(lr / (np.sqrt(v_hat) + 1e-8), QUANTILES)
        logged = [events.Scalars(f"step_size/{group}/p{round(q * 100):02d}")[-1].value for q in QUANTILES]
        assert logged == pytest.approx(expected, rel=1e-5)
        assert events.Histograms(f"step_size/{group}/log10")[-1].histogram_value.num == len(v)


def test_step_sizes_every_0_logs_none(tmp_path):
    fit_in_process(tmp_path, "optimizer=adam", "trainer.max_epochs=2", "logger.step_sizes_every_n_steps=0")
    assert not [tag for tag in tags(tmp_path).Tags()["scalars"] if tag.startswith("step_size")]


def test_a_diverging_run_stops_at_its_first_non_finite_loss_and_records_a_failed_session(tmp_path):
    with pytest.raises(Diverged, match=r"^training diverged at step (\d+): loss=(nan|inf), lr=10\.0") as stop:
        fit_in_process(tmp_path, "optimizer.lr=10", "warmup=none", "scheduler=none", "trainer.max_epochs=5",
                       "trainer.log_every_n_steps=1")
    assert stop.value.step < 23  # within the first epoch, not after five
    assert max(step for step, _ in read_scalars(tmp_path, "lr")) <= stop.value.step
    assert not (tmp_path / "metrics.json").exists()
    ends = read_hparams_sessions(tmp_path)[metadata.SESSION_END_INFO_TAG]
    assert [end.status for end in ends] == [api_pb2.STATUS_FAILURE]


def one_cycle_momenta(optimizer: str, lrs: list[float], steps: int) -> list[list[float]]:
    """The momentum (beta1) of each parameter group at each step, as torch's OneCycleLR sets it (peaks ``lrs``)."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    reference = getattr(torch.optim, optimizer)([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0],
                                                **({"momentum": 0.9} if optimizer == "SGD" else {}))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=lrs, total_steps=steps)
    momenta = [[] for _ in lrs]
    for _ in range(steps):
        for values, group in zip(momenta, reference.param_groups):
            values.append(group["betas"][0] if "betas" in group else group["momentum"])
        reference.step()
        scheduler.step()
    return momenta


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_cycled_momentum_is_logged_next_to_the_lr_as_torch_one_cycle_lr_sets_it(tmp_path, optimizer):
    fit_in_process(tmp_path, "scheduler=onecycle", "warmup=none", f"optimizer={optimizer}", "trainer.max_epochs=2",
                   "trainer.log_every_n_steps=1", "optimizer.lr_multipliers={head:10}")
    lr = 0.1 if optimizer == "sgd" else 0.001
    expected = one_cycle_momenta({"sgd": "SGD", "adam": "Adam"}[optimizer], [lr, 10 * lr], 46)
    for group, values in zip(("default", "head"), expected):
        logged = read_scalars(tmp_path, f"momentum/{group}")
        assert [step for step, _ in logged] == list(range(46))
        assert [value for _, value in logged] == pytest.approx(values, rel=1e-6)


def test_momentum_is_logged_only_when_the_schedule_cycles_it(tmp_path):
    fit_in_process(tmp_path / "cosine", "trainer.max_epochs=2")
    fit_in_process(tmp_path / "constant", "scheduler=onecycle", "warmup=none", "scheduler.cycle_momentum=false",
                   "trainer.max_epochs=1")
    for run in ("cosine", "constant"):
        assert not [tag for tag in tags(tmp_path / run).Tags()["scalars"] if tag.startswith("momentum")]


def test_a_torch_one_cycle_lr_given_by_target_logs_its_momentum(tmp_path):
    fit_in_process(tmp_path, "scheduler=none", "warmup=none", "+scheduler._target_=torch.optim.lr_scheduler.OneCycleLR",
                   "+scheduler.max_lr=0.1", "+scheduler.total_steps=23", "trainer.max_epochs=1",
                   "trainer.log_every_n_steps=1")
    expected = one_cycle_momenta("SGD", [0.1], 23)[0]
    assert [value for _, value in read_scalars(tmp_path, "momentum")] == pytest.approx(expected, rel=1e-6)
