"""What a run optimizes and watches: the loss, and validation metrics from torchmetrics."""
