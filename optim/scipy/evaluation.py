"""Evaluating the user's functions: the scalar check, the leaf function, gradients as arrays.

Shared by the first-order loop, the scipy bridge and the TF contrib interface, so that a
``fun`` returning a vector, or an autodiff failure, reads the same through every door. The
gradients themselves come from the one path of both worlds,
:func:`optim.gradients.value_and_gradients`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend import get_backend
from ..pytree import TreeDef

__all__ = [
    "SCIPY_HINT",
    "NON_SCALAR_MESSAGE",
    "LeafFunction",
    "FlatFunction",
    "scalar_output",
    "short_repr",
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
        return get_backend().numpy.reshape(out, ())
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


def _function_key(fun: Callable, *layout: Any) -> tuple:
    """What identifies ``fun`` on ``layout`` for a compiling backend: ``(fun, *layout)``, or for
    an unhashable callable a key of its own, never shared."""
    key = (fun, *layout)
    try:
        hash(key)
    except TypeError:
        return (object(), *layout)
    return key


class LeafFunction:
    """``fun(x, *args)`` as a function of ``x``'s leaves: ``leaves, *args -> scalar``.

    What the scipy world hands to :func:`optim.gradients.value_and_gradients`: the leaves are
    the arguments to differentiate, ``args`` the constants, and the output passes
    :func:`scalar_output`. Pure as long as ``fun`` is, so :attr:`key` (the function, the
    layout and the name) identifies it for a compiling backend: one compilation serves every
    call with the same ``fun`` and ``x0`` layout.

    Args:
        fun: the user's function.
        treedef: the layout of ``x``.
        what: the function named in error messages; ``None`` for a function whose output is
            passed on unchecked (a constraint's values).
    """

    __slots__ = ("fun", "treedef", "what", "key")

    def __init__(self, fun: Callable, treedef: TreeDef, what: str | None = "fun") -> None:
        self.fun = fun
        self.treedef = treedef
        self.what = what
        self.key = _function_key(fun, treedef, what)

    def __call__(self, *leaves_and_args: Any) -> Any:
        n = self.treedef.num_leaves
        x = self.treedef.unflatten(leaves_and_args[:n])
        out = self.fun(x, *leaves_and_args[n:])
        return out if self.what is None else scalar_output(out, self.what)


class FlatFunction:
    """``fun(x, *args)`` as a function of scipy's flat vector: ``vector, *args -> scalar``.

    The form a compiling engine differentiates (``Backend.compiles``): the vector is cut into
    the leaves, each cast to its dtype, inside the function, where the compiler makes that
    free, and the gradient comes back as one flat vector in the vector's dtype, with no
    bookkeeping per leaf around each call. The cast's derivative casts the gradient back, so
    float32 leaves get the same float32 gradients as through :class:`LeafFunction`, widened.
    :attr:`key` identifies it as :class:`LeafFunction`'s does.

    Args:
        fun: the user's function.
        treedef: the layout of ``x`` (every leaf of a real floating dtype).
    """

    __slots__ = ("fun", "treedef", "key")

    def __init__(self, fun: Callable, treedef: TreeDef) -> None:
        self.fun = fun
        self.treedef = treedef
        self.key = _function_key(fun, treedef, FlatFunction)

    def __call__(self, vector: Any, *args: Any) -> Any:
        treedef = self.treedef
        leaves = [
            leaf if leaf.dtype == dtype else leaf.astype(dtype)
            for leaf, dtype in zip(treedef.split(vector), treedef.dtypes)
        ]
        return scalar_output(self.fun(treedef.unflatten(leaves), *args))


def zeros_for_none(grads: Sequence[Any], leaves: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The gradients as arrays, each None (no path from the output) a zero array of its leaf."""
    return [
        np.zeros(leaf.shape, leaf.dtype) if g is None else np.asarray(g)
        for g, leaf in zip(grads, leaves)
    ]
