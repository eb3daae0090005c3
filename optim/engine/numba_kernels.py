"""Fused flat-buffer update kernels in numba: one multithreaded pass per step.

The same kernels, names and signatures as :mod:`optim.engine.numpy_kernels` (see its contract),
written as one ``prange`` loop each, compiled with ``parallel=True, cache=True,
fastmath=False, error_model="numpy"``. Each loop performs the roundings of the numpy ufunc
sequence in the same order, with no FMA contraction (``fastmath=False`` emits none), and every
per-step scalar, including ``1 - beta``, is formed outside the loop as a numpy scalar of the
arrays' dtype, so float32 arithmetic stays float32. The results are therefore bit-identical
to the numpy path (``tests/test_engine_kernels.py`` checks every kernel, NaN and infinity
included). Only float32 and float64 buffers are supported; other dtypes take the numpy path
(:func:`optim.engine.kernels.get_kernel` chooses).

This module imports numba when it is imported; import it through
:func:`optim.engine.kernels.load_numba` (or ``get_kernel``), which ``optim`` itself never does
at import time. Without numba it raises ``ImportError`` naming the ``fast`` extra.

Compilation and its cache:
    Each kernel compiles on its first call for a dtype (about 0.3 s, plus about 0.3 s of numba
    start-up for the first one in a process) and is cached on disk (``cache=True``) in the
    package's ``__pycache__``, so later processes only load it. On a read-only install set
    ``NUMBA_CACHE_DIR`` to a writable directory, or every process compiles again.

Threads (numba's settings, read from the environment; this module sets none of them):
    - ``NUMBA_NUM_THREADS`` (default: the number of cores) is read when numba is imported and
      fixes the pool size; ``numba.set_num_threads(k)`` can only lower it later. With several
      processes on one host (MPI ranks, a data loader pool) give each ``cores / processes``
      threads, and size torch's pool (``torch.set_num_threads``) the same way when both run:
      each brings its own OpenMP pool.
    - The threading layer is numba's default choice (``tbb``, else ``omp``, else
      ``workqueue``); ``NUMBA_THREADING_LAYER`` overrides it. The ``omp`` layer is not safe
      to use in a child after ``fork``: choose ``NUMBA_THREADING_LAYER=forksafe`` (or the
      ``spawn`` start method) for processes that fork after running a kernel.
    - OpenMP threads spin between calls, which keeps a call's fork/join at a few
      microseconds on an idle machine. When other processes keep the cores busy, a spinning
      pool waits for a descheduled thread instead: measured on the 2-core machine under a
      load of about 2 (other test runs), Adam on 1e3 float32 took a median of 12 ms per call
      with the default policy, 22 us with ``OMP_WAIT_POLICY=passive`` and 11 us with
      ``NUMBA_NUM_THREADS=1``. Set one of them (before the first kernel runs) wherever the
      cores are shared; this module leaves the choice to the environment.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .numpy_kernels import (
    as_scalar,
    as_scalars,
    check_buffers,
    check_offsets,
    lamb_scratch,
    segment_ratios,
)

try:
    import numba
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        'optim.engine.numba_kernels needs numba: pip install "optim[fast]" (or pip install '
        "numba), or use optim.engine.numpy_kernels."
    ) from exc

__all__ = [
    "SUPPORTED_DTYPES",
    "adadelta",
    "adagrad",
    "adagrad_da",
    "adam",
    "adamax",
    "adamw",
    "ftrl",
    "gradient_descent",
    "info",
    "lamb",
    "lion",
    "lion_weight_decay",
    "momentum",
    "nadam",
    "proximal_adagrad",
    "proximal_gradient_descent",
    "radam",
    "rmsprop",
]

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The buffer dtypes these kernels compile for."""

prange = numba.prange
_jit = numba.njit(parallel=True, cache=True, fastmath=False, error_model="numpy")


def info() -> dict[str, Any]:
    """numba's version, thread count and threading layer (``None`` before the first kernel)."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet in this process
        layer = None
    return {
        "numba": numba.__version__,
        "num_threads": numba.get_num_threads(),
        "threading_layer": layer,
    }


def _check(grad: Any, buffers: list[tuple[str, Any]]) -> np.dtype:
    dtype = check_buffers(grad, buffers)
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"`grad` must be float32 or float64 for the numba kernels, got {dtype}; use "
            "optim.engine.numpy_kernels for other dtypes."
        )
    return dtype


# -- compiled loops: each line is one rounding of the numpy path, in its order --------------
@_jit
def _gradient_descent_loop(var, grad, lr):
    for i in prange(grad.shape[0]):
        var[i] = var[i] - grad[i] * lr


@_jit
def _momentum_loop(var, accum, grad, lr, momentum):
    for i in prange(grad.shape[0]):
        a = accum[i] * momentum + grad[i]
        accum[i] = a
        var[i] = var[i] - a * lr


@_jit
def _nesterov_loop(var, accum, grad, lr, momentum):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = accum[i] * momentum + g
        accum[i] = a
        var[i] = var[i] - (g * lr + (a * momentum) * lr)


@_jit
def _adagrad_loop(var, accum, grad, lr, one):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = accum[i] + g * g
        accum[i] = a
        var[i] = var[i] - (g * lr) * (one / np.sqrt(a))


@_jit
def _adagrad_v2_loop(var, accum, grad, lr, epsilon):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = accum[i] + g * g
        accum[i] = a
        var[i] = var[i] - (g * lr) / (np.sqrt(a) + epsilon)


@_jit
def _rmsprop_loop(var, ms, mom, grad, lr, one_minus_rho, momentum, epsilon):
    for i in prange(grad.shape[0]):
        g = grad[i]
        s = ms[i]
        s = s + (g * g - s) * one_minus_rho
        ms[i] = s
        p = mom[i] * momentum + (g * lr) / np.sqrt(s + epsilon)
        mom[i] = p
        var[i] = var[i] - p


@_jit
def _centered_rmsprop_loop(var, ms, mg, mom, grad, lr, one_minus_rho, momentum, epsilon):
    for i in prange(grad.shape[0]):
        g = grad[i]
        s = ms[i]
        s = s + (g * g - s) * one_minus_rho
        ms[i] = s
        a = mg[i]
        a = a + (g - a) * one_minus_rho
        mg[i] = a
        p = mom[i] * momentum + (g * lr) / np.sqrt((s - a * a) + epsilon)
        mom[i] = p
        var[i] = var[i] - p


@_jit
def _adam_loop(var, m, v, grad, alpha, one_minus_beta1, one_minus_beta2, epsilon):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = m[i]
        a = a + (g - a) * one_minus_beta1
        m[i] = a
        b = v[i]
        b = b + (g * g - b) * one_minus_beta2
        v[i] = b
        var[i] = var[i] - (a * alpha) / (np.sqrt(b) + epsilon)


@_jit
def _amsgrad_loop(var, m, v, vhat, grad, alpha, one_minus_beta1, one_minus_beta2, epsilon):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = m[i]
        a = a + (g - a) * one_minus_beta1
        m[i] = a
        b = v[i]
        b = b + (g * g - b) * one_minus_beta2
        v[i] = b
        h = vhat[i]
        if not (h > b or h != h):  # np.maximum(vhat, v): NaN if either is; v on ties (±0)
            h = b
        vhat[i] = h
        var[i] = var[i] - (a * alpha) / (np.sqrt(h) + epsilon)


@_jit
def _adamw_loop(var, m, v, grad, alpha, one_minus_beta1, one_minus_beta2, epsilon, wd, lr):
    for i in prange(grad.shape[0]):
        g = grad[i]
        w = var[i]
        w = w - (w * wd) * lr
        a = m[i]
        a = a + (g - a) * one_minus_beta1
        m[i] = a
        b = v[i]
        b = b + (g * g - b) * one_minus_beta2
        v[i] = b
        var[i] = w - (a * alpha) / (np.sqrt(b) + epsilon)


@_jit
def _adamw_amsgrad_loop(
    var, m, v, vhat, grad, alpha, one_minus_beta1, one_minus_beta2, epsilon, wd, lr
):
    for i in prange(grad.shape[0]):
        g = grad[i]
        w = var[i]
        w = w - (w * wd) * lr
        a = m[i]
        a = a + (g - a) * one_minus_beta1
        m[i] = a
        b = v[i]
        b = b + (g * g - b) * one_minus_beta2
        v[i] = b
        h = vhat[i]
        if not (h > b or h != h):
            h = b
        vhat[i] = h
        var[i] = w - (a * alpha) / (np.sqrt(h) + epsilon)


@_jit
def _lion_loop(var, m, grad, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, one):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = m[i]
        c = a * beta1 + g * one_minus_beta1
        if c > 0:  # np.sign: 1, -1, +0 for either zero, NaN for NaN
            s = one
        elif c < 0:
            s = -one
        else:
            s = c - c
        var[i] = var[i] - s * lr
        m[i] = a * beta2 + g * one_minus_beta2


@_jit
def _lion_weight_decay_loop(
    var, m, grad, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, one, wd, decay_lr
):
    for i in prange(grad.shape[0]):
        g = grad[i]
        w = var[i]
        w = w - (w * wd) * decay_lr
        a = m[i]
        c = a * beta1 + g * one_minus_beta1
        if c > 0:
            s = one
        elif c < 0:
            s = -one
        else:
            s = c - c
        var[i] = w - s * lr
        m[i] = a * beta2 + g * one_minus_beta2


@_jit
def _adadelta_loop(var, accum, accum_update, grad, lr, rho, one_minus_rho, epsilon, one):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = accum[i] * rho + (g * g) * one_minus_rho
        accum[i] = a
        u = accum_update[i]
        update = (np.sqrt(u + epsilon) * (one / np.sqrt(a + epsilon))) * g
        var[i] = var[i] - update * lr
        accum_update[i] = u * rho + (update * update) * one_minus_rho


@_jit
def _adamax_loop(var, m, v, grad, lr_t, one_minus_beta1, beta2, epsilon):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = m[i]
        a = a + (g - a) * one_minus_beta1
        m[i] = a
        b = v[i] * beta2
        c = abs(g)
        if not (b > c or b != b):  # np.maximum(v * beta2, |grad|), as above
            b = c
        v[i] = b
        var[i] = var[i] - (a / (b + epsilon)) * lr_t


@_jit
def _nadam_loop(
    var,
    m,
    v,
    grad,
    lr,
    beta1,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    epsilon,
    u_t1,
    one_minus_u_t,
    one_minus_product,
    one_minus_product_next,
    one_minus_beta2_power,
):
    for i in prange(grad.shape[0]):
        g = grad[i]
        m_bar = (g / one_minus_product) * one_minus_u_t
        a = m[i] * beta1 + g * one_minus_beta1
        m[i] = a
        m_bar = m_bar + (a / one_minus_product_next) * u_t1
        b = v[i] * beta2 + (g * g) * one_minus_beta2
        v[i] = b
        var[i] = var[i] - (m_bar * lr) / (np.sqrt(b / one_minus_beta2_power) + epsilon)


@_jit
def _ftrl_loop(
    var, accum, linear, grad, lr, l1, two_l2, two_shrinkage, power, use_sqrt, shrink, zero, one
):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = accum[i]
        w = var[i]
        new = a + g * g
        if use_sqrt:
            p_new = np.sqrt(new)
            p_old = np.sqrt(a)
        else:
            p_new = new**power
            p_old = a**power
        t = ((p_new - p_old) / lr) * w
        if shrink:
            t = (g + w * two_shrinkage) - t
        else:
            t = g - t
        z = linear[i] + t
        linear[i] = z
        if z > zero:  # np.sign, as in _lion_loop
            s = one
        elif z < zero:
            s = -one
        else:
            s = z - z
        if abs(z) > l1:
            var[i] = (s * l1 - z) / (p_new / lr + two_l2)
        else:
            var[i] = zero
        accum[i] = new


@_jit
def _adagrad_da_loop(var, ga, gga, grad, lr, neg_lr, shrink, step_l1, use_l1, zero, one):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = ga[i] + g
        ga[i] = a
        b = gga[i] + g * g
        gga[i] = b
        denom = np.sqrt(b) + shrink
        if use_l1:
            num = abs(a) - step_l1
            if not (num > zero or num != num):  # np.maximum(num, 0): 0 on ties (±0)
                num = zero
            if a > zero:
                s = one
            elif a < zero:
                s = -one
            else:
                s = a - a
            var[i] = ((s * neg_lr) * num) / denom
        else:
            var[i] = -(a * lr) / denom


@_jit
def _proximal_gradient_descent_loop(var, grad, lr, lr_l1, denom, use_l1, zero):
    for i in prange(grad.shape[0]):
        w = var[i] - grad[i] * lr
        if use_l1:
            t = abs(w) - lr_l1
            if not (t > zero or t != t):
                t = zero
            w = math.copysign(t, w)
        var[i] = w / denom


@_jit
def _proximal_adagrad_loop(var, accum, grad, lr, l1, l2, use_l1, zero, one):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = accum[i] + g * g
        accum[i] = a
        eta = (one / np.sqrt(a)) * lr
        w = var[i] - g * eta
        if use_l1:
            t = abs(w) - eta * l1
            if not (t > zero or t != t):
                t = zero
            w = math.copysign(t, w)
        var[i] = w / (eta * l2 + one)


@_jit
def _radam_loop(
    var, m, v, grad, lr, one_minus_beta1, beta2, one_minus_beta2, epsilon, bc1, sqrt_bc2, rect,
    rectified, one,
):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = m[i]
        a = a + (g - a) * one_minus_beta1
        m[i] = a
        b = v[i] * beta2 + (g * one_minus_beta2) * g
        v[i] = b
        step = (a / bc1) * lr
        if rectified:
            step = (step * ((one / (np.sqrt(b) + epsilon)) * sqrt_bc2)) * rect
        var[i] = var[i] - step


@_jit
def _lamb_direction_loop(
    var, m, v, update, grad, beta1, one_minus_beta1, beta2, one_minus_beta2, epsilon,
    weight_decay, bias_correction1, bias_correction2, decay,
):
    for i in prange(grad.shape[0]):
        g = grad[i]
        a = m[i] * beta1 + g * one_minus_beta1
        m[i] = a
        b = v[i] * beta2 + (g * g) * one_minus_beta2
        v[i] = b
        u = (a / bias_correction1) / (np.sqrt(b / bias_correction2) + epsilon)
        if decay:
            u = u + var[i] * weight_decay
        update[i] = u


@_jit
def _scaled_step_loop(var, update, ratios, lr):
    for i in prange(var.shape[0]):
        var[i] = var[i] - (update[i] * ratios[i]) * lr


# -- public kernels: the signatures of optim.engine.numpy_kernels ---------------------------
def gradient_descent(var: np.ndarray, grad: np.ndarray, lr: Any) -> None:
    """``var -= grad * lr``, in place; see :func:`optim.engine.numpy_kernels.gradient_descent`."""
    dtype = _check(grad, [("var", var)])
    _gradient_descent_loop(var, grad, *as_scalars(dtype, lr=lr))


def momentum(
    var: np.ndarray,
    accum: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    momentum: Any,
    use_nesterov: bool = False,
) -> None:
    """TF ``ApplyMomentum``, in place; see :func:`optim.engine.numpy_kernels.momentum`."""
    dtype = _check(grad, [("var", var), ("accum", accum)])
    scalars = as_scalars(dtype, lr=lr, momentum=momentum)
    loop = _nesterov_loop if use_nesterov else _momentum_loop
    loop(var, accum, grad, *scalars)


def adagrad(
    var: np.ndarray, accum: np.ndarray, grad: np.ndarray, lr: Any, epsilon: Any = None
) -> None:
    """TF ``ApplyAdagrad`` / ``ApplyAdagradV2``; see :func:`optim.engine.numpy_kernels.adagrad`."""
    dtype = _check(grad, [("var", var), ("accum", accum)])
    lr = as_scalar("lr", lr, dtype)
    if epsilon is None:
        _adagrad_loop(var, accum, grad, lr, dtype.type(1))
    else:
        _adagrad_v2_loop(var, accum, grad, lr, as_scalar("epsilon", epsilon, dtype))


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
) -> None:
    """TF ``ApplyRMSProp`` / ``ApplyCenteredRMSProp``; see
    :func:`optim.engine.numpy_kernels.rmsprop`."""
    dtype = _check(grad, [("var", var), ("ms", ms), ("mg", mg), ("mom", mom)])
    lr, rho, momentum, epsilon = as_scalars(
        dtype, lr=lr, rho=rho, momentum=momentum, epsilon=epsilon
    )
    scalars = (lr, dtype.type(1) - rho, momentum, epsilon)
    if mg is None:
        _rmsprop_loop(var, ms, mom, grad, *scalars)
    else:
        _centered_rmsprop_loop(var, ms, mg, mom, grad, *scalars)


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
) -> None:
    """TF ``ApplyAdam`` / ``ApplyAdamWithAmsgrad``; see :func:`optim.engine.numpy_kernels.adam`."""
    dtype = _check(grad, [("var", var), ("m", m), ("v", v), ("vhat", vhat)])
    alpha, beta1, beta2, epsilon = as_scalars(
        dtype, alpha=alpha, beta1=beta1, beta2=beta2, epsilon=epsilon
    )
    one = dtype.type(1)
    scalars = (alpha, one - beta1, one - beta2, epsilon)
    if vhat is None:
        _adam_loop(var, m, v, grad, *scalars)
    else:
        _amsgrad_loop(var, m, v, vhat, grad, *scalars)


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
) -> None:
    """Decoupled weight decay then Adam, one pass; see :func:`optim.engine.numpy_kernels.adamw`.

    ``lr=None`` (no learning-rate scaling of the decay) runs the same loop with ``lr = 1``:
    multiplying by one is exact, so the result equals numpy's sequence without the multiply.
    """
    dtype = _check(grad, [("var", var), ("m", m), ("v", v), ("vhat", vhat)])
    alpha, beta1, beta2, epsilon, weight_decay = as_scalars(
        dtype, alpha=alpha, beta1=beta1, beta2=beta2, epsilon=epsilon, weight_decay=weight_decay
    )
    one = dtype.type(1)
    lr = one if lr is None else as_scalar("lr", lr, dtype)
    scalars = (alpha, one - beta1, one - beta2, epsilon, weight_decay, lr)
    if vhat is None:
        _adamw_loop(var, m, v, grad, *scalars)
    else:
        _adamw_amsgrad_loop(var, m, v, vhat, grad, *scalars)


def lion(var: np.ndarray, m: np.ndarray, grad: np.ndarray, lr: Any, beta1: Any, beta2: Any) -> None:
    """One Lion step in Keras 3's order; see :func:`optim.engine.numpy_kernels.lion`."""
    dtype = _check(grad, [("var", var), ("m", m)])
    lr, beta1, beta2 = as_scalars(dtype, lr=lr, beta1=beta1, beta2=beta2)
    one = dtype.type(1)
    _lion_loop(var, m, grad, lr, beta1, one - beta1, beta2, one - beta2, one)


def lion_weight_decay(
    var: np.ndarray,
    m: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    beta1: Any,
    beta2: Any,
    weight_decay: Any,
    decay_lr: Any,
) -> None:
    """Decoupled weight decay then Lion, one pass; see
    :func:`optim.engine.numpy_kernels.lion_weight_decay` (``decay_lr=None``: the loop's
    factor is one, an exact multiply)."""
    dtype = _check(grad, [("var", var), ("m", m)])
    lr, beta1, beta2, weight_decay = as_scalars(
        dtype, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay
    )
    one = dtype.type(1)
    decay_lr = one if decay_lr is None else as_scalar("decay_lr", decay_lr, dtype)
    _lion_weight_decay_loop(
        var, m, grad, lr, beta1, one - beta1, beta2, one - beta2, one, weight_decay, decay_lr
    )


def adadelta(
    var: np.ndarray,
    accum: np.ndarray,
    accum_update: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    rho: Any,
    epsilon: Any,
) -> None:
    """TF ``ApplyAdadelta``; see :func:`optim.engine.numpy_kernels.adadelta`."""
    dtype = _check(grad, [("var", var), ("accum", accum), ("accum_update", accum_update)])
    lr, rho, epsilon = as_scalars(dtype, lr=lr, rho=rho, epsilon=epsilon)
    one = dtype.type(1)
    _adadelta_loop(var, accum, accum_update, grad, lr, rho, one - rho, epsilon, one)


def adamax(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    lr_t: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
) -> None:
    """TF ``ApplyAdaMax``; see :func:`optim.engine.numpy_kernels.adamax`."""
    dtype = _check(grad, [("var", var), ("m", m), ("v", v)])
    lr_t, beta1, beta2, epsilon = as_scalars(
        dtype, lr_t=lr_t, beta1=beta1, beta2=beta2, epsilon=epsilon
    )
    _adamax_loop(var, m, v, grad, lr_t, dtype.type(1) - beta1, beta2, epsilon)


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
) -> None:
    """Keras 2 ``Nadam``; see :func:`optim.engine.numpy_kernels.nadam`."""
    dtype = _check(grad, [("var", var), ("m", m), ("v", v)])
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
    _nadam_loop(
        var, m, v, grad, lr, beta1, one - beta1, beta2, one - beta2, epsilon,
        u_t1, one - u_t, omp, ompn, omb2p,
    )  # fmt: skip


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
) -> None:
    """TF ``ApplyFtrl`` / ``ApplyFtrlV2``; see :func:`optim.engine.numpy_kernels.ftrl`.

    With ``lr_power != -0.5`` the powers are numba's ``x ** p`` (the C library's ``pow``, as
    numpy's ``np.power``); ``tests/test_engine_kernels.py`` checks that they agree bit for bit.
    """
    dtype = _check(grad, [("var", var), ("accum", accum), ("linear", linear)])
    lr, l1, l2, shrinkage, lr_power = as_scalars(
        dtype, lr=lr, l1=l1, l2=l2, l2_shrinkage=l2_shrinkage, lr_power=lr_power
    )
    zero, one = dtype.type(0), dtype.type(1)
    _ftrl_loop(
        var, accum, linear, grad, lr, l1, 2 * l2, 2 * shrinkage, -lr_power,
        bool(lr_power == -0.5), bool(shrinkage > 0), zero, one,
    )  # fmt: skip


def adagrad_da(
    var: np.ndarray,
    grad_accum: np.ndarray,
    grad_sq_accum: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    l1: Any,
    l2: Any,
    step: Any,
) -> None:
    """TF ``ApplyAdagradDA``; see :func:`optim.engine.numpy_kernels.adagrad_da`."""
    dtype = _check(
        grad, [("var", var), ("grad_accum", grad_accum), ("grad_sq_accum", grad_sq_accum)]
    )
    lr, l1, l2, step = as_scalars(dtype, lr=lr, l1=l1, l2=l2, step=step)
    zero, one = dtype.type(0), dtype.type(1)
    _adagrad_da_loop(
        var, grad_accum, grad_sq_accum, grad, lr, -lr, l2 * (step * lr), step * l1,
        bool(l1 > 0), zero, one,
    )  # fmt: skip


def proximal_gradient_descent(var: np.ndarray, grad: np.ndarray, lr: Any, l1: Any, l2: Any) -> None:
    """TF ``ApplyProximalGradientDescent``; see
    :func:`optim.engine.numpy_kernels.proximal_gradient_descent`."""
    dtype = _check(grad, [("var", var)])
    lr, l1, l2 = as_scalars(dtype, lr=lr, l1=l1, l2=l2)
    _proximal_gradient_descent_loop(
        var, grad, lr, lr * l1, 1 + l2 * lr, bool(l1 > 0), dtype.type(0)
    )


def proximal_adagrad(
    var: np.ndarray, accum: np.ndarray, grad: np.ndarray, lr: Any, l1: Any, l2: Any
) -> None:
    """TF ``ApplyProximalAdagrad``; see :func:`optim.engine.numpy_kernels.proximal_adagrad`."""
    dtype = _check(grad, [("var", var), ("accum", accum)])
    lr, l1, l2 = as_scalars(dtype, lr=lr, l1=l1, l2=l2)
    zero, one = dtype.type(0), dtype.type(1)
    _proximal_adagrad_loop(var, accum, grad, lr, l1, l2, bool(l1 > 0), zero, one)


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
) -> None:
    """One ``torch.optim.RAdam`` step; see :func:`optim.engine.numpy_kernels.radam`."""
    dtype = _check(grad, [("var", var), ("m", m), ("v", v)])
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
    one = dtype.type(1)
    rectified = rect is not None
    rect = as_scalar("rect", rect, dtype) if rectified else one
    _radam_loop(var, m, v, grad, *scalars, rect, rectified, one)


def lamb(
    var: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    grad: np.ndarray,
    offsets: Any,
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
    scratch: np.ndarray | None = None,
) -> None:
    """One LAMB step over a flat buffer of segments; see :func:`optim.engine.numpy_kernels.lamb`.

    The direction and the step are multithreaded loops; the per-segment norms are numpy's
    sums over the segment views (:func:`optim.engine.numpy_kernels.segment_ratios`), as on
    the per-variable path: a numba reduction would add in another order and round otherwise.
    """
    dtype = _check(grad, [("var", var), ("m", m), ("v", v)])
    lr, *scalars = as_scalars(
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
    update, ratios = lamb_scratch(scratch, dtype, grad.shape[0])
    decay = bool(scalars[5] != 0)
    _lamb_direction_loop(var, m, v, update, grad, *scalars, decay)
    segment_ratios(var, update, bounds, ratios)
    _scaled_step_loop(var, update, ratios, lr)
