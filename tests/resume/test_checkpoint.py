"""Checkpoint files: atomic writes, one-line errors for unusable files, finding and checking them."""

import logging
import pickle

import pytest
import torch

from conftest import fit_in_process, make_plan
from lrframe.resume.checkpoint import AtomicCheckpointIO, last_checkpoint, read_checkpoint, resume_point
from lrframe.config.errors import ConfigError


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A two-epoch run (46 steps) with its checkpoint."""
    run_dir = tmp_path_factory.mktemp("two_epochs")
    fit_in_process(run_dir, "trainer.max_epochs=2", "logger=none")
    return run_dir


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle this")


def test_a_save_that_fails_midway_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1, "w": torch.arange(10_000)}, path)
    io.teardown()  # waits for the background write, as Lightning does when a run ends
    with pytest.raises(RuntimeError, match="cannot pickle"):  # fails after the tensor was serialized
        io.save_checkpoint({"step": 2, "w": torch.arange(10_000), "z": Unpicklable()}, path)
    io.teardown()
    assert torch.load(path, weights_only=True)["step"] == 1
    io.save_checkpoint({"step": 3}, path)
    io.teardown()
    assert torch.load(path, weights_only=True) == {"step": 3}
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


def test_saves_are_written_in_order_and_a_failed_write_is_raised_by_the_next_save_or_teardown(tmp_path):
    io = AtomicCheckpointIO()
    for step in range(5):
        io.save_checkpoint({"step": step}, tmp_path / "last.ckpt")
    io.teardown()
    assert torch.load(tmp_path / "last.ckpt", weights_only=True) == {"step": 4}
    (tmp_path / "a_file").write_text("")
    io.save_checkpoint({"step": 5}, tmp_path / "a_file" / "last.ckpt")  # its directory cannot be made
    with pytest.raises(OSError):
        io.teardown()


def _refusal(path) -> str:
    with pytest.raises(ConfigError) as error:
        read_checkpoint(path, value="auto")
    message = str(error.value)
    assert message.startswith("resume=auto: ") and "\n" not in message
    return message


def test_a_truncated_checkpoint_is_one_line(finished_run, tmp_path):
    data = last_checkpoint(finished_run).read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 100, 0):
        path = tmp_path / f"cut{cut}.ckpt"
        path.write_bytes(data[:cut])
        assert "is truncated or corrupt" in _refusal(path)


def test_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path):
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x00not a checkpoint" * 100)
    assert "is truncated or corrupt" in _refusal(garbage)
    weights = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, weights)
    assert "is not a training checkpoint" in _refusal(weights)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "loops": {}, "global_step": 3, "hyper_parameters": {"lr": 0.1}}, foreign)
    assert "is not an lrframe checkpoint (it has no hyper_parameters.config)" in _refusal(foreign)


def test_a_checkpoint_holding_python_objects_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "objects.ckpt"
    with open(path, "wb") as file:
        torch.save({"state_dict": {}, "sampler": pickle.loads(pickle.dumps(slice(1, 2)))}, file)
    assert "objects.ckpt holds Python objects (slice), not only plain containers and tensors" in _refusal(path)


def test_resume_auto_without_a_checkpoint_starts_fresh_with_a_notice(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="lrframe"):
        assert resume_point(make_plan("resume=auto"), tmp_path) is None
    notice, = [record.getMessage() for record in caplog.records]
    assert notice.startswith(f"resume=auto: no checkpoint at {tmp_path}/checkpoints/last.ckpt; starting fresh")


def test_a_changed_config_is_refused_naming_every_changed_key(finished_run):
    with pytest.raises(ConfigError) as error:
        resume_point(make_plan("trainer.max_epochs=3", "optimizer.lr=0.2", "scheduler=step", "resume=auto"),
                     finished_run)
    assert str(error.value) == (
        f"resume=auto: the config differs from the one in {finished_run}/checkpoints/last.ckpt (after 46 steps): "
        "optimizer.lr 0.1 -> 0.2, scheduler.name cosine -> step, trainer.max_epochs 2 -> 3; "
        "pass resume_allow_changes=true to continue with the new values")


def test_allowed_changes_are_logged(finished_run, caplog):
    plan = make_plan("trainer.max_epochs=3", "init=default", "resume=auto", "resume_allow_changes=true")
    with caplog.at_level(logging.INFO, logger="lrframe"):
        point = resume_point(plan, finished_run)
    assert point.step == 46 and [str(change) for change in point.changes] == [
        "init.name kaiming_normal -> default", "trainer.max_epochs 2 -> 3"]
    warning, = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == (f"resume: continuing from {finished_run}/checkpoints/last.ckpt (after 46 steps) with "
                       "changed config: init.name kaiming_normal -> default, trainer.max_epochs 2 -> 3 "
                       "(init: the weights come from the checkpoint)")


def test_a_checkpoint_of_another_model_is_one_line(finished_run):
    from lrframe.training.pieces import build

    plan = make_plan("trainer.max_epochs=2", "model.hidden=[128]", f"resume={last_checkpoint(finished_run)}",
                     "resume_allow_changes=true")
    point = resume_point(plan, finished_run)
    with pytest.raises(ConfigError) as error:  # e.g. before Lightning's load_state_dict raises a traceback
        point.check_model(build(plan, plan.lr).module, plan.config["resume"])
    path = last_checkpoint(finished_run)
    assert str(error.value) == (f"resume={path}: {path} holds another model: model.hidden2.bias, "
                                "model.hidden2.weight only in the checkpoint; model.hidden1.weight has shape "
                                "[256,64] in the checkpoint, [128,64] in this config's model")


def test_a_checkpoint_past_the_end_of_the_new_run_is_refused(finished_run):
    plan = make_plan("trainer.max_epochs=1", "warmup=none", "resume=auto", "resume_allow_changes=true")
    with pytest.raises(ConfigError, match=r"last.ckpt is after 46 steps, past the end of this config's run \(23 steps\)"):
        resume_point(plan, finished_run)


def test_schedule_changes_cannot_reach_a_scheduler_given_by_target(finished_run):
    plan = make_plan("trainer.max_epochs=2", "scheduler=none", "+scheduler._target_=torch.optim.lr_scheduler.StepLR",
                     "+scheduler.step_size=5", "warmup=none", "resume=auto", "resume_allow_changes=true")
    with pytest.raises(ConfigError) as error:
        resume_point(plan, finished_run)
    assert str(error.value) == ("resume_allow_changes=true: cannot apply scheduler.name cosine -> none, "
                                "warmup.name linear -> none to a scheduler given by _target_ "
                                "(torch.optim.lr_scheduler.StepLR): its checkpointed state would win")


def test_the_writer_travels_to_ddp_spawn_workers_without_its_thread(tmp_path):
    import pickle

    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, tmp_path / "last.ckpt")
    copy = pickle.loads(pickle.dumps(io))  # as ddp_spawn sends the Trainer's plugins to its workers
    copy.save_checkpoint({"step": 2}, tmp_path / "other.ckpt")
    copy.teardown()
    io.teardown()
    assert torch.load(tmp_path / "other.ckpt", weights_only=True) == {"step": 2}
