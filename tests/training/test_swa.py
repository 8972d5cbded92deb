"""swa=default in training: the saved and validated weights are torch's AveragedModel of the weights at the end of
every SWA epoch (computed here from independent runs), BatchNorm statistics recomputed as torch's update_bn does."""

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.optim.swa_utils import AveragedModel, update_bn

from conftest import compose_config, fit_in_process, read_metrics, read_scalars
from lrframe.config.validate import validate
from lrframe.resume.checkpoint import last_checkpoint
from lrframe.tasks import run_task

#: SWALR at a constant lr equal to the schedule's (annealing_epochs 0, swa_lrs = the lr): the run trains exactly as
#: one without SWA, whose weights at each epoch's end are then the ones to average
CONSTANT = ("scheduler=none", "warmup=none", "data.batch_size=128", "checkpoint.every_n_steps=5")
SWA = ("swa=default", "swa.swa_epoch_start=3", "swa.swa_lrs=0.1", "swa.annealing_epochs=0")


def checkpoint(run_dir):
    return torch.load(last_checkpoint(run_dir), weights_only=True)


def weights(state_dict: dict) -> dict:
    return {name.removeprefix("model."): tensor for name, tensor in state_dict.items() if name.startswith("model.")}


def test_saved_weights_are_the_average_of_each_swa_epochs_last_weights(tmp_path):
    fit_in_process(tmp_path / "swa", *CONSTANT, *SWA, "trainer.max_epochs=5")
    ends = []  # the weights at the end of epochs 3, 4, 5 (1-based), from runs without SWA
    for epochs in (3, 4, 5):
        fit_in_process(tmp_path / f"plain{epochs}", *CONSTANT, f"trainer.max_epochs={epochs}")
        ends.append(weights(checkpoint(tmp_path / f"plain{epochs}")["state_dict"]))
    saved = checkpoint(tmp_path / "swa")
    # SWA changed nothing in training: its live weights are the plain run's
    live = saved["callbacks"]["StochasticWeightAveraging"]["live"]
    assert all(torch.equal(live[name], ends[-1][name]) for name in ends[-1])
    model = nn.Module()
    for name, tensor in ends[0].items():  # a module with the MLP's parameter names
        *path, leaf = name.split(".")
        parent = model
        for part in path:
            if not hasattr(parent, part):
                parent.add_module(part, nn.Module())
            parent = getattr(parent, part)
        parent.register_parameter(leaf, nn.Parameter(tensor.clone()))
    average = AveragedModel(model)
    for end in ends:
        model.load_state_dict(end)
        average.update_parameters(model)
    averaged = weights(saved["state_dict"])
    for name, parameter in average.module.named_parameters():
        torch.testing.assert_close(averaged[name], parameter.detach(), rtol=0, atol=1e-7)
        torch.testing.assert_close(averaged[name], sum(end[name] for end in ends) / 3, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(averaged[name], ends[-1][name])
    # the lr stayed the schedule's, and the last validation evaluated the average
    assert all(value == pytest.approx(0.1) for _, value in read_scalars(tmp_path / "swa", "lr"))
    assert read_metrics(tmp_path / "swa")["val/loss"] != read_metrics(tmp_path / "plain5")["val/loss"]


class BatchNormNet(nn.Module):
    """An MLP with BatchNorm, for 64 features."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, num_classes))

    def forward(self, x):
        return self.layers(x)


def bn_plan(*overrides):
    cfg = OmegaConf.to_container(compose_config(*CONSTANT, *SWA, "trainer.max_epochs=4", *overrides), resolve=True)
    cfg["model"] = {"_target_": f"{__name__}.BatchNormNet", "num_classes": 10}
    return validate(cfg)


def test_batch_norm_statistics_are_those_of_the_average_over_the_training_data(tmp_path):
    from lrframe.training.pieces import build

    run_task(bn_plan(), tmp_path)
    saved = weights(checkpoint(tmp_path)["state_dict"])
    live = checkpoint(tmp_path)["callbacks"]["StochasticWeightAveraging"]["live"]
    assert not torch.allclose(saved["layers.1.running_var"], live["layers.1.running_var"])
    pieces = build(bn_plan(), 0.1)
    model = pieces.module.model
    model.load_state_dict({**saved, "layers.1.running_mean": torch.zeros(32), "layers.1.running_var": torch.ones(32)})
    train = pieces.data.train
    train.sampler.set_epoch(3)  # torch's update_bn over the batches of the last epoch (momentum None: their mean)
    x = train.x[train.sampler.indices()]
    update_bn([x[i:i + 128] for i in range(0, len(x), 128)], model)
    for name in ("layers.1.running_mean", "layers.1.running_var"):
        torch.testing.assert_close(saved[name], getattr(model.layers[1], name.split(".")[-1]), rtol=1e-5, atol=1e-7)
    assert saved["layers.1.num_batches_tracked"] == len(train)
    # the last validation evaluated exactly those weights and statistics
    model.load_state_dict(saved)
    model.eval()
    with torch.no_grad():
        accuracy = (model(pieces.data.val.x).argmax(1) == pieces.data.val.y).float().mean().item()
    assert read_metrics(tmp_path)["val/acc"] == pytest.approx(accuracy)


@pytest.mark.parametrize("batch_norm", [False, True], ids=["mlp", "batch norm"])
def test_a_resumed_run_continues_the_average_exactly(tmp_path, batch_norm):
    from conftest import as_a_later_process, assert_same_run

    def fit(run_dir, *overrides):
        cfg = OmegaConf.to_container(compose_config(*CONSTANT, *SWA[:-2], "trainer.log_every_n_steps=1", *overrides),
                                     resolve=True)
        if batch_norm:
            cfg["model"] = {"_target_": f"{__name__}.BatchNormNet", "num_classes": 10}
        run_dir.mkdir(parents=True, exist_ok=True)
        run_task(validate(cfg), run_dir)

    fit(tmp_path / "reference", "trainer.max_epochs=6")
    # stopped after epoch 4 (two averages), resumed with the full length
    fit(tmp_path / "run", "trainer.max_epochs=4")
    fit(as_a_later_process(tmp_path / "run"), "trainer.max_epochs=6", "resume=auto", "resume_allow_changes=true")
    assert_same_run(tmp_path / "reference", tmp_path / "run")


def test_swa_starting_after_the_end_is_refused_in_one_line_before_anything_runs(tmp_path):
    from conftest import train_cli

    result = train_cli("swa=default", "swa.swa_epoch_start=30", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 1 and not (tmp_path / "run").exists()
    assert result.stderr == ("error: swa.swa_epoch_start=30: SWA would start after the end of training (20 epochs); "
                             "expected an epoch from 1 to 20 (an int), or a fraction of training in [0, 1] (a float)\n")
