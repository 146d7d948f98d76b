"""Worlds generated once into the user's cache and shared by every command that needs one.

The key is a hash of the generation settings, so different settings never collide, and a file
lock makes concurrent processes (DDP ranks, test workers, two demos) wait for one writer.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

# bump when the generator changes what a given spec produces, so stale caches are not reused
WORLD_CACHE_VERSION = 2


def cached_world(formats=("rgb", "rawframes"), *, cache: str | os.PathLike | None = None,
                 workers: int | None = None, progress: bool = True, prefix: str = "world",
                 **spec) -> Path:
    """The root of a world made by :func:`generate_world` with ``spec``, generating it on first use."""
    from ..fsutil import cache_dir
    from .export import generate_world

    formats = tuple(sorted(formats.split(",") if isinstance(formats, str) else formats))
    spec = {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.items()}
    key = hashlib.sha1(json.dumps({**spec, "formats": formats, "v": WORLD_CACHE_VERSION},
                                  sort_keys=True).encode()) \
        .hexdigest()[:12]
    base = Path(cache) if cache is not None else cache_dir() / "worlds"
    root = base / f"{prefix}-{key}"
    if (root / "manifest.json").is_file():
        return root
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".{prefix}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (root / "manifest.json").is_file():
                size = spec.pop("size", (224, 224))
                generate_world(root, size=(int(size[0]), int(size[1])), formats=formats,
                               workers=workers or min(2, os.cpu_count() or 1), progress=progress,
                               **spec)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root
