"""Paths read from list files and manifests stay under their root (motionscope.io.paths)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from motionscope.errors import DataError
from motionscope.io.paths import check_relative, resolve_under


@pytest.mark.parametrize("rel", ["a/b.mp4", "a/./b", "a/../b", "a//b", "with space/x", "a/.."])
def test_relative_paths_join_the_root(tmp_path, rel):
    assert resolve_under(tmp_path, rel, source="l.csv", line=3) == tmp_path / rel


@pytest.mark.parametrize("rel,what", [
    ("/etc/passwd", "is absolute"), ("..", "leaves"), ("../x", "leaves"),
    ("a/../../b", "leaves"), ("./../b", "leaves"), ("a/b/../../../c", "leaves"),
    ("", "empty path")])
def test_escaping_paths_are_refused_naming_file_and_line(tmp_path, rel, what):
    with pytest.raises(DataError, match=rf"^l\.csv: line 7: .*{what}") as e:
        resolve_under(tmp_path, rel, source="l.csv", line=7)
    assert e.value.path == "l.csv"
    with pytest.raises(DataError, match=r"lists\.rawframes\.train: "):
        check_relative(rel, source="manifest.json", line="lists.rawframes.train")


def test_symlink_inside_root_is_kept(tmp_path):
    """A link the user made inside the root (a dataset folder on another disk) is followed:
    the check is lexical, so ``videos/x.mp4`` stays allowed though it resolves elsewhere."""
    elsewhere = tmp_path / "disk2"
    elsewhere.mkdir()
    (elsewhere / "x.mp4").write_bytes(b"v")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(elsewhere, root / "videos")
    p = resolve_under(root, "videos/x.mp4", source="l.csv", line=1)
    assert p == root / "videos" / "x.mp4" and p.read_bytes() == b"v"
    assert Path(os.path.realpath(p)).parent == elsewhere.resolve()
