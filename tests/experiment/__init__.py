"""The psychophysics experiment tests (a package: its module names, e.g. test_config, repeat top-level ones)."""
