"""Test-wide set-up: one torch/cv2 thread per xdist worker, paths to ../shared, tmp worlds."""

from __future__ import annotations

import os

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

from motionscope.testing import REPO, SHARED, shared_path  # noqa: E402,F401  (re-exported)


@pytest.fixture
def shared_data():
    """``shared_data("ntu_rgbd_skeleton_samples")`` -> Path, skipping when absent."""
    return lambda *parts: shared_path("data", *parts)
