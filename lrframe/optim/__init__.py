"""Optimizers, parameter groups, lr scaling, and the adaptive optimizers' step sizes."""
