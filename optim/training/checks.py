"""Argument checks shared by the trainer and the callbacks (one message template)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["check_positive_int", "check_nonnegative_int", "check_real"]


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


def check_real(name: str, value: Any, low: float | None = None, high: float | None = None):
    """``value`` as a finite float in ``[low, high)`` (either bound None: unbounded).

    Raises:
        TypeError: not a real number (bools are not).
        ValueError: not finite, below ``low`` or not below ``high``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or (low is not None and value < low):
        raise ValueError(f"`{name}` must be a finite number >= {low}, got {value!r}.")
    if high is not None and value >= high:
        raise ValueError(f"`{name}` must be < {high}, got {value!r}.")
    return value


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
