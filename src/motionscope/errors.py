"""One family of exceptions whose messages name the file or key and the problem.

The CLI catches :class:`MotionscopeError` and prints its message alone (no traceback), so every
check that guards user input raises one of these instead of letting torch fail deep inside.
"""

from __future__ import annotations

from os import PathLike


class MotionscopeError(Exception):
    """Base class: an error a user can fix from its message alone."""


class ConfigError(MotionscopeError, KeyError):
    """An unknown or ill-typed config key, or an unknown preset/model name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(MotionscopeError):
    """A data file or folder is missing, corrupt or of the wrong shape."""

    def __init__(self, path: str | PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class CheckpointError(DataError):
    """A checkpoint is missing, corrupt or does not fit the model."""


class Interrupted(MotionscopeError):
    """A long command stopped on SIGINT/SIGTERM after saving what it had (the CLI exits 130)."""
