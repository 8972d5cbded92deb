"""Train, preview a schedule or find an lr: ``python train.py [overrides]`` (see README.md)."""

import sys
from pathlib import Path

import hydra

from lrframe.cli import precheck, run

CONFIG_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def main(cfg):
    return run(cfg)


if __name__ == "__main__":
    precheck(sys.argv[1:], CONFIG_DIR)
    main()
