"""Checkpoints: atomic writes, exact-resume state, readable errors for bad files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError
from ..fsutil import atomic_path

FORMAT_VERSION = 1


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """torch.save through a temp file + rename: a kill never leaves a truncated checkpoint."""
    state = {"format_version": FORMAT_VERSION, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a motionscope checkpoint; CheckpointError names the file on any problem."""
    path = Path(path)
    if path.is_dir():  # a run directory
        for cand in (path / "checkpoints" / "last.pt", path / "checkpoints" / "best.pt"):
            if cand.is_file():
                path = cand
                break
        else:
            raise CheckpointError(path, "no checkpoints/last.pt or checkpoints/best.pt in this run")
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file not found")
    try:
        # our own files hold RNG states and numpy arrays: trusted, not weights-only
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(path, f"corrupt or unreadable checkpoint ({type(e).__name__}: {e})") \
            from e
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(path, "not a motionscope checkpoint (no 'model'/'config'); "
                              "for official weights use model.pretrained=PATH")
    state["_path"] = str(path)
    return state
