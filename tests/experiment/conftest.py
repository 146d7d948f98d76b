"""Shared set-up of the experiment tests: the two databases, a private PostgreSQL server, the
system Chromium, and a tiny stimuli set.

``db_url`` is parametrised over SQLite (a file in the test's tmp dir) and PostgreSQL (a fresh
database on a throwaway server that this session starts from the installed binaries and removes
at the end; see :mod:`motionscope.experiment.pgtemp`), so any test that takes it runs on both.
The PostgreSQL case skips, with the reason, when PostgreSQL is not installed; ``.ci/run``
installs it.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_db_counter = itertools.count()


def motionscope_cli(*args: str) -> None:
    """``motionscope ARGS`` in this process (as typed); a non-zero exit fails the test."""
    from motionscope.cli import main

    try:
        main(list(args))
    except SystemExit as e:
        if e.code:
            raise AssertionError(f"motionscope {' '.join(args)} exited {e.code}") from None


@pytest.fixture(scope="session")
def pg_server():
    """A running throwaway PostgreSQL server (``TempPostgres``), or skip saying why not."""
    from motionscope.experiment.pgtemp import TempPostgres, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    pg = TempPostgres(fast=True)
    try:
        pg.start()
    except (RuntimeError, OSError) as e:
        pytest.skip(f"could not start a temporary PostgreSQL server: {e}")
    yield pg
    pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A SQLAlchemy URL of an empty database: SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'experiment.db'}"
    pg = request.getfixturevalue("pg_server")
    return pg.create_database(f"t{os.getpid()}_{next(_db_counter)}")


def _find(names: tuple[str, ...], extra: tuple[str, ...]) -> str | None:
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return next((p for p in extra if Path(p).is_file() and os.access(p, os.X_OK)), None)


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    """``(chromium, chromedriver)`` of the system (Debian's ``chromium`` and
    ``chromium-driver``), or skip naming what is missing."""
    browser = os.environ.get("MOTIONSCOPE_CHROMIUM") or _find(
        ("chromium", "chromium-browser", "google-chrome"), ("/usr/lib/chromium/chromium",))
    driver = os.environ.get("MOTIONSCOPE_CHROMEDRIVER") or _find(
        ("chromedriver",), ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver"))
    missing = [n for n, p in (("chromium", browser), ("chromedriver (chromium-driver)", driver))
               if not p]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian: apt-get install chromium "
                    f"chromium-driver, as .ci/run does)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (it is in the test extras: pip install -e .[test])")
    return browser, driver


@pytest.fixture(scope="session")
def tiny_stimuli(tmp_path_factory) -> Path:
    """4 classes x 3 clips, conditions RGB / J-6P / SP-8P-1LT, 8 frames of 96x96 at ~13 fps
    (0.6 s per video), written with ``motionscope stimuli``; returns the folder."""
    from motionscope.api import synth

    root = tmp_path_factory.mktemp("exp_stimuli")
    synth(root / "world", classes="sit_down,stand_up,kick,jump_up", clips_per_class=3,
          frames=8, size=(96, 96), formats="rgb,skeleton,keypoints", progress=False,
          duration=0.6)
    motionscope_cli("stimuli", "--source", str(root / "world"), "--out", str(root / "stimuli"),
                 "--conditions", "RGB,J-6P,SP-8P-1LT", "--frames", "0")
    return root / "stimuli"


@contextmanager
def app_client(exp: Path, db_url: str) -> Iterator:
    """A TestClient of the experiment app on ``db_url`` (server errors come back as responses, as
    a browser sees them); the store is disposed afterwards."""
    from fastapi.testclient import TestClient

    from motionscope.experiment.app import build_app

    app = build_app(exp, db_url)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app.server.store.dispose()
