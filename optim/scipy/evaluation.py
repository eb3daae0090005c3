"""Evaluating the user's functions: the scalar check, the explained autodiff trace, gradients.

Shared by the first-order loop, the scipy bridge and the TF contrib interface, so that a
``fun`` returning a vector, or an autograd failure, reads the same through every door.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np

from ..backend import get_backend
from ..gradients import explain_trace_error

__all__ = ["scalar_output", "short_repr", "trace_explained", "zeros_for_none"]


def scalar_output(out: Any, what: str = "fun") -> Any:
    """Checks that ``fun`` returned one real (or, for complex steps, complex) number.

    Args:
        out: what the user's function returned (a number, an array or an autograd tracer).
        what: the function named in error messages (``"fun"``, ``"loss"``...).

    Returns:
        ``out``, a size-1 array reshaped to a 0-d one (traceably).

    Raises:
        TypeError: not a number, or of a non-numeric dtype.
        ValueError: an array of more than one element.
    """
    shape = getattr(out, "shape", None)
    if shape is None:
        if isinstance(out, numbers.Number) and not isinstance(out, bool):
            return out
        raise TypeError(f"`{what}` must return a real scalar, got {short_repr(out)}.")
    dtype = getattr(out, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind not in "iufc":
        raise TypeError(f"`{what}` must return a real scalar, got {short_repr(out)}.")
    if shape == ():
        return out
    size = int(np.prod(shape))
    if size == 1:
        return anp.reshape(out, ())
    raise ValueError(
        f"`{what}` must return a scalar, got {short_repr(out)} of shape {tuple(shape)}; reduce it "
        "(np.sum, np.mean)."
    )


def short_repr(x: Any) -> str:
    """``repr(x)`` cut to about 160 characters, for error messages."""
    text = repr(x)
    return text if len(text) <= 160 else text[:160] + "...)"


def trace_explained(fun: Callable, args: Sequence[Any]):
    """``get_backend().trace(fun, args)`` with autograd's failures explained.

    Raises:
        The explanation of :func:`optim.gradients.explain_trace_error` (chained to the original
        error) when it has one, else the original error.
    """
    try:
        return get_backend().trace(fun, args)
    except Exception as exc:
        explained = explain_trace_error(exc)
        if explained is None:
            raise
        raise explained from exc


def zeros_for_none(grads: Sequence[Any], leaves: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The gradients as arrays, each None (no path from the output) a zero array of its leaf."""
    return [
        np.zeros(leaf.shape, leaf.dtype) if g is None else np.asarray(g)
        for g, leaf in zip(grads, leaves)
    ]
