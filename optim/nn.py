"""Fused loss ops with hand-written gradients, named after ``tf.nn``.

TensorFlow implements its classification losses as single fused kernels rather than as chains of
``exp``, ``log`` and ``sum``. This module does the same on top of the active backend (autograd
or jax, chosen when the op is called): every public function below validates its arguments and
then calls exactly one primitive of that engine (:meth:`optim.backend.Backend.primitive`), whose
forward pass is one numerically stable expression and whose vector-Jacobian product is written
out by hand, with the same formulas on both engines.
Tracing ``log(softmax(x))`` through autograd's generic rules overflows for logits around ``1e4``
(``exp`` gives ``inf`` and the gradient becomes ``nan``); the fused ops here stay finite.

Conventions shared by every op:

* **dtype is preserved.** A float32 input gives float32 outputs and float32 gradients, and no
  float64 temporary is created on the way (only Python scalars, which numpy 2 treats as weakly
  typed, appear next to array data). Labels of another dtype than the logits are cast to the
  logits' dtype for the computation; a gradient with respect to such labels is returned in the
  labels' own dtype, as autograd expects.
* **Inputs may be array-likes, autograd boxes or jax arrays and tracers**, so the ops can be
  called inside a loss that is being differentiated, on either engine. On jax, integer labels
  that are tracers (constants of a compiled function) are not range-checked.
* **Gradients are differentiable.** The hand-written gradients are themselves built from
  autograd-aware operations and from the primitives of this module, so second derivatives
  (``autograd.hessian``, Hessian-vector products for Newton-type methods) work as well.

Example:
    >>> import numpy as np
    >>> from optim import nn
    >>> from optim.gradients import value_and_gradients
    >>> logits = np.array([[2.0, 1.0, 0.1]], dtype=np.float32)
    >>> labels = np.array([0])
    >>> loss = lambda x: np.mean(nn.sparse_softmax_cross_entropy_with_logits(labels, x))
    >>> value, (grad,) = value_and_gradients(loss, [logits])
    >>> grad.dtype
    dtype('float32')
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from .backend import get_backend

__all__ = [
    "l2_loss",
    "log_softmax",
    "sigmoid_cross_entropy_with_logits",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "sparse_softmax_cross_entropy_with_logits",
]


def _is_traced(x: Any) -> bool:
    """Whether ``x`` is a tracer of the active engine."""
    return get_backend().is_traced(x)


def getval(x: Any) -> Any:
    """The plain value of an autograd box; jax tracers and arrays as they are."""
    return get_backend().unbox(x)


isbox = _is_traced


# ----------------------------------------------------------------------------------------------
# Argument handling.


def _dtype(x: Any) -> np.dtype:
    """Returns the dtype of an array, numpy scalar, autograd box or jax tracer."""
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else np.result_type(x)


def _shape(x: Any) -> tuple[int, ...]:
    """Returns the shape of an array, numpy scalar or (possibly nested) autograd box."""
    return tuple(np.shape(getval(x)))


def _cast(x: Any, dtype: np.dtype) -> Any:
    """Casts `x` to `dtype` unless it already has it; differentiable when `x` is a box."""
    if _dtype(x) == dtype:
        return x
    if hasattr(x, "astype"):
        return x.astype(dtype)
    return np.asarray(x).astype(dtype)


def _float_input(x: Any, name: str) -> Any:
    """Converts `x` to an array (boxes pass through) and checks that it is floating point."""
    if not isbox(x):
        x = np.asarray(x)
    dtype = _dtype(x)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"`{name}` must have a floating-point dtype, got {dtype!r}.")
    return x


def _class_axis(logits: Any, axis: Any) -> int:
    """Validates `axis` against `logits` and returns it as a non-negative int."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"`axis` must be an int, got {axis!r}.")
    shape = _shape(logits)
    ndim = len(shape)
    if ndim == 0:
        raise ValueError(f"`logits` must have at least one dimension, got shape {shape}.")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"`axis` must be in [{-ndim}, {ndim}) for `logits` of shape {shape}, got {axis!r}."
        )
    axis = int(axis) % ndim
    if shape[axis] == 0:
        raise ValueError(
            f"`logits` must have at least one class along axis {axis}, got shape {shape}."
        )
    return axis


def _dense_labels(labels: Any, logits: Any) -> Any:
    """Checks dense (per-class) labels against `logits`.

    Labels that are not boxes are converted to the logits' dtype once, here. Boxed labels keep
    their dtype, so that their gradient comes back in it, and are cast inside the primitives.
    """
    if isbox(labels):
        if not np.issubdtype(_dtype(labels), np.floating):
            raise TypeError(f"`labels` must have a floating-point dtype, got {_dtype(labels)!r}.")
    else:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "biuf":
            raise TypeError(f"`labels` must have a real numeric dtype, got {labels.dtype!r}.")
        labels = labels.astype(_dtype(logits), copy=False)
    if _shape(labels) != _shape(logits):
        raise ValueError(
            f"`labels` must have the same shape as `logits` {_shape(logits)}, got {_shape(labels)}."
        )
    return labels


def _sparse_labels(labels: Any, logits: Any) -> np.ndarray:
    """Checks integer class labels against `logits` and returns them as an intp array.

    Labels that are jax tracers (the constants of a compiled function) have no values to check:
    their dtype and shape are checked, their range is not.
    """
    if _is_traced(labels) and get_backend().forward_over_reverse:
        if not np.issubdtype(_dtype(labels), np.integer):
            raise TypeError(f"`labels` must have an integer dtype, got {_dtype(labels)!r}.")
        if _shape(labels) != _shape(logits)[:-1]:
            raise ValueError(
                f"`labels` must have shape {_shape(logits)[:-1]}, got {_shape(labels)}."
            )
        return labels
    labels = np.asarray(getval(labels))
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`labels` must have an integer dtype, got {labels.dtype!r}.")
    shape = _shape(logits)
    if labels.shape != shape[:-1]:
        raise ValueError(
            f"`labels` must have shape {shape[:-1]} (the shape of `logits` {shape} without its "
            f"last axis), got {labels.shape}."
        )
    num_classes = shape[-1]
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        where = np.unravel_index(bad[0], labels.shape)
        value = labels[where].item()
        where = tuple(int(i) for i in where)
        raise ValueError(
            f"`labels` must be class indices in [0, {num_classes}), got {value!r} at index "
            f"{where} ({bad.size} out of range in total)."
        )
    return labels.astype(np.intp, copy=False)


# ----------------------------------------------------------------------------------------------
# Primitives, one table per engine. The forward values are written once against the engine's
# array namespace `xp` (an autograd primitive's body sees plain arrays, so autograd.numpy runs
# them as plain numpy; jax.numpy for jax), the gradients with it too, so that they can be
# differentiated again. On autograd a gradient calls the other primitives (their stable forms
# differentiate stably); on an engine that differentiates gradients in forward mode (jax, see
# Backend.forward_over_reverse) it calls the same forms without their primitive wrapping.


def _log_softmax_value(xp: Any, x: Any, axis: int) -> Any:
    # Shift by the maximum so that no exp overflows, then take log(sum(exp)) as log1p of the sum
    # over the other entries: the maximum contributes exactly exp(0) = 1, and leaving it out of
    # the sum keeps the log-probability of a dominant class accurate (log(1 + 4e-9) is 0 in
    # float32, log1p(4e-9) is not).
    top = xp.argmax(x, axis=axis, keepdims=True)
    shifted = x - xp.take_along_axis(x, top, axis=axis)
    shape = [1] * len(np.shape(x))
    shape[axis] = np.shape(x)[axis]
    rest = xp.where(xp.reshape(xp.arange(shape[axis]), shape) == top, 0, xp.exp(shifted))
    return shifted - xp.log1p(xp.sum(rest, axis=axis, keepdims=True))


def _softmax_value(xp: Any, x: Any, axis: int) -> Any:
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _sigmoid_value(xp: Any, x: Any) -> Any:
    e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _as(xp: Any, x: Any, dtype: np.dtype) -> Any:
    x = xp.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


class _Table:
    """The primitives of this module on one engine (:func:`_table`)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        anp = backend.numpy
        xp = anp  # on autograd a primitive's body sees plain arrays: plain numpy runs
        t = self

        def primitive(fun: Any, *makers: Any, argnums: Any = None) -> Any:
            positions = range(len(makers)) if argnums is None else argnums
            by_argnum = dict(zip(positions, makers))
            name = fun.__name__

            def make_vjp(argnums: tuple[int, ...], ans: Any, args: tuple, kwargs: dict) -> Any:
                missing = [i for i in argnums if i not in by_argnum]
                if missing:
                    raise NotImplementedError(f"VJP of {name} wrt argnum {missing[0]} not defined")
                vjps = [by_argnum[i](ans, *args, **kwargs) for i in argnums]
                return lambda g: [vjp(g) for vjp in vjps]

            return backend.primitive(fun, make_vjp, f"optim.nn primitive {name}")

        def log_softmax(logits, axis):
            return _log_softmax_value(xp, xp.asarray(logits), axis)

        def log_softmax_vjp(ans, logits, axis):
            dtype = _dtype(ans)

            def vjp(g):
                g = _cast(g, dtype)
                return g - anp.exp(ans) * anp.sum(g, axis=axis, keepdims=True)

            return vjp

        def softmax(logits, axis):
            return _softmax_value(xp, xp.asarray(logits), axis)

        def softmax_vjp(ans, logits, axis):
            dtype = _dtype(ans)

            def vjp(g):
                g = _cast(g, dtype)
                return ans * (g - anp.sum(g * ans, axis=axis, keepdims=True))

            return vjp

        def sigmoid(x):
            return _sigmoid_value(xp, xp.asarray(x))

        def sigmoid_vjp(ans, x):
            dtype = _dtype(ans)
            return lambda g: _cast(g, dtype) * ans * (1 - ans)

        def softmax_xent(labels, logits, axis):
            x = xp.asarray(logits)
            z = _as(xp, labels, x.dtype)
            return -xp.sum(z * _log_softmax_value(xp, x, axis), axis=axis)

        def softmax_xent_labels_vjp(ans, labels, logits, axis):
            dtype, labels_dtype = _dtype(logits), _dtype(labels)

            def vjp(g):
                g = anp.expand_dims(_cast(g, dtype), axis)
                return _cast(-g * t.inner.log_softmax(logits, axis), labels_dtype)

            return vjp

        def softmax_xent_logits_vjp(ans, labels, logits, axis):
            dtype = _dtype(logits)

            def vjp(g):
                g = anp.expand_dims(_cast(g, dtype), axis)
                z = _cast(labels, dtype)
                p = t.inner.softmax(logits, axis)
                return g * (p * anp.sum(z, axis=axis, keepdims=True) - z)

            return vjp

        def sparse_softmax_xent(labels, logits):
            log_probs = _log_softmax_value(xp, xp.asarray(logits), -1)
            return -xp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]

        def sparse_softmax_xent_logits_vjp(ans, labels, logits):
            dtype = _dtype(logits)

            def vjp(g):
                g = anp.expand_dims(_cast(g, dtype), -1)
                hit = anp.arange(_shape(logits)[-1]) == labels[..., None]
                on, off = _cast(hit, dtype), _cast(~hit, dtype)
                log_probs = t.inner.log_softmax(logits, -1)
                # softmax - one_hot, with p - 1 computed as expm1(log p) so that a confident
                # correct prediction keeps its small gradient instead of rounding it to zero.
                return g * (anp.exp(log_probs) * off + anp.expm1(log_probs) * on)

            return vjp

        def sigmoid_xent(labels, logits):
            x = xp.asarray(logits)
            z = _as(xp, labels, x.dtype)
            return xp.maximum(x, 0) - x * z + xp.log1p(xp.exp(-xp.abs(x)))

        def sigmoid_xent_labels_vjp(ans, labels, logits):
            dtype, labels_dtype = _dtype(logits), _dtype(labels)
            return lambda g: _cast(-_cast(g, dtype) * logits, labels_dtype)

        def sigmoid_xent_logits_vjp(ans, labels, logits):
            dtype = _dtype(logits)

            def vjp(g):
                g = _cast(g, dtype)
                z = _cast(labels, dtype)
                # sigmoid(x) - z, written so that neither tail cancels against 1.
                s = t.inner.sigmoid
                return g * ((1 - z) * s(logits) - z * s(-logits))

            return vjp

        def l2_loss(x):
            x = xp.asarray(x)
            return xp.sum(x * x) / 2

        def l2_loss_vjp(ans, x):
            dtype = _dtype(x)
            return lambda g: _cast(g, dtype) * x

        self.log_softmax = primitive(log_softmax, log_softmax_vjp)
        self.softmax = primitive(softmax, softmax_vjp)
        self.sigmoid = primitive(sigmoid, sigmoid_vjp)
        self.softmax_xent = primitive(
            softmax_xent, softmax_xent_labels_vjp, softmax_xent_logits_vjp
        )
        self.sparse_softmax_xent = primitive(
            sparse_softmax_xent, sparse_softmax_xent_logits_vjp, argnums=[1]
        )
        self.sigmoid_xent = primitive(
            sigmoid_xent, sigmoid_xent_labels_vjp, sigmoid_xent_logits_vjp
        )
        self.l2_loss = primitive(l2_loss, l2_loss_vjp)
        if backend.forward_over_reverse:
            self.inner = _Plain(anp)
        else:
            self.inner = self


class _Plain:
    """The forms gradients call, without their primitive wrapping (forward-mode engines)."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def log_softmax(self, x: Any, axis: int) -> Any:
        return _log_softmax_value(self.xp, x, axis)

    def softmax(self, x: Any, axis: int) -> Any:
        return _softmax_value(self.xp, x, axis)

    def sigmoid(self, x: Any) -> Any:
        return _sigmoid_value(self.xp, x)


_TABLES: dict[str, _Table] = {}


def _table() -> _Table:
    """The primitives of the active engine, made the first time it is used."""
    backend = get_backend()
    table = _TABLES.get(backend.name)
    if table is None:
        table = _TABLES[backend.name] = _Table(backend)
    return table


# ----------------------------------------------------------------------------------------------
# Public ops.


def softmax(logits: npt.ArrayLike, axis: int = -1) -> np.ndarray:
    """Computes the softmax ``exp(logits) / sum(exp(logits), axis)``, stably.

    The maximum along `axis` is subtracted before exponentiating, so no logit overflows. The
    gradient is ``softmax * (g - sum(g * softmax, axis))``.

    Args:
        logits: Floating-point array with at least one dimension.
        axis: The class axis. Defaults to -1.

    Returns:
        An array of the same shape and dtype as `logits` whose entries along `axis` are
        non-negative and sum to one.

    Raises:
        TypeError: If `logits` is not floating point or `axis` is not an int.
        ValueError: If `logits` is a scalar, `axis` is out of range or the class axis is empty.

    Example:
        >>> softmax(np.array([0.0, np.log(3.0)]))
        array([0.25, 0.75])
    """
    logits = _float_input(logits, "logits")
    return _table().softmax(logits, _class_axis(logits, axis))


def log_softmax(logits: npt.ArrayLike, axis: int = -1) -> np.ndarray:
    """Computes ``logits - log(sum(exp(logits), axis))``, stably.

    The maximum along `axis` is subtracted first, so huge logits give finite results: the
    largest entry gets ``-log(count of maxima)`` and the rest are exact differences. The gradient
    is ``g - softmax(logits) * sum(g, axis)``.

    Args:
        logits: Floating-point array with at least one dimension.
        axis: The class axis. Defaults to -1.

    Returns:
        An array of the same shape and dtype as `logits`.

    Raises:
        TypeError: If `logits` is not floating point or `axis` is not an int.
        ValueError: If `logits` is a scalar, `axis` is out of range or the class axis is empty.

    Example:
        >>> log_softmax(np.array([1e4, -1e4]))
        array([     0., -20000.])
    """
    logits = _float_input(logits, "logits")
    return _table().log_softmax(logits, _class_axis(logits, axis))


def softmax_cross_entropy_with_logits(
    labels: npt.ArrayLike, logits: npt.ArrayLike, axis: int = -1
) -> np.ndarray:
    """Computes the cross entropy between `labels` and ``softmax(logits)`` along `axis`.

    The loss of each example is ``-sum(labels * log_softmax(logits), axis)``. Its gradients are

    * with respect to `logits`: ``g * (softmax(logits) * sum(labels, axis) - labels)``, which is
      the familiar ``g * (softmax(logits) - labels)`` when each row of `labels` sums to one;
    * with respect to `labels`: ``-g * log_softmax(logits)``.

    Here ``g`` is the incoming gradient of the per-example loss, broadcast along `axis`.

    .. note::
        As in TF2's ``tf.nn.softmax_cross_entropy_with_logits`` (TF1's ``..._v2``), gradients flow
        into `labels` too. TF1's original op stopped them; wrap `labels` in a constant if you
        want that behaviour.

    Args:
        labels: Per-class target weights, usually a probability distribution, with the shape of
            `logits`. Integer or boolean labels (one-hot) are accepted and cast to the logits'
            dtype; so are float labels of another precision.
        logits: Floating-point unnormalized log-probabilities, at least one dimension.
        axis: The class axis. Defaults to -1.

    Returns:
        The per-example loss: the shape of `logits` without `axis`, in the dtype of `logits`.

    Raises:
        TypeError: If `logits` is not floating point, `labels` is not real numeric, or `axis` is
            not an int.
        ValueError: If the shapes of `labels` and `logits` differ, `logits` is a scalar, `axis`
            is out of range or the class axis is empty.

    Example:
        >>> softmax_cross_entropy_with_logits(np.array([0.0, 1.0]), np.array([0.0, 0.0]))
        np.float64(0.6931471805599453)
    """
    logits = _float_input(logits, "logits")
    axis = _class_axis(logits, axis)
    labels = _dense_labels(labels, logits)
    return _table().softmax_xent(labels, logits, axis)


def sparse_softmax_cross_entropy_with_logits(
    labels: npt.ArrayLike, logits: npt.ArrayLike
) -> np.ndarray:
    """Computes softmax cross entropy against integer class labels.

    The loss of example ``i`` is ``-log_softmax(logits)[i, labels[i]]``, the classes lying along
    the last axis. The gradient with respect to `logits` is ``g * (softmax(logits) -
    one_hot(labels))``; `labels` are indices and get no gradient.

    .. note::
        TF on CPU raises for an out-of-range label while TF on GPU silently returns ``nan``; this
        op always raises.

    Args:
        labels: Integer array of class indices in ``[0, num_classes)``, of shape
            ``logits.shape[:-1]``.
        logits: Floating-point unnormalized log-probabilities of shape
            ``labels.shape + (num_classes,)``.

    Returns:
        The per-example loss, with the shape of `labels` and the dtype of `logits`.

    Raises:
        TypeError: If `labels` is not of an integer dtype or `logits` is not floating point.
        ValueError: If the shape of `labels` is not ``logits.shape[:-1]``, a label is out of
            range, `logits` is a scalar or has no classes.

    Example:
        >>> sparse_softmax_cross_entropy_with_logits(np.array([1]), np.array([[0.0, 0.0]]))
        array([0.69314718])
    """
    logits = _float_input(logits, "logits")
    _class_axis(logits, -1)
    labels = _sparse_labels(labels, logits)
    return _table().sparse_softmax_xent(labels, logits)


def sigmoid_cross_entropy_with_logits(labels: npt.ArrayLike, logits: npt.ArrayLike) -> np.ndarray:
    """Computes elementwise logistic loss between `labels` and ``sigmoid(logits)``.

    With ``x = logits`` and ``z = labels`` the loss is ``-z * log(sigmoid(x)) - (1 - z) *
    log(1 - sigmoid(x))``, evaluated as ``max(x, 0) - x * z + log1p(exp(-|x|))`` so that it never
    overflows. The gradients are ``g * (sigmoid(x) - z)`` for `logits` and ``-g * x`` for
    `labels`.

    Args:
        labels: Targets, usually in ``[0, 1]``, with the shape of `logits`. Integer, boolean or
            float labels of another precision are cast to the logits' dtype.
        logits: Floating-point array of log-odds, any shape.

    Returns:
        The elementwise loss, with the shape and dtype of `logits`.

    Raises:
        TypeError: If `logits` is not floating point or `labels` is not real numeric.
        ValueError: If the shapes of `labels` and `logits` differ.

    Example:
        >>> sigmoid_cross_entropy_with_logits(np.array([1.0]), np.array([0.0]))
        array([0.69314718])
    """
    logits = _float_input(logits, "logits")
    labels = _dense_labels(labels, logits)
    return _table().sigmoid_xent(labels, logits)


def l2_loss(t: npt.ArrayLike) -> np.ndarray:
    """Computes half the squared L2 norm, ``sum(t ** 2) / 2``, as TF does (no square root).

    The gradient is ``g * t``.

    Args:
        t: Floating-point array of any shape.

    Returns:
        A scalar in the dtype of `t`.

    Raises:
        TypeError: If `t` is not floating point.

    Example:
        >>> l2_loss(np.array([3.0, 4.0]))
        np.float64(12.5)
    """
    return _table().l2_loss(_float_input(t, "t"))
