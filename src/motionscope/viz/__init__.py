"""Plots and overlays people would rather look at than read."""
