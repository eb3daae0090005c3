"""Gradient clipping: TF's ``clip_by_value``, ``clip_by_norm``, ``global_norm`` and
``clip_by_global_norm`` (``tensorflow/python/ops/clip_ops.py``) on numpy arrays.

Every function takes plain arrays or :class:`optim.IndexedSlices` (whose values are clipped; the
indices and dense shape are kept), keeps the input's dtype (float32 stays float32: scalars are cast
to it first, as TF converts them to the tensor's dtype), and returns new arrays without changing
its inputs.

Example:
    >>> grads_and_vars = opt.compute_gradients(loss, var_list)
    >>> grads, norm = clip_by_global_norm([g for g, _ in grads_and_vars], 5.0)
    >>> opt.apply_gradients(zip(grads, [v for _, v in grads_and_vars]))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .sparse import IndexedSlices, deduplicate

__all__ = [
    "clip_by_value",
    "clip_by_norm",
    "global_norm",
    "clip_by_global_norm",
    "global_clip_scale",
    "global_norm_from_squares",
    "check_clip_options",
    "clip_gradients",
]

Tensor = Any  # an array-like or an IndexedSlices


def _values(t: Tensor, arg: str, kinds: str = "f") -> np.ndarray:
    """The array to clip: ``t`` itself or its ``values``, checked to be of a kind in ``kinds``."""
    values = t.values if isinstance(t, IndexedSlices) else np.asarray(t)
    if values.dtype.kind not in kinds:
        what = "a floating-point" if kinds == "f" else "a real numeric"
        raise TypeError(f"`{arg}` must be {what} array or IndexedSlices, got dtype {values.dtype}.")
    return values


def _like(t: Tensor, values: np.ndarray) -> Tensor:
    """``values`` wrapped the way ``t`` was: an IndexedSlices with t's indices, or the array."""
    if isinstance(t, IndexedSlices):
        return IndexedSlices(values, t.indices, t.dense_shape)
    return values


def _check_clip_norm(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not (
        isinstance(value, numbers.Real)
        or (isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")
    ):
        raise TypeError(f"`{name}` must be a real number, got {value!r}.")
    try:
        x = float(value)
    except OverflowError:  # an integer or fraction beyond float's range
        x = math.inf
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
    return x


def _check_sequence(t_list: Any) -> list[Tensor]:
    if not isinstance(t_list, Sequence) or isinstance(t_list, (str, bytes)):
        raise TypeError(f"t_list should be a sequence of arrays, got {t_list!r}.")
    return list(t_list)


def clip_by_value(
    t: Tensor, clip_value_min: Any, clip_value_max: Any, name: str | None = None
) -> Tensor:
    """Clips every element to ``[clip_value_min, clip_value_max]``: ``max(min(t, max), min)``.

    Args:
        t: an array (real, integer or float) or IndexedSlices.
        clip_value_min, clip_value_max: scalars or arrays broadcastable to ``t``'s shape
            (``t.values``' shape for IndexedSlices) without enlarging it. If
            ``clip_value_min > clip_value_max`` the result is ``clip_value_min``, as in TF.
        name: accepted for TF compatibility.

    Returns:
        A new array (or IndexedSlices with the same indices) of ``t``'s dtype and shape.

    Raises:
        TypeError: a non-numeric ``t``, or a float bound for an integer ``t``.
        ValueError: a bound whose shape would enlarge ``t`` by broadcasting.

    Example:
        >>> clip_by_value(np.array([-2.0, 0.5, 3.0]), -1.0, 1.0)
        array([-1. ,  0.5,  1. ])
    """
    del name
    values = _values(t, "t", kinds="iuf")
    bounds = []
    for arg, bound in (("clip_value_min", clip_value_min), ("clip_value_max", clip_value_max)):
        array = np.asarray(bound)
        if array.dtype.kind not in "iuf" or (values.dtype.kind in "iu" and array.dtype.kind == "f"):
            raise TypeError(
                f"`{arg}` must be a real number or array castable to {values.dtype}, got {bound!r}."
            )
        try:
            grows = np.broadcast_shapes(values.shape, array.shape) != values.shape
        except ValueError:
            grows = True
        if grows:
            raise ValueError(
                f"`{arg}` must be a scalar or an array broadcastable to shape {values.shape} "
                f"without enlarging it, got shape {array.shape}."
            )
        bounds.append(array.astype(values.dtype, copy=False))
    low, high = bounds
    out = np.minimum(values, high, out=np.empty_like(values))
    np.maximum(out, low, out=out)
    return _like(t, out)


def clip_by_norm(t: Tensor, clip_norm: float, axes: Any = None, name: str | None = None) -> Tensor:
    """Rescales ``t`` so that its L2 norm is at most ``clip_norm``.

    ::

        l2 = sqrt(sum(t**2, axes, keepdims=True))      # 0 for an all-zero t (no NaN)
        out = t * clip_norm / max(l2, clip_norm)

    Args:
        t: a floating-point array or IndexedSlices (the norm is that of its ``values``, with
            repeated indices not summed, as in TF).
        clip_norm: a finite number > 0.
        axes: None (the whole tensor), an int or a sequence of ints: each slice along the
            other axes is clipped separately.
        name: accepted for TF compatibility.

    Returns:
        A new array (or IndexedSlices with the same indices) of ``t``'s dtype and shape.

    Raises:
        TypeError: a non-float ``t`` or a non-numeric ``clip_norm``.
        ValueError: ``clip_norm`` <= 0, NaN or infinite; an axis out of range.

    Example:
        >>> clip_by_norm(np.array([[-3.0, 0, 0], [4.0, 0, 0]]), 4.0)
        array([[-2.4,  0. ,  0. ],
               [ 3.2,  0. ,  0. ]])

    .. note::
        The division is by ``max(l2, clip_norm)``, so a tensor inside the ball is multiplied
        by ``clip_norm / clip_norm`` and can move by one rounding step, as in TF and Keras.
        PyTorch's ``clip_grad_norm_`` uses ``clip_norm / (l2 + 1e-6)`` clamped to 1.
    """
    del name
    values = _values(t, "t")
    clip_norm = _check_clip_norm("clip_norm", clip_norm)
    if axes is not None:
        if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
            axes = (int(axes),)
        elif isinstance(axes, (Sequence, np.ndarray)) and all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes
        ):
            axes = tuple(int(a) for a in axes)
        else:
            raise TypeError(f"`axes` must be None, an int or a sequence of ints, got {axes!r}.")
    # A clip_norm beyond the dtype's range would round to inf (then inf / inf = NaN for every
    # tensor): the arithmetic is done in float64 then.
    work = values.astype(np.float64) if clip_norm > float(np.finfo(values.dtype).max) else values
    c = work.dtype.type(clip_norm)
    with np.errstate(over="ignore", invalid="ignore"):
        l2sum = np.sum(np.square(work), axis=axes, keepdims=True)
        l2norm = np.sqrt(l2sum)
        out = np.multiply(work, c, out=np.empty_like(work))
        np.divide(out, np.maximum(l2norm, c), out=out)
    return _like(t, out.astype(values.dtype, copy=False))


def global_norm(t_list: Sequence[Tensor | None], name: str | None = None) -> np.floating:
    """The L2 norm of all the tensors together: ``sqrt(sum_i sum(t_i**2))``.

    Args:
        t_list: a list or tuple of floating-point arrays, IndexedSlices (their values) or None
            (ignored).
        name: accepted for TF compatibility.

    Returns:
        A numpy scalar in the tensors' common dtype (float32 if all are float32; float64 for an
        empty or all-None list, whose norm is 0). A square that overflows gives ``inf``, as in
        TF.

    Raises:
        TypeError: ``t_list`` is not a list or tuple ("t_list should be a sequence"), or an entry
            is not a floating-point array or IndexedSlices.

    Example:
        >>> global_norm([np.array([3.0]), None, np.array([4.0])])
        np.float64(5.0)
    """
    del name
    t_list = _check_sequence(t_list)
    values = [_values(t, f"t_list[{i}]") for i, t in enumerate(t_list) if t is not None]
    return _global_norm(values)


def _global_norm(values: list[np.ndarray]) -> np.floating:
    dtype = np.result_type(*values) if values else np.dtype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        squares = np.array([np.sum(np.square(v)) for v in values], dtype=dtype)
    return global_norm_from_squares(squares)


def global_norm_from_squares(squares: np.ndarray) -> np.floating:
    """The global norm from each tensor's sum of squares: ``sqrt(sum(squares))``, in
    ``squares``' dtype, the last step of :func:`global_norm` (an overflow gives ``inf``).

    The flat engine calls it with per-segment sums of one flat gradient buffer
    (:func:`optim.engine.reductions.segment_square_sums`), which are the same numbers.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sqrt(np.sum(squares, dtype=squares.dtype))


def global_clip_scale(norm: Any, clip_norm: float, dtype: np.dtype) -> np.floating:
    """The factor :func:`clip_by_global_norm` multiplies every tensor by, in ``dtype``.

    ``clip_norm * min(1 / norm, 1 / clip_norm) + (norm - norm)``: ``clip_norm / norm`` when
    the norm exceeds ``clip_norm``, 1 when it does not, NaN for an infinite or NaN norm.

    Args:
        norm: the global norm (a numpy scalar or number).
        clip_norm: a finite number > 0 (checked by the caller).
        dtype: the tensors' floating dtype.
    """
    # As in clip_by_norm: a clip_norm beyond the dtype's range is not rounded to inf.
    work = np.dtype(np.float64) if clip_norm > float(np.finfo(dtype).max) else dtype
    c = work.type(clip_norm)
    one = work.type(1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = c * np.minimum(one / work.type(norm), one / c) + (norm - norm)
    return np.dtype(dtype).type(scale)


def clip_by_global_norm(
    t_list: Sequence[Tensor | None],
    clip_norm: float,
    use_norm: Any = None,
    name: str | None = None,
) -> tuple[list[Tensor | None], np.floating]:
    """Rescales a list of tensors so that their global norm is at most ``clip_norm``.

    ::

        norm = global_norm(t_list)                       # or use_norm
        scale = clip_norm * min(1 / norm, 1 / clip_norm) + (norm - norm)
        t_i = t_i * scale

    ``scale`` is ``clip_norm / max(norm, clip_norm)`` for a finite norm, 1 for a norm of 0, and
    NaN for an infinite or NaN norm: then **every** tensor comes back all NaN (TF's rule; check
    for it, or use the optimizer's non-finite policy, if a step should be skipped instead).

    Args:
        t_list: a list or tuple of floating-point arrays, IndexedSlices or None (kept as None).
        clip_norm: a finite number > 0.
        use_norm: the global norm to use instead of computing it (a number >= 0; inf or NaN
            make every output NaN, as a computed one would).
        name: accepted for TF compatibility.

    Returns:
        ``(list_clipped, global_norm)``: new arrays (IndexedSlices keep their indices and dense
        shape) in the input dtypes, and the norm used, a numpy scalar in the tensors' common
        dtype.

    Raises:
        TypeError: ``t_list`` is not a list or tuple, an entry or ``clip_norm`` of the wrong
            type.
        ValueError: ``clip_norm`` <= 0, NaN or infinite; a negative ``use_norm``.

    Example:
        >>> clipped, norm = clip_by_global_norm([np.array([[-2.0, 0, 0], [4, 0, 0]]),
        ...                                      np.array([1.0, -2.0])], 4.0)
        >>> norm
        np.float64(5.0)

    .. note::
        PyTorch's ``clip_grad_norm_`` multiplies by ``clip_norm / (norm + 1e-6)`` clamped to 1
        and, with ``error_if_nonfinite=False``, lets a non-finite norm through as it is; optax's
        ``clip_by_global_norm`` uses ``where(norm < max_norm, t, t / norm * max_norm)``, which
        leaves tensors inside the ball bit-for-bit unchanged.
    """
    del name
    t_list = _check_sequence(t_list)
    clip_norm = _check_clip_norm("clip_norm", clip_norm)
    values = [None if t is None else _values(t, f"t_list[{i}]") for i, t in enumerate(t_list)]
    present = [v for v in values if v is not None]
    dtype = np.result_type(*present) if present else np.dtype(np.float64)
    if use_norm is None:
        norm = _global_norm(present)
    else:
        if isinstance(use_norm, (bool, np.bool_)) or not (
            isinstance(use_norm, numbers.Real)
            or (isinstance(use_norm, np.ndarray) and use_norm.ndim == 0)
        ):
            raise TypeError(f"`use_norm` must be a real number, got {use_norm!r}.")
        if float(use_norm) < 0:
            raise ValueError(f"`use_norm` must be >= 0, got {use_norm!r}.")
        norm = dtype.type(use_norm)
    scale = global_clip_scale(norm, clip_norm, dtype)
    clipped = [
        None if v is None else _like(t, np.multiply(v, v.dtype.type(scale), out=np.empty_like(v)))
        for t, v in zip(t_list, values)
    ]
    return clipped, norm


def check_clip_options(
    clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None
) -> tuple[float | None, float | None, float | None]:
    """Validates Keras-style clipping options; each is None (off) or a finite number > 0.

    Raises:
        ValueError: a value <= 0, NaN or infinite, or both ``clipnorm`` and ``global_clipnorm``.
        TypeError: a non-numeric value.
    """
    checked = tuple(
        None if value is None else _check_clip_norm(arg, value)
        for arg, value in (
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        )
    )
    if checked[0] is not None and checked[2] is not None:
        raise ValueError(
            "Only one of `clipnorm` and `global_clipnorm` can be set, "
            f"got clipnorm={clipnorm!r} and global_clipnorm={global_clipnorm!r}."
        )
    return checked


def clip_gradients(
    grads: Sequence[Tensor | None],
    clipnorm: Any = None,
    clipvalue: Any = None,
    global_clipnorm: Any = None,
) -> list[Tensor | None]:
    """Keras 3's gradient clipping, for an optimizer's list of gradients.

    The first option set wins, in this order (Keras 3's ``BaseOptimizer._clip_gradients``):

    * ``clipnorm``: each gradient by :func:`clip_by_norm` (its own L2 norm);
    * ``global_clipnorm``: all together by :func:`clip_by_global_norm` (a non-finite global norm
      turns every gradient into NaN);
    * ``clipvalue``: each element into ``[-clipvalue, clipvalue]``.

    None gradients stay None. An IndexedSlices gradient has its repeated indices summed first,
    so that a sparse gradient is clipped exactly as its dense equivalent would be.

    Args:
        grads: arrays, IndexedSlices or None.
        clipnorm, clipvalue, global_clipnorm: None (off) or a finite number > 0; ``clipnorm`` and
            ``global_clipnorm`` cannot both be set.

    Returns:
        A new list; clipped gradients are new arrays, the inputs are not changed.

    Raises:
        ValueError, TypeError: as :func:`check_clip_options`.

    .. note::
        Keras silently ignores a zero or negative option; optim raises. Keras applies only the
        first option that is set (a ``clipvalue`` next to a ``clipnorm`` is ignored); so does
        this function.
    """
    clipnorm, clipvalue, global_clipnorm = check_clip_options(clipnorm, clipvalue, global_clipnorm)
    if clipnorm is None and global_clipnorm is None and clipvalue is None:
        return list(grads)
    grads = [deduplicate(g) if isinstance(g, IndexedSlices) else g for g in grads]
    if clipnorm is not None:
        return [None if g is None else clip_by_norm(g, clipnorm) for g in grads]
    if global_clipnorm is not None:
        return clip_by_global_norm(grads, global_clipnorm)[0]
    return [None if g is None else clip_by_value(g, -clipvalue, clipvalue) for g in grads]
