"""How long commands stop when a scheduler stops them: by signalling the whole process group.

Slurm, Kubernetes and ``timeout`` send SIGTERM to every process of the job at once (Ctrl-C sends
SIGINT to the whole foreground group). Left to the default action, DataLoader workers die first
and the main process dies of their death ("DataLoader worker ... killed by signal"), with
nothing saved. So:

* DataLoader workers ignore SIGINT and SIGTERM (:func:`dataloader_worker_init`); the main
  process shuts them down itself when it stops;
* writer-pool workers (world, stimuli, prepare) ignore SIGINT, and a SIGTERM ends them, which a
  pool survives: the main process stops the pool and keeps what finished (every output is
  written atomically and skipped when the command is run again);
* the main process of every command turns SIGTERM into the ``KeyboardInterrupt`` of Ctrl-C
  (:func:`stop_signals_interrupt`, installed by ``cli.main``): the CLI prints one line and exits
  130; ``train`` handles both itself: it finishes the step, saves a checkpoint and exits 130.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["STOP_SIGNALS", "ignore_stop_signals", "ignore_interrupt", "dataloader_worker_init",
           "stop_signals_interrupt"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def ignore_stop_signals() -> None:
    """In a worker: leave SIGINT and SIGTERM to the main process."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def ignore_interrupt() -> None:
    """In a pool worker: leave Ctrl-C to the main process (SIGTERM still ends the worker, which
    is how ``Pool.terminate`` stops it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def dataloader_worker_init(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's signature
    """``worker_init_fn`` of every DataLoader: see the module docstring."""
    ignore_stop_signals()


def _raise_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """In the main process of a command: SIGTERM raises ``KeyboardInterrupt`` as SIGINT does;
    the previous handler is restored on exit (the CLI may run inside another program)."""
    try:
        old = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: leave the embedding application's handler alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
