"""The jax engine: JAX's autodiff, with pure functions jit-compiled once per key and shapes.

Implements :class:`optim.backend.Backend` (optional: ``pip install "optim[jax]"``). The
functions it differentiates are written with ``jax.numpy``.

* **Compilation.** A call with a ``key`` (a pure function, see :mod:`optim.backend`) is
  jit-compiled: value and gradients as one ``jax.value_and_grad``, Hessian-vector products as
  the forward-mode derivative of the gradient (forward over reverse, ``jax.jvp`` of
  ``jax.grad``), vector-Jacobian products as ``jax.vjp``. The compiled functions are kept per
  ``key`` (the last :data:`COMPILED_KEPT`), so a second ``optim.minimize`` of the same ``fun``
  does not trace it again; jax itself compiles once per argument shapes and dtypes.
  ``constants`` are traced arguments too (new values of the same shape cost no compilation),
  except Python ``bool`` and ``int`` values and anything that is not an array or a pytree of
  arrays, which are static: part of the cache key, so they must be hashable. A call without a
  ``key`` (a closure that may read mutable state) runs eagerly, op by op, every time: never
  compiled, so it can never go stale.
* **float64.** Every computation runs with ``jax_enable_x64`` on (scoped, through
  ``jax.enable_x64``): float64 arrays stay float64, float32 ones float32, and arrays created
  without a dtype are float64, as in numpy. :meth:`JaxBackend.scope` turns it on for a
  ``use_backend("jax")`` block, so that the user's own jax code there agrees.
* **Dependence.** JAX has no "no path" marker: an argument the output does not reach gets a
  zero gradient, never ``None``.
* **Results** are numpy arrays (writable copies); values are 0-d numpy arrays.

Not yet here (issue 11, point 4): ``custom_gradient`` and ``optim.nn``'s primitives
(:meth:`JaxBackend.primitive` raises), ``gradient_override_map`` (raises), the TF world's
``None`` for unreached variables.
"""

from __future__ import annotations

import collections
import contextlib
import numbers
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without jax
    raise ImportError(
        'The jax backend needs jax (>= 0.4.30), which is not installed: pip install "optim[jax]".'
    ) from exc

__all__ = ["JaxBackend", "COMPILED_KEPT"]

#: How many compiled functions are kept (all kinds together); the least recently used goes first.
COMPILED_KEPT = 256

_enable_x64 = getattr(jax, "enable_x64", None)
if _enable_x64 is None:  # jax < 0.8
    from jax.experimental import enable_x64 as _enable_x64


def _x64() -> contextlib.AbstractContextManager:
    return _enable_x64(True)


def _to_numpy(x: Any) -> np.ndarray:
    return np.array(x)


def _is_traced_constant(x: Any) -> bool:
    """Whether a constant is passed to compiled code as a traced argument (else static)."""
    if isinstance(x, (bool, int)):  # Python flags and sizes
        return False
    return all(
        isinstance(leaf, (np.ndarray, np.generic, jax.Array, numbers.Number))
        for leaf in jax.tree_util.tree_leaves(x)
    )


class _Split:
    """The constants of a call, split into traced ones and static ones (the cache key part)."""

    __slots__ = ("traced", "static_key", "merge")

    def __init__(self, constants: Sequence[Any]) -> None:
        constants = tuple(constants)
        traced_at = tuple(i for i, c in enumerate(constants) if _is_traced_constant(c))
        static = tuple((i, c) for i, c in enumerate(constants) if i not in traced_at)
        for i, c in static:
            try:
                hash(c)
            except TypeError:
                raise TypeError(
                    f"The constant argument {i} of a compiled function must be an array, a "
                    f"pytree of arrays or a hashable value, got {type(c).__name__}."
                ) from None
        self.traced = tuple(constants[i] for i in traced_at)
        self.static_key = (len(constants), traced_at, static)
        count = len(constants)

        def merge(traced: Sequence[Any]) -> tuple:
            out: list[Any] = [None] * count
            for i, value in zip(traced_at, traced):
                out[i] = value
            for i, value in static:
                out[i] = value
            return tuple(out)

        self.merge = merge


class _JaxTrace:
    __slots__ = ("value", "_vjp", "_apply")

    def __init__(self, value: Any, vjp: Any, apply: Callable) -> None:
        self.value = np.asarray(value)
        self._vjp = vjp
        self._apply = apply

    def gradients(self, cotangent: Any) -> list[Any]:
        cotangent = np.asarray(cotangent, dtype=self.value.dtype)
        with _x64():
            (grads,) = self._apply(self._vjp, cotangent)  # one cotangent: the leaves' tuple
        return [_to_numpy(g) for g in grads]


class _JaxSecondOrder:
    """Value, gradients and ``H @ v`` at one point (forward over reverse)."""

    __slots__ = ("value", "gradients", "_hvp", "_args")

    def __init__(self, value: Any, gradients: list[Any], hvp: Callable, args: tuple) -> None:
        self.value = value
        self.gradients = gradients
        self._hvp = hvp
        self._args = args

    def hvp(self, vectors: Sequence[Any]) -> list[Any]:
        tangents = tuple(
            np.asarray(v).reshape(np.shape(a)).astype(np.result_type(a), copy=False)
            for v, a in zip(vectors, self._args)
        )
        with _x64():
            products = self._hvp(tangents)
        return [_to_numpy(p) for p in products]


def _apply_vjp(vjp: Any, cotangent: Any) -> Any:
    return vjp(cotangent)


# The failures jax reports when it cannot follow a function, and what they mean.
_TRACE_ERRORS: list[tuple[tuple[type[BaseException], ...], str, str]] = [
    (
        (jax.errors.TracerArrayConversionError,),
        "",
        "the function converts a traced value into a numpy array (np.asarray, or a plain numpy "
        "function such as np.exp applied to it). Use the jax.numpy function (jnp.exp) instead.",
    ),
    (
        (jax.errors.ConcretizationTypeError,),
        "",
        "the function needs the concrete value of a traced one (float(), int(), .item(), the "
        "math module, or Python `if`/`while` on it). Keep it an array: jnp functions, "
        "jnp.where or jax.lax.cond.",
    ),
    (
        (TypeError,),
        "JAX arrays are immutable",
        "the function assigns into an array (`x[i] = ...`); JAX arrays are immutable. Write "
        "`x = x.at[i].set(...)` instead.",
    ),
]


class JaxBackend:
    """Autodiff with JAX, jit-compiled for pure functions (see the module docs)."""

    name = "jax"
    numpy = jnp
    numpy_hint = "jax.numpy (import jax.numpy as jnp)"

    def __init__(self) -> None:
        self._compiled: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self._apply = jax.jit(_apply_vjp)

    # -- compiled functions ----------------------------------------------------------------
    def _jitted(self, kind: str, fun: Callable, key: Any, split: _Split, n: int) -> Callable:
        cache_key = (kind, key, n, split.static_key)
        with self._lock:
            jitted = self._compiled.get(cache_key)
            if jitted is not None:
                self._compiled.move_to_end(cache_key)
                return jitted
        merge = split.merge

        def call(leaves: tuple, traced: tuple) -> Any:
            return fun(*leaves, *merge(traced))

        if kind == "value_and_grad":

            def compiled(leaves, traced):
                return jax.value_and_grad(lambda ls: call(ls, traced))(leaves)

        elif kind == "hvp":

            def compiled(leaves, traced, tangents):
                def grad(ls):
                    return jax.grad(lambda inner: call(inner, traced))(ls)

                return jax.jvp(grad, (leaves,), (tangents,))[1]

        else:  # "vjp"

            def compiled(leaves, traced):
                return jax.vjp(lambda ls: call(ls, traced), leaves)

        jitted = jax.jit(compiled)
        with self._lock:
            self._compiled[cache_key] = jitted
            while len(self._compiled) > COMPILED_KEPT:
                self._compiled.popitem(last=False)
        return jitted

    # -- the protocol ----------------------------------------------------------------------
    def trace(self, fun, args, constants=(), key=None) -> _JaxTrace:
        """``jax.vjp`` of ``fun(*args, *constants)``: compiled with a ``key``, else eager."""
        leaves = tuple(args)
        with _x64():
            if key is None:
                value, vjp = jax.vjp(lambda ls: fun(*ls, *constants), leaves)
                return _JaxTrace(value, vjp, _apply_vjp)
            split = _Split(constants)
            jitted = self._jitted("vjp", fun, key, split, len(leaves))
            value, vjp = jitted(leaves, split.traced)
        return _JaxTrace(value, vjp, self._apply)

    def value_and_gradients(self, fun, args, constants=(), key=None):
        """One ``jax.value_and_grad`` (compiled with a ``key``); zeros where there is no path."""
        leaves = tuple(args)
        with _x64():
            if key is None:
                value, grads = jax.value_and_grad(lambda ls: fun(*ls, *constants))(leaves)
            else:
                split = _Split(constants)
                jitted = self._jitted("value_and_grad", fun, key, split, len(leaves))
                value, grads = jitted(leaves, split.traced)
            return np.asarray(value), [_to_numpy(g) for g in grads]

    def second_order(self, fun, args, constants=(), key=None) -> _JaxSecondOrder:
        """The value and gradients now; each ``hvp`` one compiled ``jvp`` of the gradient."""
        leaves = tuple(args)
        value, grads = self.value_and_gradients(fun, leaves, constants, key)
        if key is None:

            def hvp(tangents: tuple) -> Any:
                def grad(ls):
                    return jax.grad(lambda inner: fun(*inner, *constants))(ls)

                return jax.jvp(grad, (leaves,), (tangents,))[1]

        else:
            split = _Split(constants)
            jitted = self._jitted("hvp", fun, key, split, len(leaves))

            def hvp(tangents: tuple) -> Any:
                return jitted(leaves, split.traced, tangents)

        return _JaxSecondOrder(value, grads, hvp, leaves)

    def primitive(self, fun: Callable, make_vjp: Callable, name: str) -> Callable:
        """Not available yet on jax (issue 11, point 4).

        Raises:
            NotImplementedError: always, naming the operation.
        """
        raise NotImplementedError(
            f"{name} has a hand-written gradient (optim.custom_gradient, optim.nn), which the "
            "jax backend does not support yet; use jax.custom_vjp, or the autograd backend."
        )

    def is_primitive(self, fun: Any) -> bool:
        """Any callable: :meth:`override_gradients` then says why it cannot override it."""
        return callable(fun)

    def override_gradients(self, rules: dict) -> contextlib.AbstractContextManager:
        """Not supported on jax.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(
            "gradient_override_map is not supported on the jax backend (jax has no registry of "
            "gradients to swap); write the function with jax.custom_vjp, or use the autograd "
            "backend."
        )

    def stop_gradient(self, x: Any) -> Any:
        """``jax.lax.stop_gradient``."""
        return jax.lax.stop_gradient(x)

    def is_traced(self, x: Any) -> bool:
        """Whether ``x`` is a jax tracer."""
        return isinstance(x, jax.core.Tracer)

    def unbox(self, x: Any) -> Any:
        """``x`` itself: a jax tracer has no plain value to give."""
        return x

    def explain_failure(self, exc: BaseException) -> str | None:
        """Why jax could not follow the function, in the user's terms, or None."""
        text = str(exc)
        for types, needle, cause in _TRACE_ERRORS:
            if isinstance(exc, types) and needle in text:
                return cause
        return None

    def is_trace_failure(self, exc: BaseException) -> bool:
        """A failure :meth:`explain_failure` knows, another of jax's tracer errors, or any
        error naming a tracer: plain Python or numpy code met a traced value."""
        return (
            self.explain_failure(exc) is not None
            or isinstance(exc, (jax.errors.JAXTypeError, jax.errors.UnexpectedTracerError))
            or "Tracer" in str(exc)
        )

    def scope(self) -> contextlib.AbstractContextManager:
        """float64 on (``jax.enable_x64(True)``) for the block."""
        return _x64()

    def defer_operators_to(self, cls: type) -> None:
        """Nothing to do: jax arrays already leave operators with unknown operands to them."""
