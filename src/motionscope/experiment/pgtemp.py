"""A throwaway PostgreSQL server on a loopback port, for the tests and the load benchmark.

Lab users rarely have a PostgreSQL server at hand, and tests must not touch one that exists, so
this starts a private cluster from the installed binaries (Debian's ``postgresql`` package puts
``initdb``/``pg_ctl`` under ``/usr/lib/postgresql/<version>/bin``) in a temporary folder, with
trust authentication on 127.0.0.1 only, and removes it on :meth:`TempPostgres.stop`.

PostgreSQL refuses to run as root; as root the binaries run as the ``postgres`` user through
``runuser`` and the folder is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_pg_bin", "unavailable_reason", "TempPostgres", "free_port"]


def find_pg_bin() -> Path | None:
    """The ``bin`` folder of the newest installed PostgreSQL (``$MOTIONSCOPE_PG_BIN`` first)."""
    env = os.environ.get("MOTIONSCOPE_PG_BIN")
    cands = [env] if env else []
    found = glob.glob("/usr/lib/postgresql/*/bin")

    def version(p: str) -> float:
        try:
            return float(Path(p).parent.name)
        except ValueError:
            return 0.0

    cands += sorted(found, key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        cands.append(str(Path(on_path).parent))
    for c in cands:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def _run_as() -> list[str]:
    """The command prefix that runs PostgreSQL's binaries as a non-root user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def unavailable_reason() -> str | None:
    """Why a temporary cluster cannot be started here, or None when it can."""
    if find_pg_bin() is None:
        return ("PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin "
                "or on PATH; Debian: apt-get install postgresql, as .ci/run does)")
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root and no runuser to start PostgreSQL as the postgres user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    """``with TempPostgres() as pg: pg.create_database("x") -> URL``; a private server that is
    stopped and deleted on exit. ``fast=True`` turns off fsync (tests); the benchmark keeps the
    durable defaults so its latencies mean what a real server gives."""

    user = "motionscope"

    def __init__(self, port: int | None = None, fast: bool = False,
                 max_connections: int = 300, timeout: float = 60.0):
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.bin = find_pg_bin()
        self.port = port or free_port()
        self.fast = fast
        self.max_connections = int(max_connections)
        self.timeout = float(timeout)
        self.dir: Path | None = None
        self.started = False

    # ------------------------------------------------------------------ helpers
    def _cmd(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [*_run_as(), str(self.bin / name), *args]
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=self.timeout)
        if check and res.returncode != 0:
            log = ""
            if self.dir is not None and (self.dir / "server.log").is_file():
                log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} failed ({res.returncode}): {res.stderr.strip()[-2000:]}"
                               f"{chr(10) + log if log else ''}")
        return res

    @property
    def data(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    # ------------------------------------------------------------------ life cycle
    def start(self) -> TempPostgres:
        """initdb into a new temporary folder and start the server; returns self."""
        self.dir = Path(tempfile.mkdtemp(prefix="motionscope-pg-"))
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        try:
            self._cmd("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
            opts = [f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                    f"-c unix_socket_directories={self.dir}",
                    f"-c max_connections={self.max_connections}", "-c shared_buffers=64MB"]
            if self.fast:
                opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
                      "-o", " ".join(opts), "-w", "-t", str(int(self.timeout)), "start")
            self.started = True
        except BaseException:
            self.stop()
            raise
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits and _ only")
        self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        if self.dir is None:
            return
        if self.started:
            self._cmd("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
