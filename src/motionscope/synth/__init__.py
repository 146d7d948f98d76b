"""The embedded procedural motion world: the default dataset of every command (no torch)."""
