"""Depth clips as folders of 16-bit PNGs (millimetres, 0 = no reading).

Written like NTU RGB+D's masked depth (``MDepth-00000001.png`` ...). Reading auto-detects the
naming: the NTU template, or any ``<prefix><number><suffix>.png`` scheme shared by all PNGs of
the folder (e.g. MSR Action3D's ``001.png``), ordered by number. An 8-bit PNG where depth is
expected is an error: it has lost the millimetre range (0-255 mm), and silently scaling it
would hide a wrong export.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError
from .rawframes import FrameTemplate, write_frames

__all__ = ["write_depth_folder", "read_depth_folder", "detect_depth_template",
           "NTU_DEPTH_TEMPLATE"]

NTU_DEPTH_TEMPLATE = "MDepth-{:08d}.png"
_NUMBERED = re.compile(r"(.*?)(\d+)(\D*\.png)\Z", re.IGNORECASE)


def detect_depth_template(folder: str | os.PathLike) -> tuple[str, int]:
    """``(template, first_number)`` shared by the PNGs of a depth folder."""
    folder = Path(folder)
    try:
        names = [n for n in os.listdir(folder) if n.lower().endswith(".png")]
    except FileNotFoundError:
        raise DataError(folder, "depth folder not found") from None
    except NotADirectoryError:
        raise DataError(folder, "not a folder") from None
    if not names:
        raise DataError(folder, "no PNG files in depth folder")
    parsed = []
    for n in names:
        m = _NUMBERED.match(n)
        if m is None:
            raise DataError(folder / n, "PNG name has no frame number")
        parsed.append(m.groups())
    schemes = {(p, s) for p, _, s in parsed}
    if len(schemes) > 1:
        raise DataError(folder, "PNG names follow several schemes: "
                                + ", ".join(sorted(f"{p}<N>{s}" for p, s in schemes)))
    prefix, suffix = schemes.pop()
    digits = [d for _, d, _ in parsed]
    widths = {len(d) for d in digits}
    if len(widths) == 1:
        spec = f"{{:0{widths.pop()}d}}"
    elif any(d.startswith("0") and len(d) > 1 for d in digits):
        raise DataError(folder, "PNG names mix zero-padded and unpadded frame numbers")
    else:
        spec = "{}"
    return _escape(prefix) + spec + _escape(suffix), min(int(d) for d in digits)


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _read_png16(path: Path) -> np.ndarray:
    buf = np.fromfile(path, np.uint8) if path.exists() else None
    if buf is None:
        raise DataError(path, "depth frame is missing")
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise DataError(path, "not a readable PNG (corrupt or truncated)")
    if img.ndim != 2:
        raise DataError(path, f"depth PNG must be single-channel, got {img.shape[2]} channels")
    if img.dtype == np.uint8:
        raise DataError(path, "8-bit PNG where 16-bit depth (millimetres) is expected")
    if img.dtype != np.uint16:
        raise DataError(path, f"depth PNG must be 16-bit unsigned, got {img.dtype}")
    return img


def read_depth_folder(folder: str | os.PathLike, template: str | None = None,
                      indices: Sequence[int] | np.ndarray | None = None,
                      start: int | None = None) -> np.ndarray:
    """Read a depth folder as ``uint16 (T, H, W)``.

    ``template``/``start`` default to the detected naming; ``indices`` are 0-based positions
    from the first frame. A gap in the numbering is an error naming the missing file.
    """
    folder = Path(folder)
    if template is None:
        template, first = detect_depth_template(folder)
        start = first if start is None else start
    start = 1 if start is None else start
    tpl = FrameTemplate(template)
    nums = tpl.scan(folder)
    if not nums:
        raise DataError(folder, f"no depth frames named like {tpl.name(start)!r}")
    expected = list(range(start, start + len(nums)))
    if nums != expected:
        missing = next(e for e, n in zip(expected, nums) if e != n)
        raise DataError(folder, f"depth frame {tpl.name(missing)} is missing "
                                f"(gap in numbering; {len(nums)} frames found)")
    if indices is None:
        idx = list(range(len(nums)))
    else:
        idx = [int(i) for i in np.asarray(indices, np.int64).reshape(-1)]
        bad = [i for i in idx if not 0 <= i < len(nums)]
        if bad:
            raise IndexError(f"{folder}: depth frame {bad[0]} out of range ({len(nums)} frames)")
    frames = [_read_png16(folder / tpl.name(start + i)) for i in idx]
    if not frames:
        return np.zeros((0, 0, 0), np.uint16)
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise DataError(folder, f"depth frames have different sizes: {sorted(shapes)}")
    return np.stack(frames)


def write_depth_folder(folder: str | os.PathLike, depth: np.ndarray,
                       template: str = NTU_DEPTH_TEMPLATE, start: int = 1) -> int:
    """Write ``uint16 (T, H, W)`` millimetres as 16-bit PNGs (atomically, see
    :func:`motionscope.io.rawframes.write_frames`); returns the frame count."""
    depth = np.asarray(depth)
    if depth.ndim != 3 or depth.dtype != np.uint16:
        raise ValueError(f"depth must be uint16 (T, H, W), got {depth.dtype} {depth.shape}")
    if not FrameTemplate(template).suffix.lower().endswith(".png"):
        raise ValueError(f"depth frames must be PNG, got template {template!r}")
    return write_frames(folder, depth[..., None], template=template, start=start)
