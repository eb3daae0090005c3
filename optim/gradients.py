"""Where gradients come from: autodiff, a user's function, or finite differences.

A *gradient source* turns a zero-argument loss and a list of variables into the loss value and
one gradient per variable. Every optimizer takes one through the ``gradient=`` keyword, in its
constructor (the default for every call) and in ``compute_gradients`` / ``minimize`` (for one
call). The accepted values mirror scipy's ``jac=``:

==================  ======================================================================
``gradient=``       meaning
==================  ======================================================================
``None``            reverse-mode automatic differentiation (the default): one forward and
                    one backward pass, exact to rounding
``"autodiff"``      the same, spelled out
a callable          ``gradient()`` returns one gradient per variable, aligned with
                    ``var_list`` (scipy's ``jac=callable``); ``None`` entries are allowed
``True``            the loss itself returns ``(value, gradients)`` (scipy's ``jac=True``)
``"2-point"``       forward differences, ``n`` extra loss evaluations
``"3-point"``       central differences, ``2n`` extra loss evaluations
``"cs"``            complex step, ``n`` extra evaluations; the loss must accept complex input
==================  ======================================================================

Finite differences cannot tell "no path from the loss" from "zero gradient", so they return
zeros where autodiff returns ``None``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import numpy as np

from .backend import get_backend
from .variables import Variable, recorded_reads, substituted

__all__ = [
    "value_and_gradients",
    "second_order",
    "HESSIAN_COLUMNS",
    "dense_hessian",
    "explain_trace_error",
    "explained_failures",
    "is_trace_failure",
    "check_loss_value",
    "check_gradient",
    "GRADIENT_HINT",
    "hessian_vector_product",
    "hessian",
    "GradientSource",
    "Autodiff",
    "UserGradient",
    "LossWithGradient",
    "FiniteDifferences",
    "as_gradient_source",
    "FINITE_DIFFERENCE_METHODS",
    "NonScalarLossError",
    "jit_closure",
    "JitClosure",
    "BoundClosure",
]

FINITE_DIFFERENCE_METHODS = ("2-point", "3-point", "cs")


class GradientSource:
    """Base class of gradient sources.

    Subclasses implement :meth:`value_and_gradients`; they must not change any variable.
    """

    def value_and_gradients(
        self, loss: Callable[[], Any], var_list: Sequence[Variable], grad_loss: Any = None
    ) -> tuple[Any, list[np.ndarray | None]]:
        """Returns ``(loss value, [gradient or None per variable])``.

        Args:
            loss: zero-argument callable reading the variables through ``.value``.
            var_list: the variables to differentiate with respect to.
            grad_loss: upstream gradient of the loss (TF's ``grad_loss``); ``None`` means one.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NonScalarLossError(ValueError):
    """The loss returned an array where a scalar was needed (no ``grad_loss`` was given).

    A caller that does not take ``grad_loss`` (``optim.fit``) catches it and words its own
    advice from the attributes.

    Attributes:
        shape: the loss value's shape.
        dtype: the loss value's dtype.
    """

    def __init__(self, message: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        super().__init__(message)
        self.shape = shape
        self.dtype = dtype


def check_loss_value(value: Any, grad_loss: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validates a loss value (TF world); returns it as an array and the cotangent to pull back.

    Args:
        value: the loss's forward value.
        grad_loss: TF's upstream gradient of the loss, or None (the loss must be a scalar).

    Raises:
        TypeError: a value that is not floating-point.
        NonScalarLossError: an array value without ``grad_loss``.
        ValueError: a ``grad_loss`` of another shape.
    """
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise TypeError(
            f"`loss` must return a floating-point scalar, got {type(value).__name__} of dtype "
            f"{array.dtype}."
        )
    if grad_loss is None:
        if array.ndim != 0:
            raise NonScalarLossError(
                f"`loss` must return a scalar, got an array of shape {array.shape}; reduce it "
                "(np.sum, np.mean) or pass `grad_loss` of the same shape.",
                array.shape,
                array.dtype,
            )
        return array, np.ones((), dtype=array.dtype)
    cotangent = np.asarray(grad_loss, dtype=array.dtype)
    if cotangent.shape != array.shape:
        raise ValueError(
            f"`grad_loss` must have the loss's shape {array.shape}, got {cotangent.shape}."
        )
    return array, cotangent


def _loss_output(array: np.ndarray) -> Any:
    """The value handed back to the user: a numpy scalar for a scalar loss."""
    return array[()] if array.ndim == 0 else array


def check_gradient(grad: Any, var: Variable, where: str) -> np.ndarray:
    """Validates one gradient against its variable; returns it as an array of the variable's dtype.

    Raises:
        ValueError: wrong shape or a non-floating dtype kind, naming the variable.
    """
    try:
        array = np.asarray(grad)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{where}: gradient for variable {var.name!r} must be array-like, got {grad!r}."
        ) from exc
    if array.dtype.kind != "f":
        raise ValueError(
            f"{where}: gradient for variable {var.name!r} must be floating-point, "
            f"got dtype {array.dtype}."
        )
    if array.shape != var.shape:
        raise ValueError(
            f"{where}: gradient for variable {var.name!r} must have shape {var.shape}, "
            f"got {array.shape}."
        )
    if array.dtype != var.dtype:
        array = array.astype(var.dtype)
    return array


def _check_gradient_list(grads: Any, var_list: Sequence[Variable], where: str) -> list:
    if isinstance(grads, np.ndarray) and len(var_list) == 1:
        grads = [grads]
    if isinstance(grads, dict) or not isinstance(grads, (list, tuple)):
        raise ValueError(
            f"{where} must return a list or tuple of gradients aligned with `var_list`, "
            f"got {type(grads).__name__}."
        )
    if len(grads) != len(var_list):
        raise ValueError(
            f"{where} returned {len(grads)} gradients for {len(var_list)} variables "
            f"{[v.name for v in var_list]}."
        )
    return [None if g is None else check_gradient(g, v, where) for g, v in zip(grads, var_list)]


def _scale(grads: list, cotangent: np.ndarray) -> list:
    if cotangent.ndim != 0:
        raise ValueError("A non-scalar `grad_loss` needs the autodiff gradient source.")
    if cotangent == 1:
        return grads
    return [None if g is None else g * cotangent for g in grads]


# ---------------------------------------------------------------------------------------------
# The one autodiff path of both worlds

#: The way around a trace failure, in the TF world's keywords.
GRADIENT_HINT = (
    "To go on, pass your own gradient (gradient=fn, returning one array per variable) or ask "
    "for finite differences (gradient='3-point')."
)


def explain_trace_error(exc: BaseException, hint: str = GRADIENT_HINT) -> BaseException | None:
    """An exception of the same type that says why autodiff failed and what to do, or None.

    The active backend recognizes its own failures (:meth:`optim.backend.Backend.explain_failure`).

    Args:
        exc: what the traced function raised.
        hint: the way around it, in the caller's terms (the TF world's ``gradient=`` by
            default; the scipy world names ``jac=``).
    """
    backend = get_backend()
    cause = backend.explain_failure(exc)
    if cause is None:
        return None
    text = str(exc)
    message = f"Cannot differentiate the loss: {cause} {hint} ({backend.name} said: {text})"
    try:
        return type(exc)(message)
    except Exception:  # an exception class with an unusual constructor
        for exc_type in type(exc).__mro__:
            if exc_type.__module__ == "builtins":
                return exc_type(message)
        return RuntimeError(message)


def is_trace_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says that autodiff could not follow the function (not a user error).

    True for the failures :func:`explain_trace_error` knows and for any other error that names
    the active backend's tracer, the sign that plain Python or numpy code met a traced value:
    the same function runs fine on arrays.
    """
    return get_backend().is_trace_failure(exc)


@contextlib.contextmanager
def explained_failures(hint: str = GRADIENT_HINT) -> Iterator[None]:
    """Re-raises autodiff's failures inside the block explained (:func:`explain_trace_error`),
    chained to the original error; any other error passes unchanged."""
    try:
        yield
    except Exception as exc:
        _raise_explained(exc, hint)


def _raise_explained(exc: Exception, hint: str) -> NoReturn:
    """Raises ``exc`` explained (chained to it) when autodiff's failure, else ``exc`` itself.

    The hot paths (one call per evaluation) catch and call this instead of entering
    :func:`explained_failures`, whose generator costs a few µs a call.
    """
    explained = explain_trace_error(exc, hint)
    if explained is None:
        raise exc
    raise explained from exc


def value_and_gradients(
    fun: Callable[..., Any],
    args: Sequence[Any],
    constants: Sequence[Any] = (),
    seed: Callable[[Any], tuple[Any, Any]] | None = None,
    key: Any = None,
    hint: str = GRADIENT_HINT,
) -> tuple[Any, list[Any]]:
    """The value of ``fun(*args, *constants)`` and its gradients with respect to ``args``.

    The one value-and-gradient path: the TF world (a closure whose Variables read ``args``
    through ``.value``: :class:`Autodiff`, ``ExternalOptimizerInterface``) and the scipy world
    (``fun(x, *args)`` on a pytree's leaves: ``optim.minimize`` with scipy's methods and with
    optim's) both call it, through the active backend.

    Args:
        fun: the function; with ``seed=None`` it returns a scalar.
        args: the arguments to differentiate with respect to (arrays).
        constants: further positional arguments, not differentiated.
        seed: ``seed(value) -> (value, cotangent)`` checks the forward value and gives the
            cotangent to pull back (the TF world's ``grad_loss``); ``None``: a cotangent of one.
        key: ``None`` when ``fun`` may read mutable state (never compiled), or a hashable that
            identifies the pure function ``fun`` (see :mod:`optim.backend`).
        hint: the way around a trace failure, in the caller's terms.

    Returns:
        ``(value, gradients)``: the forward value (or what ``seed`` made of it), and one
        gradient per argument, ``None`` where the output does not reach it (autograd; jax gives
        zeros).

    Raises:
        The backend's failures explained (:func:`explain_trace_error`), the errors of ``fun``
        and of ``seed``.
    """
    backend = get_backend()
    try:  # explained_failures(hint), written out: this runs once per evaluation
        if seed is None:
            return backend.value_and_gradients(fun, args, constants, key)
        trace = backend.trace(fun, args, constants, key)
    except Exception as exc:
        _raise_explained(exc, hint)
    value, cotangent = seed(trace.value)
    return value, trace.gradients(cotangent)


def second_order(
    fun: Callable[..., Any],
    args: Sequence[Any],
    constants: Sequence[Any] = (),
    key: Any = None,
    hint: str = GRADIENT_HINT,
) -> Any:
    """Value, gradients and Hessian-vector products of a scalar ``fun`` at one point.

    Arguments as :func:`value_and_gradients`. Returns the backend's
    :class:`optim.backend.SecondOrder`: ``.value``, ``.gradients`` (``None`` where there is no
    path) and ``.hvp(vectors)``, ``H @ v`` per argument for one vector per argument. autograd
    traces the gradient once and differentiates it again (reverse over reverse); jax compiles
    the gradient's forward-mode derivative (forward over reverse).
    """
    try:  # explained_failures(hint), written out: this runs once per point
        return get_backend().second_order(fun, args, constants, key)
    except Exception as exc:
        _raise_explained(exc, hint)


HESSIAN_COLUMNS = 128
"""How many Hessian columns :func:`dense_hessian` asks for in one ``hvp_batch`` (the basis
vectors of a batch take ``HESSIAN_COLUMNS * n`` floats)."""


def dense_hessian(point: Any, args: Sequence[Any], dtype: Any = np.float64) -> np.ndarray:
    """The dense Hessian over the flattened, concatenated ``args``, one product per column.

    The products are asked for :data:`HESSIAN_COLUMNS` columns at a time
    (``point.hvp_batch``: one compiled call per batch on jax), every batch of the same width
    so that a compiling engine compiles once: the last one ends at the last column and may
    overlap the one before.

    Args:
        point: a :class:`optim.backend.SecondOrder` of :func:`second_order` at ``args``.
        args: the arguments (their shapes and dtypes give the layout and the basis vectors).
        dtype: the matrix's dtype.

    Returns:
        ``H`` of shape ``(n, n)``, ``H[:, j] = H @ e_j``; zeros where there is no path.
    """
    shapes = [np.shape(a) for a in args]
    dtypes = [np.result_type(a) for a in args]
    sizes = [math.prod(s) for s in shapes]
    n = sum(sizes)
    offsets = list(itertools.accumulate(sizes))[:-1]
    H = np.zeros((n, n), dtype=dtype)
    width = max(1, min(n, HESSIAN_COLUMNS))  # 1 when n is 0: no batch
    for first in range(0, n, width):
        start = min(first, n - width)  # the last batch ends at the last column
        basis = np.zeros((width, n))
        basis[np.arange(width), start + np.arange(width)] = 1
        vectors = [
            part.reshape((width,) + s).astype(d)
            for part, s, d in zip(np.split(basis, offsets, axis=1), shapes, dtypes)
        ]
        products = point.hvp_batch(vectors)
        columns = [
            np.zeros((width, size)) if p is None else np.reshape(p, (width, size))
            for p, size in zip(products, sizes)
        ]
        H[:, start : start + width] = np.concatenate(columns, axis=1).T
    return H


class Autodiff(GradientSource):
    """Automatic differentiation through the active backend (autograd by default).

    The loss runs once with each variable's ``value`` replaced by a tracer; one backward pass
    then gives every gradient. A variable the loss never reaches gets ``None``. A loss made by
    :meth:`JitClosure.bind` is differentiated in one compiled call instead (on jax).
    """

    def value_and_gradients(self, loss, var_list, grad_loss=None):
        def general() -> tuple[Any, list[Any]]:
            def traced_loss(*values: Any) -> Any:
                with substituted(var_list, values):
                    return loss()

            return value_and_gradients(
                traced_loss,
                [v.array for v in var_list],
                seed=lambda out: check_loss_value(out, grad_loss),
            )

        if isinstance(loss, BoundClosure) and grad_loss is None:
            value, grads = loss.closure.value_and_gradients(var_list, loss.args, general)
            value, _ = check_loss_value(value, None)
        else:
            value, grads = general()
        out = []
        for g, v in zip(grads, var_list):
            if g is not None:
                g = np.asarray(g)
                if g.dtype != v.dtype:
                    g = g.astype(v.dtype)
            out.append(g)
        return _loss_output(value), out

    def _second_order(self, loss: Callable[[], Any], var_list: Sequence[Variable]) -> Any:
        def traced_loss(*values: Any) -> Any:
            with substituted(var_list, values):
                return loss()

        return second_order(traced_loss, [v.array for v in var_list])

    def hessian_vector_product(
        self, loss: Callable[[], Any], var_list: Sequence[Variable], vectors: Sequence[Any]
    ) -> list[np.ndarray | None]:
        """``H @ v`` for the loss's Hessian over ``var_list``, one product per variable.

        ``vectors`` holds one array per variable (its shape). The cost is about that of two
        gradients (see :func:`second_order`); no Hessian is formed. ``None`` marks a variable
        the loss does not reach.
        """
        if len(vectors) != len(var_list):
            raise ValueError(
                f"`vectors` must hold one array per variable ({len(var_list)}), got {len(vectors)}."
            )
        vectors = [
            check_gradient(v, var, "hessian_vector_product") for v, var in zip(vectors, var_list)
        ]
        products = self._second_order(loss, var_list).hvp(vectors)
        return [
            None if p is None else np.asarray(p, dtype=var.dtype).reshape(var.shape)
            for p, var in zip(products, var_list)
        ]

    def hessian(self, loss: Callable[[], Any], var_list: Sequence[Variable]) -> np.ndarray:
        """The dense Hessian over the concatenated, flattened variables (for small problems).

        One traced gradient, then one Hessian-vector product per parameter
        (:func:`dense_hessian`).
        """
        dtype = np.result_type(*[v.dtype for v in var_list])
        point = self._second_order(loss, var_list)
        return dense_hessian(point, [v.array for v in var_list], dtype)


class UserGradient(GradientSource):
    """A user-supplied gradient function, the analogue of scipy's ``jac=callable``.

    Args:
        fn: zero-argument callable returning one gradient per variable, aligned with
            ``var_list`` (a bare array is accepted when there is one variable). ``None`` entries
            mean "no gradient" as with autodiff.
    """

    def __init__(self, fn: Callable[[], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"`gradient` must be callable, got {fn!r}.")
        self.fn = fn

    def value_and_gradients(self, loss, var_list, grad_loss=None):
        value, cotangent = check_loss_value(loss(), grad_loss)
        grads = _check_gradient_list(self.fn(), var_list, "The `gradient` function")
        return _loss_output(value), _scale(grads, cotangent)

    def __repr__(self) -> str:
        return f"UserGradient({self.fn!r})"


class LossWithGradient(GradientSource):
    """The loss returns ``(value, gradients)`` itself, the analogue of scipy's ``jac=True``."""

    def value_and_gradients(self, loss, var_list, grad_loss=None):
        out = loss()
        if not isinstance(out, tuple) or len(out) != 2:
            raise ValueError(
                "With gradient=True the loss must return a (value, gradients) pair, "
                f"got {type(out).__name__}."
            )
        value, cotangent = check_loss_value(out[0], grad_loss)
        grads = _check_gradient_list(out[1], var_list, "The loss (gradient=True)")
        return _loss_output(value), _scale(grads, cotangent)


class FiniteDifferences(GradientSource):
    """Numerical gradients, on purpose, with scipy's method names and step rules.

    Each element of each variable is perturbed in turn (the variables themselves are never
    written: the perturbed copy is what ``value`` returns during the evaluation). Steps follow
    ``scipy.optimize.approx_fprime``'s defaults for the variable's dtype: ``h = eps**0.5 *
    max(1, |x|)`` for ``"2-point"`` and ``"cs"``, ``eps**(1/3) * max(1, |x|)`` for ``"3-point"``,
    signed like ``x``.

    Args:
        method: ``"2-point"``, ``"3-point"`` or ``"cs"`` (complex step).
        rel_step: relative step size overriding the default above.
    """

    def __init__(self, method: str = "3-point", rel_step: float | None = None) -> None:
        if method not in FINITE_DIFFERENCE_METHODS:
            raise ValueError(
                f"`method` must be one of {FINITE_DIFFERENCE_METHODS}, got {method!r}."
            )
        if rel_step is not None and not (np.isfinite(rel_step) and rel_step > 0):
            raise ValueError(f"`rel_step` must be a positive finite float, got {rel_step!r}.")
        self.method = method
        self.rel_step = rel_step

    def _steps(self, x: np.ndarray) -> np.ndarray:
        eps = np.finfo(x.dtype).eps
        rel = self.rel_step
        if rel is None:
            rel = eps ** (1 / 3) if self.method == "3-point" else eps**0.5
        sign = np.where(x >= 0, 1.0, -1.0).astype(x.dtype)
        h = rel * sign * np.maximum(1.0, np.abs(x))
        return ((x + h) - x) if self.method != "cs" else h  # exactly representable steps

    def value_and_gradients(self, loss, var_list, grad_loss=None):
        value, cotangent = check_loss_value(loss(), grad_loss)
        f0 = value.astype(np.float64)
        grads = []
        for var in var_list:
            x = var.array
            h = self._steps(x).ravel()
            if self.method == "cs":
                work = x.astype(np.result_type(x.dtype, np.complex64))
            else:
                work = x.copy()
            flat = work.reshape(-1)
            grad = np.empty(x.size, dtype=np.float64)
            with substituted([var], [work]):
                for i in range(x.size):
                    xi = flat[i]
                    if self.method == "2-point":
                        flat[i] = xi + h[i]
                        grad[i] = (float(loss()) - f0) / h[i]
                    elif self.method == "3-point":
                        flat[i] = xi + h[i]
                        f_plus = float(loss())
                        flat[i] = xi - h[i]
                        f_minus = float(loss())
                        grad[i] = (f_plus - f_minus) / (2 * h[i])
                    else:
                        flat[i] = xi + 1j * h[i]
                        grad[i] = np.imag(loss()) / h[i]
                    flat[i] = xi
            grads.append(grad.reshape(x.shape).astype(var.dtype))
        return _loss_output(value), _scale(grads, cotangent)

    def __repr__(self) -> str:
        return f"FiniteDifferences({self.method!r})"


def as_gradient_source(spec: Any) -> GradientSource:
    """Turns a ``gradient=`` argument into a :class:`GradientSource` (see the module docs).

    Raises:
        ValueError: an unknown method name.
        TypeError: anything else that is not a source.
    """
    if spec is None or (isinstance(spec, str) and spec == "autodiff"):
        return _AUTODIFF
    if isinstance(spec, GradientSource):
        return spec
    if spec is True:
        return _LOSS_WITH_GRADIENT
    if isinstance(spec, str):
        if spec in FINITE_DIFFERENCE_METHODS:
            return FiniteDifferences(spec)
        raise ValueError(
            "`gradient` must be None, 'autodiff', True, a callable or one of "
            f"{FINITE_DIFFERENCE_METHODS}, got {spec!r}."
        )
    if callable(spec):
        return UserGradient(spec)
    raise TypeError(
        "`gradient` must be None, 'autodiff', True, a callable or one of "
        f"{FINITE_DIFFERENCE_METHODS}, got {spec!r}."
    )


_AUTODIFF = Autodiff()
_LOSS_WITH_GRADIENT = LossWithGradient()


def hessian_vector_product(
    loss: Callable[[], Any], var_list: Sequence[Variable], vectors: Sequence[Any]
) -> list[np.ndarray | None]:
    """``H @ v`` by autodiff for a zero-argument loss over ``var_list`` (see Autodiff)."""
    return _AUTODIFF.hessian_vector_product(loss, list(var_list), list(vectors))


def hessian(loss: Callable[[], Any], var_list: Sequence[Variable]) -> np.ndarray:
    """The dense Hessian by autodiff over the flattened ``var_list`` (small problems)."""
    return _AUTODIFF.hessian(loss, list(var_list))


class _MoreReads(Exception):
    """Raised while a :class:`JitClosure` runs: its function read variables not yet inputs."""

    def __init__(self, variables: list[Variable]) -> None:
        super().__init__([v.name for v in variables])
        self.variables = variables


class JitClosure:
    """A TF-world loss compiled by explicit request: see :func:`jit_closure`.

    Attributes:
        fn: the loss as a function of the arguments that vary.
        var_list: the variables given; every other variable ``fn`` is found to read is added to
            :attr:`inputs`.
        inputs: the variables passed to the compiled code as arguments: ``var_list``, then the
            ones ``fn`` was found reading, in order of discovery.
    """

    def __init__(self, fn: Callable[..., Any], var_list: Sequence[Variable] | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"`fn` must be callable, got {fn!r}.")
        var_list = [] if var_list is None else list(var_list)
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(f"`var_list` must hold Variables, got {v!r}.")
        self.fn = fn
        self.var_list = var_list
        self.inputs: tuple[Variable, ...] = tuple(dict.fromkeys(var_list))
        self._checked: set = set()
        self._keys: dict[tuple, tuple] = {}

    def _pure(self, inputs: tuple, values: Sequence[Any], args: tuple) -> Any:
        with substituted(inputs, values), recorded_reads() as reads:
            out = self.fn(*args)
        extra = set(reads).difference(inputs)  # hash and == are identity
        if extra:
            raise _MoreReads([v for v in dict.fromkeys(reads) if v in extra])
        return out

    def _run(self, call: Callable[[tuple], Any]) -> Any:
        """``call(inputs)``, again with more inputs while ``fn`` reads variables outside them."""
        while True:
            inputs = self.inputs
            try:
                return call(inputs)
            except _MoreReads as more:
                self.inputs = inputs + tuple(more.variables)

    def __call__(self, *args: Any) -> Any:
        """``fn(*args)`` with the variables' current values (or tracers) as arguments."""

        def call(inputs: tuple) -> Any:
            compiled = get_backend().compiled(functools.partial(self._pure, inputs), (self, inputs))
            return compiled([v.value for v in inputs], args)

        return self._run(call)

    def bind(self, *args: Any) -> BoundClosure:
        """The zero-argument loss ``fn(*args)``, which autodiff differentiates in one compiled
        call (see :func:`jit_closure`)."""
        return BoundClosure(self, args)

    def value_and_gradients(
        self,
        var_list: Sequence[Variable],
        args: tuple,
        general: Callable[[], tuple[Any, list[Any]]],
    ) -> tuple[Any, list[Any]]:
        """``fn(*args)`` and its gradients over ``var_list`` in one compiled call.

        A variable of ``var_list`` that ``fn`` does not read, or whose value does not reach
        the output, gets ``None``. Until ``general()`` (the caller's own path, which checks the
        loss's value with its own errors) has once succeeded for these variables, it is called
        instead; the compiled call is used from then on.
        """
        wanted = set(var_list)

        def call(inputs: tuple) -> tuple[Any, list[Any]]:
            wrt = tuple(v for v in inputs if v in wanted)
            rest = tuple(v for v in inputs if v not in wanted)
            # One key object per (wrt, rest): a compiling backend recognises it by identity and
            # reuses the last step's plan (jax: JaxBackend's memo of the last call).
            key = self._keys.setdefault((wrt, rest), ("value_and_gradients", self, wrt, rest))
            if key not in self._checked:
                result = general()
                self._checked.add(key)
                return result
            order, n, m = wrt + rest, len(wrt), len(rest)

            def pure(*values_args: Any) -> Any:
                return self._pure(order, values_args[: n + m], values_args[n + m])

            # The other variables' values each a constant, the arguments one (a traced tuple).
            value, grads = value_and_gradients(
                pure,
                [v.array for v in wrt],
                constants=(*(v.array for v in rest), args),
                key=key,
            )
            by_variable = dict(zip(wrt, grads))
            return value, [by_variable.get(v) for v in var_list]

        return self._run(call)

    def __repr__(self) -> str:
        return f"JitClosure({self.fn!r}, {[v.name for v in self.var_list]})"


class BoundClosure:
    """``closure(*args)`` as a zero-argument loss: see :meth:`JitClosure.bind`.

    Calling it evaluates the loss; :class:`Autodiff` recognises it and differentiates it in
    one compiled call (:meth:`JitClosure.value_and_gradients`).
    """

    __slots__ = ("closure", "args")

    def __init__(self, closure: JitClosure, args: tuple) -> None:
        self.closure = closure
        self.args = args

    def __call__(self) -> Any:
        return self.closure(*self.args)

    def __repr__(self) -> str:
        return f"{self.closure!r}.bind(...)"


def jit_closure(fn: Callable[..., Any], var_list: Sequence[Variable] | None = None) -> JitClosure:
    """Compiles a TF-world loss on the jax backend, by explicit request; its batch is an argument.

    A plain closure (``lambda: loss_of(W.value, batch["x"])``) is never compiled: it may read
    mutable Python state, which compiled code would freeze. ``jit_closure`` is the opt-in, with
    this contract:

    * ``fn(*args)`` receives everything that changes between calls (the batch, a scale) as
      arguments, arrays or pytrees of arrays.
    * Every variable ``fn`` reads through ``.value`` is an argument of the compiled code too,
      so an update of any variable is always seen: those of ``var_list``, and any other found
      while ``fn`` runs (the first call that finds one runs ``fn`` once more with it added).
    * Anything else ``fn`` reads (globals, a dict it closes over, a variable's ``.array``) is
      frozen at the first call for given argument shapes and dtypes: jax traces ``fn`` once per
      shapes (its Python side effects happen then only) and reruns the compiled code afterwards.
    * Python control flow on the variables or the arguments is not allowed (use
      ``optim.numpy.where`` or ``jax.lax.cond``).

    Two ways to train with it:

    * ``opt.minimize(step.bind(x, y), var_list=[W, b])``: the loss ``step(x, y)``, whose value
      and gradients come from one compiled call from the second step on (the first checks the
      loss's value on the general path). :func:`optim.fit` trains this way.
    * ``opt.minimize(lambda: step(x, y), var_list=[W, b])``: an ordinary closure calling the
      compiled loss, differentiated eagerly around it (slower; any closure works).

    On autograd nothing is compiled and ``fn`` is simply called, so the same code runs on both
    engines.

    Args:
        fn: the loss as a function of the arguments that vary.
        var_list: the variables ``fn`` reads (others are found as it runs); default none.

    Returns:
        A callable :class:`JitClosure`, ``step(*args) -> fn(*args)``, compiled once per shapes.

    Raises:
        TypeError: ``fn`` is not callable or ``var_list`` holds something else than Variables.

    Example:
        >>> step = optim.jit_closure(lambda x, y: onp.mean((x @ W.value - y) ** 2), [W])
        >>> with optim.use_backend("jax"):
        ...     opt.minimize(step.bind(batch["x"], batch["y"]), var_list=[W])
    """
    return JitClosure(fn, var_list)
