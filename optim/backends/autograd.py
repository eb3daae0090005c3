"""The autograd engine: reverse mode on numpy with HIPS autograd (optim's default backend).

The only module of optim that imports autograd. It implements :class:`optim.backend.Backend`:
tracing with one root node per argument (so one backward pass gives every gradient and tells an
unreached argument, ``None``, from a zero gradient), second order by differentiating the traced
gradient again (reverse over reverse), primitives with hand-written VJPs, gradient overrides
through autograd's registry, ``stop_gradient``, and the recognition of autograd's error
messages. ``key`` (compilation) is ignored: autograd records every call afresh.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.core import VJPNode, add_outgrads, defvjp_argnums, primitive_vjps, vspace
from autograd.extend import primitive as autograd_primitive
from autograd.tracer import (
    getval,
    isbox,
    new_box,
    notrace_primitive,
    notrace_primitives,
    toposort,
    trace_stack,
)

__all__ = ["AutogradBackend"]


class _AutogradTrace:
    __slots__ = ("value", "_end_node", "_roots")

    def __init__(self, value: Any, end_node: Any, roots: list[Any]) -> None:
        self.value = value
        self._end_node = end_node
        self._roots = roots

    def gradients(self, cotangent: Any) -> list[Any]:
        grads: list[Any] = [None] * len(self._roots)
        if self._end_node is None:
            return grads
        root_index = {node: i for i, node in enumerate(self._roots)}
        outgrads = {self._end_node: (cotangent, False)}
        for node in toposort(self._end_node):
            outgrad = outgrads.pop(node)
            index = root_index.get(node)
            if index is not None:
                grads[index] = outgrad[0]
                continue
            for parent, ingrad in zip(node.parents, node.vjp(outgrad[0])):
                outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
        return grads


def _unit_cotangent(value: Any) -> np.ndarray:
    """A cotangent of one for a scalar value (float64 for a value that is not floating-point)."""
    dtype = np.result_type(value)
    return np.ones((), dtype if dtype.kind == "f" else float)


class _AutogradSecondOrder:
    """Value, gradients and ``H @ v`` at one point: the trace of the flat gradient.

    ``hvp`` is one backward pass through that trace with the vectors, raveled and concatenated,
    as the cotangent: ``H @ v`` per argument (reverse over reverse; the Hessian is symmetric).
    """

    __slots__ = ("value", "gradients", "_outer")

    def __init__(self, value: Any, gradients: list[Any], outer: _AutogradTrace) -> None:
        self.value = value
        self.gradients = gradients
        self._outer = outer

    def hvp(self, vectors: Sequence[Any]) -> list[Any]:
        flat = np.concatenate([np.ravel(v) for v in vectors])
        dtype = np.result_type(self._outer.value)
        return self._outer.gradients(flat.astype(dtype, copy=False))

    def hvp_batch(self, vectors: Sequence[Any]) -> list[Any]:
        """:meth:`hvp` for each of the ``k`` vectors stacked along the first axis of every
        entry of ``vectors``: one backward pass each, the products stacked the same way."""
        rows = [self.hvp(row) for row in zip(*vectors)]
        return [None if column[0] is None else np.stack(column) for column in zip(*rows)]


# The failures autograd reports when it cannot follow a function, and what they mean.
_TRACE_ERRORS: list[tuple[type[BaseException], re.Pattern, str]] = [
    (
        TypeError,
        re.compile(r"'ArrayBox' object does not support item assignment"),
        "the loss assigns into an array that depends on a variable (`x[i] = ...`). autograd "
        "cannot record writes into an array; build the array with np.stack, np.concatenate or "
        "np.where instead.",
    ),
    (
        TypeError,
        re.compile(r"(float|int|complex)\(\) argument must be .*'ArrayBox'"),
        "the loss converts a traced value into a Python number (float(), int() or .item()), "
        "which cuts it off from the gradient. Keep it an array and use autograd.numpy functions.",
    ),
    (
        TypeError,
        re.compile(r"numpy object array of ArrayBox tracers"),
        "the function builds a numpy array out of traced entries (np.array([w[0], w[1]])), "
        "which keeps no gradient. Use np.stack([w[0], w[1]]) instead.",
    ),
    (
        TypeError,
        re.compile(r"must be real number, not ArrayBox"),
        "the loss passes a traced value to a function that needs a Python number (the math "
        "module's math.exp, math.log...). Use the autograd.numpy function (np.exp) instead.",
    ),
    (
        ValueError,
        re.compile(r"setting an array element with a sequence"),
        "the loss writes a traced value into a plain numpy array (for example "
        "`b = np.zeros(n); b[0] = w[0]`). Build the array with np.stack or np.concatenate.",
    ),
    (
        TypeError,
        re.compile(r"returned NotImplemented from __array_ufunc__.*out="),
        "the loss runs an in-place numpy operation on a traced value (`out=` or `b += w` into "
        "a plain array). Write it out of place: `b = b + w`.",
    ),
    (
        NotImplementedError,
        re.compile(r"VJP of (asarray|array) wrt"),
        "the loss calls np.asarray / np.array on a traced value, which autograd cannot "
        "differentiate. Pass the value on as it is, or combine values with np.stack.",
    ),
    (
        NotImplementedError,
        re.compile(r"VJP of (\w+) wrt argnums"),
        "autograd has no gradient rule for a function the loss calls. Register one with "
        "autograd.extend.defvjp.",
    ),
    (
        AttributeError,
        re.compile(r"'ArrayBox' object has no attribute '(\w+)'"),
        "the loss calls an ndarray method that autograd does not forward (for example "
        "`a.dot(b)` or `a.copy()`). Call the autograd.numpy function instead (np.dot(a, b)).",
    ),
]

_MISSING = object()


class AutogradBackend:
    """Reverse-mode autodiff with HIPS autograd (see the module docs).

    Unlike ``autograd.grad``, one trace carries a separate root node per argument, so a single
    backward pass yields every argument's gradient and tells an unreached argument (``None``)
    from a zero gradient.
    """

    name = "autograd"
    numpy = anp
    numpy_hint = "autograd.numpy (import autograd.numpy as np)"
    #: Second order is reverse over reverse: a primitive's VJP may call primitives.
    forward_over_reverse = False
    #: Nothing is compiled: every operation in a function is recorded on every call.
    compiles = False

    # -- tracing ---------------------------------------------------------------------------
    def trace(
        self,
        fun: Callable[..., Any],
        args: Sequence[Any],
        constants: Sequence[Any] = (),
        key: Any = None,
    ) -> _AutogradTrace:
        """Runs ``fun(*args, *constants)`` with each of ``args`` traced (``key`` is ignored)."""
        trace_stack.top += 1
        trace_id = trace_stack.top
        try:
            roots = [VJPNode.new_root() for _ in args]
            boxes = [new_box(arg, trace_id, root) for arg, root in zip(args, roots)]
            out = fun(*boxes, *constants)
        finally:
            trace_stack.top -= 1
        if isbox(out) and out._trace == trace_id:
            return _AutogradTrace(out._value, out._node, roots)
        if isinstance(out, np.ndarray) and out.dtype == object and any(map(isbox, out.flat)):
            # np.array([w[0], w[1]]) packs tracers into an object array: no path would lead
            # back to the arguments, and every gradient would silently be None.
            raise TypeError(
                "The function returned a numpy object array of ArrayBox tracers (np.array or "
                "np.asarray of traced entries), which autograd cannot differentiate."
            )
        return _AutogradTrace(out, None, roots)

    def value_and_gradients(self, fun, args, constants=(), key=None):
        """One trace and one backward pass with a cotangent of one (``fun`` scalar)."""
        trace = self.trace(fun, args, constants)
        return trace.value, trace.gradients(_unit_cotangent(trace.value))

    def second_order(self, fun, args, constants=(), key=None) -> _AutogradSecondOrder:
        """The value, the gradients and a trace of the flat gradient, for ``H @ v``.

        The gradient is traced once (every argument's gradient raveled and concatenated, zeros
        where there is no path); each :meth:`hvp` is one backward pass through it.
        """
        first: dict[str, Any] = {}

        def flat_gradient(*xs: Any) -> Any:
            inner = self.trace(fun, xs, constants)
            grads = inner.gradients(anp.ones_like(getval(inner.value)))
            first["value"] = getval(inner.value)
            first["grads"] = [None if g is None else getval(g) for g in grads]
            parts = [
                anp.zeros(anp.size(x)) if g is None else anp.ravel(g) for g, x in zip(grads, xs)
            ]
            return anp.concatenate(parts)

        outer = self.trace(flat_gradient, args)
        return _AutogradSecondOrder(first["value"], first["grads"], outer)

    def compiled(self, fun: Callable[..., Any], key: Any) -> Callable[..., Any]:
        """``fun`` itself: autograd does not compile."""
        return fun

    # -- operations with gradients of their own --------------------------------------------
    def primitive(self, fun: Callable[..., Any], make_vjp: Callable, name: str) -> Callable:
        """``fun`` as one autograd primitive whose VJP comes from ``make_vjp``.

        ``make_vjp(argnums, ans, args, kwargs)`` returns ``g -> [cotangent per argnum]``; a
        ``None`` cotangent is a zero of its argument.

        Raises:
            TypeError: (when called) ``fun`` returned a traced value: it read a traced value
                that is not one of its arguments.
        """

        def body(*args: Any, **kwargs: Any) -> Any:
            value = fun(*args, **kwargs)
            if isbox(value):
                raise TypeError(
                    f"{name} computed its value from a traced variable it was not given; pass "
                    "the variable's value in as an argument: f(W.value, ...)."
                )
            return value

        body.__name__ = getattr(fun, "__name__", "primitive")
        wrapped = autograd_primitive(body)
        defvjp_argnums(wrapped, _zero_filled(make_vjp))
        return wrapped

    def is_primitive(self, fun: Any) -> bool:
        """Whether ``fun`` is an autograd primitive (an ``autograd.numpy`` function...)."""
        return callable(fun) and bool(getattr(fun, "_is_autograd_primitive", False))

    @contextlib.contextmanager
    def override_gradients(self, rules: Mapping[Callable, Callable]) -> Iterator[None]:
        """Within the block, each primitive of ``rules`` differentiates by its ``make_vjp``.

        Edits autograd's process-wide registry (the caller serializes blocks); functions
        autograd treats as non-differentiable become differentiable. Everything is restored on
        exit, also when an exception escapes.
        """
        notrace = notrace_primitives[VJPNode]
        saved = [(fun, primitive_vjps.get(fun, _MISSING), fun in notrace) for fun in rules]
        try:
            for fun, make_vjp in rules.items():
                primitive_vjps[fun] = _zero_filled(make_vjp)
                notrace.discard(fun)
            yield
        finally:
            for fun, vjp, was_notrace in reversed(saved):
                if vjp is _MISSING:
                    primitive_vjps.pop(fun, None)
                else:
                    primitive_vjps[fun] = vjp
                if was_notrace:
                    notrace.add(fun)

    def stop_gradient(self, x: Any) -> Any:
        """``x`` unchanged, with no path back through it."""
        return _stop_gradient(x)

    def is_traced(self, x: Any) -> bool:
        """Whether ``x`` is an autograd tracer (an ``ArrayBox``)."""
        return isbox(x)

    def unbox(self, x: Any) -> Any:
        """The plain value inside a (possibly nested) tracer; other values as they are."""
        return getval(x)

    # -- failures --------------------------------------------------------------------------
    def explain_failure(self, exc: BaseException) -> str | None:
        """Why autograd could not follow the function, in the user's terms, or None."""
        text = str(exc)
        for exc_type, pattern, cause in _TRACE_ERRORS:
            if isinstance(exc, exc_type) and pattern.search(text):
                return cause
        return None

    def is_trace_failure(self, exc: BaseException) -> bool:
        """A failure :meth:`explain_failure` knows, or any error naming autograd's tracer
        (``ArrayBox``): plain Python or numpy code met a traced value."""
        return self.explain_failure(exc) is not None or "ArrayBox" in str(exc)

    def scope(self) -> contextlib.AbstractContextManager:
        """Nothing to set up for a block."""
        return contextlib.nullcontext()

    def make_default(self, default: bool) -> None:
        """Nothing to set up process-wide."""

    # -- operators of traced values and Variables ------------------------------------------
    def defer_operators_to(self, cls: type) -> None:
        """Makes autograd's traced arrays return NotImplemented from binary operators whose
        right operand is a ``cls``, so that Python calls ``cls``'s reflected operator.

        autograd's ``ArrayBox.__add__`` (and the other forward operators) would hand such an
        operand to the raw numpy function, which sees neither the tracer inside it nor a way
        back; the reflected operator of ``cls`` can unwrap it first. Only operands of the
        registered classes are affected. Idempotent.
        """
        if cls not in _DEFER_TO:
            _DEFER_TO.append(cls)
            _defer_state["types"] = tuple(_DEFER_TO)
        _install_deferring_operators()


def _zero_filled(make_vjp: Callable) -> Callable:
    """``make_vjp`` with each ``None`` cotangent replaced by a zero of its argument."""

    def vjp_argnums(argnums: tuple[int, ...], ans: Any, args: tuple, kwargs: dict) -> Callable:
        vjp = make_vjp(argnums, ans, args, kwargs)

        def filled(g: Any) -> list[Any]:
            return [
                vspace(args[i]).zeros() if c is None else c for c, i in zip(vjp(g), argnums)
            ]

        return filled

    return vjp_argnums


@notrace_primitive
def _stop_gradient(x: Any) -> Any:
    return x


# Forward binary operators of autograd's ArrayBox (the reflected ones are only reached once the
# left operand gave up, so they need nothing).
_FORWARD_OPERATORS = (
    "__add__", "__sub__", "__mul__", "__truediv__", "__mod__", "__pow__", "__matmul__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
)  # fmt: skip
_DEFER_TO: list[type] = []
_defer_state: dict[str, tuple[type, ...]] = {"types": ()}


def _install_deferring_operators() -> None:
    from autograd.numpy.numpy_boxes import ArrayBox

    for name in _FORWARD_OPERATORS:
        original = ArrayBox.__dict__.get(name)
        if original is None or getattr(original, "_optim_defers", False):
            continue

        def operator(self: Any, other: Any, _original: Any = original) -> Any:
            if isinstance(other, _defer_state["types"]):
                return NotImplemented
            return _original(self, other)

        operator._optim_defers = True  # type: ignore[attr-defined]
        operator.__name__ = name
        operator.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(ArrayBox, name, operator)
