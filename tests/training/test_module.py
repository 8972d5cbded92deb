"""TrainingModule's schedulers in real training: ReduceLROnPlateau fed by validation, a user's own torch class."""

import pytest
import torch

from conftest import fit_in_process, read_scalars


def test_plateau_in_training_cuts_the_lr_as_torch_would_on_the_logged_val_loss(tmp_path):
    # threshold 0.9 (rel): only a tenfold drop of the loss counts as better, so the lr is cut on most validations
    fit_in_process(tmp_path, "scheduler=plateau", "scheduler.patience=0", "scheduler.factor=0.5",
                   "scheduler.threshold=0.9", "warmup.steps=5", "trainer.max_epochs=5", "data.batch_size=128",
                   "trainer.log_every_n_steps=1")
    val_loss = [value for _, value in read_scalars(tmp_path, "val/loss")]
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0, threshold=0.9)
    per_epoch = [0.1]
    for value in val_loss[:-1]:
        reference.step(value)
        per_epoch.append(optimizer.param_groups[0]["lr"])
    expected = [0.1 * s / 5 for s in range(5)] + [per_epoch[s // 12] for s in range(5, 60)]
    logged = [value for _, value in read_scalars(tmp_path, "lr")]
    assert logged == pytest.approx(expected, rel=1e-5)  # val/loss went through float32 in TensorBoard
    assert len(set(per_epoch)) >= 3


def test_a_torch_scheduler_given_by_target_is_stepped_by_lightning_every_interval(tmp_path):
    fit_in_process(tmp_path, "scheduler=none", "+scheduler._target_=torch.optim.lr_scheduler.MultiStepLR",
                   "+scheduler.milestones=[1,2]", "+scheduler.gamma=0.5", "scheduler.interval=epoch", "warmup=none",
                   "trainer.max_epochs=3", "data.batch_size=128", "trainer.log_every_n_steps=1")
    logged = [value for _, value in read_scalars(tmp_path, "lr")]
    assert logged == pytest.approx([0.1] * 12 + [0.05] * 12 + [0.025] * 12)
    assert not (tmp_path / "schedule.csv").exists()  # a user's class has no closed form to plan
