"""The monitored log value of EarlyStopping, ReduceLROnPlateau and ModelCheckpoint.

Its name is checked, its direction (``"min"`` or ``"max"``) resolved from ``mode``, and an epoch
whose logs lack it is warned about and skipped.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["check_monitor", "monitor_mode", "warn_missing_monitor"]


def monitor_mode(monitor: str, mode: str) -> str:
    """``"min"`` or ``"max"``: ``mode`` itself, or for ``"auto"`` ``"max"`` when the monitor's
    name (without ``val_``) holds ``acc``, ``auc``, ``precision``, ``recall`` or ``f1``.

    Raises:
        ValueError: ``mode`` not one of ``"auto"``, ``"min"``, ``"max"``.
    """
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be one of ('auto', 'min', 'max'), got {mode!r}.")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    return "max" if any(s in name for s in ("acc", "auc", "precision", "recall", "f1")) else "min"


def check_monitor(monitor: Any) -> str:
    """``monitor`` itself, checked to be a non-empty string (else ``TypeError``)."""
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(f"`monitor` must be a non-empty string, got {monitor!r}.")
    return monitor


def warn_missing_monitor(owner: str, monitor: str, logs: dict[str, Any]) -> None:
    """Warns (``UserWarning``) that ``owner``'s ``monitor`` is not in this epoch's ``logs``.

    Called from a callback's hook: the warning points at the trainer's hook call.
    """
    warnings.warn(
        f"{owner} monitors {monitor!r}, which is not in the logs {sorted(logs)}; it is ignored "
        "for this epoch.",
        UserWarning,
        stacklevel=3,
    )
