"""The autodiff engine behind optim: the :class:`Backend` protocol and the choice of engine.

Everything in optim that differentiates goes through a backend; the engines live in
:mod:`optim.backends` (``"autograd"``, HIPS autograd, the default; ``"jax"``, optional, installed
with ``pip install "optim[jax]"``). The one value-and-gradient path of both worlds,
:func:`optim.gradients.value_and_gradients`, calls the active backend.

Choosing the engine:

* globally: ``optim.set_backend("jax")``;
* for a block: ``with optim.use_backend("jax"): ...`` (per thread and per asyncio task);
* for one call: ``optim.minimize(..., backend="jax")``.

Importing optim never imports jax: an engine is loaded the first time it is named.

The protocol (what an engine implements; ``constants`` are extra positional arguments that are
not differentiated, ``key`` says whether ``fun`` may be compiled):

``trace(fun, args, constants=(), key=None) -> Trace``
    Runs ``fun(*args, *constants)`` once, recording what is done with each of ``args``.
``Trace.value``
    The forward value (not traced).
``Trace.gradients(cotangent) -> list``
    One backward pass: the vector-Jacobian product of ``cotangent`` with respect to each of
    ``args``, or ``None`` for an argument the output does not reach (an engine that cannot tell
    gives zeros).
``value_and_gradients(fun, args, constants=(), key=None) -> (value, gradients)``
    For a scalar ``fun``: the value and the gradients (a cotangent of one), in one pass.
``second_order(fun, args, constants=(), key=None) -> SecondOrder``
    For a scalar ``fun`` at one point: ``.value``, ``.gradients`` and ``.hvp(vectors)``, the
    Hessian-vector products ``H @ v`` per argument (``None`` where there is no path); many
    products at one point share the work of the first. ``.hvp_batch(vectors)`` takes ``k``
    vectors per argument at once, stacked along a new first axis, and stacks the ``k``
    products the same way (jax: one compiled call, ``jax.vmap`` over the vectors; autograd:
    one backward pass each). :func:`optim.gradients.dense_hessian` is built on it.
``compiled(fun, key) -> callable``
    ``fun`` compiled once per ``key`` and argument shapes (jax: ``jax.jit``), or ``fun`` itself
    (autograd). Differentiable: it may be called on traced values. :func:`optim.jit_closure`
    is built on it.
``primitive(fun, make_vjp, name) -> callable``
    An operation with a hand-written gradient: ``fun(*args)`` runs on plain values and
    ``make_vjp(argnums, ans, args, kwargs)`` returns ``g -> [cotangent per index of argnums]``
    (``None``: zeros). :func:`optim.custom_gradient` and :mod:`optim.nn` are built on it.
``override_gradients(rules)``, ``is_primitive(fun)``
    A context manager under which each primitive ``fun`` of ``rules`` differentiates by its rule
    (a ``make_vjp`` as above): :func:`optim.gradient_override_map`.
``stop_gradient(x)``, ``is_traced(x)``, ``unbox(x)``
    The identity that cuts the backward path; whether ``x`` is being traced; its plain value.
``explain_failure(exc) -> str | None``, ``is_trace_failure(exc) -> bool``
    Why the engine could not follow a function (in words for the user), and whether ``exc`` is
    such a failure rather than an error of the function itself.
``scope()``
    A context manager entered for the duration of a ``use_backend`` block (jax: float64 on).
``make_default(default)``
    Called by ``set_backend`` with True when the engine becomes every thread's default, with
    False when it stops being it: what ``scope`` sets for a block, set process-wide (jax: its
    ``jax_enable_x64`` flag, restored afterwards).
``defer_operators_to(cls)``
    Makes a traced value on the left of a binary operator (``traced + other``) leave the
    operation to ``other``'s reflected operator when ``other`` is a ``cls`` (how ``x @ W + b``
    traces with Variables ``W`` and ``b``).
``name``, ``numpy``, ``numpy_hint``
    The engine's name, its array namespace (``autograd.numpy``, ``jax.numpy``), and how a user
    imports it, for messages. :mod:`optim.numpy` resolves to the active engine's ``numpy``.
``compiles``
    Whether calls with a ``key`` are compiled (jax). A caller then does its array bookkeeping
    (cutting scipy's flat vector into leaves, casting them) inside the function, where it
    costs nothing per call, rather than around each call.
``forward_over_reverse``
    Whether ``second_order`` takes the forward-mode derivative of the gradient (jax). Such an
    engine cannot differentiate a primitive's hand-written VJP again if that VJP calls
    primitives itself, so a VJP meant for second order is then written with ``numpy`` alone.

``key`` is ``None`` for a function that may read mutable state (the TF world's closures read
``Variable.value``): it is run as it is, every time. A hashable ``key`` declares ``fun`` a pure
function of its arguments, identified by ``key``: an engine may compile it once per key and
argument shapes (jax jit-compiles; autograd ignores it).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

__all__ = [
    "check_backend_name",
    "Backend",
    "Trace",
    "SecondOrder",
    "BACKEND_NAMES",
    "get_backend",
    "set_backend",
    "use_backend",
]

#: The engines optim knows, by name: module in optim.backends, class.
_ENGINES = {
    "autograd": ("optim.backends.autograd", "AutogradBackend"),
    "jax": ("optim.backends.jax", "JaxBackend"),
}

#: The names :func:`set_backend`, :func:`use_backend` and ``minimize(backend=)`` accept.
BACKEND_NAMES = tuple(_ENGINES)

#: The engine that is active when nothing else was chosen.
DEFAULT_BACKEND = "autograd"


class Trace(Protocol):
    """One recorded forward pass (see the module docs)."""

    value: Any

    def gradients(self, cotangent: Any) -> list[Any]: ...


class SecondOrder(Protocol):
    """Value, gradients and Hessian-vector products of a scalar function at one point."""

    value: Any
    gradients: list[Any]

    def hvp(self, vectors: Sequence[Any]) -> list[Any]: ...

    def hvp_batch(self, vectors: Sequence[Any]) -> list[Any]: ...


class Backend(Protocol):
    """An autodiff engine (see the module docs for each method's contract)."""

    name: str
    numpy: Any
    numpy_hint: str
    compiles: bool
    forward_over_reverse: bool

    def trace(
        self, fun: Callable[..., Any], args: Sequence[Any], constants: Sequence[Any] = (),
        key: Any = None,
    ) -> Trace: ...  # fmt: skip

    def value_and_gradients(
        self, fun: Callable[..., Any], args: Sequence[Any], constants: Sequence[Any] = (),
        key: Any = None,
    ) -> tuple[Any, list[Any]]: ...  # fmt: skip

    def second_order(
        self, fun: Callable[..., Any], args: Sequence[Any], constants: Sequence[Any] = (),
        key: Any = None,
    ) -> SecondOrder: ...  # fmt: skip

    def compiled(self, fun: Callable[..., Any], key: Any) -> Callable[..., Any]: ...

    def primitive(self, fun: Callable[..., Any], make_vjp: Callable, name: str) -> Callable: ...

    def is_primitive(self, fun: Any) -> bool: ...

    def override_gradients(self, rules: dict) -> contextlib.AbstractContextManager: ...

    def stop_gradient(self, x: Any) -> Any: ...

    def is_traced(self, x: Any) -> bool: ...

    def unbox(self, x: Any) -> Any: ...

    def explain_failure(self, exc: BaseException) -> str | None: ...

    def is_trace_failure(self, exc: BaseException) -> bool: ...

    def scope(self) -> contextlib.AbstractContextManager: ...

    def make_default(self, default: bool) -> None: ...

    def defer_operators_to(self, cls: type) -> None: ...


_instances: dict[str, Any] = {}
_load_lock = threading.Lock()
_default = {"name": DEFAULT_BACKEND}
_default_lock = threading.Lock()
_active: contextvars.ContextVar[str | None] = contextvars.ContextVar("optim_backend", default=None)


def check_backend_name(name: Any, what: str = "backend") -> str:
    """Validates an engine name; returns it.

    Args:
        name: the name to check.
        what: the argument named in the message.

    Raises:
        TypeError: not a string.
        ValueError: not one of :data:`BACKEND_NAMES`.
    """
    if not isinstance(name, str):
        raise TypeError(f"`{what}` must be one of {BACKEND_NAMES}, got {name!r}.")
    if name not in _ENGINES:
        raise ValueError(f"`{what}` must be one of {BACKEND_NAMES}, got {name!r}.")
    return name


def _load(name: str) -> Any:
    backend = _instances.get(name)
    if backend is not None:
        return backend
    with _load_lock:
        backend = _instances.get(name)
        if backend is None:
            module_name, class_name = _ENGINES[name]
            module = importlib.import_module(module_name)  # may raise ImportError (jax missing)
            backend = getattr(module, class_name)()
            _instances[name] = backend
    return backend


def get_backend(name: str | None = None) -> Any:
    """The active autodiff backend, or the engine called ``name``.

    Args:
        name: ``None`` for the active one (the innermost :func:`use_backend` block of this
            thread, else the :func:`set_backend` default, else autograd), or an engine name.

    Raises:
        ValueError: an unknown name.
        ImportError: the engine's package is not installed (``pip install "optim[jax]"``).
    """
    if name is None:
        name = _active.get() or _default["name"]
    else:
        check_backend_name(name, "name")
    return _load(name)


def set_backend(name: str) -> None:
    """Makes the engine called ``name`` the default of every thread (``"autograd"`` or ``"jax"``).

    A :func:`use_backend` block or ``minimize(backend=...)`` still takes precedence. What a
    ``use_backend`` block sets up for its duration holds process-wide while the engine is the
    default: ``set_backend("jax")`` turns on jax's float64 (``jax_enable_x64``) so that float64
    arrays stay float64 in every computation, and ``set_backend("autograd")`` restores the
    flag as it was.

    Raises:
        TypeError, ValueError: ``name`` is not one of :data:`BACKEND_NAMES`.
        ImportError: the engine's package is not installed; the default is unchanged.

    Example:
        >>> optim.set_backend("jax")
    """
    check_backend_name(name, "name")
    new = _load(name)  # fail here, before anything changes
    with _default_lock:
        old = _load(_default["name"])
        if new is not old:
            new.make_default(True)
            old.make_default(False)
        _default["name"] = name


@contextlib.contextmanager
def use_backend(name: str | None) -> Iterator[Any]:
    """Within the block, the engine called ``name`` is the active one (this thread only).

    The block also enters the engine's :meth:`scope` (for jax: float64 enabled, so float64
    arrays stay float64). ``None`` keeps the active engine and enters its scope.

    Yields:
        The backend.

    Raises:
        TypeError, ValueError: ``name`` is not one of :data:`BACKEND_NAMES` (or None).
        ImportError: the engine's package is not installed.

    Example:
        >>> with optim.use_backend("jax"):
        ...     res = optim.minimize(fun, x0)
    """
    if name is not None:
        check_backend_name(name, "name")
    backend = get_backend(name)
    token = _active.set(backend.name)
    try:
        with backend.scope():
            yield backend
    finally:
        _active.reset(token)
