"""Rectified Adam (PyTorch's ``torch.optim.RAdam`` in TF1 style)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import radam_update
from ..optimizer import Optimizer
from ..validation import BETA, NONNEGATIVE
from ..variables import Variable

__all__ = ["RAdamOptimizer"]

_FLOAT64 = np.dtype(np.float64)
_RHO_THRESHOLD = 5.0


class RAdamOptimizer(Optimizer):
    """Rectified Adam: Adam whose adaptive step is switched on and scaled by a variance rectifier.

    With ``t`` the 1-based step, slots ``m`` and ``v`` (zeros) and
    ``rho_inf = 2 / (1 - beta2) - 1``::

        m     = beta1 * m + (1 - beta1) * grad
        v     = beta2 * v + (1 - beta2) * grad**2
        m_hat = m / (1 - beta1**t)
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r_t  = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            var -= learning_rate * m_hat * r_t * sqrt(1 - beta2**t) / (sqrt(v) + epsilon)
        else:
            var -= learning_rate * m_hat          # bias-corrected momentum, no adaptation

    ``rho_t`` grows from 1 at ``t = 1`` towards ``rho_inf``; with ``beta2 = 0.999`` the first
    rectified step is ``t = 6``, and with ``beta2 <= 2/3`` (``rho_inf <= 5``) none is. ``t`` is
    the base class's step count; the non-slot ``step`` is its copy (the number of completed
    updates), kept so saved states keep their format (``step_state_name``).

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        beta1: decay of the first moment, in [0, 1). Default 0.9.
        beta2: decay of the second moment, in [0, 1). Default 0.999.
        epsilon: added to ``sqrt(v)``, >= 0. Default 1e-8.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"RAdam"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.RAdamOptimizer(1e-3)
        >>> opt.minimize(loss, var_list=[w])

    .. note::
        This is ``torch.optim.RAdam`` (weight_decay 0): same defaults, the strict threshold
        ``rho_t > 5``, and epsilon added to the *un-corrected* ``sqrt(v)`` with
        ``sqrt(1 - beta2**t)`` in the numerator (TF1 Adam's "epsilon hat" placement). Other
        implementations differ:

        * ``optax.radam`` switches on ``rho_t >= threshold`` (``threshold=5.0``) and adds eps to
          the bias-corrected ``sqrt(v_hat)``;
        * TF-Addons ``RectifiedAdam`` switches on ``rho_t >= sma_threshold`` (5.0), adds eps
          (default 1e-7) to ``sqrt(v_hat)``, and has warmup/``total_steps``, ``amsgrad`` and
          weight decay options;
        * PyTorch's ``decoupled_weight_decay=True`` (the authors' RAdamW) is the base class's
          ``weight_decay=`` here, Keras 3's ``var -= var * weight_decay * lr`` before the step
          (torch multiplies by ``1 - lr * weight_decay``: equal up to rounding); PyTorch's
          coupled ``weight_decay`` (L2 in the gradient) is not offered.

        Putting eps on ``sqrt(v)`` makes the effective epsilon ``epsilon / sqrt(1 - beta2**t)``
        in optax's terms, so with a small ``v`` the two give different steps.

        The step scalars (``1 - beta**t``, ``rho_t``, ``r_t``) are computed in float64 from the
        hyperparameters and cast once to the variable's dtype, as PyTorch computes them in
        Python floats. ``rho_t`` is a difference of two numbers near ``2 / (1 - beta2)``: in
        float32 it carries errors near 1e-2 (``rho_6`` would be 6.0005, not 5.994) and in
        float16 it is meaningless. The array updates stay in the variable's dtype.

        Sparse gradients (``IndexedSlices``) are applied like a dense gradient with zero rows,
        as TF1's Adam and TF-Addons' ``RectifiedAdam`` do (PyTorch rejects them): every row's
        moments decay and every row moves.

    References:
        Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", 2019
        (ICLR 2020).
    """

    flat_kernel = "radam"  # optim.engine: one call over every variable of a dtype

    # Dense-equivalent (TF1 Adam's meaning): the rows scattered into a zero gradient.
    sparse_updates = "dense_equivalent"
    kernel_slots = ("m", "v")
    kernel_scratch = 2
    step_state_name = "step"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-8,
        use_locking: bool = False,
        name: str = "RAdam",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1, BETA)
        self._set_hyper("beta2", beta2, BETA)
        self._set_hyper("epsilon", epsilon, NONNEGATIVE)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr, 1 - beta1, beta2, 1 - beta2, epsilon, bias_correction1,
        sqrt(bias_correction2), rect)``: computed in float64, as PyTorch's Python floats, then
        cast to ``dtype`` (``rect`` is None while the step is not rectified)."""
        t = float(self._step_number())
        lr, beta1, beta2, epsilon = (
            float(self._get_hyper(name, _FLOAT64))
            for name in ("learning_rate", "beta1", "beta2", "epsilon")
        )
        bias_correction2 = 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
        rect = None
        if rho_t > _RHO_THRESHOLD:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
        scalars = (
            lr,
            1 - beta1,
            beta2,
            1 - beta2,
            epsilon,
            1 - beta1**t,
            bias_correction2**0.5,
            rect,
        )
        return tuple(None if x is None else dtype.type(x) for x in scalars)

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        m, v = slots
        radam_update(var, m, v, grad, scratch, *scalars)
