"""Integer argument checks shared by the trainer and the callbacks (one message template).

Real numbers and bools are checked by :mod:`optim.validation`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["check_positive_int", "check_nonnegative_int"]


def check_positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    """``value`` as an int > 0 (or None when ``allow_none``).

    Raises:
        TypeError: not an integer (bools are not).
        ValueError: <= 0. Messages name the argument ``name``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        extra = " or None" if allow_none else ""
        raise TypeError(f"`{name}` must be a positive integer{extra}, got {value!r}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def check_nonnegative_int(name: str, value: Any) -> int:
    """``value`` as an int >= 0.

    Raises:
        TypeError: not an integer (bools are not).
        ValueError: negative.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a non-negative integer, got {value!r}.")
    if value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer, got {value!r}.")
    return int(value)
