"""No hang, ever: a watchdog on every collective and an abort on any uncaught exception.

An MPI collective waits for every rank of the communicator. If one rank dies, raises or stops
calling, MPICH gives the others no error: they wait forever. Two mechanisms bound that wait:

- :class:`Watchdog`: one daemon thread per rank. Each collective of :mod:`optim.distributed`
  runs inside :meth:`Watchdog.guard`; a collective that has not completed after ``timeout``
  seconds makes the thread write the cause to stderr and call ``Abort`` on the world
  communicator, which ends every rank of the job (exit status :data:`TIMEOUT_EXIT_CODE`).
- :func:`install_excepthook`: an uncaught exception in any rank prints its traceback, then a
  line naming the rank, then aborts the world (exit status 1), instead of letting that rank
  block in ``MPI_Finalize`` while the others block in their collective.

A rank killed outright (SIGKILL, a segfault) is handled by the launcher: MPICH's hydra ends the
job when a rank exits abnormally.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_EXIT_CODE",
    "EXCEPTION_EXIT_CODE",
    "FLUSH_DELAY",
    "Watchdog",
    "install_excepthook",
    "resolve_timeout",
]

#: Seconds a collective may wait for its peers before the job is aborted
#: (overridden by ``init(timeout=...)`` or the ``OPTIM_MPI_TIMEOUT`` environment variable).
DEFAULT_TIMEOUT = 30.0
#: The exit status of every rank when the watchdog aborts the job.
TIMEOUT_EXIT_CODE = 70
#: The exit status of every rank when an uncaught exception aborts the job.
EXCEPTION_EXIT_CODE = 1
#: Seconds between writing the cause to stderr and aborting: the launcher forwards output
#: asynchronously and drops what is in flight when the job is torn down.
FLUSH_DELAY = 0.5


def resolve_timeout(timeout: Any) -> float | None:
    """The collective timeout in seconds: ``timeout``, else ``$OPTIM_MPI_TIMEOUT``, else 30.

    ``0`` (or ``"0"`` in the environment) turns the watchdog off (None).

    Raises:
        TypeError: ``timeout`` is not a real number.
        ValueError: a negative, NaN or infinite timeout, or an unreadable environment value.
    """
    what = "`timeout`"
    if timeout is None:
        text = os.environ.get("OPTIM_MPI_TIMEOUT")
        if text is None:
            return DEFAULT_TIMEOUT
        what = "`OPTIM_MPI_TIMEOUT`"
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(f"{what} must be a number of seconds, got {text!r}.") from None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {timeout!r}.")
    timeout = float(timeout)
    if not (timeout >= 0 and timeout != float("inf")):
        raise ValueError(f"{what} must be a finite number of seconds >= 0, got {timeout!r}.")
    return timeout or None


class Watchdog:
    """Aborts the job when a guarded collective waits longer than ``timeout`` seconds.

    Args:
        abort: ``abort(code)``, called from the watchdog thread (``COMM_WORLD.Abort``).
        rank: this process's rank, for the message.
        timeout: seconds, > 0.

    Entering :meth:`guard` records the time and the collective's name, leaving it clears
    them: two attribute writes, no lock and no wake-up of the thread, so a guard costs well
    under a microsecond. The thread looks every ``min(1, timeout / 10)`` seconds, so the job
    ends at most that much after the bound.
    """

    def __init__(self, abort: Any, rank: int, timeout: float) -> None:
        self.timeout = float(timeout)
        self.interval = min(1.0, self.timeout / 10)
        self._abort = abort
        self._rank = rank
        self._started: float | None = None
        self._what = ""
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="optim-mpi-watchdog", daemon=True)
        self._thread.start()

    def guard(self, what: str) -> _Guard:
        """A context manager that runs its body (one collective) under the deadline; ``what``
        names it in the error."""
        return _Guard(self, what)

    def stop(self) -> None:
        """Ends the thread (used by ``shutdown``)."""
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            started, what = self._started, self._what
            if started is None or time.monotonic() - started <= self.timeout:
                continue
            message = (
                f"optim.distributed: rank {self._rank}: {what} did not complete within "
                f"{self.timeout:g} s; a peer rank has died, raised or stopped calling "
                "collectives. Aborting the job (OPTIM_MPI_TIMEOUT or init(timeout=...) sets "
                "the bound).\n"
            )
            _write_stderr(message)
            time.sleep(FLUSH_DELAY)
            self._abort(TIMEOUT_EXIT_CODE)
            return


class _Guard:
    __slots__ = ("watchdog", "what")

    def __init__(self, watchdog: Watchdog, what: str) -> None:
        self.watchdog, self.what = watchdog, what

    def __enter__(self) -> None:
        watchdog = self.watchdog
        watchdog._what = self.what
        watchdog._started = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        self.watchdog._started = None


def _write_stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:  # pragma: no cover - stderr closed
        os.write(2, text.encode())


def install_excepthook(abort: Any, rank: int, size: int) -> Any:
    """Makes an uncaught exception abort every rank; returns the previous ``sys.excepthook``.

    The hook prints the traceback as usual, then
    ``optim.distributed: rank R raised <Type>: ...; aborting all N ranks``, then calls
    ``abort(1)``.
    """
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        try:
            traceback.print_exception(kind, value, tb)
            _write_stderr(
                f"optim.distributed: rank {rank} raised {kind.__name__}: {value}; "
                f"aborting all {size} ranks.\n"
            )
            time.sleep(FLUSH_DELAY)
        finally:
            abort(EXCEPTION_EXIT_CODE)

    sys.excepthook = hook
    return previous
