"""Ctrl-C during ``fit``: a step is never cut in half."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["WholeSteps"]


class WholeSteps:
    """Delays a Ctrl-C that arrives inside a step until the step is done.

    Installed for a whole ``fit`` (only in the main thread, and only when SIGINT has Python's
    default handler: a handler of the caller's is left alone). Inside a step, the first
    Ctrl-C is held and raised as ``KeyboardInterrupt`` once the step is complete; a second one
    raises at once. Between steps, Ctrl-C raises at once, as usual.
    """

    def __init__(self) -> None:
        self.in_step = False
        self.pending = False
        self.installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.in_step and not self.pending:
            self.pending = True
            return
        raise KeyboardInterrupt

    def __enter__(self) -> WholeSteps:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handler)
            self.installed = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.installed = False

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """The context of one step: a first Ctrl-C inside it is raised when it ends."""
        self.in_step, self.pending = True, False
        try:
            yield
        finally:
            self.in_step = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
