"""Train and eval modes: optimizers whose variables hold another point while they train.

Most optimizers train and evaluate the same weights. A few do not: Schedule-Free's variables hold
the training point ``y`` while it trains and its average ``x`` (the point to evaluate, average
and ship) after ``eval()``. Such an optimizer *has modes*: it has ``train()`` and ``eval()``
methods and a boolean ``training`` property (``WrapperOptimizer`` forwards them from the
optimizer it wraps).

The helpers below are how :func:`optim.fit`, :func:`optim.checkpoint.save_checkpoint`, the
``MovingAverage`` callback and :func:`optim.minimize` switch modes without knowing which
optimizer they hold. For an optimizer without modes they do nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["has_modes", "set_training", "evaluation_mode"]


def has_modes(optimizer: Any) -> bool:
    """True when ``optimizer`` has ``train()``, ``eval()`` and a boolean ``training``.

    Args:
        optimizer: any object (None included).
    """
    return (
        isinstance(getattr(optimizer, "training", None), bool)
        and callable(getattr(optimizer, "train", None))
        and callable(getattr(optimizer, "eval", None))
    )


def set_training(optimizer: Any, training: bool) -> None:
    """Calls ``optimizer.train()`` (``training`` True) or ``optimizer.eval()`` if it has modes
    and is not in that mode already; does nothing otherwise.

    Args:
        optimizer: any object.
        training: the mode wanted.
    """
    if has_modes(optimizer) and optimizer.training != bool(training):
        if training:
            optimizer.train()
        else:
            optimizer.eval()


@contextlib.contextmanager
def evaluation_mode(optimizer: Any) -> Iterator[None]:
    """Runs the block in eval mode, then puts back the mode found (even if the block raised).

    The variables hold the evaluation point inside the block. A Schedule-Free optimizer back
    in train mode restores its training point bit for bit when the block left the variables
    as it found them. Does nothing for an optimizer without modes.

    Args:
        optimizer: any object.

    Example:
        >>> with optim.modes.evaluation_mode(opt):
        ...     val_loss = loss(x_val, y_val)
    """
    training = optimizer.training if has_modes(optimizer) else None
    set_training(optimizer, False)
    try:
        yield
    finally:
        if training:
            set_training(optimizer, True)
