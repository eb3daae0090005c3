"""Argument checks shared across optim: one home, one message template.

Every check raises ``TypeError`` for a value of the wrong type and ``ValueError`` for a bad
value, with the house template "`{arg}` must be {constraint}, got {value!r}.", and returns the
value in its canonical form (a float, a bool, a flat list of variables). They change nothing, so
a caller that checks every argument first leaves all state as it was when one raises.

- :class:`Interval` and the shared ranges :data:`FINITE`, :data:`NONNEGATIVE`,
  :data:`POSITIVE`, :data:`NONPOSITIVE`, :data:`UNIT` and :data:`BETA` (each defined here once):
  the allowed range of a number, with the text the messages use.
- :func:`check_real`, :func:`check_bool`: scalars.
- :func:`resolve_var_list`, :func:`resolve_var_list_for_gradients`,
  :func:`check_floating`, :func:`flatten`: the ``var_list`` argument.
- :func:`check_global_step`: the global step Variable.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .variables import Variable, trainable_variables

__all__ = [
    "Interval",
    "FINITE",
    "NONNEGATIVE",
    "POSITIVE",
    "NONPOSITIVE",
    "UNIT",
    "BETA",
    "check_real",
    "check_bool",
    "flatten",
    "resolve_var_list",
    "resolve_var_list_for_gradients",
    "check_floating",
    "check_global_step",
]


class Interval:
    """The allowed range of a number, with the text used in error messages.

    Args:
        low, high: the bounds; ``None`` for none.
        low_open, high_open: whether the bound itself is excluded.

    Example:
        >>> 0.0 in Interval(0.0, low_open=True), str(Interval(0.0, 1.0, high_open=True))
        (False, 'in [0, 1)')
    """

    __slots__ = ("low", "high", "low_open", "high_open")

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def __contains__(self, x: float) -> bool:
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        if self.high is not None and (x > self.high or (self.high_open and x == self.high)):
            return False
        return True

    def __str__(self) -> str:
        if self.high is None and self.low is None:
            return "finite"
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return (
            f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
            f"{')' if self.high_open else ']'}"
        )


#: Any finite number.
FINITE = Interval()
#: ``x >= 0``.
NONNEGATIVE = Interval(0.0)
#: ``x > 0``.
POSITIVE = Interval(0.0, low_open=True)
#: ``x <= 0`` (FTRL's ``learning_rate_power``, Adafactor's ``beta_2_decay``).
NONPOSITIVE = Interval(high=0.0)
#: ``0 <= x <= 1`` (decay rates that may be 1: RMSProp's ``decay``, Adadelta's ``rho``).
UNIT = Interval(0.0, 1.0)
#: ``0 <= x < 1``: a moment's decay rate (``beta1`` and ``beta2`` of the Adam family).
BETA = Interval(0.0, 1.0, high_open=True)


def check_real(
    name: str, value: Any, interval: Interval = FINITE, *, expected: str = "a real number"
) -> float:
    """``value`` as a float: a finite real number (or 0-d real array) in ``interval``.

    Args:
        name: the argument's name, for the messages.
        value: the value to check. Bools are not numbers here.
        interval: the allowed range (default: any finite number).
        expected: what the TypeError says ``value`` must be, e.g. ``"a float or a
            zero-argument callable"`` for a hyperparameter.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: not a real number ("`name` must be {expected}, got ..."), or an array that is
            not a real scalar.
        ValueError: not finite (an integer beyond float's range counts as infinite), or outside
            ``interval``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.ndarray)):
        raise TypeError(f"`{name}` must be {expected}, got {value!r}.")
    if isinstance(value, np.ndarray) and (value.ndim != 0 or value.dtype.kind not in "iuf"):
        raise TypeError(f"`{name}` must be a real scalar, got {value!r}.")
    try:
        x = float(value)
    except OverflowError:  # an integer or fraction beyond float's range
        x = math.inf
    if not math.isfinite(x):
        raise ValueError(f"`{name}` must be finite, got {value!r}.")
    if x not in interval:
        raise ValueError(f"`{name}` must be {interval}, got {value!r}.")
    return x


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; Python and numpy bools only (``0`` and ``1`` are not).

    Raises:
        TypeError: anything else, naming the argument ``name``.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool, got {value!r}.")
    return bool(value)


def flatten(items: Any) -> Iterator[Any]:
    """The leaves of nested lists and tuples, in order (anything else is one leaf)."""
    if isinstance(items, (list, tuple)):
        for item in items:
            yield from flatten(item)
    else:
        yield items


def resolve_var_list(
    var_list: Any,
    default: Callable[[], list[Variable]] = trainable_variables,
    *,
    where: str | None = None,
    allow_empty: bool = False,
) -> list[Variable]:
    """The ``var_list`` argument as a flat list of Variables.

    Args:
        var_list: ``None`` (then ``default()``), one Variable, or a list or tuple of Variables,
            possibly nested (flattened in order).
        default: what ``None`` means; by default every trainable variable of the default graph.
        where: the function's name, added to the TypeError for a bad container
            ("`var_list` of {where} must be ...").
        allow_empty: whether no variables at all is acceptable.

    Returns:
        A new list of the variables.

    Raises:
        TypeError: ``var_list`` is not a Variable, list or tuple, or an item is not a Variable
            (named by its index in the flattened list).
        ValueError: no variables, unless ``allow_empty``.
    """
    if var_list is None:
        variables = list(default())
    elif isinstance(var_list, (Variable, list, tuple)):
        variables = list(flatten(var_list))
    else:
        of = "" if where is None else f" of {where}"
        raise TypeError(
            f"`var_list`{of} must be a list or tuple of optim.Variable, got {var_list!r}."
        )
    if not variables and not allow_empty:
        raise ValueError(
            "No variables to optimize: `var_list` must hold at least one variable, got none."
        )
    for i, var in enumerate(variables):
        if not isinstance(var, Variable):
            raise TypeError(f"`var_list[{i}]` must be an optim.Variable, got {var!r}.")
    return variables


def check_floating(variables: Iterable[Variable], why: str) -> None:
    """Raises TypeError naming the first variable whose dtype is not floating-point.

    Args:
        variables: the variables to check.
        why: the end of the message, after the variable's dtype, e.g. ``"gradients are taken
            with respect to floating-point variables only"``.
    """
    for var in variables:
        if var.dtype.kind != "f":
            raise TypeError(f"Variable {var.name!r} has dtype {var.dtype}; {why}.")


def resolve_var_list_for_gradients(var_list: Any) -> list[Variable]:
    """:func:`resolve_var_list` for variables to differentiate: each must be floating-point.

    ``None`` means every trainable variable of the default graph; no variables is an error.

    Raises:
        TypeError, ValueError: as :func:`resolve_var_list`, and TypeError naming a variable of
            a non-floating dtype.
    """
    variables = resolve_var_list(var_list)
    check_floating(variables, "gradients are taken with respect to floating-point variables only")
    return variables


def check_global_step(global_step: Any, *, optional: bool = True) -> Variable | None:
    """``global_step`` checked to be an integer scalar Variable (or None when ``optional``).

    Raises:
        TypeError: anything else, with a hint at ``optim.train.get_or_create_global_step()``.
    """
    if global_step is None and optional:
        return None
    if (
        not isinstance(global_step, Variable)
        or global_step.dtype.kind not in "iu"
        or global_step.ndim != 0
    ):
        or_none = " or None" if optional else ""
        raise TypeError(
            "`global_step` must be an integer scalar optim.Variable (e.g. "
            f"optim.train.get_or_create_global_step()){or_none}, got {global_step!r}."
        )
    return global_step
