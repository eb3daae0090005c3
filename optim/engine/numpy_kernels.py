"""The update rules of optim, written once, and their fused flat-buffer kernels in pure numpy.

Two layers live here:

- **The ufunc sequences** (``adam_update``, ``momentum_update``, ... and the moment helpers
  ``update_first_moment`` and friends): each optimizer family's update rule, written once as
  a sequence of in-place numpy ufuncs in its reference's order of operations (TF, Keras or
  PyTorch, as each optimizer in ``optim/algorithms`` documents). They take arrays of any
  shape. The per-variable kernels of ``optim/algorithms`` call them on one variable (or on
  gathered rows), and the kernels of this module call them block by block. This module is
  their home so that the dependency runs one way: ``optim.algorithms`` imports
  ``optim.engine``, and nothing in ``optim.engine`` imports an optimizer.
- **The fused kernels** (``adam``, ``momentum``, ...): each updates one flat buffer of one
  dtype (a variable arena) and its slot buffers in place, from one flat gradient buffer that
  it never writes, by running its sequence over cache-sized blocks of ``block`` elements: each
  block's temporaries live in small scratch buffers that stay in the caches, so a step makes
  one pass over memory per array instead of one per ufunc. Every ufunc is elementwise and
  correctly rounded, so the results are bit-identical to the per-variable path, whatever the
  block size.

The contract shared with :mod:`optim.engine.numba_kernels` (same names, same signatures):

- arrays (``var``, the slots, ``grad``) are 1-D, C-contiguous, of one floating dtype and one
  size; ``var`` and the slots are writeable. An optional slot (``vhat``, ``mg``) is ``None``
  when unused. Arrays must not overlap one another.
- per-step scalars are computed by the caller exactly as the optimizer computes them (in the
  arrays' dtype) and passed as numpy scalars of that dtype (or 0-d arrays of it); Python
  ``int``/``float`` values are converted to the dtype, as numpy itself does for them. A numpy
  scalar of another dtype is a ``TypeError``: numpy would compute in the wider type.
- everything is checked before the first write: a call that raises changes nothing.

Example:
    >>> var, m, v = np.ones(5, np.float32), np.zeros(5, np.float32), np.zeros(5, np.float32)
    >>> grad = np.full(5, 0.5, np.float32)
    >>> adam(var, m, v, None, grad, np.float32(0.001), np.float32(0.9), np.float32(0.999),
    ...      np.float32(1e-8))
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .threads import run_chunks, thread_count

__all__ = [
    "DEFAULT_BLOCK",
    "KERNEL_NAMES",
    "adadelta",
    "adadelta_update",
    "adagrad",
    "adagrad_da_update",
    "adagrad_update",
    "adam",
    "adam_step",
    "adam_update",
    "adamax",
    "adamax_update",
    "adamw",
    "adamw_update",
    "as_scalar",
    "as_scalars",
    "bool_view",
    "check_buffers",
    "check_offsets",
    "decay_first_moment",
    "decay_second_moment",
    "decay_weights",
    "ftrl_update",
    "gradient_descent",
    "gradient_descent_update",
    "lamb",
    "lamb_direction",
    "lamb_scratch",
    "lion",
    "lion_update",
    "lion_weight_decay",
    "lion_weight_decay_update",
    "momentum",
    "momentum_update",
    "nadam",
    "nadam_update",
    "norm",
    "proximal_adagrad_update",
    "proximal_gradient_descent_update",
    "radam_update",
    "rmsprop",
    "rmsprop_update",
    "scaled_step",
    "segment_ratios",
    "trust_ratio",
    "update_first_moment",
    "update_second_moment",
]

DEFAULT_BLOCK = 65536
"""Elements per block: 256 KiB of float32, 512 KiB of float64 per array.

Measured on the 2-core reference machine, Adam on 1e7 elements: float32 takes 36-38 ms with 8Ki
blocks, 31-34 ms with 16Ki, 29-30 ms with 32Ki and 27-28 ms with 64Ki (26-27 ms at 128Ki);
float64 is fastest at 64Ki (60-72 ms) and slows past 128Ki. One block has about a dozen ufunc
calls of fixed cost, so small blocks pay that overhead too often. A block's working set
(four arrays and two temporaries: 1.5 MiB of float32) is larger than this machine's L2
(``lscpu``: 512 KiB per core, 32 MiB of L3 shared; ``fast_engine.md`` lists 2 MiB of L2), so
it is the L3 that keeps the temporaries off memory. A larger default would not pay: a step of
1e6 elements (every layout of 1e6 in ``bench_fused``) would then have fewer than
:data:`THREADED_MIN_BLOCKS` blocks and run on one thread. Measured 2026-12-02, median of 12
interleaved rounds, 64Ki / 128Ki / 256Ki: 1e7 float32 27.2 / 23.2 / 24.5 ms, float64 53.5 /
59.7 / 81.6 ms; 1e6 float32 3.5 / 4.8 / 4.8 ms, float64 6.4 / 10.3 / 12.0 ms.
"""

KERNEL_NAMES = (
    "gradient_descent",
    "momentum",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "lion",
    "lion_weight_decay",
    "adadelta",
    "adamax",
    "nadam",
    "ftrl",
    "adagrad_da",
    "proximal_gradient_descent",
    "proximal_adagrad",
    "radam",
    "lamb",
)
"""The kernels this module and :mod:`optim.engine.numba_kernels` both define."""


# -- the shared contract ---------------------------------------------------------------------
def check_buffers(grad: Any, buffers: Sequence[tuple[str, Any]]) -> np.dtype:
    """Checks a kernel's arrays and returns their dtype.

    Args:
        grad: the flat gradient, a 1-D C-contiguous floating-point array.
        buffers: ``(name, array)`` pairs for ``var`` and the slots, each ``None`` (an unused
            optional slot) or a writeable array of ``grad``'s dtype, shape and layout.

    Returns:
        The common dtype.

    Raises:
        TypeError: an argument that is not an ndarray, or of another or a non-floating dtype.
        ValueError: an array that is not 1-D and C-contiguous, of another size, read-only, or
            overlapping another one.
    """
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"`grad` must be a numpy array, got {type(grad).__name__}.")
    dtype = grad.dtype
    if dtype.kind != "f":
        raise TypeError(f"`grad` must have a floating-point dtype, got {dtype}.")
    if grad.ndim != 1 or not grad.flags.c_contiguous:
        raise ValueError(f"`grad` must be a 1-D C-contiguous array, got shape {grad.shape}.")
    arrays = [grad]
    for name, array in buffers:
        if array is None:
            continue
        if not isinstance(array, np.ndarray):
            raise TypeError(f"`{name}` must be a numpy array, got {type(array).__name__}.")
        if array.dtype != dtype:
            raise TypeError(
                f"`{name}` must have dtype {dtype} (the gradient's), got {array.dtype}."
            )
        if array.shape != grad.shape or not array.flags.c_contiguous:
            raise ValueError(
                f"`{name}` must be a 1-D C-contiguous array of shape {grad.shape}, "
                f"got shape {array.shape}."
            )
        if not array.flags.writeable:
            raise ValueError(f"`{name}` must be writeable, got a read-only array.")
        for other in arrays:
            if array.size and np.may_share_memory(array, other):
                raise ValueError(f"`{name}` must not overlap another buffer of the update.")
        arrays.append(array)
    return dtype


def as_scalar(name: str, value: Any, dtype: np.dtype) -> np.generic:
    """``value`` as a numpy scalar of ``dtype``, as a kernel's per-step scalar.

    Args:
        name: the argument's name, for error messages.
        value: a numpy scalar or 0-d array of ``dtype``, or a Python ``int``/``float``
            (converted to ``dtype``, as numpy converts a Python number in arithmetic with an
            array of ``dtype``).
        dtype: the arrays' dtype.

    Raises:
        TypeError: a numpy scalar or array of another dtype, or not a number at all.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        if value.dtype != dtype:
            raise TypeError(
                f"`{name}` must be a {dtype} scalar (the arrays' dtype), got {value.dtype} "
                f"{value!r}."
            )
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dtype.type(value)
    raise TypeError(f"`{name}` must be a {dtype} scalar, got {value!r}.")


def as_scalars(dtype: np.dtype, **values: Any) -> list[np.generic]:
    """:func:`as_scalar` of every ``name=value`` pair, in order."""
    return [as_scalar(name, value, dtype) for name, value in values.items()]


def _check_block(block: Any) -> int:
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"`block` must be a positive integer, got {block!r}.")
    return int(block)


THREADED_MIN_BLOCKS = 8
"""Buffers of at least this many blocks run their blocks in threads
(:func:`optim.engine.threads.thread_count` of them, one contiguous chunk of blocks each; the
result is the same to the bit)."""


def _blocked(
    body: Callable[..., None],
    arrays: Sequence[np.ndarray | None],
    scalars: Sequence[Any],
    count: int,
    block: int,
    scratch: np.ndarray | None,
) -> None:
    """Runs ``body(*array_blocks, scratch_tuple, *scalars)`` over consecutive blocks; from
    :data:`THREADED_MIN_BLOCKS` blocks on, in threads, each over its own chunk of blocks."""
    block = _check_block(block)
    grad = arrays[-1]
    n = grad.shape[0]
    if n == 0:
        return
    width = min(n, block)
    if scratch is None:
        scratch = np.empty(count * width, dtype=grad.dtype)
    elif (
        not isinstance(scratch, np.ndarray)
        or scratch.dtype != grad.dtype
        or scratch.ndim != 1
        or scratch.size < count * width
    ):
        raise ValueError(
            f"`scratch` must be a 1-D {grad.dtype} array of at least {count * width} elements, "
            f"got {scratch!r:.80}."
        )
    threads = thread_count() if n >= THREADED_MIN_BLOCKS * block else 1

    def run(start: int, stop: int, scratch: np.ndarray) -> None:
        temps = tuple(scratch[i * width : (i + 1) * width] for i in range(count))
        if start == 0 and stop == n <= block:
            body(*arrays, temps, *scalars)
            return
        for a in range(start, stop, block):
            b = min(a + block, stop)
            views = [None if x is None else x[a:b] for x in arrays]
            if b - a == width:
                body(*views, temps, *scalars)
            else:
                body(*views, tuple(t[: b - a] for t in temps), *scalars)

    if threads == 1:
        run(0, n, scratch)
        return

    def chunk(start: int, stop: int) -> None:
        # the caller's scratch for the first chunk, a fresh one (of the block's size) per other
        run(start, stop, scratch if start == 0 else np.empty(count * width, dtype=grad.dtype))

    run_chunks(chunk, n, threads, block)


# -- the ufunc sequences: the one copy of every update rule -----------------------------------
# Each function below is one optimizer family's update, written once. The per-variable kernels
# of optim/algorithms call it on whole arrays (any shape, one variable or gathered rows) and
# the public kernels of this module call it block by block through _blocked. The convention:
# the arrays (var, the slots, grad), then ``scratch``, a tuple of temporaries shaped like
# ``var``, then the per-step scalars as numpy scalars of the arrays' dtype. A sequence writes
# ``var``, its slots and the scratch arrays only, never ``grad``, and allocates nothing
# proportional to the arrays. Each line is one correctly rounded ufunc, in the reference's
# order (the TF, Keras or PyTorch kernel each optimizer documents), which is what bit-exact
# parity and the numba kernels' bit-exactness rest on.


def update_first_moment(
    m: np.ndarray, grad: np.ndarray, one_minus_beta: Any, tmp: np.ndarray
) -> None:
    """``m += (grad - m) * one_minus_beta`` in place (TF's ``ApplyAdam`` order).

    The increment form of the moving average, shared by Adam, AdamW, AMSGrad, Adamax's ``m``,
    RAdam's ``m`` (PyTorch's ``lerp``, the same rounding) and RMSProp's ``ms`` and ``mg``.

    Args:
        m: the moment, updated in place.
        grad: the gradient (read only).
        one_minus_beta: ``1 - beta`` as a scalar of ``m``'s dtype.
        tmp: scratch shaped like ``m``.
    """
    np.subtract(grad, m, out=tmp)
    np.multiply(tmp, one_minus_beta, out=tmp)
    np.add(m, tmp, out=m)


def update_second_moment(
    v: np.ndarray, grad: np.ndarray, one_minus_beta: Any, tmp: np.ndarray
) -> None:
    """``v += (grad**2 - v) * one_minus_beta`` in place (TF's ``ApplyAdam`` order).

    Args:
        v: the second moment, updated in place.
        grad: the gradient (read only).
        one_minus_beta: ``1 - beta`` as a scalar of ``v``'s dtype.
        tmp: scratch shaped like ``v``.
    """
    np.square(grad, out=tmp)
    np.subtract(tmp, v, out=tmp)
    np.multiply(tmp, one_minus_beta, out=tmp)
    np.add(v, tmp, out=v)


def decay_first_moment(
    m: np.ndarray, grad: np.ndarray, beta: Any, one_minus_beta: Any, tmp: np.ndarray
) -> None:
    """``m = m * beta + grad * one_minus_beta`` in place (Keras' and optax's order).

    The decay-then-add form, shared by Nadam, LAMB, Lion's momentum and Adadelta's
    accumulators; it rounds differently from :func:`update_first_moment`.

    Args:
        m: the moment, updated in place.
        grad: the gradient (read only).
        beta, one_minus_beta: ``beta`` and ``1 - beta`` as scalars of ``m``'s dtype.
        tmp: scratch shaped like ``m``.
    """
    np.multiply(m, beta, out=m)
    np.multiply(grad, one_minus_beta, out=tmp)
    np.add(m, tmp, out=m)


def decay_second_moment(
    v: np.ndarray, grad: np.ndarray, beta: Any, one_minus_beta: Any, tmp: np.ndarray
) -> None:
    """``v = v * beta + grad**2 * one_minus_beta`` in place (Keras' and optax's order).

    Args:
        v: the second moment, updated in place.
        grad: the gradient, or any array whose square is averaged (Adadelta's update).
        beta, one_minus_beta: ``beta`` and ``1 - beta`` as scalars of ``v``'s dtype.
        tmp: scratch shaped like ``v``.
    """
    np.multiply(v, beta, out=v)
    np.square(grad, out=tmp)
    np.multiply(tmp, one_minus_beta, out=tmp)
    np.add(v, tmp, out=v)


def gradient_descent_update(var: np.ndarray, grad: np.ndarray, scratch: Sequence, lr: Any) -> None:
    """``var -= grad * lr`` in place (TF ``ApplyGradientDescent``); one scratch array."""
    (step,) = scratch
    np.multiply(grad, lr, out=step)
    np.subtract(var, step, out=var)


def momentum_update(
    var: np.ndarray,
    accum: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    momentum: Any,
    use_nesterov: bool,
    sparse: bool = False,
) -> None:
    """TF ``ApplyMomentum`` / ``SparseApplyMomentum`` in place; two scratch arrays.

    ``accum = accum * momentum + grad``, then ``var -= accum * lr`` or, with Nesterov,
    ``var -= grad * lr + (accum * momentum) * lr``. With ``sparse`` (gathered rows), the
    Nesterov term is ``accum * (lr * momentum)``, the sparse kernel's order: each order is kept
    so that float32 results match TF bit for bit.
    """
    np.multiply(accum, momentum, out=accum)
    np.add(accum, grad, out=accum)
    step, tmp = scratch
    if use_nesterov:
        np.multiply(grad, lr, out=step)
        if sparse:
            np.multiply(accum, lr * momentum, out=tmp)
        else:
            np.multiply(accum, momentum, out=tmp)
            np.multiply(tmp, lr, out=tmp)
        np.add(step, tmp, out=step)
    else:
        np.multiply(accum, lr, out=step)
    np.subtract(var, step, out=var)


def adagrad_update(
    var: np.ndarray, accum: np.ndarray, grad: np.ndarray, scratch: Sequence, lr: Any, epsilon: Any
) -> None:
    """TF ``ApplyAdagrad`` (``epsilon is None``) / ``ApplyAdagradV2`` in place; two scratch.

    ``accum += grad * grad``, then ``var -= (grad * lr) * (1 / sqrt(accum))`` or
    ``var -= (grad * lr) / (sqrt(accum) + epsilon)``.
    """
    step, denom = scratch
    np.multiply(grad, grad, out=step)
    np.add(accum, step, out=accum)
    np.multiply(grad, lr, out=step)
    np.sqrt(accum, out=denom)
    if epsilon is None:
        np.divide(1, denom, out=denom)  # rsqrt
        np.multiply(step, denom, out=step)
    else:
        np.add(denom, epsilon, out=denom)
        np.divide(step, denom, out=step)
    np.subtract(var, step, out=var)


def rmsprop_update(
    var: np.ndarray,
    ms: np.ndarray,
    mg: np.ndarray | None,
    mom: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    one_minus_rho: Any,
    momentum: Any,
    epsilon: Any,
) -> None:
    """TF ``ApplyRMSProp`` (``mg is None``) / ``ApplyCenteredRMSProp`` in place; two scratch.

    ``ms += (grad² - ms) * (1 - rho)``; centered: ``mg += (grad - mg) * (1 - rho)``;
    ``mom = mom * momentum + (grad * lr) / sqrt(ms [- mg²] + epsilon)``; ``var -= mom``.
    """
    tmp, denom = scratch
    update_second_moment(ms, grad, one_minus_rho, tmp)
    if mg is None:
        np.add(ms, epsilon, out=denom)
    else:
        update_first_moment(mg, grad, one_minus_rho, tmp)
        np.square(mg, out=denom)
        np.subtract(ms, denom, out=denom)
        np.add(denom, epsilon, out=denom)
    np.sqrt(denom, out=denom)
    np.multiply(grad, lr, out=tmp)
    np.divide(tmp, denom, out=tmp)
    np.multiply(mom, momentum, out=mom)
    np.add(mom, tmp, out=mom)
    np.subtract(var, mom, out=var)


def adam_step(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    vhat: np.ndarray | None,
    scratch: Sequence,
    alpha: Any,
    epsilon: Any,
) -> None:
    """Adam's step from updated moments, in place; two scratch arrays.

    ``vhat = max(vhat, v)`` (AMSGrad, when ``vhat`` is given), then
    ``var -= (m * alpha) / (sqrt(v or vhat) + epsilon)``.
    """
    tmp, denom = scratch
    if vhat is not None:
        np.maximum(vhat, v, out=vhat)
        v = vhat
    np.sqrt(v, out=denom)
    np.add(denom, epsilon, out=denom)
    np.multiply(m, alpha, out=tmp)
    np.divide(tmp, denom, out=tmp)
    np.subtract(var, tmp, out=var)


def adam_update(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    vhat: np.ndarray | None,
    grad: np.ndarray,
    scratch: Sequence,
    alpha: Any,
    one_minus_beta1: Any,
    one_minus_beta2: Any,
    epsilon: Any,
) -> None:
    """TF ``ApplyAdam`` (``vhat is None``) / ``ApplyAdamWithAmsgrad`` in place; two scratch.

    ``m += (grad - m) * (1 - beta1)``, ``v += (grad² - v) * (1 - beta2)``, then
    :func:`adam_step` with ``alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``.
    """
    tmp = scratch[0]
    update_first_moment(m, grad, one_minus_beta1, tmp)
    update_second_moment(v, grad, one_minus_beta2, tmp)
    adam_step(var, m, v, vhat, scratch, alpha, epsilon)


def decay_weights(var: np.ndarray, scratch: Sequence, weight_decay: Any, lr: Any) -> None:
    """Decoupled weight decay in place; one scratch array.

    ``var -= (var * weight_decay) * lr`` (Keras 3's order), or ``var -= var * weight_decay``
    when ``lr`` is None (TF contrib's ``weight_decay_scale="none"``).
    """
    tmp = scratch[0]
    np.multiply(var, weight_decay, out=tmp)
    if lr is not None:
        np.multiply(tmp, lr, out=tmp)
    np.subtract(var, tmp, out=var)


def adamw_update(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    vhat: np.ndarray | None,
    grad: np.ndarray,
    scratch: Sequence,
    alpha: Any,
    one_minus_beta1: Any,
    one_minus_beta2: Any,
    epsilon: Any,
    weight_decay: Any,
    lr: Any,
) -> None:
    """:func:`decay_weights`, then :func:`adam_update`, in place; two scratch arrays."""
    decay_weights(var, scratch, weight_decay, lr)
    adam_update(var, m, v, vhat, grad, scratch, alpha, one_minus_beta1, one_minus_beta2, epsilon)


def lion_update(
    var: np.ndarray,
    m: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    beta1: Any,
    one_minus_beta1: Any,
    beta2: Any,
    one_minus_beta2: Any,
) -> None:
    """One Lion step in place, in Keras 3's order; two scratch arrays.

    ``var -= sign(m * beta1 + grad * (1 - beta1)) * lr``, then
    ``m = m * beta2 + grad * (1 - beta2)``.
    """
    step, tmp = scratch
    np.multiply(m, beta1, out=step)
    np.multiply(grad, one_minus_beta1, out=tmp)
    np.add(step, tmp, out=step)
    np.sign(step, out=tmp)  # not in place: numpy's in-place sign is ~10x slower
    np.multiply(tmp, lr, out=step)
    np.subtract(var, step, out=var)
    decay_first_moment(m, grad, beta2, one_minus_beta2, tmp)


def lion_weight_decay_update(
    var: np.ndarray,
    m: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    beta1: Any,
    one_minus_beta1: Any,
    beta2: Any,
    one_minus_beta2: Any,
    weight_decay: Any,
    decay_lr: Any,
) -> None:
    """:func:`decay_weights`, then :func:`lion_update`, in place; two scratch arrays."""
    decay_weights(var, scratch, weight_decay, decay_lr)
    lion_update(var, m, grad, scratch, lr, beta1, one_minus_beta1, beta2, one_minus_beta2)


def adadelta_update(
    var: np.ndarray,
    accum: np.ndarray,
    accum_update: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    rho: Any,
    one_minus_rho: Any,
    epsilon: Any,
) -> None:
    """TF ``ApplyAdadelta`` in place; two scratch arrays.

    ``accum = accum * rho + grad² * (1 - rho)``,
    ``update = sqrt(accum_update + epsilon) * (1 / sqrt(accum + epsilon)) * grad``,
    ``var -= update * lr``, ``accum_update = accum_update * rho + update² * (1 - rho)``.
    """
    update, tmp = scratch
    decay_second_moment(accum, grad, rho, one_minus_rho, tmp)
    np.add(accum_update, epsilon, out=update)
    np.sqrt(update, out=update)
    np.add(accum, epsilon, out=tmp)
    np.sqrt(tmp, out=tmp)
    np.reciprocal(tmp, out=tmp)
    np.multiply(update, tmp, out=update)
    np.multiply(update, grad, out=update)
    np.multiply(update, lr, out=tmp)
    np.subtract(var, tmp, out=var)
    decay_second_moment(accum_update, update, rho, one_minus_rho, tmp)


def adamax_update(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr_t: Any,
    one_minus_beta1: Any,
    beta2: Any,
    epsilon: Any,
) -> None:
    """TF ``ApplyAdaMax`` in place; two scratch arrays.

    ``m += (grad - m) * (1 - beta1)``, ``v = max(v * beta2, |grad|)``,
    ``var -= (m / (v + epsilon)) * lr_t`` with ``lr_t = lr / (1 - beta1^t)``.
    """
    tmp, denom = scratch
    update_first_moment(m, grad, one_minus_beta1, tmp)
    np.multiply(v, beta2, out=v)
    np.absolute(grad, out=tmp)
    np.maximum(v, tmp, out=v)
    np.add(v, epsilon, out=denom)
    np.divide(m, denom, out=tmp)
    np.multiply(tmp, lr_t, out=tmp)
    np.subtract(var, tmp, out=var)


def nadam_update(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    beta1: Any,
    one_minus_beta1: Any,
    beta2: Any,
    one_minus_beta2: Any,
    epsilon: Any,
    u_t1: Any,
    one_minus_u_t: Any,
    one_minus_product: Any,
    one_minus_product_next: Any,
    one_minus_beta2_power: Any,
) -> None:
    """Keras 2 ``Nadam._resource_apply_dense`` in place, in its order; two scratch arrays.

    ``m_bar = (grad / (1 - P_t)) * (1 - u_t)``, ``m = m * beta1 + grad * (1 - beta1)``,
    ``m_bar += (m / (1 - P_t * u_t1)) * u_t1``, ``v = v * beta2 + grad² * (1 - beta2)``,
    ``var -= (m_bar * lr) / (sqrt(v / (1 - beta2^t)) + epsilon)``.
    """
    m_bar, tmp = scratch
    np.divide(grad, one_minus_product, out=m_bar)
    np.multiply(m_bar, one_minus_u_t, out=m_bar)
    decay_first_moment(m, grad, beta1, one_minus_beta1, tmp)
    np.divide(m, one_minus_product_next, out=tmp)
    np.multiply(tmp, u_t1, out=tmp)
    np.add(m_bar, tmp, out=m_bar)
    decay_second_moment(v, grad, beta2, one_minus_beta2, tmp)
    np.divide(v, one_minus_beta2_power, out=tmp)
    np.sqrt(tmp, out=tmp)
    np.add(tmp, epsilon, out=tmp)
    np.multiply(m_bar, lr, out=m_bar)
    np.divide(m_bar, tmp, out=m_bar)
    np.subtract(var, m_bar, out=var)


def bool_view(buffer: np.ndarray) -> np.ndarray:
    """A boolean array shaped like ``buffer`` that reuses its (C-contiguous) memory."""
    flat = buffer.reshape(-1)
    return flat.view(np.bool_)[: flat.size].reshape(buffer.shape)


def ftrl_update(
    var: np.ndarray,
    accum: np.ndarray,
    linear: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    l1: Any,
    l2: Any,
    l2_shrinkage: Any,
    lr_power: Any,
) -> None:
    """TF ``ApplyFtrl`` (``l2_shrinkage == 0``) / ``ApplyFtrlV2`` in place; four scratch arrays
    (the last one is reused as a boolean mask).

    With ``p = -lr_power`` (``sqrt`` when ``lr_power == -0.5``, as the kernel special-cases)::

        gs      = grad + (2*l2_shrinkage) * var          # V2 only
        new     = accum + grad * grad                    # the raw gradient, not gs
        linear += gs - ((new**p - accum**p) / lr) * var
        var     = (l1*sign(linear) - linear) / (new**p / lr + 2*l2)  if |linear| > l1 else 0
        accum  += grad * grad
    """
    power, tmp, shrunk, mask = scratch
    mask = bool_view(mask)
    np.multiply(grad, grad, out=power)
    np.add(accum, power, out=power)
    if lr_power == -0.5:
        np.sqrt(power, out=power)
        np.sqrt(accum, out=tmp)
    else:
        np.power(power, -lr_power, out=power)
        np.power(accum, -lr_power, out=tmp)
    np.subtract(power, tmp, out=tmp)
    np.divide(tmp, lr, out=tmp)
    np.multiply(tmp, var, out=tmp)
    if l2_shrinkage > 0:
        np.multiply(var, 2 * l2_shrinkage, out=shrunk)
        np.add(grad, shrunk, out=shrunk)
        np.subtract(shrunk, tmp, out=tmp)
    else:
        np.subtract(grad, tmp, out=tmp)
    np.add(linear, tmp, out=linear)
    # quadratic = new**p / lr + 2*l2; x = l1*sign(linear) - linear; var = x / quadratic or 0.
    np.divide(power, lr, out=power)
    np.add(power, 2 * l2, out=power)
    np.sign(linear, out=tmp)
    np.multiply(tmp, l1, out=tmp)
    np.subtract(tmp, linear, out=tmp)
    np.abs(linear, out=shrunk)
    np.greater(shrunk, l1, out=mask)
    var.fill(0)
    np.divide(tmp, power, out=var, where=mask)
    np.multiply(grad, grad, out=tmp)
    np.add(accum, tmp, out=accum)


def adagrad_da_update(
    var: np.ndarray,
    grad_accum: np.ndarray,
    grad_sq_accum: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    l1: Any,
    l2: Any,
    step: Any,
) -> None:
    """TF ``ApplyAdagradDA`` in place; two scratch arrays; ``step`` is ``T = global_step + 1``.

    ``ga += grad; gga += grad**2``, then ``var`` is recomputed from the accumulators alone::

        var = ((sign(ga) * -lr) * max(|ga| - T*l1, 0)) / (sqrt(gga) + l2*(T*lr))   # l1 > 0
        var = -(ga * lr) / (sqrt(gga) + l2*(T*lr))                                 # l1 == 0
    """
    num, denom = scratch
    np.add(grad_accum, grad, out=grad_accum)
    np.multiply(grad, grad, out=num)
    np.add(grad_sq_accum, num, out=grad_sq_accum)
    np.sqrt(grad_sq_accum, out=denom)
    np.add(denom, l2 * (step * lr), out=denom)
    if l1 > 0:
        np.abs(grad_accum, out=num)
        np.subtract(num, step * l1, out=num)
        np.maximum(num, 0, out=num)
        np.sign(grad_accum, out=var)
        np.multiply(var, -lr, out=var)
        np.multiply(var, num, out=var)
    else:
        np.multiply(grad_accum, lr, out=var)
        np.negative(var, out=var)
    np.divide(var, denom, out=var)


def proximal_gradient_descent_update(
    var: np.ndarray, grad: np.ndarray, scratch: Sequence, lr: Any, l1: Any, l2: Any
) -> None:
    """TF ``ApplyProximalGradientDescent`` in place; one scratch array.

    ``prox = var - grad * lr``, then
    ``var = copysign(max(|prox| - lr*l1, 0), prox) / (1 + l2*lr)`` if ``l1 > 0``, else
    ``var = prox / (1 + l2*lr)``.
    """
    (tmp,) = scratch
    np.multiply(grad, lr, out=tmp)
    np.subtract(var, tmp, out=var)
    denom = 1 + l2 * lr
    if l1 > 0:
        np.abs(var, out=tmp)
        np.subtract(tmp, lr * l1, out=tmp)
        np.maximum(tmp, 0, out=tmp)
        np.copysign(tmp, var, out=var)  # = sign(var) * tmp as tmp >= 0; in-place sign is slow
    np.divide(var, denom, out=var)


def proximal_adagrad_update(
    var: np.ndarray,
    accum: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    l1: Any,
    l2: Any,
) -> None:
    """TF ``ApplyProximalAdagrad`` in place; three scratch arrays.

    ``accum += grad**2; eta = (1 / sqrt(accum)) * lr; prox = var - grad * eta``, then
    ``var = copysign(max(|prox| - eta*l1, 0), prox) / (eta*l2 + 1)`` if ``l1 > 0``, else
    ``var = prox / (eta*l2 + 1)``.
    """
    eta, tmp, shrink = scratch
    np.multiply(grad, grad, out=tmp)
    np.add(accum, tmp, out=accum)
    np.sqrt(accum, out=eta)
    np.divide(1, eta, out=eta)  # rsqrt
    np.multiply(eta, lr, out=eta)
    np.multiply(grad, eta, out=tmp)
    np.subtract(var, tmp, out=var)
    if l1 > 0:
        np.multiply(eta, l1, out=shrink)
        np.abs(var, out=tmp)
        np.subtract(tmp, shrink, out=tmp)
        np.maximum(tmp, 0, out=tmp)
        np.copysign(tmp, var, out=var)  # = sign(var) * tmp as tmp >= 0; in-place sign is slow
    np.multiply(eta, l2, out=eta)
    np.add(eta, 1, out=eta)
    np.divide(var, eta, out=var)


def radam_update(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    lr: Any,
    one_minus_beta1: Any,
    beta2: Any,
    one_minus_beta2: Any,
    epsilon: Any,
    bias_correction1: Any,
    sqrt_bias_correction2: Any,
    rect: Any,
) -> None:
    """One ``torch.optim.RAdam`` step in place, in its order of operations; two scratch arrays.

    ``m += (grad - m) * (1 - beta1)`` (torch's ``lerp_``, the same rounding);
    ``v = v * beta2 + (grad * (1 - beta2)) * grad`` (torch's ``mul_(beta2).addcmul_`` order,
    which rounds differently from :func:`decay_second_moment`); then
    ``var -= (((m / bias_correction1) * lr) * ((1 / (sqrt(v) + epsilon)) *
    sqrt_bias_correction2)) * rect`` when ``rect`` is not None (a rectified step), else
    ``var -= (m / bias_correction1) * lr``.
    """
    step, tmp = scratch
    update_first_moment(m, grad, one_minus_beta1, tmp)
    np.multiply(grad, one_minus_beta2, out=tmp)
    np.multiply(tmp, grad, out=tmp)
    np.multiply(v, beta2, out=v)
    np.add(v, tmp, out=v)
    np.divide(m, bias_correction1, out=step)
    np.multiply(step, lr, out=step)
    if rect is not None:
        np.sqrt(v, out=tmp)
        np.add(tmp, epsilon, out=tmp)
        np.reciprocal(tmp, out=tmp)  # torch's `scalar / tensor` is `tensor.reciprocal() * scalar`
        np.multiply(tmp, sqrt_bias_correction2, out=tmp)
        np.multiply(step, tmp, out=step)
        np.multiply(step, rect, out=step)
    np.subtract(var, step, out=var)


def lamb_direction(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    update: np.ndarray,
    grad: np.ndarray,
    scratch: Sequence,
    beta1: Any,
    one_minus_beta1: Any,
    beta2: Any,
    one_minus_beta2: Any,
    epsilon: Any,
    weight_decay: Any,
    bias_correction1: Any,
    bias_correction2: Any,
) -> None:
    """LAMB's moments and direction in place, in optax's order; one scratch array.

    ``m = m * beta1 + grad * (1 - beta1)``, ``v = v * beta2 + grad² * (1 - beta2)`` (optax
    writes ``(1 - beta) * grad + beta * m``: the sum commutes, the bits are the same), then
    ``update = (m / bias_correction1) / (sqrt(v / bias_correction2) + epsilon)``, plus
    ``var * weight_decay`` when the decay is not 0. ``update`` is an output shaped like
    ``var``.
    """
    (tmp,) = scratch
    decay_first_moment(m, grad, beta1, one_minus_beta1, tmp)
    decay_second_moment(v, grad, beta2, one_minus_beta2, tmp)
    np.divide(m, bias_correction1, out=update)
    np.divide(v, bias_correction2, out=tmp)
    np.sqrt(tmp, out=tmp)
    np.add(tmp, epsilon, out=tmp)
    np.divide(update, tmp, out=update)
    if weight_decay != 0:
        np.multiply(var, weight_decay, out=tmp)
        np.add(update, tmp, out=update)


def norm(x: np.ndarray, tmp: np.ndarray) -> Any:
    """``sqrt(sum(x * x))`` over the whole array, in its dtype (``tmp`` is scratch like ``x``).

    ``np.sum`` of a C-contiguous array adds its elements in memory order (numpy's pairwise
    summation), so a variable and its segment of a flat buffer give the same bits.
    """
    np.multiply(x, x, out=tmp)
    return np.sqrt(np.sum(tmp))


def trust_ratio(var_norm: Any, update_norm: Any) -> Any:
    """LAMB's ``||var|| / ||update||``, or None (a ratio of 1) when either norm is 0."""
    if var_norm != 0 and update_norm != 0:
        return var_norm / update_norm
    return None


def scaled_step(var: np.ndarray, update: np.ndarray, ratio: Any, lr: Any) -> None:
    """``var -= (update * ratio) * lr`` in place (``update`` is overwritten); ``ratio`` is a
    scalar, an array shaped like ``var`` (a ratio per element) or None (no multiply)."""
    if ratio is not None:
        np.multiply(update, ratio, out=update)
    np.multiply(update, lr, out=update)
    np.subtract(var, update, out=var)


# -- public kernels --------------------------------------------------------------------------
def gradient_descent(
    var: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """``var -= grad * lr`` (TF ``ApplyGradientDescent``), in place.

    Args:
        var: the flat variable buffer.
        grad: the flat gradient, never written.
        lr: the learning rate.
        block: elements per block.
        scratch: an optional 1-D buffer of the dtype with at least ``min(n, block)`` elements
            (one temporary); allocated per call when omitted.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var)])
    _blocked(gradient_descent_update, (var, grad), as_scalars(dtype, lr=lr), 1, block, scratch)


def momentum(
    var: np.ndarray,
    accum: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    momentum: Any,
    use_nesterov: bool = False,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyMomentum``, in place.

    ``accum = accum * momentum + grad``, then ``var -= accum * lr`` or, with Nesterov,
    ``var -= grad * lr + (accum * momentum) * lr``.

    Args:
        var: the flat variable buffer.
        accum: the ``momentum`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        momentum: the momentum.
        use_nesterov: Nesterov's form.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("accum", accum)])
    scalars = as_scalars(dtype, lr=lr, momentum=momentum)
    _blocked(momentum_update, (var, accum, grad), [*scalars, bool(use_nesterov)], 2, block, scratch)


def adagrad(
    var: np.ndarray,
    accum: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    epsilon: Any = None,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyAdagrad`` (``epsilon is None``) and ``ApplyAdagradV2``, in place.

    ``accum += grad * grad``, then ``var -= (grad * lr) * (1 / sqrt(accum))`` or
    ``var -= (grad * lr) / (sqrt(accum) + epsilon)``.

    Args:
        var: the flat variable buffer.
        accum: the ``accumulator`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        epsilon: ``None`` (TF1) or the epsilon added to ``sqrt(accum)``.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("accum", accum)])
    (lr,) = as_scalars(dtype, lr=lr)
    epsilon = None if epsilon is None else as_scalar("epsilon", epsilon, dtype)
    _blocked(adagrad_update, (var, accum, grad), [lr, epsilon], 2, block, scratch)


def rmsprop(
    var: np.ndarray,
    ms: np.ndarray,
    mg: np.ndarray | None,
    mom: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    rho: Any,
    momentum: Any,
    epsilon: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyRMSProp`` (``mg is None``) and ``ApplyCenteredRMSProp``, in place.

    ``ms += (grad² - ms) * (1 - rho)``; centered: ``mg += (grad - mg) * (1 - rho)``;
    ``mom = mom * momentum + (grad * lr) / sqrt(ms [- mg²] + epsilon)``; ``var -= mom``.

    Args:
        var: the flat variable buffer.
        ms: the ``rms`` slot.
        mg: the ``mg`` slot (centered), or ``None``.
        mom: the ``momentum`` slot (used even with ``momentum = 0``).
        grad: the flat gradient, never written.
        lr: the learning rate.
        rho: the optimizer's ``decay``.
        momentum: the momentum.
        epsilon: added inside the square root.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("ms", ms), ("mg", mg), ("mom", mom)])
    lr, rho, momentum, epsilon = as_scalars(
        dtype, lr=lr, rho=rho, momentum=momentum, epsilon=epsilon
    )
    one_minus_rho = dtype.type(1) - rho
    scalars = [lr, one_minus_rho, momentum, epsilon]
    _blocked(rmsprop_update, (var, ms, mg, mom, grad), scalars, 2, block, scratch)


def adam(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    vhat: np.ndarray | None,
    grad: np.ndarray,
    alpha: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyAdam`` (``vhat is None``) and ``ApplyAdamWithAmsgrad``, in place.

    ``m += (grad - m) * (1 - beta1)``, ``v += (grad² - v) * (1 - beta2)``, with AMSGrad
    ``vhat = max(vhat, v)``, then ``var -= (m * alpha) / (sqrt(v or vhat) + epsilon)``.

    Args:
        var: the flat variable buffer.
        m: the ``m`` slot.
        v: the ``v`` slot.
        vhat: the ``vhat`` slot (AMSGrad), or ``None``.
        grad: the flat gradient, never written.
        alpha: ``lr * sqrt(1 - beta2^t) / (1 - beta1^t)``, as the optimizer computes it.
        beta1: decay of the first moment.
        beta2: decay of the second moment.
        epsilon: TF's epsilon hat.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m), ("v", v), ("vhat", vhat)])
    alpha, beta1, beta2, epsilon = as_scalars(
        dtype, alpha=alpha, beta1=beta1, beta2=beta2, epsilon=epsilon
    )
    one = dtype.type(1)
    scalars = [alpha, one - beta1, one - beta2, epsilon]
    _blocked(adam_update, (var, m, v, vhat, grad), scalars, 2, block, scratch)


def adamw(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    vhat: np.ndarray | None,
    grad: np.ndarray,
    alpha: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
    weight_decay: Any,
    lr: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """Decoupled weight decay, then :func:`adam`, in one pass, in place.

    ``var -= (var * weight_decay) * lr`` (Keras 3's order; ``weight_decay_scale=
    "learning_rate"``) or, with ``lr=None``, ``var -= var * weight_decay`` (TF contrib's
    ``weight_decay_scale="none"``); then the Adam update of :func:`adam`. Every element of
    the buffer decays: variables excluded from the decay belong in another buffer (or call
    :func:`adam` on them).

    Args:
        var, m, v, vhat, grad, alpha, beta1, beta2, epsilon: as :func:`adam`.
        weight_decay: the decay.
        lr: the learning rate scaling the decay, or ``None``.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m), ("v", v), ("vhat", vhat)])
    alpha, beta1, beta2, epsilon, weight_decay = as_scalars(
        dtype, alpha=alpha, beta1=beta1, beta2=beta2, epsilon=epsilon, weight_decay=weight_decay
    )
    lr = None if lr is None else as_scalar("lr", lr, dtype)
    one = dtype.type(1)
    scalars = [alpha, one - beta1, one - beta2, epsilon, weight_decay, lr]
    _blocked(adamw_update, (var, m, v, vhat, grad), scalars, 2, block, scratch)


def lion(
    var: np.ndarray,
    m: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    beta1: Any,
    beta2: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """One Lion step in Keras 3's order, in place.

    ``var -= sign(m * beta1 + grad * (1 - beta1)) * lr``, then
    ``m = m * beta2 + grad * (1 - beta2)``.

    Args:
        var: the flat variable buffer.
        m: the ``momentum`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        beta1: the interpolation weight of the momentum in the step.
        beta2: the decay of the momentum.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m)])
    lr, beta1, beta2 = as_scalars(dtype, lr=lr, beta1=beta1, beta2=beta2)
    one = dtype.type(1)
    scalars = [lr, beta1, one - beta1, beta2, one - beta2]
    _blocked(lion_update, (var, m, grad), scalars, 2, block, scratch)


def lion_weight_decay(
    var: np.ndarray,
    m: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    beta1: Any,
    beta2: Any,
    weight_decay: Any,
    decay_lr: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """Decoupled weight decay, then :func:`lion`, in one pass, in place.

    ``var -= (var * weight_decay) * decay_lr`` (``var -= var * weight_decay`` when
    ``decay_lr`` is None), then the Lion step of :func:`lion`. Every element of the buffer
    decays.

    Args:
        var, m, grad, lr, beta1, beta2: as :func:`lion`.
        weight_decay: the decay.
        decay_lr: the learning rate scaling the decay, or ``None``.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m)])
    lr, beta1, beta2, weight_decay = as_scalars(
        dtype, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay
    )
    decay_lr = None if decay_lr is None else as_scalar("decay_lr", decay_lr, dtype)
    one = dtype.type(1)
    scalars = [lr, beta1, one - beta1, beta2, one - beta2, weight_decay, decay_lr]
    _blocked(lion_weight_decay_update, (var, m, grad), scalars, 2, block, scratch)


def adadelta(
    var: np.ndarray,
    accum: np.ndarray,
    accum_update: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    rho: Any,
    epsilon: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyAdadelta``, in place.

    ``accum = accum * rho + grad² * (1 - rho)``,
    ``update = sqrt(accum_update + epsilon) * (1 / sqrt(accum + epsilon)) * grad``,
    ``var -= update * lr``, ``accum_update = accum_update * rho + update² * (1 - rho)``.

    Args:
        var: the flat variable buffer.
        accum: the ``accum`` slot.
        accum_update: the ``accum_update`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        rho: the decay of both averages.
        epsilon: added inside both square roots.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("accum", accum), ("accum_update", accum_update)])
    lr, rho, epsilon = as_scalars(dtype, lr=lr, rho=rho, epsilon=epsilon)
    scalars = [lr, rho, dtype.type(1) - rho, epsilon]
    _blocked(adadelta_update, (var, accum, accum_update, grad), scalars, 2, block, scratch)


def adamax(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    lr_t: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyAdaMax``, in place.

    ``m += (grad - m) * (1 - beta1)``, ``v = max(v * beta2, |grad|)``,
    ``var -= (m / (v + epsilon)) * lr_t``.

    Args:
        var: the flat variable buffer.
        m: the ``m`` slot.
        v: the ``v`` slot.
        grad: the flat gradient, never written.
        lr_t: ``lr / (1 - beta1^t)``, as the optimizer computes it.
        beta1: decay of the first moment.
        beta2: decay of the infinity norm.
        epsilon: added to ``v``.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m), ("v", v)])
    lr_t, beta1, beta2, epsilon = as_scalars(
        dtype, lr_t=lr_t, beta1=beta1, beta2=beta2, epsilon=epsilon
    )
    scalars = [lr_t, dtype.type(1) - beta1, beta2, epsilon]
    _blocked(adamax_update, (var, m, v, grad), scalars, 2, block, scratch)


def nadam(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
    u_t: Any,
    u_t1: Any,
    one_minus_product: Any,
    one_minus_product_next: Any,
    one_minus_beta2_power: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """Keras 2 ``Nadam``, in place, in its order of operations.

    ``m_bar = (grad / (1 - P_t)) * (1 - u_t)``, ``m = m * beta1 + grad * (1 - beta1)``,
    ``m_bar += (m / (1 - P_t * u_t1)) * u_t1``, ``v = v * beta2 + grad² * (1 - beta2)``,
    ``var -= (m_bar * lr) / (sqrt(v / (1 - beta2^t)) + epsilon)``.

    Args:
        var: the flat variable buffer.
        m: the ``m`` slot.
        v: the ``v`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        beta1: the base momentum.
        beta2: decay of the second moment.
        epsilon: added to the bias-corrected root.
        u_t: this step's momentum.
        u_t1: the next step's momentum.
        one_minus_product: ``1 - P_t``.
        one_minus_product_next: ``1 - P_t * u_t1``.
        one_minus_beta2_power: ``1 - beta2^t``.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m), ("v", v)])
    lr, beta1, beta2, epsilon, u_t, u_t1, omp, ompn, omb2p = as_scalars(
        dtype,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        epsilon=epsilon,
        u_t=u_t,
        u_t1=u_t1,
        one_minus_product=one_minus_product,
        one_minus_product_next=one_minus_product_next,
        one_minus_beta2_power=one_minus_beta2_power,
    )
    one = dtype.type(1)
    scalars = [lr, beta1, one - beta1, beta2, one - beta2, epsilon]
    scalars += [u_t1, one - u_t, omp, ompn, omb2p]
    _blocked(nadam_update, (var, m, v, grad), scalars, 2, block, scratch)


def ftrl(
    var: np.ndarray,
    accum: np.ndarray,
    linear: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    l1: Any,
    l2: Any,
    l2_shrinkage: Any,
    lr_power: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyFtrl`` / ``ApplyFtrlV2``, in place: :func:`ftrl_update`, block by block.

    Args:
        var: the flat variable buffer (overwritten from ``linear`` and ``accum``).
        accum: the ``accum`` slot.
        linear: the ``linear`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        l1: the L1 strength.
        l2: the L2 strength (with FTRL's ``beta / (2 * lr)`` folded in by the caller).
        l2_shrinkage: the L2 shrinkage strength (0: ``ApplyFtrl``).
        lr_power: the learning-rate power, <= 0 (-0.5: square roots).
        block: elements per block.
        scratch: an optional buffer of at least ``4 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("accum", accum), ("linear", linear)])
    scalars = as_scalars(
        dtype, lr=lr, l1=l1, l2=l2, l2_shrinkage=l2_shrinkage, lr_power=lr_power
    )
    _blocked(ftrl_update, (var, accum, linear, grad), scalars, 4, block, scratch)


def adagrad_da(
    var: np.ndarray,
    grad_accum: np.ndarray,
    grad_sq_accum: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    l1: Any,
    l2: Any,
    step: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyAdagradDA``, in place: :func:`adagrad_da_update`, block by block.

    Args:
        var: the flat variable buffer (overwritten from the accumulators).
        grad_accum: the ``gradient_accumulator`` slot.
        grad_sq_accum: the ``gradient_squared_accumulator`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        l1: the L1 strength.
        l2: the L2 strength.
        step: ``T = global_step + 1``, in the arrays' dtype.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(
        grad, [("var", var), ("grad_accum", grad_accum), ("grad_sq_accum", grad_sq_accum)]
    )
    scalars = as_scalars(dtype, lr=lr, l1=l1, l2=l2, step=step)
    _blocked(adagrad_da_update, (var, grad_accum, grad_sq_accum, grad), scalars, 2, block, scratch)


def proximal_gradient_descent(
    var: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    l1: Any,
    l2: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyProximalGradientDescent``, in place: :func:`proximal_gradient_descent_update`,
    block by block.

    Args:
        var: the flat variable buffer.
        grad: the flat gradient, never written.
        lr: the learning rate.
        l1: the L1 strength.
        l2: the L2 strength.
        block: elements per block.
        scratch: an optional buffer of at least ``min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var)])
    scalars = as_scalars(dtype, lr=lr, l1=l1, l2=l2)
    _blocked(proximal_gradient_descent_update, (var, grad), scalars, 1, block, scratch)


def proximal_adagrad(
    var: np.ndarray,
    accum: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    l1: Any,
    l2: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """TF ``ApplyProximalAdagrad``, in place: :func:`proximal_adagrad_update`, block by block.

    Args:
        var: the flat variable buffer.
        accum: the ``accumulator`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        l1: the L1 strength.
        l2: the L2 strength.
        block: elements per block.
        scratch: an optional buffer of at least ``3 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("accum", accum)])
    scalars = as_scalars(dtype, lr=lr, l1=l1, l2=l2)
    _blocked(proximal_adagrad_update, (var, accum, grad), scalars, 3, block, scratch)


def radam(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    one_minus_beta1: Any,
    beta2: Any,
    one_minus_beta2: Any,
    epsilon: Any,
    bias_correction1: Any,
    sqrt_bias_correction2: Any,
    rect: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """One ``torch.optim.RAdam`` step, in place: :func:`radam_update`, block by block.

    Args:
        var: the flat variable buffer.
        m: the ``m`` slot.
        v: the ``v`` slot.
        grad: the flat gradient, never written.
        lr: the learning rate.
        one_minus_beta1: ``1 - beta1``.
        beta2: the decay of the second moment.
        one_minus_beta2: ``1 - beta2``.
        epsilon: added to ``sqrt(v)``.
        bias_correction1: ``1 - beta1^t``.
        sqrt_bias_correction2: ``sqrt(1 - beta2^t)``.
        rect: the rectifier ``r_t``, or None while the step is not rectified.
        block: elements per block.
        scratch: an optional buffer of at least ``2 * min(n, block)`` elements.

    Raises:
        TypeError, ValueError: see :func:`check_buffers` and :func:`as_scalar`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m), ("v", v)])
    scalars = as_scalars(
        dtype,
        lr=lr,
        one_minus_beta1=one_minus_beta1,
        beta2=beta2,
        one_minus_beta2=one_minus_beta2,
        epsilon=epsilon,
        bias_correction1=bias_correction1,
        sqrt_bias_correction2=sqrt_bias_correction2,
    )
    rect = None if rect is None else as_scalar("rect", rect, dtype)
    _blocked(radam_update, (var, m, v, grad), [*scalars, rect], 2, block, scratch)


def segment_ratios(
    var: np.ndarray, update: np.ndarray, offsets: Sequence[int], out: np.ndarray
) -> np.ndarray:
    """LAMB's trust ratio of every segment, written to each element of ``out`` (1 where a
    norm is 0), from per-segment :func:`norm` of ``var`` and ``update``.

    The norms are numpy's sums over each segment's view, so they have the bits of the
    per-variable path's norms over each variable; ``out`` (shaped like ``var``) is also the
    scratch of the squares. Returns ``out``.
    """
    bounds = list(zip(offsets[:-1], offsets[1:]))
    var_norms = [norm(var[a:b], out[a:b]) for a, b in bounds]
    update_norms = [norm(update[a:b], out[a:b]) for a, b in bounds]
    one = var.dtype.type(1)
    for (a, b), var_norm, update_norm in zip(bounds, var_norms, update_norms):
        ratio = trust_ratio(var_norm, update_norm)
        out[a:b] = one if ratio is None else ratio  # x * 1 is x, bit for bit
    return out


def check_offsets(offsets: Any, size: int) -> list[int]:
    """The segment boundaries ``offsets`` as a list of ints, checked against ``size``.

    Raises:
        TypeError: not a sequence of integers.
        ValueError: not increasing from 0 to ``size``.
    """
    try:
        bounds = [operator.index(x) for x in offsets]
    except TypeError:
        raise TypeError(f"`offsets` must be a sequence of integers, got {offsets!r:.80}.") from None
    if len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != size or any(
        b < a for a, b in zip(bounds, bounds[1:])
    ):
        raise ValueError(
            f"`offsets` must rise from 0 to the buffers' size {size}, got {offsets!r:.80}."
        )
    return bounds


def lamb_scratch(scratch: Any, dtype: np.dtype, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Two full-size temporaries for :func:`lamb` (the direction and the ratios), views of
    ``scratch`` (a 1-D array of ``dtype`` with at least ``2 * size`` elements) or new arrays.

    Raises:
        ValueError: ``scratch`` of another dtype or too small.
    """
    if scratch is None:
        scratch = np.empty(2 * size, dtype)
    elif (
        not isinstance(scratch, np.ndarray)
        or scratch.dtype != dtype
        or scratch.ndim != 1
        or scratch.size < 2 * size
    ):
        raise ValueError(
            f"`scratch` must be a 1-D {dtype} array of at least {2 * size} elements, "
            f"got {scratch!r:.80}."
        )
    return scratch[:size], scratch[size : 2 * size]


def lamb(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    offsets: Sequence[int],
    lr: Any,
    beta1: Any,
    one_minus_beta1: Any,
    beta2: Any,
    one_minus_beta2: Any,
    epsilon: Any,
    weight_decay: Any,
    bias_correction1: Any,
    bias_correction2: Any,
    *,
    block: int = DEFAULT_BLOCK,
    scratch: np.ndarray | None = None,
) -> None:
    """One LAMB step over a flat buffer of segments (one per variable), in place.

    Three passes: :func:`lamb_direction` block by block into a full-size ``update``; the
    trust ratio of each segment (:func:`segment_ratios`, numpy sums over the segment views,
    so the bits of the per-variable norms); then :func:`scaled_step` block by block with the
    ratios spread over their segments' elements.

    Args:
        var: the flat variable buffer.
        m: the ``m`` slot.
        v: the ``v`` slot.
        grad: the flat gradient, never written.
        offsets: the segment boundaries, from 0 to the buffers' size (an arena's
            ``offsets``); each segment is one variable, whose trust ratio is its own.
        lr, beta1, one_minus_beta1, beta2, one_minus_beta2, epsilon, weight_decay,
            bias_correction1, bias_correction2: LAMB's step scalars (``1 - beta**t`` for the
            bias corrections).
        block: elements per block.
        scratch: an optional 1-D buffer of at least ``2 * n`` elements (the direction and
            the ratios are full-size); allocated per call when omitted.

    Raises:
        TypeError, ValueError: see :func:`check_buffers`, :func:`as_scalar`,
            :func:`check_offsets` and :func:`lamb_scratch`.
    """
    dtype = check_buffers(grad, [("var", var), ("m", m), ("v", v)])
    scalars = as_scalars(
        dtype,
        lr=lr,
        beta1=beta1,
        one_minus_beta1=one_minus_beta1,
        beta2=beta2,
        one_minus_beta2=one_minus_beta2,
        epsilon=epsilon,
        weight_decay=weight_decay,
        bias_correction1=bias_correction1,
        bias_correction2=bias_correction2,
    )
    bounds = check_offsets(offsets, grad.shape[0])
    _check_block(block)
    update, ratios = lamb_scratch(scratch, dtype, grad.shape[0])
    _blocked(lamb_direction, (var, m, v, update, grad), scalars[1:], 1, block, None)
    segment_ratios(var, update, bounds, ratios)
    _blocked(_scaled_step_block, (var, update, ratios), [scalars[0]], 0, block, None)


def _scaled_step_block(var, update, ratios, scratch, lr):
    scaled_step(var, update, ratios, lr)
