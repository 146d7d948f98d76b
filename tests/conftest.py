"""Test-wide set-up: one torch/cv2 thread per xdist worker, paths to ../shared, tmp worlds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MOTIONSCOPE_NO_PROGRESS", "1")

try:  # keep each worker to one thread so `pytest -n 2` does not oversubscribe 2 cores
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
except (ImportError, RuntimeError):
    pass
try:
    import cv2

    cv2.setNumThreads(1)
except ImportError:
    pass

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOTIONSCOPE_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real sample {p} not present (../shared is not beside the checkout)")
    return p


@pytest.fixture
def shared_data():
    """``shared_data("ntu_rgbd_skeleton_samples")`` -> Path, skipping when absent."""
    return lambda *parts: shared_path("data", *parts)
