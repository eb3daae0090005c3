"""Training curves with matplotlib (optional: ``pip install "optim[examples]"``).

matplotlib is imported when a function here is called, never when optim is imported. The
figures are plain ``matplotlib.figure.Figure`` objects made without pyplot, so they need no
display and leave pyplot's global state alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_history"]


def _matplotlib_figure() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "optim.plotting needs matplotlib, which is not installed; install it with "
            '`pip install matplotlib` or `pip install "optim[examples]"`.'
        ) from exc
    return Figure


def plot_history(
    history: Any,
    path: str | os.PathLike | None = None,
    metrics: Sequence[str] | None = None,
) -> Any:
    """Plots loss and metric curves per epoch, training solid and validation dashed.

    One panel per quantity: ``loss`` first, then each metric; ``val_<name>`` goes into the
    panel of ``<name>``. A ``learning_rate`` entry (from ``ReduceLROnPlateau``) gets its own
    panel with a log scale.

    Args:
        history: a :class:`optim.training.History` (what ``optim.fit`` returns) or a dict of
            lists, such as ``history.history``.
        path: if given, the figure is saved there (the format follows the suffix: .png,
            .pdf, .svg...).
        metrics: the names to plot (without ``val_``); default: every name in the history.

    Returns:
        The ``matplotlib.figure.Figure``.

    Raises:
        ImportError: matplotlib is not installed.
        TypeError: ``history`` is neither a History nor a dict of lists.
        ValueError: an empty history, or a name in ``metrics`` that it does not hold.

    Example:
        >>> history = optim.fit(loss, x, y, optimizer=opt, epochs=20, validation_data=(xv, yv))
        >>> optim.plotting.plot_history(history, "curves.png")
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(
            f"`history` must be an optim.training.History or a dict of lists, got {history!r}."
        )
    if not logs or not any(len(v) for v in logs.values()):
        raise ValueError(f"`history` must hold at least one epoch of logs, got {dict(logs)!r}.")
    epochs = getattr(history, "epoch", None)
    names = list(dict.fromkeys(k.removeprefix("val_") for k in logs))
    if metrics is None:
        metrics = names
    else:
        if isinstance(metrics, str):
            metrics = [metrics]
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"`metrics` must be names in the history {names}, got {unknown}.")
    metrics = sorted(metrics, key=lambda m: (m != "loss", m == "learning_rate", names.index(m)))

    Figure = _matplotlib_figure()
    n = len(metrics)
    fig = Figure(figsize=(4.2 * n, 3.4), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, name in zip(axes, metrics):
        for key, style, label in ((name, "-", "train"), (f"val_{name}", "--", "validation")):
            values = logs.get(key)
            if not values:
                continue
            xs = [e + 1 for e in epochs] if epochs and len(epochs) == len(values) else None
            xs = xs or list(range(1, len(values) + 1))
            label = "learning rate" if name == "learning_rate" else label
            ax.plot(xs, values, style, marker="o" if len(values) < 30 else None, ms=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        if name == "learning_rate" or (name == "loss" and _positive(logs, name)):
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=120)
    return fig


def _positive(logs: Mapping[str, Any], name: str) -> bool:
    values = list(logs.get(name, [])) + list(logs.get(f"val_{name}", []))
    return bool(values) and all(v > 0 for v in values) and max(values) / min(values) > 20
