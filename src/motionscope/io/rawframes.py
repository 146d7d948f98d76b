"""Frame folders (``img_00001.jpg`` ...) and their ``dir num_frames label`` lists.

This is the TSN / MMAction2 ``RawframeDataset`` layout used by MIE-Net and DRSR: one folder of
numbered images per video, 1-based by default, listed in a text file whose lines are
``<folder relative to root> <num_frames> <label>`` (label 0-based).

Images are returned as RGB ``uint8``: grayscale frames are replicated to three channels and the
alpha channel of RGBA/PNG frames is dropped (not composited), so every reader downstream sees
``(T, H, W, 3)``.
"""

from __future__ import annotations

import os
import re
import shutil
import string
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError
from ..fsutil import atomic_path, atomic_write_text
from .index import Sample, join_root
from .paths import read_text

__all__ = [
    "FrameTemplate",
    "write_frames",
    "read_frames",
    "count_frames",
    "read_rawframe_list",
    "write_rawframe_list",
]

DEFAULT_TEMPLATE = "img_{:05d}.jpg"
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_PNG_PARAMS_8 = [cv2.IMWRITE_PNG_COMPRESSION, 3]
# 16-bit PNGs (depth): zlib level 1 with the "up" filter only. libpng's default adaptive filter
# choice tries all five filters on every row, which made a 224x224 depth frame cost ~2.3 ms;
# this costs ~0.7 ms for files within ~5 % of the size. Frames that are mostly 0 (masked depth)
# compress faster and smaller with zlib's run-length strategy. Any PNG reader decodes every
# variant the same, bit-exact.
_PNG_PARAMS_16 = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
_PNG_PARAMS_16_SPARSE = _PNG_PARAMS_16 + [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]


def _png16_params(img: np.ndarray) -> list[int]:
    sample = img[::8, ::8]
    return _PNG_PARAMS_16_SPARSE if 2 * np.count_nonzero(sample) < sample.size else \
        _PNG_PARAMS_16


class FrameTemplate:
    """A file-name template with one integer field (``img_{:05d}.jpg``, ``{:06d}.jpg``)."""

    def __init__(self, template: str):
        parts = list(string.Formatter().parse(template))
        fields = [p for p in parts if p[1] is not None]
        if len(fields) != 1 or fields[0][1] not in ("", "0"):
            raise ValueError(f"frame template needs exactly one positional field like "
                             f"'img_{{:05d}}.jpg', got {template!r}")
        self.template = template
        k = next(i for i, p in enumerate(parts) if p[1] is not None)
        self.prefix = "".join(p[0] for p in parts[:k + 1])  # literal text, braces unescaped
        self.suffix = "".join(p[0] for p in parts[k + 1:])
        self._re = re.compile(re.escape(self.prefix) + r"(\d+)" + re.escape(self.suffix) + r"\Z")

    def name(self, number: int) -> str:
        return self.template.format(number)

    def number(self, filename: str) -> int | None:
        m = self._re.match(filename)
        return int(m.group(1)) if m else None

    def scan(self, folder: Path) -> list[int]:
        """Sorted frame numbers present in ``folder``."""
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            raise DataError(folder, "frame folder not found") from None
        except NotADirectoryError:
            raise DataError(folder, "not a folder") from None
        return sorted(n for n in map(self.number, names) if n is not None)


def _contiguous_count(folder: Path, tpl: FrameTemplate, start: int) -> int:
    nums = tpl.scan(folder)
    if not nums:
        raise DataError(folder, f"no frames named like {tpl.name(start)!r}")
    if nums[0] != start:
        raise DataError(folder, f"frame {tpl.name(start)} is missing (numbering starts at "
                                f"{nums[0]}, expected {start})")
    for k, n in enumerate(nums):
        if n != start + k:
            if n == start + k - 1:
                raise DataError(folder, f"frame number {n} appears twice")
            raise DataError(folder, f"frame {tpl.name(start + k)} is missing (gap in numbering "
                                    f"after {tpl.name(start + k - 1)}; {len(nums)} frames found)")
    return len(nums)


def count_frames(folder: str | os.PathLike, template: str = DEFAULT_TEMPLATE,
                 start: int = 1) -> int:
    """Number of frames in a folder; a gap in the numbering is an error naming the frame."""
    return _contiguous_count(Path(folder), FrameTemplate(template), start)


def _imread_rgb(path: Path) -> np.ndarray:
    buf = np.fromfile(path, np.uint8) if path.exists() else None
    if buf is None:
        raise DataError(path, "frame file is missing")
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if img is None:
        raise DataError(path, "not a readable image (corrupt or truncated)")
    if img.dtype != np.uint8:  # 16-bit images: keep the high byte
        img = (img >> 8).astype(np.uint8) if img.dtype == np.uint16 else \
            np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_frames(folder: str | os.PathLike, indices: Sequence[int] | np.ndarray | None = None,
                template: str = DEFAULT_TEMPLATE, start: int = 1) -> np.ndarray:
    """Read frames at 0-based ``indices`` (all frames when None) as ``(T, H, W, 3)`` uint8 RGB.

    Index ``i`` is the file numbered ``start + i``. A missing file is an error naming it.
    """
    folder = Path(folder)
    tpl = FrameTemplate(template)
    if indices is None:
        indices = range(_contiguous_count(folder, tpl, start))
    idx = [int(i) for i in np.asarray(indices, np.int64).reshape(-1)]
    if any(i < 0 for i in idx):
        raise IndexError(f"{folder}: negative frame index in {idx}")
    cache: dict[int, np.ndarray] = {}
    out = []
    for i in idx:
        if i not in cache:
            p = folder / tpl.name(start + i)
            if not p.exists():
                if not folder.is_dir():
                    raise DataError(folder, "frame folder not found")
                raise DataError(p, f"frame {i} (file {p.name}) is missing")
            cache[i] = _imread_rgb(p)
        out.append(cache[i])
    if not out:
        return np.zeros((0, 0, 0, 3), np.uint8)
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise DataError(folder, f"frames have different sizes: {sorted(shapes)}")
    return np.stack(out)


def _write_bytes(path: Path, buf: np.ndarray) -> None:
    """Raw ``os`` calls: a world writes ~100 small files per clip, and ``ndarray.tofile``'s
    Python file object costs more than the write itself."""
    view = memoryview(buf.reshape(-1))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_BINARY, 0o644)
    try:
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def write_frames(folder: str | os.PathLike, frames: np.ndarray | Iterable[np.ndarray],
                 template: str = DEFAULT_TEMPLATE, quality: int = 90, start: int = 1) -> int:
    """Write ``(T, H, W, 3)`` uint8 RGB frames as numbered images; returns the frame count.

    ``(T, H, W)`` grayscale is written single-channel (and ``uint16`` to 16-bit PNG).

    The format follows the template's extension (JPEG ``quality`` for .jpg). A new folder is
    filled beside its final name and renamed at the end, so it appears complete or not at all;
    into an existing folder each file is written atomically, other files are left alone
    (TSN folders hold ``img_*`` and ``flow_*`` side by side) and frames of this template
    outside the written range are removed.
    """
    folder = Path(folder)
    tpl = FrameTemplate(template)
    ext = "." + tpl.suffix.rsplit(".", 1)[-1].lower() if "." in tpl.suffix else ""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext in (".jpg", ".jpeg") else \
        _PNG_PARAMS_8 if ext == ".png" else []
    new = not folder.exists()
    folder.parent.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent)) if new \
        else folder
    n = 0
    try:
        for n, img in enumerate(frames, 1):
            img = np.asarray(img)
            ok_dtype = img.dtype == np.uint8 or (img.dtype == np.uint16 and ext == ".png")
            if not ok_dtype or img.ndim not in (2, 3) or \
                    (img.ndim == 3 and img.shape[2] not in (1, 3)):
                raise ValueError(f"frame {n - 1}: expected (H, W, 3) uint8 RGB, got "
                                 f"{img.shape} {img.dtype}")
            if img.ndim == 3 and img.shape[2] == 3:  # cvtColor: a SIMD swap, no strided copy
                img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            ok, buf = cv2.imencode(ext, np.ascontiguousarray(img),
                                   _png16_params(img) if img.dtype == np.uint16 else params)
            if not ok:
                raise ValueError(f"cannot encode frames as {ext!r}")
            if new:
                _write_bytes(target / tpl.name(start + n - 1), buf)
            else:
                with atomic_path(target / tpl.name(start + n - 1)) as tmp:
                    _write_bytes(tmp, buf)
        if new:
            os.replace(target, folder)
        else:  # frames of an earlier, longer write would extend the clip: remove them
            for k in tpl.scan(folder):
                if not start <= k < start + n:
                    (folder / tpl.name(k)).unlink()
    finally:
        if new and target.exists():
            shutil.rmtree(target, ignore_errors=True)
    return n


# ----------------------------------------------------------------------------- lists
def read_rawframe_list(path: str | os.PathLike, root: str | os.PathLike | None = None
                       ) -> list[Sample]:
    """Read a ``dir num_frames label`` list (whitespace separated; the folder may contain spaces,
    the last two fields are numbers). Blank lines and ``#`` comments are skipped. Folders must
    stay below ``root`` (:func:`motionscope.io.paths.resolve_under`; ``root=None`` keeps them
    as written); each sample's ``meta`` holds ``list`` (this file) and ``line``."""
    text = read_text(path, "rawframe list")
    samples = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.rsplit(None, 2)
        if len(parts) != 3:
            raise DataError(path, f"line {n}: expected 'dir num_frames label', got {s!r}")
        rel, nf, lab = parts
        try:
            num_frames, label = int(nf), int(lab)
        except ValueError:
            raise DataError(path, f"line {n}: num_frames and label must be integers, "
                                  f"got {nf!r} {lab!r}") from None
        if num_frames < 0:
            raise DataError(path, f"line {n}: negative frame count {num_frames}")
        samples.append(Sample(join_root(root, rel, source=path, line=n), num_frames, label,
                              {"list": str(path), "line": n}))
    return samples


def write_rawframe_list(path: str | os.PathLike,
                        samples: Iterable[Sample | tuple[str, int, int]]) -> None:
    """Write ``dir num_frames label`` lines, atomically."""
    lines = []
    for s in samples:
        p, nf, lab = (s.path, s.num_frames, s.label) if isinstance(s, Sample) else s
        if nf is None or lab is None:
            raise ValueError(f"sample {p!r} needs num_frames and label")
        if "\n" in str(p):
            raise ValueError(f"path {p!r} contains a newline")
        lines.append(f"{p} {int(nf)} {int(lab)}")
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
