"""On-disk formats users already have; numpy only (no torch)."""
