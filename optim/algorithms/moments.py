"""Moving averages of the gradient and of its square: the moment updates shared by the kernels.

Two orders of operations exist among the references optim matches bit for bit, and they round
differently, so each has its own helper:

- the *increment* form of TF's ``ApplyAdam`` kernel, ``m += (grad - m) * (1 - beta)``
  (:func:`update_first_moment`, :func:`update_second_moment`): Adam, AdamW, AMSGrad, Adamax's
  ``m``, RAdam's ``m`` (PyTorch's ``lerp``), RMSProp's ``ms`` and ``mg``;
- the *decay-then-add* form of Keras and optax, ``m = m * beta + grad * (1 - beta)``
  (:func:`decay_first_moment`, :func:`decay_second_moment`): Nadam, LAMB, Lion's momentum,
  Adadelta's accumulators.

Every helper works in place on arrays of one dtype, takes ``1 - beta`` (and ``beta``) as
scalars of that dtype from the caller's step scalars, writes only ``m`` (or ``v``) and the
scratch array ``tmp``, and never writes ``grad``. They are plain array functions, so one call
serves one variable or a whole flat buffer. A kernel whose reference rounds another way keeps
its own lines (RAdam's ``v``, ``v * beta2 + (1 - beta2) * grad * grad`` in PyTorch's
``addcmul`` order; Adamax's ``v = max(beta2 * v, |grad|)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "update_first_moment",
    "update_second_moment",
    "decay_first_moment",
    "decay_second_moment",
]


def update_first_moment(
    m: np.ndarray, grad: np.ndarray, one_minus_beta: Any, tmp: np.ndarray
) -> None:
    """``m += (grad - m) * one_minus_beta`` in place (TF's ``ApplyAdam`` order).

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
