"""Worker pools: fork only where it cannot hang, and the same results in any process layout."""

from __future__ import annotations

import os
import sys

from motionscope import parallel


def _square(x: int) -> int:
    return x * x


def test_start_method_avoids_fork_once_opencv_is_loaded(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delitem(sys.modules, "cv2", raising=False)
    assert parallel.start_method() == "fork"
    monkeypatch.setitem(sys.modules, "cv2", object())
    assert parallel.start_method() == "spawn"
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delitem(sys.modules, "cv2")
    assert parallel.start_method() == "spawn"


def test_imap_jobs_keeps_order_and_restores_the_environment():
    before = {k: os.environ.get(k) for k in parallel.THREAD_ENV}
    assert list(parallel.imap_jobs(_square, list(range(20)), 2)) == [x * x for x in range(20)]
    assert sorted(parallel.imap_jobs(_square, list(range(20)), 2, ordered=False)) == \
        [x * x for x in range(20)]
    assert list(parallel.imap_jobs(_square, [3], 4)) == [9]
    assert {k: os.environ.get(k) for k in parallel.THREAD_ENV} == before
