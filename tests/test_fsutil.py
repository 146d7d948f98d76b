from __future__ import annotations

import os
import stat

import pytest

from motionscope.fsutil import atomic_open, atomic_write_text


def test_atomic_write_gives_normal_permissions(tmp_path):
    p = tmp_path / "out.txt"
    atomic_write_text(p, "hello")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
    assert p.read_text() == "hello"


def test_failed_write_leaves_nothing_behind(tmp_path):
    p = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_open(p, "wb") as f:
        f.write(b"partial")
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
