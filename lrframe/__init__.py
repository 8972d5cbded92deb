"""lrframe: declarative learning-rate experiments, trained by Lightning, configured by Hydra.

The Python API for plain PyTorch loops (imported on first use, so ``import lrframe`` stays light):
``create_scheduler``, ``build_optimizer``, ``initialize``, ``lr_find`` (see ``lrframe.api``).
"""

__version__ = "0.1.0"
__all__ = ["build_optimizer", "create_scheduler", "initialize", "lr_find"]


def __getattr__(name: str):
    if name in __all__:
        from lrframe import api

        return getattr(api, name)
    raise AttributeError(f"module 'lrframe' has no attribute {name!r}")
