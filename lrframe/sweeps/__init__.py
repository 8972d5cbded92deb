"""Sweeps: job records, the summary, threads per job."""
