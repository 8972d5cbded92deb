"""Train, preview a schedule or find an lr: ``python train.py [overrides]`` (see README.md).

The same as the ``lrframe`` console script that ``pip install -e .`` installs.
"""

from lrframe.cli.main import main

if __name__ == "__main__":
    main()
