"""Shared blocks: attention/transformer block, slot attention, resnet."""
