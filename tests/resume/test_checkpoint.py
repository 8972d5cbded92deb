"""Checkpoint files: atomic writes, one-line errors for unusable files, finding and checking them."""

import datetime
import logging
import pickle

import pytest
import torch

from conftest import fit_in_process, make_plan
from lrframe.resume.checkpoint import AtomicCheckpointIO, last_checkpoint, read_checkpoint, resume_point
from lrframe.config.errors import ConfigError, WriteFailed


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
    with pytest.raises(WriteFailed, match=r"^cannot write .*a_file/last\.ckpt: File exists; no checkpoint"):
        io.teardown()


def test_a_symlink_planted_in_the_checkpoint_directory_is_neither_followed_nor_overwritten(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    for name in ("last.ckpt.partial", "last.ckpt.tmp", ".last.ckpt.partial"):  # where a temp file might go
        (directory / name).symlink_to(victim)
    (directory / "last.ckpt").symlink_to(victim)  # even the target itself
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, directory / "last.ckpt")
    io.teardown()
    assert victim.read_text() == "precious"
    assert not (directory / "last.ckpt").is_symlink()
    assert torch.load(directory / "last.ckpt", weights_only=True) == {"step": 1}


@pytest.fixture
def full_disk(monkeypatch):
    """``fill(after=n)``: from then on, the atomic writer's writes after the n-th fail as on a full
    disk, with OSError(ENOSPC) raised by ``file.write`` once part of the data has landed."""
    import errno
    import os

    from lrframe import run_files as files

    real_fdopen, writes = os.fdopen, []

    class FullFile:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(bytes(data)[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(fd, mode, after):
        writes.append(fd)
        file = real_fdopen(fd, mode)
        return file if len(writes) <= after else FullFile(file)

    def fill(after: int = 0) -> None:
        monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: fdopen(fd, mode, after))

    return fill


def test_disk_full_raises_one_line_keeps_the_previous_file_and_removes_the_partial(tmp_path, full_disk):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1}, path)
    io.teardown()
    full_disk()
    io.save_checkpoint({"step": 2}, path)
    with pytest.raises(WriteFailed) as error:
        io.teardown()
    assert str(error.value).startswith(f"cannot write {path}: No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no .partial left behind
    assert torch.load(path, weights_only=True) == {"step": 1}


@pytest.mark.parametrize("after, kept", [(0, None), (2, 10)])
def test_a_run_stopped_by_a_full_disk_names_the_cause_and_the_checkpoint_kept(tmp_path, full_disk, after, kept):
    # saves after steps 5, 10, 15, 20, at the epoch end (23), ...: the third write fails, which the
    # fourth save finds; the file on disk is then the second (step 10)
    full_disk(after=after)
    with pytest.raises(WriteFailed) as error:
        fit_in_process(tmp_path, "trainer.max_epochs=2", "logger=none", "checkpoint.every_n_steps=5")
    path = last_checkpoint(tmp_path)
    message = str(error.value)
    assert message.startswith(f"cannot write {path}: No space left on device; ") and "\n" not in message
    if kept is None:
        assert message.endswith("no checkpoint was saved")
        assert list(path.parent.iterdir()) == []  # not even the partial file of the failed write
    else:
        assert message.endswith(f"last good checkpoint kept: {path} (after {kept} steps)")
        assert torch.load(path, weights_only=True)["global_step"] == kept
        assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]
    assert not (tmp_path / "metrics.json").exists()


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
    assert "objects.ckpt holds Python objects (builtins.slice), not only plain containers and tensors" in _refusal(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_python_objects_are_named_whatever_the_pickle_protocol_and_torch_warnings_stay_off(tmp_path, protocol,
                                                                                        recwarn):
    # torch's weights-only unpickler stops at protocol 4's first opcode (FRAME), before any global:
    # the global is found by listing the pickle's opcodes, which runs nothing
    path = tmp_path / "objects.ckpt"
    torch.save({"state_dict": {}, "when": datetime.datetime(2020, 1, 1), "loops": {}, "global_step": 1}, path,
               pickle_protocol=protocol)
    message = _refusal(path)
    assert message.endswith("objects.ckpt holds Python objects (datetime.datetime), not only plain containers and "
                            "tensors; it will not be loaded (lrframe opens checkpoints with torch.load(weights_only=True))")
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]


def test_plain_data_pickled_with_a_newer_protocol_is_named_so_not_corrupt(tmp_path):
    path = tmp_path / "protocol4.ckpt"
    torch.save({"state_dict": {}, "loops": {}, "global_step": 1}, path, pickle_protocol=4)
    assert "protocol4.ckpt was pickled with protocol 4, which torch.load(weights_only=True) does not read " \
           "(UnpicklingError: Unsupported operand 149); save it" in _refusal(path)


def test_a_checkpoint_that_unpickles_but_lacks_lrframes_keys_is_one_line(finished_run, tmp_path):
    checkpoint = torch.load(last_checkpoint(finished_run), weights_only=True)
    for key, why in [("lr_schedulers", "lacks lr_schedulers (list)"), ("optimizer_states", "lacks optimizer_states")]:
        path = tmp_path / f"no_{key}.ckpt"
        torch.save({k: v for k, v in checkpoint.items() if k != key}, path)
        assert f"is not an lrframe checkpoint: it {why}" in _refusal(path)
    path = tmp_path / "hyper_parameters_a_list.ckpt"
    torch.save({**checkpoint, "hyper_parameters": [1, 2]}, path)
    assert "is not an lrframe checkpoint (it has no hyper_parameters.config)" in _refusal(path)


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
