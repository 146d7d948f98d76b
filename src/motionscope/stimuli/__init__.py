"""Point-light displays and temporal manipulations: the 24 BMP conditions (no torch)."""
