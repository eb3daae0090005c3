"""The autodiff engine behind optim, kept behind one small interface.

Everything in optim that differentiates goes through :class:`Backend`. The only implementation is
:class:`AutogradBackend` (HIPS autograd, reverse mode). Another engine can be added by writing a
class with the same methods; no optimizer and no gradient source needs to change.

The interface:

``trace(fun, args) -> Trace``
    Runs ``fun(*tracers)`` once, recording the operations applied to each positional argument.
``Trace.value``
    The forward value (unboxed).
``Trace.gradients(cotangent) -> list``
    One backward pass: the vector-Jacobian product of ``cotangent`` with respect to each
    argument, or ``None`` for an argument the output does not depend on (no recorded path).
``gradient_trace(fun, args) -> (value, gradients, Trace)``
    Second order at one point for a scalar ``fun``: the trace of the flat gradient, whose every
    backward pass with a vector ``p`` gives ``H @ p`` (many products for one trace).
``hessian_vector_product(fun, args, vectors) -> (value, gradients, products)``
    Second order for a scalar ``fun``: the value, the gradient and ``H @ v`` per argument
    (``None`` where there is no path), from one forward-over-reverse pass.
``defer_operators_to(cls)``
    Makes a traced value on the left of a binary operator (``traced + other``) leave the
    operation to ``other``'s reflected operator when ``other`` is a ``cls`` (how ``x @ W + b``
    traces with Variables ``W`` and ``b``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import autograd.numpy as anp
import numpy as np
from autograd.core import VJPNode, add_outgrads
from autograd.tracer import getval, isbox, new_box, toposort, trace_stack

__all__ = ["Backend", "Trace", "AutogradBackend", "get_backend"]


class Trace(Protocol):
    value: Any

    def gradients(self, cotangent: Any) -> list[Any]: ...


class Backend(Protocol):
    name: str

    def trace(self, fun: Callable[..., Any], args: Sequence[Any]) -> Trace: ...

    def gradient_trace(
        self, fun: Callable[..., Any], args: Sequence[Any]
    ) -> tuple[Any, list[Any], Trace]: ...

    def hessian_vector_product(
        self, fun: Callable[..., Any], args: Sequence[Any], vectors: Sequence[Any]
    ) -> tuple[Any, list[Any], list[Any]]: ...

    def defer_operators_to(self, cls: type) -> None: ...


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


class AutogradBackend:
    """Reverse-mode autodiff with HIPS autograd.

    Unlike ``autograd.grad``, one trace carries a separate root node per argument, so a single
    backward pass yields every argument's gradient and tells an unreached argument (``None``)
    from a zero gradient.
    """

    name = "autograd"

    def trace(self, fun: Callable[..., Any], args: Sequence[Any]) -> _AutogradTrace:
        trace_stack.top += 1
        trace_id = trace_stack.top
        try:
            roots = [VJPNode.new_root() for _ in args]
            boxes = [new_box(arg, trace_id, root) for arg, root in zip(args, roots)]
            out = fun(*boxes)
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

    def gradient_trace(self, fun, args):
        """The value, the gradients and a trace of the flat gradient, for second order.

        Returns ``(value, gradients, trace)``: ``trace.value`` is every argument's gradient
        raveled and concatenated (zeros where there is no path), and each
        ``trace.gradients(p)`` is one backward pass giving ``H @ p`` per argument (reverse over
        reverse; the Hessian is symmetric). Many products at one point cost one trace.
        """
        first: dict[str, Any] = {}

        def flat_gradient(*xs: Any) -> Any:
            inner = self.trace(fun, xs)
            grads = inner.gradients(anp.ones_like(getval(inner.value)))
            first["value"] = getval(inner.value)
            first["grads"] = [None if g is None else getval(g) for g in grads]
            parts = [
                anp.zeros(anp.size(x)) if g is None else anp.ravel(g) for g, x in zip(grads, xs)
            ]
            return anp.concatenate(parts)

        outer = self.trace(flat_gradient, args)
        return first["value"], first["grads"], outer

    def hessian_vector_product(self, fun, args, vectors):
        """Reverse over reverse: the gradient of ``sum_i <grad_i(x), v_i>``."""
        first: dict[str, Any] = {}

        def grad_dot_vectors(*xs: Any) -> Any:
            inner = self.trace(fun, xs)
            grads = inner.gradients(anp.ones_like(getval(inner.value)))
            first["value"], first["grads"] = (
                getval(inner.value),
                [None if g is None else getval(g) for g in grads],
            )
            terms = [anp.sum(g * v) for g, v in zip(grads, vectors) if g is not None]
            return sum(terms[1:], terms[0]) if terms else 0.0

        outer = self.trace(grad_dot_vectors, args)
        products = outer.gradients(anp.ones_like(getval(outer.value)))
        return first["value"], first["grads"], products


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


_BACKEND = AutogradBackend()


def get_backend() -> AutogradBackend:
    """The active autodiff backend."""
    return _BACKEND
