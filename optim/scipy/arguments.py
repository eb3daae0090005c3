"""Argument checks shared by ``minimize`` and ``scipy_method``: x0, jac, callback, bounds.

Each check raises before any work is done (``ValueError`` for bad values, ``TypeError`` for bad
types, the message naming the argument) and returns the argument in the form the loops use.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import Bounds

from ..gradients import FINITE_DIFFERENCE_METHODS
from ..pytree import TreeDef, flatten

__all__ = [
    "AUTODIFF",
    "BOUNDS_COUNT_MESSAGE",
    "BOUNDS_ORDER_MESSAGE",
    "STOP_MESSAGE",
    "check_x0",
    "check_jac",
    "check_callback",
    "wants_intermediate_result",
    "bound_array",
    "standardize_bounds",
]

_JAC_STRINGS = FINITE_DIFFERENCE_METHODS


#: ``jac=`` that demands autodiff: a function autograd cannot follow raises instead of falling
#: back to finite differences.
AUTODIFF = "autodiff"

#: scipy's own words for bounds out of order and for bounds of the wrong count; optim's errors
#: start with them (users' tests match on them), then say more.
BOUNDS_ORDER_MESSAGE = "An upper bound is less than the corresponding lower bound."
BOUNDS_COUNT_MESSAGE = "The number of bounds is not compatible with the length of `x0`."

#: ``OptimizeResult.message`` of a run ended by its callback raising ``StopIteration``.
STOP_MESSAGE = "`callback` raised `StopIteration`."


def _is_number_nest(x: Any) -> bool:
    """A non-empty (nested) plain list or tuple of numbers only, e.g. ``[1.0, 2.0]``."""
    if type(x) not in (list, tuple) or not x:
        return False
    return all(
        _is_number_nest(e) or (isinstance(e, numbers.Number) and not isinstance(e, np.ndarray))
        for e in x
    )


def check_x0(x0: Any) -> tuple[list[np.ndarray], TreeDef]:
    """Flattens ``x0`` into float leaves (copies) and its layout, after checking it.

    A plain list or tuple of numbers is read as one array, and a scalar as an array of one
    entry, as scipy does; a ragged list stays a pytree (a 0-d leaf inside a container stays
    0-d).

    Args:
        x0: a scalar, an array or a dict / list / tuple pytree of them.

    Returns:
        ``(leaves, treedef)``: fresh arrays (integers become float64) and the pytree layout.

    Raises:
        ValueError: ``x0`` holds no number, or a leaf that is not finite.
        TypeError: a leaf that is not a number or an array (from :func:`optim.pytree.flatten`).
    """
    if isinstance(x0, numbers.Number) or (isinstance(x0, np.ndarray) and x0.ndim == 0):
        x0 = np.atleast_1d(x0)  # scipy's reading of a scalar x0: a vector of one entry
    if _is_number_nest(x0):  # scipy's reading of x0=[1.0, 2.0]: a vector, not two leaves
        try:
            array = np.asarray(x0)
        except ValueError:  # ragged: keep it a pytree
            array = None
        if array is not None and array.dtype.kind in "biuf":
            x0 = array
    leaves, treedef = flatten(x0, "x0", as_float=True)
    if treedef.size == 0:
        raise ValueError(f"`x0` must hold at least one number, got {x0!r}.")
    for leaf, path in zip(leaves, treedef.paths):
        if not np.isfinite(leaf).all():
            raise ValueError(f"`x0{path}` must be finite, got {leaf!r}.")
    return [np.array(leaf) for leaf in leaves], treedef


def check_jac(jac: Any) -> None:
    """Checks ``jac``: None, ``"autodiff"``, a bool, a callable or a finite-difference name.

    Raises:
        ValueError: an unknown string.
        TypeError: anything else.
    """
    if jac is None or isinstance(jac, bool) or callable(jac):
        return
    if isinstance(jac, str):
        if jac in _JAC_STRINGS or jac == AUTODIFF:
            return
        raise ValueError(
            f"`jac` must be None (autodiff, else scipy's differences), 'autodiff', True, False, "
            f"a callable or one of {_JAC_STRINGS}, got {jac!r}."
        )
    raise TypeError(
        f"`jac` must be None (autodiff, else scipy's differences), 'autodiff', True, False, a "
        f"callable or one of {_JAC_STRINGS}, got {jac!r}."
    )


def check_callback(callback: Any) -> None:
    """Checks that ``callback`` is callable or None.

    Raises:
        TypeError: anything else.
    """
    if callback is not None and not callable(callback):
        raise TypeError(f"`callback` must be callable or None, got {callback!r}.")


def wants_intermediate_result(callback: Callable) -> bool:
    """scipy's rule: the new form is chosen when the only parameter is ``intermediate_result``."""
    try:
        parameters = inspect.signature(callback).parameters
    except (TypeError, ValueError):
        return False
    return set(parameters) == {"intermediate_result"}


def _as_pair(value: Any, path: str) -> tuple[Any, Any]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    raise TypeError(f"`bounds{path}` must be a (low, high) pair, got {value!r}.")


def bound_array(value: Any, fill: float, shape: tuple, name: str) -> np.ndarray:
    """One bound as a float64 array of ``shape``; None and NaN entries become ``fill``.

    Args:
        value: None, a number or anything broadcasting to ``shape``.
        fill: the value meaning "no bound" (``-inf`` for a low bound, ``inf`` for a high one).
        shape: the shape of the bounded leaf or variable.
        name: the argument named in error messages (``"bounds['w'][0]"``).

    Returns:
        A fresh float64 array of ``shape``.

    Raises:
        TypeError: a value that is not a number or an array.
        ValueError: a value that does not broadcast to ``shape``.
    """
    if value is None:
        return np.full(shape, fill)
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a number, an array or None, got {value!r}.") from exc
    array = np.where(np.isnan(array), fill, array)  # scipy reads NaN bounds as "no bound"
    try:
        return np.array(np.broadcast_to(array, shape))
    except ValueError as exc:
        raise ValueError(
            f"`{name}` must broadcast to shape {shape}, got shape {array.shape}."
        ) from exc


def _scalar_pairs(bounds: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(low, high)`` float64 vectors from a sequence of scalar pairs (None: unbounded)."""
    if not isinstance(bounds, (list, tuple)) or not bounds:
        return None
    for pair in bounds:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            return None
        for b in pair:
            if b is not None and not (isinstance(b, numbers.Real) or np.ndim(b) == 0):
                return None
    low = np.array([-np.inf if lo is None else lo for lo, _ in bounds], dtype=np.float64)
    high = np.array([np.inf if hi is None else hi for _, hi in bounds], dtype=np.float64)
    return low, high


def standardize_bounds(
    bounds: Any, treedef: TreeDef
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per-leaf ``(low, high)`` float64 arrays of each leaf's shape, or None (no bounds).

    Accepted: a ``scipy.optimize.Bounds`` (scalars or flat arrays over the flat layout), a
    sequence of ``n`` scalar ``(low, high)`` pairs (scipy's form, flat layout; for an array
    ``x0`` a single pair stands for every entry, as scipy broadcasts it), or a pytree of
    ``(low, high)`` pairs shaped like ``x0`` (``None`` or a missing dict key: unbounded), each
    bound a scalar or broadcasting to its leaf. NaN means unbounded, as in scipy.

    Raises:
        ValueError: a low bound above its high bound (scipy's message first), bounds that do
            not match ``x0`` (scipy's message first for its forms).
        TypeError: bounds that are not numbers, or a pytree entry that is not a pair.
    """
    if bounds is None:
        return None
    n = treedef.size
    pairs = _scalar_pairs(bounds)
    if isinstance(bounds, Bounds) or (
        pairs is not None and (treedef.is_leaf or len(pairs[0]) == n)
    ):
        # scipy's forms over the flat layout, read by scipy's rules: the order is checked
        # first, then each bound must broadcast to one entry per element of x0.
        if isinstance(bounds, Bounds):
            names = ("bounds.lb", "bounds.ub")
            raw = []
            for name, value in zip(names, (bounds.lb, bounds.ub)):
                try:
                    raw.append(np.asarray(value, dtype=np.float64))
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"`{name}` must be numbers, got {value!r}.") from exc
        else:
            names = ("bounds[i][0]", "bounds[i][1]")
            raw = list(pairs)
        try:
            low, high = np.broadcast_arrays(*raw)
        except ValueError:  # of different counts: the count check below says so
            low = high = np.zeros(0)
        bad = high < low
        if np.any(bad):
            raise ValueError(
                f"{BOUNDS_ORDER_MESSAGE} `bounds` must have low <= high everywhere, got low "
                f"{low[bad]!r} above high {high[bad]!r}."
            )
        flat = []
        for name, array, fill in zip(names, raw, (-np.inf, np.inf)):
            if treedef.num_leaves == 1 and array.shape == treedef.shapes[0]:
                array = array.ravel()
            if array.ndim > 1 or (array.ndim == 1 and array.size not in (1, n)):
                raise ValueError(
                    f"{BOUNDS_COUNT_MESSAGE} `{name}` must be a scalar or have shape ({n},) "
                    f"(one entry per element of x0, in flat order), got shape {array.shape}."
                )
            flat.append(bound_array(array, fill, (n,), name))
        lows, highs = treedef.split(flat[0]), treedef.split(flat[1])
    else:
        per_leaf = treedef.prefix_leaves(bounds, "bounds")
        lows, highs = [], []
        for entry, shape, path in zip(per_leaf, treedef.shapes, treedef.paths):
            lo, hi = (None, None) if entry is None else _as_pair(entry, path)
            lows.append(bound_array(lo, -np.inf, shape, f"bounds{path}[0]"))
            highs.append(bound_array(hi, np.inf, shape, f"bounds{path}[1]"))
    out = []
    for lo, hi, path in zip(lows, highs, treedef.paths):
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        bad = lo > hi
        if np.any(bad):
            raise ValueError(
                f"{BOUNDS_ORDER_MESSAGE} `bounds{path}` must have low <= high everywhere, got "
                f"low {lo[bad]!r} above high {hi[bad]!r}."
            )
        out.append((lo, hi))
    return out
