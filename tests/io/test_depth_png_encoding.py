"""16-bit depth PNGs written with the fast encoder settings read back bit-exact everywhere."""

from __future__ import annotations

import numpy as np
from PIL import Image

from motionscope.io.depth import read_depth_folder, write_depth_folder


def _clip() -> np.ndarray:
    """Masked-depth-like frames (mostly 0, run-length path) and full-scene frames (dense)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:40, :36]
    full = (1500 + 40 * yy + 3 * xx + rng.integers(0, 9, (4, 40, 36))).astype(np.uint16)
    masked = np.zeros_like(full)
    body = (yy - 20) ** 2 / 120 + (xx - 18) ** 2 / 30 < 1
    masked[:, body] = full[:, body]
    masked[0, 0, 0], full[1, -1, -1] = 65535, 65535  # the extremes of the range
    return np.concatenate([masked, full])


def test_sparse_and_dense_frames_roundtrip_bit_exact(tmp_path):
    depth = _clip()
    assert (depth[:4] == 0).mean() > 0.5 and (depth[4:] == 0).mean() == 0
    write_depth_folder(tmp_path / "d", depth)
    np.testing.assert_array_equal(read_depth_folder(tmp_path / "d"), depth)


def test_files_are_plain_16bit_grayscale_pngs(tmp_path):
    """Another decoder (Pillow) reads the same millimetres: nothing OpenCV-specific."""
    depth = _clip()
    write_depth_folder(tmp_path / "d", depth, template="Depth-{:08d}.png")
    for t in (0, 5):
        with Image.open(tmp_path / "d" / f"Depth-{t + 1:08d}.png") as im:
            assert im.format == "PNG" and im.mode.startswith("I;16")
            np.testing.assert_array_equal(np.asarray(im).astype(np.uint16), depth[t])
