"""The command line: pre-checks and the entry point."""
