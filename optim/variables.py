"""Variables, the graph that registers them, and the global step.

A :class:`Variable` owns one numpy array. Optimizers update that array in place; a loss reads it
through :attr:`Variable.value`. While a gradient is being computed, ``value`` returns the tracer
(an autograd box) that the gradient source put there, so the operations a loss runs are recorded
with no graph to build by hand.

A :class:`Graph` is the registry behind ``trainable_variables()`` (the default ``var_list``), the
TF-like unique names, and the global step. There is one default graph; ``Graph().as_default()``
gives a fresh one for a block of code, as in TF1.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "Graph",
    "Variable",
    "get_default_graph",
    "reset_default_graph",
    "trainable_variables",
    "global_variables",
    "get_global_step",
    "get_or_create_global_step",
]


class Graph:
    """A registry of variables: creation order, unique names and the global step.

    Variables are held weakly: one that is no longer referenced drops out of
    :meth:`trainable_variables`, and its name becomes free again. The global step, once created,
    is held strongly by its graph.

    Example:
        >>> with optim.Graph().as_default():
        ...     w = optim.Variable(1.0)
        ...     optim.trainable_variables() == [w]
        True
    """

    def __init__(self) -> None:
        self._by_order: weakref.WeakValueDictionary[int, Variable] = weakref.WeakValueDictionary()
        self._by_name: weakref.WeakValueDictionary[str, Variable] = weakref.WeakValueDictionary()
        self._order = itertools.count()
        self._global_step: Variable | None = None
        self._lock = threading.Lock()

    def _register(self, variable: Variable, base_name: str) -> str:
        with self._lock:
            name = base_name
            suffix = itertools.count(1)
            while name in self._by_name:
                name = f"{base_name}_{next(suffix)}"
            self._by_name[name] = variable
            self._by_order[next(self._order)] = variable
        return name

    def variables(self) -> list[Variable]:
        """Every live variable of this graph, in creation order."""
        with self._lock:
            items = sorted(self._by_order.items())
        return [v for _, v in items]

    def trainable_variables(self) -> list[Variable]:
        """The live trainable variables of this graph, in creation order."""
        return [v for v in self.variables() if v.trainable]

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Makes this graph the default one inside a ``with`` block (per thread)."""
        stack = _graph_stack()
        stack.append(self)
        try:
            yield self
        finally:
            stack.pop()


_local = threading.local()
_global_default_graph = Graph()


def _graph_stack() -> list[Graph]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def get_default_graph() -> Graph:
    """Returns the graph new variables register with."""
    stack = _graph_stack()
    return stack[-1] if stack else _global_default_graph


def reset_default_graph() -> None:
    """Replaces the global default graph by an empty one (TF1's ``tf.reset_default_graph``).

    Existing variables keep working; they are simply no longer listed by
    :func:`trainable_variables`, and their names are free again.

    Raises:
        RuntimeError: inside a ``Graph().as_default()`` block.
    """
    global _global_default_graph
    if _graph_stack():
        raise RuntimeError(
            "reset_default_graph() cannot be called inside a Graph.as_default() block."
        )
    _global_default_graph = Graph()


def trainable_variables() -> list[Variable]:
    """The default ``var_list``: the live trainable variables of the default graph, in order."""
    return get_default_graph().trainable_variables()


def global_variables() -> list[Variable]:
    """Every live variable of the default graph (trainable or not), in creation order."""
    return get_default_graph().variables()


class Variable:
    """A named, mutable numpy array that optimizers update in place.

    A loss is a zero-argument callable that reads variables through :attr:`value`. Outside a
    gradient computation ``value`` is a read-only view of the variable's array (no copy); while
    gradients are computed it is the tracer of the active gradient source.

    Args:
        initial_value: anything ``np.array`` accepts, or a zero-argument callable returning it.
            The variable owns a copy.
        name: base name; a ``_1``, ``_2``... suffix is added when a live variable of the same
            graph already has it. Defaults to ``"Variable"``.
        trainable: whether the variable is part of the default ``var_list``. Trainable variables
            must have a floating dtype.
        dtype: numpy dtype; default keeps the dtype of ``initial_value`` (float32 stays float32).
        constraint: optional callable applied to the value after each optimizer update (a
            projection), returning an array of the same shape, as TF's ``constraint=``.

    Raises:
        TypeError: a trainable variable of non-floating dtype, a non-numeric value, a bad name or
            a constraint that is not callable.

    Example:
        >>> w = optim.Variable(np.zeros(3, np.float32), name="w")
        >>> w.assign_add([1, 2, 3]).value
        array([1., 2., 3.], dtype=float32)
    """

    __slots__ = (
        "_value",
        "_view",
        "_override",
        "_name",
        "_trainable",
        "_constraint",
        "__weakref__",
    )

    def __init__(
        self,
        initial_value: Any,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = None,
        constraint: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        if name is None:
            name = "Variable"
        if not isinstance(name, str) or not name:
            raise TypeError(f"`name` must be a non-empty string, got {name!r}.")
        if not isinstance(trainable, bool):
            raise TypeError(f"`trainable` must be a bool, got {trainable!r}.")
        if constraint is not None and not callable(constraint):
            raise TypeError(f"`constraint` must be callable or None, got {constraint!r}.")
        if callable(initial_value):
            initial_value = initial_value()
        try:
            value = np.array(initial_value, dtype=dtype, copy=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`initial_value` of variable {name!r} must be numeric array-like, "
                f"got {initial_value!r}."
            ) from exc
        if value.dtype.kind not in "biuf":
            raise TypeError(f"Variable {name!r} must have a numeric real dtype, got {value.dtype}.")
        if trainable and value.dtype.kind != "f":
            raise TypeError(
                f"Trainable variable {name!r} must have a floating dtype, got {value.dtype}; "
                "pass a float initial value or dtype, or trainable=False."
            )
        self._value = value
        self._view = value.view()
        self._view.flags.writeable = False
        self._override: Any = None
        self._trainable = trainable
        self._constraint = constraint
        self._name = get_default_graph()._register(self, name)

    # -- reading ---------------------------------------------------------------------------
    @property
    def value(self) -> Any:
        """The current value: a read-only array view, or a tracer during a gradient pass."""
        override = self._override
        return self._view if override is None else override

    def read_value(self) -> Any:
        """Same as :attr:`value` (TF's name)."""
        return self.value

    def numpy(self) -> np.ndarray:
        """A copy of the current value as a plain numpy array."""
        return self._value.copy()

    @property
    def name(self) -> str:
        return self._name

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def size(self) -> int:
        return self._value.size

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def constraint(self) -> Callable[[np.ndarray], Any] | None:
        return self._constraint

    # -- writing ---------------------------------------------------------------------------
    def _coerce(self, value: Any, what: str) -> np.ndarray:
        if self._override is not None:
            raise RuntimeError(
                f"Variable {self._name!r} cannot be assigned while a gradient is being computed; "
                "a loss should only read variables."
            )
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`{what}` for variable {self._name!r} must be array-like, got {value!r}."
            ) from exc
        if array.shape != self._value.shape:
            raise ValueError(
                f"`{what}` for variable {self._name!r} must have shape {self._value.shape}, "
                f"got {array.shape}."
            )
        if not np.can_cast(array.dtype, self._value.dtype, casting="same_kind"):
            raise TypeError(
                f"`{what}` for variable {self._name!r} must be castable to {self._value.dtype}, "
                f"got dtype {array.dtype}."
            )
        return array

    def assign(self, value: Any) -> Variable:
        """Writes ``value`` (same shape) into the variable in place and returns the variable."""
        np.copyto(self._value, self._coerce(value, "value"), casting="same_kind")
        return self

    def assign_add(self, delta: Any) -> Variable:
        """Adds ``delta`` (same shape) in place and returns the variable."""
        np.add(self._value, self._coerce(delta, "delta"), out=self._value, casting="same_kind")
        return self

    def assign_sub(self, delta: Any) -> Variable:
        """Subtracts ``delta`` (same shape) in place and returns the variable."""
        np.subtract(self._value, self._coerce(delta, "delta"), out=self._value, casting="same_kind")
        return self

    def __repr__(self) -> str:
        return (
            f"<optim.Variable {self._name!r} shape={self._value.shape} dtype={self._value.dtype}, "
            f"numpy={self._value!r}>"
        )


def match_by_name(
    table: dict[str, Any], variables: list[Variable], what: str
) -> dict[Variable, np.ndarray]:
    """Pairs saved arrays ``{variable name: array}`` with ``variables``, as copies.

    Each array must have its variable's shape and dtype. Used when restoring state that is
    keyed by name (never by position).

    Raises:
        ValueError: a name not among ``variables``, or a shape or dtype that differs; ``what``
            names the kind of array in the message ("accumulator", "average", ...).
    """
    by_name = {v.name: v for v in variables}
    out = {}
    for var_name, array in table.items():
        var = by_name.get(var_name)
        if var is None:
            raise ValueError(
                f"`state` has a {what} for variable {var_name!r}, which is not among the "
                f"variables {sorted(by_name)}."
            )
        array = np.asarray(array)
        if array.shape != var.shape or array.dtype != var.dtype:
            raise ValueError(
                f"The {what} of variable {var_name!r} has shape {array.shape} and dtype "
                f"{array.dtype}; the variable has {var.shape} and {var.dtype}."
            )
        out[var] = array.copy()
    return out


def get_global_step(graph: Graph | None = None) -> Variable | None:
    """The global step of ``graph`` (default graph if None), or None if it was never created."""
    return (graph or get_default_graph())._global_step


def get_or_create_global_step(graph: Graph | None = None) -> Variable:
    """The global step of ``graph``, created on first use.

    It is a non-trainable int64 scalar Variable named ``"global_step"`` that starts at 0 and that
    ``apply_gradients(..., global_step=step)`` increments once per call.
    """
    graph = graph or get_default_graph()
    if graph._global_step is None:
        with graph.as_default():
            graph._global_step = Variable(0, name="global_step", trainable=False, dtype=np.int64)
    return graph._global_step
