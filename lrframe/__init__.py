"""lrframe: declarative learning-rate experiments, trained by Lightning, configured by Hydra."""

__version__ = "0.1.0"
