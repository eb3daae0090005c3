"""The jax engine: JAX's autodiff, with pure functions jit-compiled once per key and shapes.

Implements :class:`optim.backend.Backend` (optional: ``pip install "optim[jax]"``). The
functions it differentiates are written with ``jax.numpy``.

* **Compilation.** A call with a ``key`` (a pure function, see :mod:`optim.backend`) is
  jit-compiled: value and gradients as one ``jax.value_and_grad``, Hessian-vector products as
  the forward-mode derivative of the gradient (forward over reverse, ``jax.jvp`` of
  ``jax.grad``; ``jax.vmap`` of it for a batch of vectors, the columns of a dense Hessian),
  vector-Jacobian products as ``jax.vjp``. The compiled functions are kept per
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
* **Dependence.** JAX has no "no path" marker: its backward pass gives an argument the output
  does not reach a zero gradient. :meth:`JaxBackend.trace` recovers TF's ``None`` from the
  structure of the recorded computation: the linear map jax builds for the backward pass (the
  forward tangent program of ``jax.vjp``) is walked from its output back to its inputs, and an
  argument no equation connects to the output gets ``None`` (:func:`reached`). The rule is
  structural, as TF's: ``0 * x`` is a path, ``stop_gradient(x)`` and a branch not taken are not.
  The walk reads no values (about 30 µs on a two-layer network). The compiled
  ``value_and_gradients`` of the scipy world gives zeros (it has no use for ``None``).
* **Primitives** (:meth:`JaxBackend.primitive`, behind :func:`optim.custom_gradient` and
  :mod:`optim.nn`) are ``jax.custom_vjp`` functions: jax keeps only arrays between the passes, so
  the hand-written VJP is made in the backward pass from the forward's answer and arguments.
  jax can differentiate a ``custom_vjp`` function in reverse mode only, so a VJP written with
  other primitives cannot be differentiated again by forward over reverse
  (:attr:`JaxBackend.forward_over_reverse`); :mod:`optim.nn` writes its jax VJPs with plain
  ``jax.numpy``.
* **Overrides.** ``gradient_override_map`` is not supported (jax has no registry of gradient
  rules to swap): :meth:`JaxBackend.override_gradients` raises NotImplementedError saying so.
* **Results** are numpy arrays (writable, sharing memory with nothing the caller holds);
  values are 0-d numpy arrays. A compiled value-and-gradient brings its value and gradients to
  the host as one buffer when they share one dtype (one copy instead of one per array), and
  returns them as views into it, one per argument.
* **Fixed cost per call.** Besides jax's own dispatch, a compiled call costs a few µs here: the
  last call's plan per kind (the compiled function, which constants are traced) is reused when
  the same ``key`` object comes with constants of the same types (see ``_prepared``), and the
  x64 scope is not entered again when it is already on (inside ``minimize`` and
  ``use_backend``). ``jax.device_get`` is not used: on a tuple it costs more than one
  ``np.asarray`` per array.
* **Dispatch.** Loading this engine turns off jax's asynchronous dispatch on CPU
  (``jax_cpu_enable_async_dispatch``), so that a compiled call runs on the calling thread.
  optim needs every answer on the host at once (scipy reads the value and gradient before it
  asks for the next point), so dispatching to a worker thread and waiting for it buys nothing
  and costs a thread hand-over per call: about 60 µs per value-and-gradient on the loaded
  2-core test machine, a third of a Rosenbrock-100 evaluation. The results are the same either
  way. To keep asynchronous dispatch, set ``JAX_CPU_ENABLE_ASYNC_DISPATCH`` in the environment
  (optim then leaves the flag alone); the flag only takes effect when set before jax's CPU
  client starts (the first jax computation of the process).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import math
import numbers
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    import jax
    import jax.numpy as jnp
    from jax.extend.core import Jaxpr as _Jaxpr
    from jax.extend.core import Literal as _Literal
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without jax
    raise ImportError(
        'The jax backend needs jax (>= 0.4.30), which is not installed: pip install "optim[jax]".'
    ) from exc

__all__ = ["JaxBackend", "COMPILED_KEPT", "ASYNC_DISPATCH_VARIABLE", "reached"]

#: How many compiled functions are kept (all kinds together); the least recently used goes first.
COMPILED_KEPT = 256

_enable_x64 = getattr(jax, "enable_x64", None)
if _enable_x64 is None:  # jax < 0.8
    from jax.experimental import enable_x64 as _enable_x64


#: The environment variable by which a user keeps jax's asynchronous CPU dispatch (module docs).
ASYNC_DISPATCH_VARIABLE = "JAX_CPU_ENABLE_ASYNC_DISPATCH"


def _run_cpu_calls_inline() -> None:
    """CPU computations run on the calling thread, unless the environment chose (module docs)."""
    if ASYNC_DISPATCH_VARIABLE in os.environ:
        return
    try:
        jax.config.update("jax_cpu_enable_async_dispatch", False)
    except AttributeError:  # pragma: no cover - a jax without the flag (< 0.4.32)
        pass


_run_cpu_calls_inline()


def _x64() -> contextlib.AbstractContextManager:
    """float64 on for the block; nothing to enter when it is on already (inside ``minimize``,
    a ``use_backend("jax")`` block or with jax the default engine), which saves a few µs a call."""
    if jax.config.jax_enable_x64:
        return _NOTHING_TO_ENTER
    return _enable_x64(True)


_NOTHING_TO_ENTER = contextlib.nullcontext()  # reusable: it keeps no state


def _with_x64(call: Callable, *args: Any) -> Any:
    """``call(*args)`` with float64 on, as under :func:`_x64`, with no block to enter when it
    is on already: the hot calls (one per evaluation or Hessian product) go through here."""
    if jax.config.jax_enable_x64:
        return call(*args)
    with _enable_x64(True):
        return call(*args)


def _pack(value: Any, grads: tuple) -> Any:
    """Inside compiled code: the value and gradients as one flat buffer when they share one
    floating dtype (one array to bring to the host instead of one per gradient), else as they
    are. :func:`_unpack` tells the two apart by the type of what comes back."""
    if all(g.dtype == value.dtype for g in grads):
        return jnp.concatenate([jnp.reshape(value, (1,))] + [jnp.ravel(g) for g in grads])
    return value, grads


def _unpack(out: Any, leaves: tuple) -> tuple[np.ndarray, list[np.ndarray]]:
    """On the host: the value (0-d) and one gradient per leaf, as writable numpy arrays.

    A packed buffer is copied once and cut into views (one per leaf, shaped like it).
    """
    if not isinstance(out, tuple):
        buffer = np.array(out)
        if len(leaves) == 1:  # one argument (the scipy world's flat vector): one view
            (leaf,) = leaves
            shape = leaf.shape if type(leaf) is np.ndarray else np.shape(leaf)
            grad = buffer[1:]
            return buffer[0:1].reshape(()), [grad if len(shape) == 1 else grad.reshape(shape)]
        grads, offset = [], 1
        for leaf in leaves:
            shape = np.shape(leaf)
            size = math.prod(shape)
            grads.append(buffer[offset : offset + size].reshape(shape))
            offset += size
        return buffer[0:1].reshape(()), grads
    value, grads = out
    return np.array(value), [np.array(g) for g in grads]


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


# A constant passed traced in the plan of JaxBackend._prepared.
_TRACED = object()


# Constants whose type alone decides whether they are traced (see JaxBackend._prepared).
_PLAIN = (np.ndarray, np.generic, jax.Array, float, complex, int, str, type(None))


def _kinds(c: Any) -> Any:
    """What decides whether a constant is traced: its type, and for a tuple of plain values
    its items' types; None for anything else (no memo: the full split each call)."""
    if isinstance(c, _PLAIN):
        return type(c)
    if type(c) is tuple and all(isinstance(item, _PLAIN) for item in c):
        return tuple, tuple(map(type, c))
    return None


class _Compiled:
    """One compiled function and what tracing it found.

    Attributes:
        call: the ``jax.jit`` function.
        reached: for value-and-gradient functions, whether the output reaches each argument
            (set when jax traces the function; :func:`reached`).
    """

    __slots__ = ("call", "reached")

    def __init__(self) -> None:
        self.call: Any = None
        self.reached: tuple[bool, ...] = ()


def _needed_inputs(jaxpr: Any, needed_out: Sequence[bool]) -> list[bool]:
    """Which inputs of ``jaxpr`` (a ``jax.extend.core.Jaxpr``) some needed output depends on.

    One backward walk over the equations. An equation with a nested program under ``jaxpr``
    whose inputs and outputs map one to one onto its own (``jit``, ``closed_call``, remat) is
    walked inside; any other equation counts each of its inputs for each needed output (a
    superset: at worst a zero gradient instead of ``None``, never the reverse).
    """
    needed = {v for v, used in zip(jaxpr.outvars, needed_out) if used and not _literal(v)}
    for eqn in reversed(jaxpr.eqns):
        used = [v in needed for v in eqn.outvars]
        if not any(used):
            continue
        inner = eqn.params.get("jaxpr")
        inner = getattr(inner, "jaxpr", inner)  # a ClosedJaxpr's program
        if (
            isinstance(inner, _Jaxpr)
            and len(inner.invars) == len(eqn.invars)
            and len(inner.outvars) == len(eqn.outvars)
        ):
            inputs = [v for v, u in zip(eqn.invars, _needed_inputs(inner, used)) if u]
        else:
            inputs = eqn.invars
        needed.update(v for v in inputs if not _literal(v))
    return [v in needed for v in jaxpr.invars]


def _literal(v: Any) -> bool:
    return isinstance(v, _Literal)


def reached(vjp: Any, count: int, value: Any) -> list[bool]:
    """Which of the ``count`` differentiated arguments the output of ``jax.vjp`` reaches.

    Structural dependence (TF's rule): an argument is reached when the linear program jax
    recorded for the backward pass connects its tangent to the output, whatever the values (so
    ``0 * x`` reaches ``x``; ``stop_gradient(x)``, integer arithmetic and a branch not taken do
    not). The program is the ``jaxpr`` jax keeps on the object ``jax.vjp`` returns; where it is
    absent or does not have one input per argument (another jax release), the backward
    function itself is traced once with ``jax.make_jaxpr`` and the cotangent's uses are
    followed instead (same answer, some milliseconds).

    Args:
        vjp: the backward function ``jax.vjp`` returned (one output, one tuple of leaves).
        count: the number of differentiated arguments (leaves).
        value: the forward value (its shape and dtype are the cotangent's).

    Returns:
        One flag per argument.
    """
    jaxpr = getattr(vjp, "jaxpr", None)
    if isinstance(jaxpr, _Jaxpr) and len(jaxpr.invars) == count and len(jaxpr.outvars) == 1:
        return _needed_inputs(jaxpr, [True])
    return _reached_by_tracing(vjp, count, value)


def _reached_by_tracing(vjp: Any, count: int, value: Any) -> list[bool]:
    """:func:`reached` through the public API: which gradients depend on the cotangent."""
    cotangent = jax.ShapeDtypeStruct(np.shape(value), np.asarray(value).dtype)
    jaxpr = jax.make_jaxpr(vjp)(cotangent).jaxpr
    depends = set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        if any(v in depends for v in eqn.invars if not _literal(v)):
            depends.update(eqn.outvars)
    flags = [not _literal(v) and v in depends for v in jaxpr.outvars]
    return flags if len(flags) == count else [True] * count


class _JaxTrace:
    __slots__ = ("value", "_vjp", "_apply", "_reached")

    def __init__(self, value: Any, vjp: Any, apply: Callable, count: int) -> None:
        self.value = np.asarray(value)
        self._vjp = vjp
        self._apply = apply
        self._reached = reached(vjp, count, self.value)

    def gradients(self, cotangent: Any) -> list[Any]:
        cotangent = np.asarray(cotangent, dtype=self.value.dtype)
        with _x64():
            (grads,) = self._apply(self._vjp, cotangent)  # one cotangent: the leaves' tuple
        return [_to_numpy(g) if hit else None for g, hit in zip(grads, self._reached)]


class _JaxSecondOrder:
    """Value, gradients and ``H @ v`` at one point (forward over reverse).

    ``product(*args, *tangents)`` computes the products: the compiled function with the call's
    traced constants bound, or the eager one. Both give one array (or None) for one argument,
    else a sequence with one per argument: a single array is the cheapest thing to bring back
    from compiled code, and a point of the scipy world has one argument (its flat vector).
    ``batch`` takes the same arguments with ``k`` tangents stacked per argument (``jax.vmap``).
    """

    __slots__ = ("value", "gradients", "_product", "_batch", "_args")

    def __init__(
        self, value: Any, gradients: list[Any], product: Callable, batch: Callable, args: tuple
    ) -> None:
        self.value = value
        self.gradients = gradients
        self._product = product
        self._batch = batch
        self._args = args

    def hvp(self, vectors: Sequence[Any]) -> list[Any]:
        args = self._args
        if len(args) == 1:
            (arg,) = args
            product = _with_x64(self._product, arg, _tangent(vectors[0], arg))
            return [None if product is None else np.array(product)]
        products = _with_x64(self._product, *args, *map(_tangent, vectors, args))
        return [None if p is None else np.array(p) for p in products]

    def hvp_batch(self, vectors: Sequence[Any]) -> list[Any]:
        """``k`` products per argument in one call (``jax.vmap`` over the stacked vectors)."""
        args = self._args
        tangents = [_tangent_batch(v, a) for v, a in zip(vectors, args)]
        out = _with_x64(self._batch, *args, *tangents)
        products = [out] if len(args) == 1 else out
        return [None if p is None else np.array(p) for p in products]


def _tangent(vector: Any, arg: Any) -> Any:
    """``vector`` as a tangent of ``arg``: an array of its shape and dtype (no copy if it is)."""
    if type(vector) is np.ndarray and type(arg) is np.ndarray:
        if vector.dtype == arg.dtype and vector.shape == arg.shape:
            return vector
    return np.asarray(vector).reshape(np.shape(arg)).astype(np.result_type(arg), copy=False)


def _tangent_batch(vectors: Any, arg: Any) -> np.ndarray:
    """``k`` vectors stacked along a first axis, as tangents of ``arg``: ``(k, *arg.shape)``."""
    vectors = np.asarray(vectors)
    return vectors.reshape((len(vectors),) + np.shape(arg)).astype(np.result_type(arg), copy=False)


def _is_array(x: Any) -> bool:
    """An array, a tracer or a number: a primal argument of a primitive."""
    return isinstance(x, (np.ndarray, np.generic, jax.Array, jax.core.Tracer)) or (
        isinstance(x, numbers.Number) and not isinstance(x, (bool, int))
    )


def _is_floating(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return np.issubdtype(np.dtype(dtype) if dtype is not None else np.result_type(x), np.floating)


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
        self._x64_before: bool | None = None
        # Per kind of compiled function, the last call's (key, n, plan, entry): see _prepared.
        self._last: dict[str, tuple] = {}

    # -- compiled functions ----------------------------------------------------------------
    def _prepared(
        self, kind: str, fun: Callable, key: Any, constants: Sequence[Any], n: int
    ) -> tuple[_Compiled, tuple]:
        """The compiled function of a call and its traced constants.

        The last call's plan per kind is kept with its ``key``: a call with the same ``key``
        object, whose constants have the same types as before and, for the static ones (Python
        ints, bools, strings), the same values, reuses the compiled function without splitting
        the constants or looking the function up again (scipy's calls during one ``minimize``,
        each step of ``fit``). Only plain constants (arrays, numbers, strings, None, and flat
        tuples of them) qualify: their types alone decide the split. The plan keeps the static
        values, never an array.
        """
        memo = self._last.get(kind)
        if memo is not None and memo[0] is key and memo[1] == n and len(memo[2]) == len(constants):
            traced = []
            for c, (kinds, static) in zip(constants, memo[2]):
                if _kinds(c) != kinds:
                    break
                if static is _TRACED:
                    traced.append(c)
                elif c != static:
                    break
            else:
                return memo[3], tuple(traced)
        split = _Split(constants)
        entry = self._jitted(kind, fun, key, split, n)
        plan = tuple((_kinds(c), _TRACED if _is_traced_constant(c) else c) for c in constants)
        if all(kinds is not None for kinds, _ in plan):
            self._last[kind] = (key, n, plan, entry)
        else:
            self._last.pop(kind, None)
        return entry, split.traced

    def _jitted(self, kind: str, fun: Callable, key: Any, split: _Split, n: int) -> _Compiled:
        cache_key = (kind, key, n, split.static_key)
        with self._lock:
            entry = self._compiled.get(cache_key)
            if entry is not None:
                self._compiled.move_to_end(cache_key)
                return entry
        merge = split.merge

        def call(leaves: tuple, traced: tuple) -> Any:
            return fun(*leaves, *merge(traced))

        entry = _Compiled()

        if kind == "value_and_grad":

            def compiled(leaves, traced):
                value, vjp = jax.vjp(lambda ls: call(ls, traced), leaves)
                if jnp.shape(value) != () or not jnp.issubdtype(value.dtype, jnp.floating):
                    raise TypeError(
                        "A compiled gradient needs a floating-point scalar output, got shape "
                        f"{jnp.shape(value)} and dtype {value.dtype}."
                    )
                # when traced: TF's rule, None where no path
                entry.reached = tuple(reached(vjp, n, value))
                (grads,) = vjp(jnp.ones_like(value))
                return _pack(value, tuple(grads))

        elif kind in ("hvp", "hvp_batch"):
            batched = kind == "hvp_batch"  # each tangent then stacks k vectors

            def compiled(traced, *leaves_and_tangents):  # traced first: bound once per point
                leaves, tangents = leaves_and_tangents[:n], leaves_and_tangents[n:]

                def grad(ls):
                    return jax.grad(lambda inner: call(inner, traced))(ls)

                def product(ts):
                    return jax.jvp(grad, (leaves,), (ts,))[1]

                products = jax.vmap(product)(tangents) if batched else product(tangents)
                return products[0] if n == 1 else products

        else:  # "vjp"

            def compiled(leaves, traced):
                return jax.vjp(lambda ls: call(ls, traced), leaves)

        entry.call = jax.jit(compiled)
        with self._lock:
            self._compiled[cache_key] = entry
            while len(self._compiled) > COMPILED_KEPT:
                self._compiled.popitem(last=False)
        return entry

    # -- the protocol ----------------------------------------------------------------------
    def trace(self, fun, args, constants=(), key=None) -> _JaxTrace:
        """``jax.vjp`` of ``fun(*args, *constants)``: compiled with a ``key``, else eager.

        The gradients are ``None`` for an argument the output does not reach (:func:`reached`).
        """
        leaves = tuple(args)
        with _x64():
            if key is None:
                value, vjp = jax.vjp(lambda ls: fun(*ls, *constants), leaves)
                return _JaxTrace(value, vjp, _apply_vjp, len(leaves))
            split = _Split(constants)
            entry = self._jitted("vjp", fun, key, split, len(leaves))
            value, vjp = entry.call(leaves, split.traced)
        return _JaxTrace(value, vjp, self._apply, len(leaves))

    def value_and_gradients(self, fun, args, constants=(), key=None):
        """With a ``key``: one compiled ``jax.value_and_grad``. Without: an eager :meth:`trace`
        and its backward pass. ``None`` where the output does not reach an argument (for a
        compiled function, found when jax traces it)."""
        leaves = tuple(args)
        if key is None:
            trace = self.trace(fun, leaves, constants)
            dtype = trace.value.dtype if trace.value.dtype.kind == "f" else np.float64
            return trace.value, trace.gradients(np.ones((), dtype))
        entry, traced = self._prepared("value_and_grad", fun, key, constants, len(leaves))
        value, grads = _unpack(_with_x64(entry.call, leaves, traced), leaves)
        if all(entry.reached):
            return value, grads
        return value, [g if hit else None for g, hit in zip(grads, entry.reached)]

    def second_order(self, fun, args, constants=(), key=None) -> _JaxSecondOrder:
        """The value and gradients now; each ``hvp`` one compiled ``jvp`` of the gradient.

        Without a ``key`` the products run eagerly, and both the gradients and the products are
        ``None`` for an argument the function does not reach.
        """
        leaves = tuple(args)
        value, grads = self.value_and_gradients(fun, leaves, constants, key)
        if key is None:
            hits = [g is not None for g in grads]
            n = len(leaves)

            def grad(ls):
                return jax.grad(lambda inner: fun(*inner, *constants))(ls)

            def products_of(inputs: tuple, tangents: tuple, batched: bool) -> Any:
                if batched:
                    products = jax.vmap(lambda ts: jax.jvp(grad, (inputs,), (ts,))[1])(tangents)
                else:
                    products = jax.jvp(grad, (inputs,), (tangents,))[1]
                products = [p if hit else None for p, hit in zip(products, hits)]
                return products[0] if n == 1 else products

            def product(*leaves_and_tangents: Any) -> Any:
                return products_of(leaves_and_tangents[:n], leaves_and_tangents[n:], False)

            def batch(*leaves_and_tangents: Any) -> Any:
                return products_of(leaves_and_tangents[:n], leaves_and_tangents[n:], True)

        else:
            entry, traced = self._prepared("hvp", fun, key, constants, len(leaves))
            product = functools.partial(entry.call, traced)  # (*leaves, *tangents) -> products
            # compiled on first use: most points never ask for a batch
            batch = functools.partial(self._batched_products, fun, key, constants)
        return _JaxSecondOrder(value, grads, product, batch, leaves)

    def _batched_products(self, fun, key, constants, *leaves_and_tangents) -> Any:
        """The compiled ``hvp_batch`` of ``fun`` (prepared as every compiled call is)."""
        n = len(leaves_and_tangents) // 2
        entry, traced = self._prepared("hvp_batch", fun, key, constants, n)
        return entry.call(traced, *leaves_and_tangents)

    def compiled(self, fun: Callable, key: Any) -> Callable:
        """``jax.jit(fun)``, kept per ``key``; called with float64 on."""
        cache_key = ("call", key)
        with self._lock:
            jitted = self._compiled.get(cache_key)
            if jitted is not None:
                self._compiled.move_to_end(cache_key)
        if jitted is None:
            jitted = jax.jit(fun)
            with self._lock:
                self._compiled[cache_key] = jitted
                while len(self._compiled) > COMPILED_KEPT:
                    self._compiled.popitem(last=False)

        return functools.partial(_with_x64, jitted)

    #: Calls with a ``key`` are jit-compiled: bookkeeping inside the function costs nothing.
    compiles = True

    #: jax differentiates a ``custom_vjp`` function in reverse mode only, and its second order
    #: is forward over reverse: a primitive's VJP must not call primitives (see the module docs).
    forward_over_reverse = True

    def primitive(self, fun: Callable, make_vjp: Callable, name: str) -> Callable:
        """``fun`` as a ``jax.custom_vjp`` function whose VJP comes from ``make_vjp``.

        Array arguments (numpy or jax arrays, tracers, numbers) are the function's primal
        arguments, and those of a floating-point dtype are differentiated; anything else
        (Python ints such as an axis, strings, None) and the keyword arguments are fixed for
        the call. The forward pass calls ``fun`` on the arguments: plain arrays when the loss
        runs eagerly (any numpy code works), jax tracers inside compiled code (``fun`` must
        then be written with ``jax.numpy``). The backward pass calls ``make_vjp(argnums, ans,
        args, kwargs)`` with the forward's answer and arguments and applies it to the incoming
        gradient; a ``None`` cotangent is a zero.

        Raises:
            TypeError: (when called) ``fun`` returned a traced value from concrete arguments:
                it read a traced value that is not one of its arguments.
        """

        def call(*args: Any, **kwargs: Any) -> Any:
            dynamic = [i for i, a in enumerate(args) if _is_array(a)]
            floating = tuple(i for i in dynamic if _is_floating(args[i]))

            def full(values: Sequence[Any]) -> list[Any]:
                out = list(args)
                for i, v in zip(dynamic, values):
                    out[i] = v
                return out

            def forward(*values: Any) -> Any:
                try:
                    ans = fun(*full(values), **kwargs)
                except jax.errors.UnexpectedTracerError as exc:  # jax caught the same misuse
                    raise TypeError(
                        f"{name} computed its value from a traced variable it was not given; "
                        "pass the variable's value in as an argument: f(W.value, ...)."
                    ) from exc
                concrete = not any(isinstance(v, jax.core.Tracer) for v in values)
                if concrete and any(
                    isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(ans)
                ):
                    raise TypeError(
                        f"{name} computed its value from a traced variable it was not given; "
                        "pass the variable's value in as an argument: f(W.value, ...)."
                    )
                return ans

            op = jax.custom_vjp(forward)

            def fwd(*values: Any) -> Any:
                ans = forward(*values)
                return ans, (ans, values)

            def bwd(residuals: Any, g: Any) -> tuple:
                ans, values = residuals
                full_args = full(values)
                cotangents = dict(zip(floating, make_vjp(floating, ans, full_args, kwargs)(g)))
                out = []
                for i, v in zip(dynamic, values):
                    c = cotangents.get(i)
                    if i in cotangents and c is None:
                        c = jnp.zeros(np.shape(v), np.result_type(v))
                    out.append(c)  # None for an integer argument: no cotangent
                return tuple(out)

            op.defvjp(fwd, bwd)
            return op(*[args[i] for i in dynamic])

        call.__name__ = getattr(fun, "__name__", "primitive")
        call._optim_jax_primitive = True  # type: ignore[attr-defined]
        return call

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

    def make_default(self, default: bool) -> None:
        """float64 on process-wide (``jax_enable_x64``) while jax is the default engine; the
        flag as it was before, once it no longer is."""
        if default:
            if self._x64_before is None:
                self._x64_before = bool(jax.config.jax_enable_x64)
            jax.config.update("jax_enable_x64", True)
        elif self._x64_before is not None:
            jax.config.update("jax_enable_x64", self._x64_before)
            self._x64_before = None

    def defer_operators_to(self, cls: type) -> None:
        """Nothing to do: jax arrays already leave operators with unknown operands to them."""
