"""Data: built-in data sets, in-memory batches, resumable sampling of a user's data."""
