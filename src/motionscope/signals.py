"""How long commands stop when a scheduler stops them: by signalling the whole process group.

Slurm, Kubernetes and ``timeout`` send SIGTERM to every process of the job at once (Ctrl-C sends
SIGINT to the whole foreground group). Left to the default action, DataLoader workers die first
and the main process dies of their death ("DataLoader worker ... killed by signal"), with
nothing saved. So:

* DataLoader workers ignore SIGINT and the first SIGTERM (the group's), so the main process
  shuts them down itself when it stops (a second SIGTERM, ``Process.terminate`` of a worker
  that did not stop, still ends them); they are started with the stop signals blocked
  (:func:`iter_with_workers`), so none can arrive before a worker has set this up;
* writer-pool workers (world, stimuli, prepare) ignore SIGINT, and a SIGTERM ends them quietly,
  which a pool survives: the main process stops the pool and keeps what finished (every output
  is written atomically and skipped when the command is run again); they too are forked with
  the stop signals blocked;
* the main process of every command turns SIGTERM into the ``KeyboardInterrupt`` of Ctrl-C
  (:func:`stop_signals_interrupt`, installed by ``cli.main``): the CLI prints one line and exits
  130; ``train`` handles both itself: it finishes the step, saves a checkpoint and exits 130.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = ["STOP_SIGNALS", "pool_worker_signals", "blocked_stop_signals",
           "dataloader_worker_init",
           "iter_with_workers", "stop_signals_interrupt"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def pool_worker_signals() -> None:
    """In a pool worker: leave Ctrl-C to the main process; SIGTERM ends the worker quietly (the
    default action; a forked worker would otherwise inherit the CLI's handler and print a
    traceback), which is also how ``Pool.terminate`` stops it. Unblocks what
    :func:`blocked_stop_signals` blocked while the pool was forked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


@contextmanager
def blocked_stop_signals() -> Iterator[None]:
    """SIGINT/SIGTERM held back in this thread (processes forked meanwhile inherit the mask, and
    threads started meanwhile keep it); a signal that arrived is delivered on exit."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _ignore_first_term(signum, frame):  # noqa: ARG001
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the next one (terminate()) ends the worker


def dataloader_worker_init(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's signature
    """``worker_init_fn`` of every DataLoader: see the module docstring."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _ignore_first_term)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by iter_with_workers


def iter_with_workers(loader: Iterable) -> Iterator:
    """``iter(loader)`` with SIGINT/SIGTERM blocked while its workers are forked (they inherit
    the mask and unblock once their handlers are set); the main process gets a pending signal
    as soon as the workers are up."""
    with blocked_stop_signals():
        return iter(loader)


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
