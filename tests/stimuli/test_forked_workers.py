"""``motionscope stimuli`` forks its workers: they must write the bytes one process writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is used on Linux only")
def test_forked_stimulus_workers_write_the_same_bytes(tiny_world, tmp_path):
    """``motionscope stimuli`` forks its workers (OpenCV is not loaded in the CLI process);
    their clips must be the bytes one process writes."""
    from motionscope.stimuli import generate_stimuli

    conds = "J-6P,SP-8P-1LT,RGB-S"
    one = generate_stimuli(tiny_world, tmp_path / "one", conds, progress=False).parent
    code = ("import sys; from motionscope.parallel import start_method; "
            "from motionscope.stimuli import generate_stimuli; "
            "assert start_method() == 'fork' and 'cv2' not in sys.modules; "
            f"generate_stimuli({str(tiny_world)!r}, {str(tmp_path / 'two')!r}, {conds!r}, "
            "workers=2, progress=False)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    two = tmp_path / "two"
    files = sorted(p.relative_to(one) for p in one.rglob("*.mp4"))
    assert len(files) >= 12
    assert files == sorted(p.relative_to(two) for p in two.rglob("*.mp4"))
    for f in files:
        assert Path(one / f).read_bytes() == Path(two / f).read_bytes(), f
