"""Adafactor with factored second moments (Keras 3 ``Adafactor`` in TF1 style)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..optimizer import Optimizer
from ..validation import NONNEGATIVE, NONPOSITIVE, POSITIVE, check_bool
from ..variables import Variable

__all__ = ["AdafactorOptimizer"]

def _small(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A view of ``shape`` at the start of a scratch buffer (which is at least that large)."""
    return buffer.reshape(-1)[: int(np.prod(shape, dtype=np.int64))].reshape(shape)


def _rms(x: np.ndarray, tmp: np.ndarray) -> Any:
    """``sqrt(mean(x**2))`` over the whole tensor, in ``x``'s dtype (``tmp`` is scratch)."""
    np.multiply(x, x, out=tmp)
    return np.sqrt(np.mean(tmp))


def _adafactor(
    var: np.ndarray,
    vr: np.ndarray | None,
    vc: np.ndarray | None,
    v: np.ndarray | None,
    grad: np.ndarray,
    rho: Any,
    beta2t: Any,
    epsilon_1: Any,
    epsilon_2: Any,
    clip_threshold: Any,
    scratch: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """One Adafactor step in place, in Keras 3's order of operations.

    Factored (``vr`` and ``vc`` given, rank >= 2): the row and column means of
    ``grad**2 + epsilon_1`` update ``vr`` (shape ``var.shape[:-1]``) and ``vc``
    (``var.shape[:-2] + var.shape[-1:]``), and ``(vr / mean(vr, -1))[..., :, None] * vc[..., None,
    :]`` stands for the second moment; unfactored (``v`` given), ``v`` is a plain moving average
    of ``grad**2 + epsilon_1``. Then ``u = grad / sqrt(second moment)``, clipped to RMS
    ``clip_threshold``, and ``var -= max(epsilon_2, RMS(var)) * rho * u``.
    """
    s0, s1, s2 = scratch
    one_minus_beta2t = 1 - beta2t
    alpha = np.maximum(epsilon_2, _rms(var, s1)) * rho
    np.multiply(grad, grad, out=s0)
    np.add(s0, epsilon_1, out=s0)
    if v is None:
        row = _small(s1, vr.shape)
        np.mean(s0, axis=-1, out=row)
        np.multiply(vr, beta2t, out=vr)
        np.multiply(row, one_minus_beta2t, out=row)
        np.add(vr, row, out=vr)
        col = _small(s2, vc.shape)
        np.mean(s0, axis=-2, out=col)
        np.multiply(vc, beta2t, out=vc)
        np.multiply(col, one_minus_beta2t, out=col)
        np.add(vc, col, out=vc)
        row_mean = _small(s2, vr.shape[:-1] + (1,))
        np.mean(vr, axis=-1, keepdims=True, out=row_mean)
        np.divide(vr, row_mean, out=row)
        np.multiply(row[..., :, None], vc[..., None, :], out=s0)
        np.sqrt(s0, out=s0)
    else:
        np.multiply(s0, one_minus_beta2t, out=s0)
        np.multiply(v, beta2t, out=v)
        np.add(v, s0, out=v)
        np.sqrt(v, out=s0)
    np.divide(grad, s0, out=s0)
    np.divide(s0, np.maximum(1, _rms(s0, s1) / clip_threshold), out=s0)
    np.multiply(s0, alpha, out=s0)
    np.subtract(var, s0, out=var)


class AdafactorOptimizer(Optimizer):
    """Adafactor: Adam-like steps with a factored second moment and a relative step size.

    With ``t`` the 1-based step, ``G = grad**2 + epsilon_1`` and ``RMS(x) = sqrt(mean(x**2))``
    over the whole tensor::

        rho  = min(learning_rate, 1 / sqrt(t))
        b    = 1 - t ** beta_2_decay                    # 0 at t = 1
        rank >= 2:  vr = b * vr + (1 - b) * mean(G, axis=-1)
                    vc = b * vc + (1 - b) * mean(G, axis=-2)
                    v_hat = (vr / mean(vr, axis=-1))[..., :, None] * vc[..., None, :]
        rank < 2:   v = b * v + (1 - b) * G;  v_hat = v
        u    = grad / sqrt(v_hat)
        u   /= max(1, RMS(u) / clip_threshold)
        var -= max(epsilon_2, RMS(var)) * rho * u       # RMS of var before the step

    Slots: ``vr`` (the row factor, shape ``var.shape[:-1]``) and ``vc`` (the column factor,
    shape ``var.shape[:-2] + var.shape[-1:]``) for variables of rank >= 2, factored over their
    last two axes; ``v`` (shape of the variable) for scalars and vectors. ``t`` is the base
    class's step count (Keras' ``iterations`` + 1); the non-slot ``step`` is its copy (the number
    of completed updates), kept so saved states keep their format (``step_state_name``).
    Adafactor has no fused kernel and stays on the per-variable path, because its factored
    slots ``vr`` and ``vc`` are not shaped like their variable (so they cannot be segments of
    one buffer aligned element by element with the variables) and its second moment is a row
    and column mean of each variable, not an elementwise update.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        beta_2_decay: the exponent of the second-moment decay ``1 - t**beta_2_decay``, <= 0.
            Default -0.8.
        epsilon_1: added to ``grad**2``, >= 0. Default 1e-30.
        epsilon_2: the smallest parameter scale in the step size, >= 0. Default 1e-3.
        clip_threshold: the largest RMS of the normalized update, > 0. Default 1.0.
        relative_step: Keras 3's flag, validated and kept (see the note). Default True.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Adafactor"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.AdafactorOptimizer(learning_rate=0.01)
        >>> opt.minimize(loss, var_list=[W, b])  # W factored (vr, vc), b unfactored (v)

    .. note::
        This is Keras 3's rule (``keras.optimizers.Adafactor``), whose numbers the tests match.
        It differs from the paper and from other ports:

        * Keras 3 (and therefore this class) computes ``rho = min(learning_rate, 1/sqrt(t))``
          whatever ``relative_step`` says: the flag only repeats that cap, so it never changes a
          number. The paper's relative step is ``min(1e-2, 1/sqrt(t))``, and Hugging Face's
          ``relative_step=False`` uses ``learning_rate`` uncapped (from the 5th step of Keras'
          golden run on, that gives 0.0511 where Keras and optim give 0.0554).
        * ``torch.optim.Adafactor`` caps ``rho`` the same way but defaults to ``lr=1e-2`` and
          uses ``epsilon_1`` differently: not added to ``grad**2`` but as a floor,
          ``v_hat >= eps1**2`` (default eps1: the dtype's machine epsilon).
        * No first moment (the paper's optional ``beta1``) and no ``decay_rate`` other than
          ``t**beta_2_decay``.
        * Keras 3 also keeps a full-size ``v`` for factored variables; optim only keeps the
          factors and rebuilds ``v_hat`` in a scratch buffer each step (same numbers, a fraction
          of the memory). ``mean(vr)`` normalisation equals the paper's ``R C / (1^T R)``.
        * ``t`` is an integer count cast to the variable's dtype each step (exact for 2**24
          steps in float32); the saved ``step`` copy is a float of the first variable's dtype.

        Sparse gradients are not supported: ``RMS(u)`` and the factors mix every row.

    References:
        Shazeer and Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", 2018.
    """

    kernel_slots = ("vr", "vc", "v")  # factored variables have vr and vc, the others v
    kernel_scratch = 3
    step_state_name = "step"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_2_decay: Any = -0.8,
        epsilon_1: Any = 1e-30,
        epsilon_2: Any = 1e-3,
        clip_threshold: Any = 1.0,
        relative_step: bool = True,
        use_locking: bool = False,
        name: str = "Adafactor",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta_2_decay", beta_2_decay, NONPOSITIVE)
        self._set_hyper("epsilon_1", epsilon_1, NONNEGATIVE)
        self._set_hyper("epsilon_2", epsilon_2, NONNEGATIVE)
        self._set_hyper("clip_threshold", clip_threshold, POSITIVE)
        self._relative_step = check_bool("relative_step", relative_step)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            if var.ndim >= 2:
                self._get_or_make_slot_with_initializer(
                    var, 0.0, var.shape[:-1], var.dtype, "vr", self._name
                )
                self._get_or_make_slot_with_initializer(
                    var, 0.0, var.shape[:-2] + var.shape[-1:], var.dtype, "vc", self._name
                )
            else:
                self._zeros_slot(var, "v", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(rho, beta2t, epsilon_1, epsilon_2, clip_threshold)`` in ``dtype``."""
        t = dtype.type(self._step_number())
        inv_sqrt_t = 1 / np.sqrt(t)
        # Keras 3 caps a constant rate at 1/sqrt(t) when relative_step is set, then caps rho
        # at 1/sqrt(t) in every case: the flag cannot change the result.
        rho = np.minimum(self._get_hyper("learning_rate", dtype), inv_sqrt_t)
        return (
            rho,
            1 - t ** self._get_hyper("beta_2_decay", dtype),
            self._get_hyper("epsilon_1", dtype),
            self._get_hyper("epsilon_2", dtype),
            self._get_hyper("clip_threshold", dtype),
        )

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        vr, vc, v = slots
        _adafactor(var, vr, vc, v, grad, *scalars, scratch)
