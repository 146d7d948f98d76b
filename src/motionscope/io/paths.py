"""Paths read from files stay under their root: the one check every list/manifest reader uses.

Split lists, rawframe lists, world manifests and ``stimuli.json`` name files *relative to a
root* (the dataset folder, the stimuli folder). :func:`resolve_under` joins such a path with
its root and refuses one that is absolute or that leaves the root (``../x``, ``a/../../x``), so
a crafted list can neither read nor write (nor count as "cached") a file outside the folder it
describes.

The check is **lexical** (``os.path.normpath`` of the path as written), not ``realpath``:
``..`` components and absolute paths are refused, while symbolic links that the user made
*inside* the root (a ``videos`` folder linked to another disk, the usual dataset setup) are
followed as the operating system follows them. A list file cannot create a link, so a link is
always the owner's own choice.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError

__all__ = ["resolve_under", "check_relative"]


def check_relative(rel: str, *, source: str | os.PathLike | None = None,
                   line: int | str | None = None, root: str | os.PathLike | None = None) -> str:
    """``rel`` unchanged when it is a relative path that stays below its root (lexically);
    else a :class:`DataError` naming ``source`` (the file the path was read from) and ``line``
    (a line number, or a key such as ``lists.rawframes.train``)."""
    where = "" if line is None else (f"line {line}: " if isinstance(line, int) else f"{line}: ")
    below = f" {root}" if root is not None else " its folder"
    rel = str(rel)
    if not rel:
        raise DataError(source, f"{where}empty path")
    if os.path.isabs(rel) or rel.startswith(("/", "\\")) or os.path.splitdrive(rel)[0]:
        raise DataError(source, f"{where}path {rel!r} is absolute; paths in this file are "
                                f"relative to{below} and may not leave it")
    norm = os.path.normpath(rel)
    if norm == os.pardir or norm.startswith(os.pardir + os.sep):
        raise DataError(source, f"{where}path {rel!r} leaves{below}")
    return rel


def resolve_under(root: str | os.PathLike, rel: str, *, source: str | os.PathLike | None = None,
                  line: int | str | None = None) -> Path:
    """``root / rel`` for a path ``rel`` read from the file ``source`` (at ``line``), refused
    with a :class:`DataError` naming both when ``rel`` is absolute or leaves ``root``
    (see the module docstring: ``..`` is refused, symlinks inside ``root`` are followed)."""
    check_relative(rel, source=source, line=line, root=root)
    return Path(root) / rel


def read_text(path: str | os.PathLike, what: str, *, encoding: str = "utf-8-sig",
              missing: str | None = None) -> str:
    """The text of a list or annotation file; unreadable (or not UTF-8) is one DataError naming
    the file: ``missing`` when it does not exist (if given), else ``cannot read <what> (...)``."""
    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError as e:
        raise DataError(path, missing if missing is not None else f"cannot read {what} ({e})"
                        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read {what} ({e})") from None
