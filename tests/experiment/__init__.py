"""Psychophysics experiment tests; a package, since test_config.py repeats a top-level name."""
