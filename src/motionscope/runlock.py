"""One process per run directory: an exclusive ``flock`` on ``<run_dir>/.lock`` (no torch).

The kernel releases the lock on any exit of the holder, SIGKILL included, so a lock can never
outlive its process. The file names its holder (pid, host, command line) so that a second
process can say who has the directory; a clean release empties it, so a file that still names a
holder while the lock is free was left by a process that died: it is taken over and said so.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from pathlib import Path

from .errors import MotionscopeError

LOCK_NAME = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(text: str) -> str:
    """``pid N on HOST: CMD`` from a lock file's content (its raw text when unreadable)."""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if "pid" not in fields:
        return text.strip() or "an unknown process"
    return f"pid {fields['pid']} on {fields.get('host', '?')} ({fields.get('cmd', '?')})"


class RunLock:
    """``with RunLock(run_dir):`` holds ``run_dir`` for this process, or raises at once.

    :class:`MotionscopeError` names the holder when another process has the directory.
    ``stale`` is the description of a dead holder whose lock was taken over (None otherwise).
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.fd: int | None = None
        self.stale: str | None = None

    def acquire(self) -> RunLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            os.close(fd)
            raise MotionscopeError(f"{self.run_dir} is in use by {holder}: one run per run "
                                   "directory; wait for it, or choose another --run-dir") from None
        old = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        if old.strip():
            fields = dict(line.split("=", 1) for line in old.splitlines() if "=" in line)
            pid = fields.get("pid", "?")
            dead = (fields.get("host") == socket.gethostname() and pid.isdigit()
                    and not _alive(int(pid)))
            self.stale = f"pid {pid}" + (" (dead)" if dead else " (no longer holding it)")
            print(f"{self.run_dir}: taking over the stale lock of {self.stale}", file=sys.stderr)
        info = (f"pid={os.getpid()}\nhost={socket.gethostname()}\n"
                f"cmd={' '.join(sys.argv)[:1000]}\n")
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode("utf-8"), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:  # an empty file: released cleanly (a file naming a holder whose lock is free: stale)
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        os.close(self.fd)  # closing the descriptor releases the flock
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


__all__ = ["RunLock", "LOCK_NAME"]
