"""Shared parts of the ingestion pipelines: worker pool, summary, streamed ``.npz`` writing.

Numpy only (no torch), so ``motionscope prepare`` starts fast and its workers stay small.

Outputs are the official MAMP/SGN ``.npz`` layout (``x_train (N, T, M*V*C)`` float32, one-hot
``y_train`` float64, same for ``test``) so that files made here and files made by the
official scripts are interchangeable. The arrays are streamed into an uncompressed zip member
by member: memory stays at one sequence, however large the dataset (the official scripts hold
the whole padded array, ~10 GB for NTU-60, in memory), and the feeder can memory-map them.
"""

from __future__ import annotations

import os
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fsutil import atomic_path
from ..parallel import imap_jobs
from ..progress import progress as progress_bar

__all__ = ["ArraySpec", "write_npz_streaming", "run_pool", "default_workers", "failure_kind",
           "SequenceStore", "Summary"]


class ArraySpec:
    """An array to stream into an ``.npz``: its shape, dtype and an iterator of row blocks."""

    def __init__(self, shape: tuple[int, ...], dtype, blocks: Iterable[np.ndarray]):
        self.shape, self.dtype, self.blocks = tuple(int(s) for s in shape), np.dtype(dtype), blocks


def write_npz_streaming(path: str | os.PathLike, arrays: dict[str, ArraySpec | np.ndarray]) -> None:
    """Write an ``np.load``-compatible, uncompressed ``.npz`` atomically, block by block.

    Each :class:`ArraySpec` yields C-ordered blocks whose rows concatenate to ``shape``; the
    byte count is checked, so a generator that yields too little or too much fails loudly
    instead of leaving a file numpy cannot read.
    """
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, spec in arrays.items():
                if isinstance(spec, np.ndarray):
                    arr = np.ascontiguousarray(spec)
                    spec = ArraySpec(arr.shape, arr.dtype, [arr])
                header = {"descr": np.lib.format.dtype_to_descr(spec.dtype),
                          "fortran_order": False, "shape": spec.shape}
                want = int(np.prod(spec.shape, dtype=np.int64)) * spec.dtype.itemsize
                with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array_header_2_0(f, header)
                    written = 0
                    for block in spec.blocks:
                        b = np.ascontiguousarray(block, dtype=spec.dtype)
                        f.write(b.tobytes())
                        written += b.nbytes
                if written != want:
                    raise ValueError(f"{path}: array {key!r} got {written} bytes, expected {want} "
                                     f"for shape {spec.shape}")


def default_workers() -> int:
    """All cores but one (at least one): the main process writes while the workers parse."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        n = os.cpu_count() or 1
    return max(1, n - 1) if n > 2 else n


def run_pool(fn: Callable, jobs: list, workers: int, desc: str, progress: bool = True,
             chunksize: int | None = None) -> Iterator:
    """``fn(job)`` for every job, in any order, on ``workers`` processes, with a progress bar.

    ``workers <= 1`` runs in this process (no pickling; easier to debug and to test).
    ``fn`` must not raise for a bad input file: it returns a result describing the failure,
    so that one bad file never stops a run.
    """
    bar = progress_bar(total=len(jobs), desc=desc, enabled=progress, unit="file")
    try:
        for res in imap_jobs(fn, jobs, workers, ordered=False, chunksize=chunksize):
            yield res
            bar.update(1)
    finally:
        bar.close()


_FAILURE_KINDS = (
    ("file ends early", "truncated"),
    ("joint count", "wrong_joint_count"),
    ("non-numeric", "non_numeric"),
    ("numbers, expected", "wrong_field_count"),
    ("fields, expected", "wrong_field_count"),
    ("non-finite", "non_finite"),
    ("not a text", "not_text"),
    ("cannot read", "unreadable"),
    ("not an NTU sample name", "bad_name"),
    ("listed twice", "duplicate_body"),
)


def failure_kind(message: str) -> str:
    """A short reason key for a per-file error message (for the summary's counts)."""
    for needle, kind in _FAILURE_KINDS:
        if needle in message:
            return kind
    return "malformed"


class SequenceStore:
    """Variable-length float32 sequences appended to a temporary file, read back memory-mapped.

    Lets the main process collect tens of thousands of results without holding them in
    memory; the file is removed on :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._offset = 0
        self.index: dict[str, tuple[int, tuple[int, ...]]] = {}
        self._mm: np.memmap | None = None

    def add(self, key: str, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        self._f.write(arr.tobytes())
        self.index[key] = (self._offset, arr.shape)
        self._offset += arr.size

    def get(self, key: str) -> np.ndarray:
        if self._mm is None:
            self._f.flush()
            self._mm = np.memmap(self.path, np.float32, "r", shape=(max(self._offset, 1),)) \
                if self._offset else np.zeros(1, np.float32)
        off, shape = self.index[key]
        return np.asarray(self._mm[off:off + int(np.prod(shape))]).reshape(shape)

    def close(self) -> None:
        self._mm = None
        if not self._f.closed:
            self._f.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> SequenceStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Summary:
    """Counts of an ingestion run: files seen, kept, dropped (documented skips) and failed."""

    def __init__(self, dataset: str, raw: str | os.PathLike, out: str | os.PathLike):
        self.t0 = time.perf_counter()
        self.data: dict = {"dataset": dataset, "raw": str(raw), "out": str(out),
                           "files_found": 0, "files_processed": 0, "samples_kept": 0}
        self.excluded: Counter = Counter()  # files not processed, by reason
        self.dropped: Counter = Counter()  # processed, skipped by a documented rule
        self.failed: Counter = Counter()  # processed, unreadable/malformed
        self.failures: list[dict] = []
        self.dropped_files: list[dict] = []
        self.stats: Counter = Counter()  # per-rule counters (bodies removed, frames dropped...)
        self.warnings: list[str] = []  # what the user must know of the result (printed)

    def fail(self, file: str, message: str) -> None:
        kind = failure_kind(message)
        self.failed[kind] += 1
        self.failures.append({"file": file, "reason": kind, "error": message})

    def drop(self, file: str, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        self.dropped_files.append({"file": file, "reason": reason, "detail": detail})

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def finish(self, **extra) -> dict:
        secs = time.perf_counter() - self.t0
        out = dict(self.data)
        out.update({
            "excluded": dict(sorted(self.excluded.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "failed": dict(sorted(self.failed.items())),
            "num_dropped": sum(self.dropped.values()),
            "num_failed": sum(self.failed.values()),
            "stats": dict(sorted(self.stats.items())),
            "failures": sorted(self.failures, key=lambda d: d["file"]),
            "dropped_files": sorted(self.dropped_files, key=lambda d: d["file"]),
            "warnings": list(self.warnings),
            "seconds": round(secs, 3),
            "files_per_s": round(out["files_processed"] / secs, 1) if secs > 0 else None,
        })
        out.update(extra)
        return out


def check_raw_dir(raw: str | os.PathLike) -> Path:
    raw = Path(raw)
    if not raw.exists():
        raise DataError(raw, "raw data folder not found")
    if not raw.is_dir():
        raise DataError(raw, "expected a folder of raw files")
    return raw


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Official float64 one-hot rows (``y_train``/``y_test``)."""
    y = np.zeros((len(labels), num_classes), np.float64)
    if len(labels):
        y[np.arange(len(labels)), np.asarray(labels, np.int64)] = 1.0
    return y


def padded_blocks(store: SequenceStore, keys: list[str], frames: int, width: int,
                  rows_per_block: int = 64) -> Iterator[np.ndarray]:
    """Rows of ``(len(keys), frames, width)``: each stored ``(T_i, width)`` zero-padded/cut."""
    for s in range(0, len(keys), rows_per_block):
        chunk = keys[s:s + rows_per_block]
        block = np.zeros((len(chunk), frames, width), np.float32)
        for i, k in enumerate(chunk):
            seq = store.get(k)
            n = min(len(seq), frames)
            block[i, :n] = seq[:n]
        yield block
