"""Split lists and split rules: ``path,label`` video CSVs and the NTU RGB+D benchmarks.

Video CSVs are the Motion Perceiver (PySlowFast) format: one ``relative/path.mp4,label`` per
line, label 0-based; a header line (``path,label``) is allowed and skipped. NTU benchmarks
assign a sample to train/test from its name alone (subject, camera or setup), with the subject
lists of the official NTU RGB+D 60/120 protocols.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from ..errors import DataError
from ..fsutil import atomic_write_text
from .index import Sample, join_root
from .ntu import parse_ntu_name
from .paths import read_text

__all__ = [
    "Sample",
    "read_video_csv",
    "write_video_csv",
    "ntu_split",
    "NTU_BENCHMARKS",
    "NTU60_XSUB_TRAIN_SUBJECTS",
    "NTU120_XSUB_TRAIN_SUBJECTS",
    "NTU60_XVIEW_TRAIN_CAMERAS",
]

#: NTU RGB+D 60 cross-subject training performers (the other 20 of 1..40 are test)
NTU60_XSUB_TRAIN_SUBJECTS = frozenset(
    {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
#: NTU RGB+D 120 cross-subject training performers (the rest of 1..106 are test)
NTU120_XSUB_TRAIN_SUBJECTS = NTU60_XSUB_TRAIN_SUBJECTS | frozenset(
    {45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
     89, 91, 92, 93, 94, 95, 97, 98, 100, 103})
#: NTU RGB+D 60 cross-view: cameras 2 and 3 train, camera 1 tests
NTU60_XVIEW_TRAIN_CAMERAS = frozenset({2, 3})
NTU_BENCHMARKS = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset")


# ----------------------------------------------------------------------------- video CSVs
def read_video_csv(path: str | os.PathLike, root: str | os.PathLike | None = None,
                   sep: str = ",") -> list[Sample]:
    """Read a ``path<sep>label`` list (header optional, blank lines skipped).

    ``root`` is prefixed to the paths, which must stay below it (an absolute path or one that
    leaves ``root`` is a :class:`DataError` naming the file and line; ``root=None`` keeps them
    as written). A path may itself contain ``sep``: the label is what follows the last one.
    Each sample's ``meta`` holds ``list`` (this file) and ``line``.
    """
    text = read_text(path, "video list")
    samples = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if sep not in line:
            raise DataError(path, f"line {n}: expected 'path{sep}label', got {line.strip()!r}")
        rel, label = line.strip().rsplit(sep, 1)
        try:
            lab = int(label)
        except ValueError:
            if n == 1 and not samples:  # a header such as "path,label"
                continue
            raise DataError(path, f"line {n}: label {label!r} is not an integer") from None
        if not rel.strip():
            raise DataError(path, f"line {n}: empty path")
        samples.append(Sample(join_root(root, rel.strip(), source=path, line=n), None, lab,
                              {"list": str(path), "line": n}))
    return samples


def write_video_csv(path: str | os.PathLike, samples: Iterable[Sample | tuple[str, int]],
                    sep: str = ",", header: bool = False) -> None:
    """Write ``path<sep>label`` lines (paths as given; no header unless asked), atomically."""
    lines = ["path" + sep + "label"] if header else []
    for s in samples:
        p, lab = (s.path, s.label) if isinstance(s, Sample) else s
        if lab is None:
            raise ValueError(f"sample {p!r} has no label")
        if "\n" in str(p):
            raise ValueError(f"path {p!r} contains a newline")
        lines.append(f"{p}{sep}{int(lab)}")
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


# ----------------------------------------------------------------------------- NTU rules
def _benchmark_key(benchmark: str) -> str:
    key = re.sub(r"[\s_\-+]", "", benchmark.lower()).replace("rgbd", "")
    aliases = {"ntu60xsub": "ntu60_xsub", "ntu60xview": "ntu60_xview", "ntu120xsub": "ntu120_xsub",
               "ntu120xset": "ntu120_xset", "ntu60cs": "ntu60_xsub", "ntu60cv": "ntu60_xview",
               "ntu120cs": "ntu120_xsub", "ntu120cset": "ntu120_xset"}
    if key not in aliases:
        raise ValueError(f"unknown NTU benchmark {benchmark!r}; choose one of {NTU_BENCHMARKS}")
    return aliases[key]


def ntu_split(name: str | os.PathLike, benchmark: str) -> str:
    """``"train"`` or ``"test"`` for an NTU sample name under a benchmark.

    Benchmarks: ``ntu60_xsub`` (performers :data:`NTU60_XSUB_TRAIN_SUBJECTS` train),
    ``ntu60_xview`` (cameras 2, 3 train; camera 1 test), ``ntu120_xsub`` (performers
    :data:`NTU120_XSUB_TRAIN_SUBJECTS` train), ``ntu120_xset`` (even setup ids train).
    NTU-60 benchmarks reject samples outside NTU-60 (setups 1-17, actions 1-60).
    """
    bench = _benchmark_key(benchmark)
    n = parse_ntu_name(name)
    if bench.startswith("ntu60") and not (1 <= n.setup <= 17 and 1 <= n.action <= 60):
        raise DataError(name, f"not an NTU RGB+D 60 sample (setup {n.setup}, action {n.action})")
    if not 1 <= n.camera <= 3:
        raise DataError(name, f"camera {n.camera} is not one of NTU's cameras 1-3")
    if bench in ("ntu60_xsub", "ntu120_xsub"):
        train = NTU60_XSUB_TRAIN_SUBJECTS if bench == "ntu60_xsub" else NTU120_XSUB_TRAIN_SUBJECTS
        return "train" if n.performer in train else "test"
    if bench == "ntu60_xview":
        return "train" if n.camera in NTU60_XVIEW_TRAIN_CAMERAS else "test"
    return "train" if n.setup % 2 == 0 else "test"
