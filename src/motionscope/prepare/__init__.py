"""Ingestion of raw skeleton datasets into the arrays MAMP trains on (numpy only, no torch).

``prepare("ntu", raw, out, ntu120=False)`` and ``prepare("pku", raw, out, version=1)`` run the
official MAMP preprocessing (``specs/mamp.md`` sections 3-7) with parallel workers and return
the ingestion summary (also written to ``out/summary.json``). See ``docs/skeleton_pipeline.md``.
"""

from __future__ import annotations

import os

from ..errors import ConfigError

__all__ = ["prepare", "DATASETS"]

DATASETS = ("ntu", "pku")


def prepare(dataset: str, raw: str | os.PathLike, out: str | os.PathLike, *,
            ntu120: bool = False, version: int = 1, workers: int | None = None,
            progress: bool = True, num_classes: int | None = None,
            class_names: str | os.PathLike | None = None, lost_frames: str = "keep") -> dict:
    """Ingest ``dataset`` (``"ntu"`` or ``"pku"``) from ``raw`` into ``out``; the summary dict.

    ``ntu120``: NTU RGB+D 120 (x-sub/x-set) instead of 60 (x-sub/x-view). ``version``: PKU-MMD
    phase 1 or 2. ``workers``: processes (default: all cores but one). A file that fails is
    named and counted in ``summary["failures"]``; the run goes on. ``num_classes`` /
    ``class_names`` (NTU format only): another dataset converted to NTU ``.skeleton`` files.
    ``lost_frames`` (NTU): ``keep`` (official), ``drop`` or ``interpolate`` frames whose joints
    are all 0.
    """
    key = dataset.lower().replace("-", "").replace("_", "")
    if key in ("ntu", "ntu60", "nturgbd", "ntu120"):
        from .ntu import prepare_ntu

        return prepare_ntu(raw, out, ntu120=ntu120 or key == "ntu120", workers=workers,
                           progress=progress, num_classes=num_classes, class_names=class_names,
                           lost_frames=lost_frames)
    if key in ("pku", "pkummd", "pkuv1", "pkuv2"):
        from .pku import prepare_pku

        if key in ("pkuv1", "pkuv2"):
            version = int(key[-1])
        if num_classes is not None or class_names is not None:
            raise ConfigError("--num-classes / --class-names are for NTU-format data; PKU-MMD "
                              "has its own 51 classes")
        return prepare_pku(raw, out, version=version, workers=workers, progress=progress)
    raise ConfigError(f"unknown dataset {dataset!r} to prepare (choose one of {', '.join(DATASETS)})")
