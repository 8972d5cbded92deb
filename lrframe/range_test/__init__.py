"""The LR range test: its arithmetic (torch-free) and its training loop (task=lr_find runs it)."""
