"""Compose and validate, torch-free: the schema, the registry of every config group, one-line errors."""
