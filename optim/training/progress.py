"""The progress output of ``fit``: a tqdm bar per epoch, or one line per epoch."""

from __future__ import annotations

import sys
from typing import Any

from .callbacks import Callback

__all__ = ["Progress"]


def _format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


class Progress(Callback):
    """A tqdm bar per epoch (step, loss, metrics), or one line per epoch (``verbose=2``).

    Output goes to stdout. ``verbose="auto"`` shows it only when stdout is a terminal (tqdm's
    ``disable=None``); without tqdm (the ``examples`` extra) the bar falls back to lines.
    """

    def __init__(self, verbose: Any, epochs: int | None) -> None:
        self.epochs = epochs
        self.bar: Any = None
        self.lines = verbose == 2
        self.visible = verbose != "auto" or _isatty(sys.stdout)
        if not self.lines:
            try:
                import tqdm  # noqa: F401
            except ImportError:
                self.lines = True

    def _label(self, epoch: int) -> str:
        total = f"/{self.epochs}" if self.epochs is not None else ""
        return f"epoch {epoch + 1}{total}"

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.lines or not self.visible:
            return
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(
            total=self.trainer.steps_per_epoch,
            initial=self.trainer.batch,
            desc=self._label(epoch),
            unit="step",
            file=sys.stdout,
            dynamic_ncols=True,
        )

    def on_train_batch_end(self, step: int, logs: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix({"step": step + 1, **(logs or {})}, refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix({"step": self.trainer.step, **(logs or {})}, refresh=True)
            self.close()
        elif self.lines and self.visible:
            line = f"{self._label(epoch)} - step {self.trainer.step} - {_format_logs(logs or {})}"
            print(line, flush=True)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self.close()
        if self.trainer.stop_reason and self.visible:
            print(self.trainer.stop_reason, flush=True)

    def close(self) -> None:
        """Closes the current epoch's bar, if one is open."""
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.close()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
