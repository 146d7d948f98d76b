"""Helpers for tests of motionscope and of code built on it (like ``numpy.testing``).

``shared_path("data", "ntu_rgbd_skeleton_samples")`` returns a path under the ``shared/`` folder
beside the checkout (or ``$MOTIONSCOPE_SHARED``) and skips the calling test, with the reason, when
it is absent, so the package still tests standalone.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MOTIONSCOPE_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or ``pytest.skip`` with the reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        import pytest

        pytest.skip(f"real sample {p} not present (../shared is not beside the checkout)")
    return p


def fixture_params(prefix: str) -> list:
    """One ``pytest.param`` per official fixture directory whose name starts with ``prefix``
    (id = the directory name), or a single skipped param saying where none was found."""
    import pytest

    from .fidelity import discover, fixtures_root

    found = [pytest.param(p, id=p.name) for p in discover(prefix)]
    return found or [pytest.param(None, marks=pytest.mark.skip(
        reason=f"no fixture directory starting with {prefix!r} (with a config.json) under "
               f"{fixtures_root()}; set $MOTIONSCOPE_FIXTURES to a folder of official fixtures"))]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``motionscope ARGS`` in this process: ``(exit code, stdout, stderr)`` (pytest's capsys)."""
    from .cli import main

    code = 0
    try:
        main(list(args))
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err
