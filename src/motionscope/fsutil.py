"""File-system helpers shared by every writer: atomic writes and user cache paths (no torch)."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A killed or failing writer therefore never leaves a half-written file behind. The temporary
    name keeps the suffix so that libraries choosing a format from it (PIL, PyAV) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes 0600 files: give the final file the usual mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """``open`` for writing through :func:`atomic_path` (text or binary ``mode``)."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


_COUNTER = iter(range(1 << 62))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, at a few system calls' cost.

    For writers of many small files (stimulus clips): the temporary name is unique per process
    and call, and the file is created with the usual mode (no ``chmod``); the folder is only
    made when the first open says it is missing.
    """
    path = os.fspath(path)
    head, name = os.path.split(path)
    tmp = os.path.join(head, f".{name}.{os.getpid()}.{next(_COUNTER)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except FileNotFoundError:
        os.makedirs(head or ".", exist_ok=True)
        fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


_TEMP_NAME = re.compile(r"^\..+\.tmp(\.[^.]+)?$")  # .last.abc123.tmp.pt, .x.json.123.4.tmp


def clean_orphaned_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files our atomic writers left in ``folder`` (not below it).

    A writer killed with SIGKILL cannot remove its temporary file; the caller must know that no
    live process is writing there (the training process holds the run-directory lock).
    Returns the removed paths.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if _TEMP_NAME.match(p.name) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


def cache_dir() -> Path:
    """The user's cache folder for motionscope (``$MOTIONSCOPE_CACHE`` or XDG cache)."""
    root = os.environ.get("MOTIONSCOPE_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "motionscope"
