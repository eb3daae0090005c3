"""Swapping gradients: ``custom_gradient``, gradient overrides and ``stop_gradient``.

These change what reverse-mode autodiff records for one operation, with TF's names and semantics:

* :func:`custom_gradient` turns ``f(*x) -> (y, grad_fn)`` into one operation whose backward pass
  is ``grad_fn(dy)``.
* :func:`RegisterGradient` names a gradient rule; :func:`gradient_override_map` makes chosen
  ``autograd.numpy`` functions use such a rule for operations recorded inside a ``with`` block
  (the straight-through estimator for ``np.round`` or ``np.sign`` is the classic use).
* :func:`stop_gradient` is the identity forward and cuts the path backward: a variable reached
  only through it gets ``None`` from ``compute_gradients``.

The mechanics belong to the active backend (:meth:`optim.backend.Backend.primitive`,
``override_gradients``, ``stop_gradient``); this module holds TF's semantics: the checks of what
a gradient function returns, the registry of named rules and the lock of the override map.

Thread safety: the override map edits the backend's process-wide gradient registry. A
``gradient_override_map`` block holds a process-wide re-entrant lock from entry to exit, so
blocks in different threads run one after another and never see each other's overrides; code
that traces in *another* thread while a block is active, outside any block, does see the
overrides of that block. ``custom_gradient`` and ``stop_gradient`` are thread-safe.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .backend import get_backend

__all__ = [
    "custom_gradient",
    "RegisterGradient",
    "gradient_override_map",
    "stop_gradient",
    "Op",
]


class Op(NamedTuple):
    """What a registered gradient rule sees of the operation it differentiates (TF's ``op``)."""

    name: str
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    kwargs: dict[str, Any]


def _fn_name(f: Callable[..., Any]) -> str:
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", repr(f))


def _input_gradients(
    grads: Any, args: tuple[Any, ...], argnums: tuple[int, ...], who: str
) -> list[Any]:
    """Checks the gradients a rule returned (one per input) and picks those the backend needs
    (``None`` stays ``None``: the backend makes it a zero)."""
    if len(args) == 1 and not isinstance(grads, (list, tuple)):
        grads = (grads,)
    if not isinstance(grads, (list, tuple)) or len(grads) != len(args):
        count = len(grads) if isinstance(grads, (list, tuple)) else 1
        raise ValueError(
            f"The gradient of {who} must return one gradient per input ({len(args)}), got {count}."
        )
    picked = []
    for i in argnums:
        g = grads[i]
        if g is None:
            picked.append(None)
            continue
        expected = np.shape(args[i])
        if np.shape(g) != expected:
            raise ValueError(
                f"The gradient of {who} for input {i} must have the input's shape {expected}, "
                f"got {np.shape(g)}."
            )
        picked.append(g)
    return picked


def custom_gradient(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator giving ``f`` a gradient of its own, with ``tf.custom_gradient``'s semantics.

    ``f(*x)`` returns ``(y, grad_fn)``: ``y`` is the forward value and ``grad_fn(dy)`` returns
    the gradients with respect to the inputs, one per input (a single array for one input,
    ``None`` for "no gradient"). The decorated function is one operation for autodiff: its
    body is not traced, so it may use any numpy code. It works inside any loss given to
    ``compute_gradients`` / ``minimize`` and in the scipy-world functions, and composes with
    other custom-gradient functions.

    A variable that ``f`` depends on must be passed in as an argument (``f(W.value, x)``), not
    read inside ``f``.

    On the jax backend the function is a ``jax.custom_vjp``: its body sees plain arrays when
    the loss runs eagerly (the TF world's closures), jax tracers inside compiled code (the
    scipy world: write ``f`` and ``grad_fn`` with :mod:`optim.numpy` or ``jax.numpy``), and
    it runs once more in the backward pass to give ``grad_fn`` (jax keeps only arrays between
    the passes).

    Raises:
        TypeError: ``f`` does not return a ``(value, grad_fn)`` pair, or reads a traced value
            that is not one of its arguments.
        ValueError: (in the backward pass) ``grad_fn`` returns the wrong number of gradients or
            a gradient whose shape differs from its input's.

    Example:
        >>> @optim.custom_gradient
        ... def clip_grad_identity(x):
        ...     return x, lambda dy: np.clip(dy, -1.0, 1.0)
    """
    name = _fn_name(f)
    pending = threading.local()

    def forward(*args: Any) -> Any:
        out = f(*args)
        if not (isinstance(out, tuple) and len(out) == 2 and callable(out[1])):
            raise TypeError(
                f"custom_gradient function {name} must return a (value, grad_fn) pair, "
                f"got {type(out).__name__}."
            )
        value, grad_fn = out
        pending.grad_fn = grad_fn
        return value

    def make_vjp(argnums: tuple[int, ...], ans: Any, args: tuple, kwargs: dict) -> Callable:
        # autograd makes the VJP during the call, right after this call's forward set
        # `pending`; jax makes it in the backward pass, from the forward's arguments alone, so
        # the forward runs again there to give its grad_fn.
        grad_fn = pending.__dict__.get("grad_fn")
        if grad_fn is None:
            forward(*args)
            grad_fn = pending.__dict__.pop("grad_fn")
        return lambda g: _input_gradients(grad_fn(g), args, argnums, f"custom_gradient {name}")

    ops: dict[str, Callable[..., Any]] = {}  # one operation per backend, made on first use

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        backend = get_backend()
        op = ops.get(backend.name)
        if op is None:
            op = ops[backend.name] = backend.primitive(
                forward, make_vjp, f"custom_gradient function {name}"
            )
        try:
            return op(*args)
        finally:
            pending.__dict__.pop("grad_fn", None)

    return wrapper


# ---------------------------------------------------------------------------------------------
# Registered rules and the override map

_REGISTRY: dict[str, Callable[..., Any]] = {}
_OVERRIDE_LOCK = threading.RLock()


class RegisterGradient:
    """Decorator registering a gradient rule under a name (TF's ``tf.RegisterGradient``).

    The rule is called as ``fn(op, grad)`` with an :class:`Op` (``op.inputs``, ``op.outputs``,
    ``op.kwargs``, ``op.name``) and the output gradient, and returns one gradient per input
    (a single array for one input; ``None`` for no gradient). ``"Identity"`` is registered:
    it passes ``grad`` to the first input (the straight-through estimator).

    Raises:
        TypeError: ``name`` is not a string.
        KeyError: ``name`` is already registered.

    Example:
        >>> @optim.RegisterGradient("ClippedIdentity")
        ... def _clipped(op, grad):
        ...     return np.where(np.abs(op.inputs[0]) <= 1, grad, 0.0)
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a string, got {name!r}.")
        self._name = name

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            raise TypeError(f"A gradient rule must be callable, got {fn!r}.")
        if self._name in _REGISTRY:
            raise KeyError(f"Registering two gradient with name '{self._name}'!")
        _REGISTRY[self._name] = fn
        return fn


@RegisterGradient("Identity")
def _identity_gradient(op: Op, grad: Any) -> list[Any]:
    return [grad] + [None] * (len(op.inputs) - 1)


def _rule_vjp(rule_name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def make_vjp(argnums: tuple[int, ...], ans: Any, args: tuple, kwargs: dict) -> Callable:
        op = Op(rule_name, tuple(args), (ans,), dict(kwargs))
        return lambda g: _input_gradients(fn(op, g), args, argnums, f"gradient {rule_name!r}")

    return make_vjp


@contextlib.contextmanager
def gradient_override_map(op_type_map: Mapping[Callable[..., Any], str]) -> Iterator[None]:
    """Within the block, the listed ``autograd.numpy`` functions differentiate by named rules.

    The map goes from a function (``np.round``, ``np.sign``, ``np.floor``, any autograd
    primitive) to the name of a rule registered with :class:`RegisterGradient`. Operations
    recorded while the block is active use the rule, including functions autograd treats as
    non-differentiable. Blocks nest (the innermost wins); everything is restored on exit, also
    when an exception escapes. See the module docs for thread safety.

    Raises:
        TypeError: the map is not a dict of autograd function -> str.
        LookupError: a name that is not registered.

    Example:
        >>> with optim.gradient_override_map({np.round: "Identity"}):
        ...     opt.minimize(lambda: np.sum((np.round(w.value) - target) ** 2))
    """
    if not isinstance(op_type_map, Mapping):
        raise TypeError(
            f"`op_type_map` must be a dict of autograd function -> str, got {op_type_map!r}."
        )
    backend = get_backend()
    for fun, rule_name in op_type_map.items():
        if not backend.is_primitive(fun):
            raise TypeError(
                f"`op_type_map` keys must be {backend.name}.numpy functions ({backend.name} "
                f"primitives), got {fun!r}."
            )
        if not isinstance(rule_name, str):
            raise TypeError(f"`op_type_map` values must be strings, got {rule_name!r}.")
        if rule_name not in _REGISTRY:
            raise LookupError(
                f"No gradient registered under the name {rule_name!r} (known: "
                f"{sorted(_REGISTRY)}); register one with optim.RegisterGradient."
            )
    rules = {
        fun: _rule_vjp(rule_name, _REGISTRY[rule_name]) for fun, rule_name in op_type_map.items()
    }
    with _OVERRIDE_LOCK, backend.override_gradients(rules):
        yield


def stop_gradient(x: Any) -> Any:
    """Returns ``x`` unchanged; no gradient flows back through it (``tf.stop_gradient``)."""
    return get_backend().stop_gradient(x)
