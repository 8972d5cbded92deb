"""The batch-size finder: the gradient noise scale's arithmetic and the largest-batch search (torch-free),
and their measurements (task=batch_size_find runs them)."""
