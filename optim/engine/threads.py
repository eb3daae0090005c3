"""Threads for the numpy kernels: disjoint chunks of a buffer, side by side.

numpy's ufuncs release the GIL while they loop, so the blocked numpy kernels
(:mod:`optim.engine.numpy_kernels`) run their blocks in threads, one contiguous chunk of blocks
per thread. Every block is computed elementwise from the same elements of its inputs, so the
result is the same to the bit as one thread going through every block; the threads only share
the step's memory traffic between cores (one thread alone cannot use the machine's bandwidth).

The pool is created on first use and reused; its size is the number of cores this process may
run on (``os.sched_getaffinity``), or ``OPTIM_NUM_THREADS`` when set (1 turns threading off).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["THREADS_ENV_VAR", "chunk_bounds", "run_chunks", "thread_count"]

THREADS_ENV_VAR = "OPTIM_NUM_THREADS"
"""The environment variable that caps the threads of the numpy path (default: the cores)."""

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid = 0
_lock = threading.Lock()


def thread_count() -> int:
    """The threads a chunked call uses: ``OPTIM_NUM_THREADS`` if set, else the usable cores.

    Raises:
        ValueError: ``OPTIM_NUM_THREADS`` is not a positive integer.
    """
    text = os.environ.get(THREADS_ENV_VAR, "").strip()
    if text:
        try:
            count = int(text)
        except ValueError:
            count = 0
        if count < 1:
            raise ValueError(f"${THREADS_ENV_VAR} must be a positive integer, got {text!r}.")
        return count
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def chunk_bounds(size: int, chunks: int, align: int) -> list[tuple[int, int]]:
    """``chunks`` contiguous ``(start, stop)`` ranges covering ``range(size)``, as even as
    possible with every inner boundary a multiple of ``align`` (empty ranges dropped)."""
    if size <= 0:
        return [(0, 0)]
    step = -(-size // chunks)
    step = -(-step // align) * align
    return [(a, min(a + step, size)) for a in range(0, size, step)]


def _executor(workers: int) -> ThreadPoolExecutor:
    """The shared pool, with at least ``workers`` threads; a new one in a forked child (whose
    copy of the parent's pool has no threads behind it)."""
    global _pool, _pool_size, _pool_pid
    with _lock:
        if _pool is None or _pool_size < workers or _pool_pid != os.getpid():
            if _pool is not None and _pool_pid == os.getpid():
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="optim-kernel")
            _pool_size, _pool_pid = workers, os.getpid()
        return _pool


def _under(settings: dict[str, str], call: Callable[[int, int], None], a: int, b: int) -> None:
    with np.errstate(**settings):
        call(a, b)


def run_chunks(call: Callable[[int, int], None], size: int, threads: int, align: int) -> None:
    """``call(start, stop)`` for each chunk of ``chunk_bounds(size, threads, align)``, side
    by side: the calling thread takes the first chunk, the pool the others, each under the
    caller's numpy floating-point error settings (``np.geterr()``, which threads do not
    inherit).

    An exception in any chunk is raised once every chunk has finished (the first one raised,
    in chunk order).
    """
    bounds = chunk_bounds(size, max(1, threads), align)
    if len(bounds) == 1:
        call(*bounds[0])
        return
    pool = _executor(len(bounds) - 1)
    settings = np.geterr()
    futures = [pool.submit(_under, settings, call, a, b) for a, b in bounds[1:]]
    error = None
    try:
        call(*bounds[0])
    except BaseException as exc:  # noqa: BLE001 - re-raised below, after the other chunks
        error = exc
    for future in futures:
        try:
            future.result()
        except BaseException as exc:  # noqa: BLE001
            error = error or exc
    if error is not None:
        raise error
