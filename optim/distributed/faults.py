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
from collections.abc import Iterator
from contextlib import contextmanager
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

    The thread sleeps while no collective is in flight, so it costs nothing between steps;
    entering and leaving :meth:`guard` is two lock round trips.
    """

    def __init__(self, abort: Any, rank: int, timeout: float) -> None:
        self.timeout = float(timeout)
        self._abort = abort
        self._rank = rank
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._what = ""
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="optim-mpi-watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Runs the body (one collective) under the deadline; ``what`` names it in the error."""
        with self._cond:
            self._deadline = time.monotonic() + self.timeout
            self._what = what
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._deadline = None

    def stop(self) -> None:
        """Ends the thread (used by ``shutdown``)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                message = (
                    f"optim.distributed: rank {self._rank}: {self._what} did not complete "
                    f"within {self.timeout:g} s; a peer rank has died, raised or stopped "
                    "calling collectives. Aborting the job (OPTIM_MPI_TIMEOUT or "
                    "init(timeout=...) sets the bound).\n"
                )
                _write_stderr(message)
                time.sleep(FLUSH_DELAY)
                self._abort(TIMEOUT_EXIT_CODE)
                return


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
