"""The linear scaling rule (Goyal et al. 2017) on the CNN: batch 16 to 1024, lr scaled with the batch.

    .venv/bin/python scripts/linear_scaling.py --out docs/linear_scaling.png [--runs DIR] [--target 0.97] [OVERRIDES]

Runs ``python train.py +experiment=linear_scaling`` (conf/experiment/linear_scaling.yaml: the digits
CNN, 10 epochs at batch sizes 16 to 1024, ``optimizer.lr_scaling`` linear from lr 0.1 at batch 64 and,
for reference, sqrt and none; three seeds) into a new sweep directory, or reads the finished sweep in
``--runs``, then draws what scripts/batch_size.py draws (the same code): time and epochs to
``--target`` validation accuracy and the final accuracy against the batch size, and prints, per
batch size, the final accuracy's difference to batch 64 (where every arm trains at lr 0.1). The rule
holds where linear scaling keeps both the accuracy and the epochs to the target of batch 64.
OVERRIDES go to train.py (e.g. ``seed=0``).
"""

from __future__ import annotations

from batch_size import run


def main(argv: list[str] | None = None) -> None:
    run("linear_scaling", __doc__.splitlines()[0], argv, 0.97)


if __name__ == "__main__":
    main()
