"""Set-up of :mod:`optim.distributed`: ``init``, ``shutdown`` and the rank and size queries.

mpi4py is imported here, lazily, by :func:`init` (importing mpi4py initialises MPI). Without
mpi4py, :func:`init` raises ImportError saying which extra to install. Without a launcher
(plain ``python script.py``) MPI starts as a singleton: ``size() == 1``, and everything works.
"""

from __future__ import annotations

import atexit
import sys
from dataclasses import dataclass
from typing import Any

from .faults import Watchdog, install_excepthook, resolve_timeout

__all__ = [
    "init",
    "shutdown",
    "is_initialized",
    "size",
    "rank",
    "local_size",
    "local_rank",
    "cross_size",
    "cross_rank",
    "mpi_threads_supported",
    "mpi",
    "context",
    "guard",
    "Context",
]

_NOT_INITIALIZED = "optim.distributed has not been initialized; use hvd.init()."
_MPI: Any = None  # the mpi4py.MPI module, once imported


def mpi() -> Any:
    """The ``mpi4py.MPI`` module, imported on first use.

    Raises:
        ImportError: mpi4py is not installed (the message names the ``mpi`` extra).
    """
    global _MPI
    if _MPI is not None:
        return _MPI
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "optim.distributed needs mpi4py and an MPI library: "
            'pip install "optim[mpi]" (mpi4py with the mpich wheel).'
        ) from exc
    _MPI = MPI
    return MPI


@dataclass
class Context:
    """What :func:`init` set up: the communicators, this rank's place, the fault handling.

    Attributes:
        comm: the duplicated communicator every collective runs on.
        local_comm: the ranks of ``comm`` on this host.
        cross_comm: the ranks with this one's ``local_rank``, one per host.
        rank, size, local_rank, local_size, cross_rank, cross_size: the positions.
        watchdog: the :class:`~optim.distributed.faults.Watchdog`, or None when disabled.
        timeout: its bound in seconds, or None.
    """

    comm: Any
    local_comm: Any
    cross_comm: Any
    rank: int
    size: int
    local_rank: int
    local_size: int
    cross_rank: int
    cross_size: int
    watchdog: Watchdog | None
    timeout: float | None
    previous_excepthook: Any


_context: Context | None = None


def init(comm: Any = None, *, timeout: float | None = None) -> None:
    """Initialises :mod:`optim.distributed` on ``comm`` (default: every rank of the job).

    Args:
        comm: an mpi4py communicator (it is duplicated, so the library's messages never mix
            with the caller's), or None for ``MPI.COMM_WORLD``.
        timeout: seconds a collective may wait for its peers before the whole job is aborted
            with the cause on stderr (default ``$OPTIM_MPI_TIMEOUT``, else 30; 0 disables it).
            Every collective of this package is guarded; so is the barrier at interpreter
            exit. Choose it above the longest time one rank may legitimately run ahead of the
            others (rank 0 writing a checkpoint while the others wait in the next Allreduce).

    Besides, an uncaught exception in any rank then aborts every rank (exit status 1) after
    printing its traceback, instead of leaving the others waiting in a collective. Calling
    ``init`` again while initialised does nothing (as Horovod).

    Raises:
        ImportError: mpi4py is missing (install the ``mpi`` extra).
        TypeError: ``comm`` is not an mpi4py communicator; ``timeout`` not a number.
        ValueError: a negative or infinite ``timeout``.
    """
    global _context
    if _context is not None:
        return
    bound = resolve_timeout(timeout)
    MPI = mpi()
    if comm is None:
        comm = MPI.COMM_WORLD
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"`comm` must be an mpi4py intracommunicator, got {comm!r}.")
    comm = comm.Dup()
    rank_, size_ = comm.Get_rank(), comm.Get_size()
    local_comm = comm.Split_type(MPI.COMM_TYPE_SHARED, key=rank_)
    local_rank_ = local_comm.Get_rank()
    cross_comm = comm.Split(local_rank_, key=rank_)
    world = MPI.COMM_WORLD
    watchdog = None if bound is None else Watchdog(world.Abort, rank_, bound)
    previous = install_excepthook(world.Abort, rank_, size_)
    _context = Context(
        comm=comm,
        local_comm=local_comm,
        cross_comm=cross_comm,
        rank=rank_,
        size=size_,
        local_rank=local_rank_,
        local_size=local_comm.Get_size(),
        cross_rank=cross_comm.Get_rank(),
        cross_size=cross_comm.Get_size(),
        watchdog=watchdog,
        timeout=bound,
        previous_excepthook=previous,
    )
    # After mpi4py's import, so that it runs before mpi4py's MPI_Finalize (last in, first out).
    atexit.unregister(shutdown)
    atexit.register(shutdown)


def shutdown() -> None:
    """Waits for every rank (a guarded barrier), then releases what :func:`init` set up.

    Registered to run at interpreter exit too, so a rank that leaves early (``sys.exit``)
    while the others are still in a collective ends the job within the timeout instead of
    hanging in ``MPI_Finalize``. Does nothing when not initialised.
    """
    global _context
    ctx = _context
    if ctx is None:
        return
    try:
        with guard("the barrier of shutdown()"):
            ctx.comm.Barrier()
    finally:
        _context = None
        if ctx.watchdog is not None:
            ctx.watchdog.stop()
        sys.excepthook = ctx.previous_excepthook
        for c in (ctx.cross_comm, ctx.local_comm, ctx.comm):
            c.Free()


def context() -> Context:
    """The :class:`Context` of :func:`init`.

    Raises:
        ValueError: not initialised.
    """
    if _context is None:
        raise ValueError(_NOT_INITIALIZED)
    return _context


class _NoGuard:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def guard(what: str) -> Any:
    """A context manager that bounds one collective by the watchdog (a no-op without it)."""
    ctx = context()
    return _NoGuard() if ctx.watchdog is None else ctx.watchdog.guard(what)


def is_initialized() -> bool:
    """Whether :func:`init` has run (and :func:`shutdown` not since)."""
    return _context is not None


def size() -> int:
    """The number of ranks."""
    return context().size


def rank() -> int:
    """This process's rank, 0 to ``size() - 1``."""
    return context().rank


def local_size() -> int:
    """The number of ranks on this host."""
    return context().local_size


def local_rank() -> int:
    """This process's rank among the ranks on its host."""
    return context().local_rank


def cross_size() -> int:
    """The number of hosts holding a rank of this ``local_rank``."""
    return context().cross_size


def cross_rank() -> int:
    """This host's index among the hosts (for this ``local_rank``)."""
    return context().cross_rank


def mpi_threads_supported() -> bool:
    """Whether MPI runs with ``MPI_THREAD_MULTIPLE`` (the watchdog thread relies on it)."""
    MPI = mpi()
    return MPI.Query_thread() == MPI.THREAD_MULTIPLE
