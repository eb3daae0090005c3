"""Evaluating the user's functions: the scalar check, the explained autodiff trace, gradients.

Shared by the first-order loop, the scipy bridge and the TF contrib interface, so that a
``fun`` returning a vector, or an autograd failure, reads the same through every door.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np

from ..backend import get_backend
from ..gradients import explain_trace_error

__all__ = [
    "SCIPY_HINT",
    "NON_SCALAR_MESSAGE",
    "explained_failures",
    "is_trace_failure",
    "scalar_output",
    "short_repr",
    "trace_explained",
    "zeros_for_none",
]

#: The way around a trace failure, in the scipy world's keywords.
SCIPY_HINT = (
    "To go on, pass your own gradient (jac=callable, or jac=True with fun returning (value, "
    "gradient)) or ask for finite differences (jac='2-point', '3-point' or 'cs')."
)

#: scipy's own words for an objective that returns more than one number (users match on them).
NON_SCALAR_MESSAGE = "The user-provided objective function must return a scalar value."


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
    shown_dtype = np.dtype(dtype) if dtype is not None else "unknown"
    prefix = f"{NON_SCALAR_MESSAGE} " if what == "fun" else ""  # scipy's words for its `fun`
    raise ValueError(
        f"{prefix}`{what}` must return a scalar, got an array of shape {tuple(shape)} and dtype "
        f"{shown_dtype}; reduce it (np.sum, np.mean)."
    )


def short_repr(x: Any) -> str:
    """``repr(x)`` cut to about 160 characters, for error messages."""
    text = repr(x)
    return text if len(text) <= 160 else text[:160] + "...)"


def is_trace_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says that autodiff could not follow the function (not a user error).

    True for the failures :func:`optim.gradients.explain_trace_error` knows and for any other
    error that names autograd's tracer (``ArrayBox``), the sign that plain Python or numpy code
    met a traced value: the same function runs fine on arrays.
    """
    return explain_trace_error(exc) is not None or "ArrayBox" in str(exc)


def trace_explained(fun: Callable, args: Sequence[Any], hint: str = SCIPY_HINT):
    """``get_backend().trace(fun, args)`` with autograd's failures explained.

    Args:
        fun: the function to trace.
        args: its positional arguments, each traced.
        hint: the way around a failure, named in the explanation (scipy's ``jac=`` by default).

    Raises:
        The explanation of :func:`optim.gradients.explain_trace_error` (chained to the original
        error) when it has one, else the original error.
    """
    with explained_failures(hint):
        return get_backend().trace(fun, args)


@contextlib.contextmanager
def explained_failures(hint: str = SCIPY_HINT) -> Iterator[None]:
    """Re-raises autograd's failures inside the block explained (see :func:`trace_explained`)."""
    try:
        yield
    except Exception as exc:
        explained = explain_trace_error(exc, hint)
        if explained is None:
            raise
        raise explained from exc


def zeros_for_none(grads: Sequence[Any], leaves: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The gradients as arrays, each None (no path from the output) a zero array of its leaf."""
    return [
        np.zeros(leaf.shape, leaf.dtype) if g is None else np.asarray(g)
        for g, leaf in zip(grads, leaves)
    ]
