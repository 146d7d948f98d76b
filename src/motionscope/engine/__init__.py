"""The training engine: one Trainer for every task."""
