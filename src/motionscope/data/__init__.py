"""Torch datasets, samplers and transforms over the io layer."""
