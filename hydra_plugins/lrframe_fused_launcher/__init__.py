"""``hydra/launcher=fused``: lrframe's launcher that trains a grid's compatible jobs as one vectorized model."""
