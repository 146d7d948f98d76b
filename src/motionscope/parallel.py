"""Worker pools for the data writers (world generation, stimuli, dataset preparation).

The workers are the parallelism, so each runs one OpenCV/BLAS thread. They are forked where
that is safe, which makes start-up free: a spawned worker first re-imports numpy, PyAV and
OpenCV (~0.5 s of CPU each), longer than a few hundred stimulus clips take to render. Fork is
safe on Linux as long as this process has not loaded OpenCV yet: a forked child that
reconfigures the parent's OpenCV thread pool hangs (``cv2.setNumThreads`` waits for threads
that were not copied). Otherwise the workers are spawned.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Iterator

from .signals import blocked_stop_signals, pool_worker_signals

__all__ = ["start_method", "worker_init", "imap_jobs", "zip_sizes", "THREAD_ENV"]

# set before a worker imports numpy or OpenCV, so that they start one thread
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "OPENCV_FOR_THREADS_NUM")


def start_method() -> str:
    """``fork`` on Linux while OpenCV is not loaded in this process, else ``spawn``."""
    if sys.platform.startswith("linux") and "cv2" not in sys.modules:
        return "fork"
    return "spawn"


def worker_init() -> None:
    """One thread per worker for OpenCV and the BLAS libraries (OpenCV is not imported for
    it: a stimulus worker that never needs it saves ~0.1 s); stop signals are the main
    process's to handle (``motionscope.signals``)."""
    pool_worker_signals()
    for var in THREAD_ENV:
        os.environ[var] = "1"
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        cv2.setNumThreads(1)


def imap_jobs(fn: Callable, jobs: list, workers: int, *, ordered: bool = True,
              chunksize: int | None = None) -> Iterator:
    """``fn(job)`` for every job on ``workers`` processes (in this one when ``workers <= 1``:
    no pickling, easier to debug), in job order unless ``ordered=False``."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    if chunksize is None:  # a few chunks per worker and round: cheap IPC, even load
        chunksize = max(1, min(16, len(jobs) // (workers * 8)))
    ctx = mp.get_context(start_method())
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    try:
        for k in THREAD_ENV:
            os.environ.setdefault(k, "1")
        with blocked_stop_signals():  # workers (and the pool's threads) start with them held
            pool = ctx.Pool(min(workers, len(jobs)), initializer=worker_init)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with pool:
        run = pool.imap if ordered else pool.imap_unordered
        yield from run(fn, jobs, chunksize=chunksize)


def zip_sizes(results: Iterable, sizes: Iterable[int], bar) -> Iterator:
    """Advance ``bar`` by each job's size as its result arrives."""
    for r, n in zip(results, sizes):
        if bar is not None:
            bar.update(n)
        yield r
