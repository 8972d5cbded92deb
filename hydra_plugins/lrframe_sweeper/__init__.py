"""lrframe's Optuna sweeper as a Hydra plugin (``hydra/sweeper=optuna``; see lrframe.sweeps.search).

Hydra finds sweepers only inside the ``hydra_plugins`` namespace package and imports every module
of it at start-up, so this package holds only the class Hydra instantiates; Optuna is imported
when a search starts.
"""
