"""Checkpoints, fault tolerance, and what may change when a run continues."""
