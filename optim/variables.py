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
import operator
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .backend import get_backend

__all__ = [
    "Graph",
    "Variable",
    "get_default_graph",
    "reset_default_graph",
    "trainable_variables",
    "global_variables",
    "get_global_step",
    "get_or_create_global_step",
    "recorded_reads",
    "substituted",
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

    Array-like behaviour:
        Arithmetic ``+ - * / // % ** @`` (either side, with arrays, numbers or other
        variables), unary ``-``, ``+``, ``abs``, the orderings ``< <= > >=`` and indexing
        ``W[i]`` all act on :attr:`value` and return plain results, so inside a loss they are
        traced like ``W.value`` is: ``x @ W + b`` has exactly the gradients of
        ``x @ W.value + b.value``. A numpy array or scalar on the left defers to the variable.

        Outside a gradient computation a variable also converts like its array:
        ``np.asarray(W)`` (the read-only value, dtype kept; ``np.array(W)`` copies), numpy
        functions such as ``np.exp(W)`` or ``np.sum(W)``, ``float``, ``int``, ``operator.index``,
        ``len``, iteration and ``bool`` (numpy's truthiness: ambiguous for several elements).

        While a gradient is computed these conversions raise ``TypeError``: ``np.exp(W)``,
        ``np.asarray(W)`` or ``float(W)`` would hand numpy the bare array and cut ``W`` off
        from the gradient. Write ``np.exp(W.value)`` there. (Finite differences substitute
        plain arrays, which convert as usual.)

        ``==`` and ``!=`` are identity, not elementwise, and variables stay hashable: they are
        dict keys in slot tables. Compare ``W.value == x`` for elements. In-place operators
        (``W += 1``) raise ``TypeError``; use :meth:`assign_add` and friends.

        ``copy.copy`` and ``copy.deepcopy`` make a new, independent variable with a copy of the
        value, the same ``trainable`` and ``constraint`` (deep-copied by ``deepcopy``),
        registered in the default graph under the original name made unique (``w`` gives
        ``w_1`` while ``w`` lives). ``deepcopy`` keeps sharing: a structure holding one variable
        twice holds its one copy twice. Pickling stores the value, name, ``trainable`` and
        ``constraint``; unpickling registers the name in the default graph as a new variable
        would, so it is kept when free there, else suffixed (``w_1``, ``w_2``...).

    Example:
        >>> w = optim.Variable(np.zeros(3, np.float32), name="w")
        >>> w.assign_add([1, 2, 3]).value
        array([1., 2., 3.], dtype=float32)
        >>> x = np.ones((2, 3), np.float32)
        >>> x @ w + 1                      # a plain array; traced inside a loss
        array([7., 7.], dtype=float32)
        >>> float(np.sum(w)), w == w, w[0] < 2
        (6.0, True, np.True_)
    """

    # A numpy array or scalar on the left of an operator defers to the variable's reflected
    # operator (numpy compares this with its own priority 0); autograd's tracers are told to do
    # the same by the backend at the end of this module.
    __array_priority__ = 100.0

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
        if _READ_LOGS:
            _READ_LOGS[-1].append(self)
        override = self._override
        return self._view if override is None else override

    @property
    def array(self) -> np.ndarray:
        """The variable's own ndarray, which optimizer kernels update in place.

        This is the storage itself, writable and never a tracer: the kernels, checkpoints and
        moving averages work on it directly. Read a variable with :attr:`value` and write it
        with :meth:`assign`; only code that updates the variable in place, with the same
        shape and dtype, writes through ``array``.
        """
        return self._value

    def rehome(self, storage: np.ndarray) -> None:
        """Moves the variable into ``storage`` (the flat engine's buffer view), value kept.

        The current value is copied into ``storage``, which becomes :attr:`array`, and
        :attr:`value` becomes a read-only view of it. A reference taken earlier to the old
        array (``w.value``, ``w.array``, ``np.asarray(w)``) keeps showing the old memory and
        no longer follows updates: read the variable again after it has been re-homed (the
        first ``apply_gradients`` of an optimizer with the flat engine does it).

        Args:
            storage: a writeable, C-contiguous array of the variable's shape and dtype that
                shares no memory with the current array.

        Raises:
            ValueError: another shape, a read-only or non-contiguous array, or a call while
                a gradient is being computed.
            TypeError: another dtype, or not an ndarray.
        """
        if not isinstance(storage, np.ndarray):
            raise TypeError(f"`storage` must be a numpy array, got {type(storage).__name__}.")
        if storage.dtype != self._value.dtype:
            raise TypeError(
                f"`storage` for variable {self._name!r} must have dtype {self._value.dtype}, "
                f"got {storage.dtype}."
            )
        if storage.shape != self._value.shape:
            raise ValueError(
                f"`storage` for variable {self._name!r} must have shape {self._value.shape}, "
                f"got {storage.shape}."
            )
        if not (storage.flags.c_contiguous and storage.flags.writeable):
            raise ValueError(
                f"`storage` for variable {self._name!r} must be writeable and C-contiguous."
            )
        if self._override is not None:
            raise ValueError(
                f"Variable {self._name!r} cannot be re-homed while a gradient is being computed."
            )
        if storage is self._value:
            return
        np.copyto(storage, self._value)
        view = storage.view()
        view.flags.writeable = False
        self._value, self._view = storage, view

    @property
    def is_substituted(self) -> bool:
        """Whether :attr:`value` currently returns a substitute (see :func:`substituted`),
        i.e. whether a gradient is being computed through this variable."""
        return self._override is not None

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

    # -- array-like behaviour (see the class docstring) -------------------------------------
    def _array_or_raise(self, what: str) -> np.ndarray:
        """The value as an array, or TypeError while it is a tracer (a conversion would cut
        the variable off from the gradient)."""
        value = self.value
        if isinstance(value, np.ndarray):
            return value
        raise TypeError(
            f"Variable {self._name!r} is being differentiated: {what} on the variable itself "
            f"would hand numpy its bare array and lose the gradient. Use `{self._name}.value` "
            f"in the loss instead (for example np.exp({self._name}.value))."
        )

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        value = self._array_or_raise("a numpy function (or np.asarray)")
        if copy is False:
            if dtype is not None and np.dtype(dtype) != value.dtype:
                raise ValueError(
                    f"Variable {self._name!r} of dtype {value.dtype} cannot be converted to "
                    f"{np.dtype(dtype)} without a copy (copy=False)."
                )
            return value
        if copy:
            return np.array(value, dtype=dtype, copy=True)
        return np.asarray(value, dtype=dtype)

    def __float__(self) -> float:
        return float(self._array_or_raise("float()"))

    def __int__(self) -> int:
        return int(self._array_or_raise("int()"))

    def __complex__(self) -> complex:
        return complex(self._array_or_raise("complex()"))

    def __index__(self) -> int:
        return operator.index(self._array_or_raise("operator.index()"))

    def __bool__(self) -> bool:
        return bool(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.value)

    def __getitem__(self, index: Any) -> Any:
        return self.value[index]

    def __neg__(self) -> Any:
        return -self.value

    def __pos__(self) -> Any:
        value = self.value
        # autograd's tracer has no unary plus; the identity is what it would record.
        return +value if isinstance(value, np.ndarray) else value

    def __abs__(self) -> Any:
        return abs(self.value)

    # Identity, not elementwise: variables are dict keys (slot tables), so they stay hashable.
    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The constructor copies the value and registers the name (made unique) in the
        # default graph: one mechanism for copy.copy, copy.deepcopy and pickle.
        return (type(self), (self._value, self._name, self._trainable, None, self._constraint))

    def __repr__(self) -> str:
        return (
            f"<optim.Variable {self._name!r} shape={self._value.shape} dtype={self._value.dtype}, "
            f"numpy={self._value!r}>"
        )


def _read(operand: Any) -> Any:
    """An operand of a variable's operator: another variable's value, anything else as is."""
    return operand.value if isinstance(operand, Variable) else operand


def _forward(op: Callable[[Any, Any], Any], name: str) -> Callable[[Variable, Any], Any]:
    def method(self: Variable, other: Any) -> Any:
        return op(self.value, _read(other))

    method.__name__ = method.__qualname__ = name
    return method


def _reflected(op: Callable[[Any, Any], Any], name: str) -> Callable[[Variable, Any], Any]:
    def method(self: Variable, other: Any) -> Any:
        return op(_read(other), self.value)

    method.__name__ = method.__qualname__ = name
    return method


def _in_place(symbol: str, name: str) -> Callable[[Variable, Any], Any]:
    def method(self: Variable, other: Any) -> Any:
        raise TypeError(
            f"Variable {self._name!r} does not support `{symbol}=`, which would rebind the name "
            f"to a plain array; update it in place with {self._name}.assign_add / assign_sub / "
            f"assign, or write `{self._name}.value {symbol} ...` for a new array."
        )

    method.__name__ = method.__qualname__ = name
    return method


_ARITHMETIC = {
    "add": ("+", operator.add),
    "sub": ("-", operator.sub),
    "mul": ("*", operator.mul),
    "truediv": ("/", operator.truediv),
    "floordiv": ("//", operator.floordiv),
    "mod": ("%", operator.mod),
    "pow": ("**", operator.pow),
    "matmul": ("@", operator.matmul),
}
for _name, (_symbol, _op) in _ARITHMETIC.items():
    setattr(Variable, f"__{_name}__", _forward(_op, f"__{_name}__"))
    setattr(Variable, f"__r{_name}__", _reflected(_op, f"__r{_name}__"))
    setattr(Variable, f"__i{_name}__", _in_place(_symbol, f"__i{_name}__"))
for _name in ("lt", "le", "gt", "ge"):
    setattr(Variable, f"__{_name}__", _forward(getattr(operator, _name), f"__{_name}__"))
del _name, _symbol, _op

get_backend().defer_operators_to(Variable)


class substituted:
    """Makes ``var.value`` return the given values for the duration of a ``with`` block.

    This is how a gradient source runs a loss on tracers (or finite differences on shifted
    arrays): inside the block each ``var_list[i].value`` is ``values[i]``, assignments to the
    variables raise RuntimeError and :attr:`Variable.is_substituted` is True. On exit, even
    when the block raises, every variable reads what it read before (blocks nest).

    Args:
        var_list: the variables.
        values: one value per variable, any object (an autograd tracer, an array).

    Example:
        >>> with substituted([w], [np.zeros(3)]):
        ...     w.value
        array([0., 0., 0.])
    """

    __slots__ = ("_vars", "_values", "_saved")

    def __init__(self, var_list: Any, values: Any) -> None:
        self._vars = var_list
        self._values = values

    def __enter__(self) -> None:
        self._saved = [v._override for v in self._vars]
        for v, x in zip(self._vars, self._values):
            v._override = x

    def __exit__(self, *exc_info: Any) -> None:
        for v, x in zip(self._vars, self._saved):
            v._override = x


#: The open :class:`recorded_reads` logs, innermost last; ``Variable.value`` appends to the last.
_READ_LOGS: list[list[Variable]] = []


class recorded_reads:
    """Records every variable whose :attr:`Variable.value` is read inside a ``with`` block.

    Compiled code freezes whatever it reads that is not an argument; a compiler of TF-world
    losses (:func:`optim.jit_closure`) uses this to find the variables a loss reads, so that
    each one becomes an argument. Blocks nest: a read is recorded by the innermost block only
    (an outer block sees nothing of an inner one). Reads from other threads during the block
    are recorded too (a superset, never a miss).

    Example:
        >>> with recorded_reads() as reads:
        ...     y = w.value + 1.0
        >>> reads == [w]
        True
    """

    __slots__ = ("_log",)

    def __enter__(self) -> list[Variable]:
        self._log: list[Variable] = []
        _READ_LOGS.append(self._log)
        return self._log

    def __exit__(self, *exc_info: Any) -> None:
        for i in range(len(_READ_LOGS) - 1, -1, -1):
            if _READ_LOGS[i] is self._log:
                del _READ_LOGS[i]
                break


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
