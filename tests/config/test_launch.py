"""Multi-node launches (torchrun, srun, Lightning's own): what is refused in one line before training."""

import re

import pytest

from lrframe.config.errors import ConfigError
from lrframe.config.launch import check_launch, is_secondary_rank, launcher, secondary_overrides

TORCHRUN = {"TORCHELASTIC_RUN_ID": "none", "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "GROUP_RANK": "0"}
SRUN = {"SLURM_NTASKS": "4", "SLURM_PROCID": "0", "SLURM_JOB_NAME": "train"}
BY_HAND = {"MASTER_ADDR": "node0", "MASTER_PORT": "29500", "NODE_RANK": "1"}
DEFAULT_DIR = "outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}"


def trainer(devices=1, num_nodes=1, strategy="ddp"):
    return {"accelerator": "cpu", "devices": devices, "num_nodes": num_nodes, "strategy": strategy}


GOOD = [
    ({}, trainer(), DEFAULT_DIR, False),  # one process, no launcher
    ({}, trainer(devices=2, strategy="ddp_spawn"), DEFAULT_DIR, True),  # trainer=ddp in a grid
    (TORCHRUN, trainer(num_nodes=2), "runs/a", False),
    (TORCHRUN, trainer(devices=2), "runs/a", False),
    ({**TORCHRUN, "WORLD_SIZE": "1"}, trainer(), DEFAULT_DIR, False),  # torchrun with one process: any directory
    (SRUN, trainer(devices=2, num_nodes=2), "/shared/runs/a", False),
    ({**SRUN, "SLURM_JOB_NAME": "interactive", "SLURM_NTASKS": "1"}, trainer(), DEFAULT_DIR, False),
    (BY_HAND, trainer(devices=2, num_nodes=2), "runs/a", False),
]


@pytest.mark.parametrize("environ, node, run_dir, multirun", GOOD)
def test_launches_that_can_train(environ, node, run_dir, multirun):
    check_launch(node, run_dir, multirun=multirun, environ=environ)


BAD = [
    ({}, trainer(num_nodes=2), "runs/a", False,
     r"^trainer\.num_nodes=2: no launcher in this process's environment \(torchrun, SLURM's srun, or MASTER_ADDR "
     r"and NODE_RANK on every node\)"),
    ({}, trainer(num_nodes=2), None, True, r"^trainer\.num_nodes=2: no launcher"),  # a grid run here
    (TORCHRUN, trainer(), "runs/a", False,
     r"^trainer\.num_nodes=1: trainer\.devices x trainer\.num_nodes is 1 process, but torchrun started 2; "
     r"expected devices = processes per node and num_nodes = nodes"),
    (TORCHRUN, trainer(devices=2, num_nodes=2), "runs/a", False, r"is 4 processes, but torchrun started 2"),
    (SRUN, trainer(num_nodes=2), "runs/a", False, r"is 2 processes, but SLURM's srun started 4"),
    (TORCHRUN, trainer(num_nodes=2, strategy="ddp_spawn"), "runs/a", False,
     r"^trainer\.strategy=ddp_spawn: torchrun starts every process itself; expected trainer\.strategy=ddp$"),
    (TORCHRUN, trainer(num_nodes=2), DEFAULT_DIR, False,
     r"^hydra\.run\.dir=outputs/\$\{now:%Y-%m-%d\}/\$\{now:%H-%M-%S\}: each process would name it by its own "
     r"start time; expected one directory for every process: hydra\.run\.dir=PATH, the same on every node"),
    (SRUN, trainer(devices=2, num_nodes=2), "runs/${now:%H}", False, r"^hydra\.run\.dir=runs/\$\{now:%H\}: each"),
    (BY_HAND, trainer(devices=2, num_nodes=2), DEFAULT_DIR, False, r"^hydra\.run\.dir="),
    (BY_HAND, trainer(devices=2), "runs/a", False, r"^trainer\.num_nodes=1: this node has NODE_RANK=1; expected "
                                                   r"num_nodes > 1"),
    (TORCHRUN, trainer(num_nodes=2), None, True,
     r"^hydra\.mode=MULTIRUN: torchrun started 2 processes, and -m would run the whole sweep in each"),
]


@pytest.mark.parametrize("environ, node, run_dir, multirun, message", BAD)
def test_launches_that_cannot_train_are_one_line(environ, node, run_dir, multirun, message):
    with pytest.raises(ConfigError) as raised:
        check_launch(node, run_dir, multirun=multirun, environ=environ)
    assert "\n" not in str(raised.value) and re.search(message, str(raised.value)), raised.value


def test_a_grid_submitted_to_slurm_is_checked_in_its_jobs_not_on_the_login_node():
    check_launch(trainer(num_nodes=2), None, multirun=True, jobs_elsewhere=True, environ={})


@pytest.mark.parametrize("environ, name, secondary", [
    ({}, None, False),
    (TORCHRUN, "torchrun", False),
    ({**TORCHRUN, "RANK": "1", "GROUP_RANK": "1"}, "torchrun", True),
    ({**SRUN, "TORCHELASTIC_RUN_ID": "x", "RANK": "0", "WORLD_SIZE": "2"}, "torchrun", False),  # torchrun first
    (SRUN, "srun", False),
    ({**SRUN, "SLURM_PROCID": "3"}, "srun", True),  # srun sets no RANK
    ({**SRUN, "SLURM_JOB_NAME": "bash", "SLURM_PROCID": "3"}, None, False),  # Lightning ignores interactive jobs
    (BY_HAND, "lightning", True),
    ({"LOCAL_RANK": "1", "NODE_RANK": "0", "MASTER_ADDR": "127.0.0.1"}, "lightning", True),  # Lightning's ddp child
])
def test_the_launcher_and_rank_are_read_as_lightning_reads_them(environ, name, secondary):
    found = launcher(environ)
    assert (found and found.name) == name
    assert is_secondary_rank(environ) == secondary


def test_ranks_above_zero_write_no_hydra_folder_and_log_to_their_own_file():
    rank1 = {**TORCHRUN, "RANK": "1"}
    assert secondary_overrides(["trainer.num_nodes=2"], rank1) == [
        "hydra.output_subdir=null", "hydra.job.name=train_ddp_process_1"]
    assert secondary_overrides(["hydra.job.name=mine"], rank1) == ["hydra.output_subdir=null"]
    assert secondary_overrides([], TORCHRUN) == [] and secondary_overrides([], BY_HAND) == []
