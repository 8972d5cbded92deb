"""The LightningModule, its callbacks, the progress line, and what a run writes."""
