"""LAMB, Adam with a per-variable trust ratio (optax ``lamb`` in TF1 style)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import lamb_direction, norm, scaled_step, trust_ratio
from ..optimizer import Optimizer
from ..validation import BETA, NONNEGATIVE
from ..variables import Variable

__all__ = ["LAMBOptimizer"]


class LAMBOptimizer(Optimizer):
    """LAMB: Adam's bias-corrected direction, rescaled per variable by a trust ratio.

    With ``t`` the 1-based step and slots ``m`` and ``v`` (zeros)::

        m     = beta1 * m + (1 - beta1) * grad
        v     = beta2 * v + (1 - beta2) * grad**2
        u     = (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon) + weight_decay * var
        ratio = ||var|| / ||u||       (1 when either norm is 0; norms over the whole variable)
        var  -= learning_rate * ratio * u

    Each variable (a "layer") therefore moves by ``learning_rate * ||var||`` per step, whatever
    the scale of its gradient. ``t`` is the base class's step count; the non-slot ``step`` is its
    copy (the number of completed updates), kept so saved states keep their format
    (``step_state_name``). The trust ratio is a per-variable quantity: on the flat layout the
    fused kernel takes each variable's norms over its segment of the buffer (numpy sums over
    the segment views, the same bits as over the variable), so the two paths agree bit for
    bit.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        beta1: decay of the first moment, in [0, 1). Default 0.9.
        beta2: decay of the second moment, in [0, 1). Default 0.999.
        epsilon: added to ``sqrt(v_hat)``, >= 0. Default 1e-6.
        weight_decay: decoupled weight decay added to the direction before the trust ratio,
            >= 0 (None: 0). Default 0.0. The kernel owns it (``decay_in_kernel``): a variable
            excluded by :meth:`~optim.Optimizer.exclude_from_weight_decay` gets no decay term
            (TF-Addons' rule) and keeps its trust ratio.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"LAMB"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.LAMBOptimizer(1e-3, weight_decay=0.01)
        >>> opt.minimize(loss, var_list=[W, b])

    .. note::
        This is ``optax.lamb`` (``eps_root=0``, no mask): epsilon is added to the
        *bias-corrected* ``sqrt(v_hat)``, as in the paper and PyTorch's Adam, not to ``sqrt(v)``
        as in TF1's ``AdamOptimizer`` ("epsilon hat"). Other implementations:

        * TF-Addons ``LAMB`` has the same update (its decay argument is ``weight_decay_rate``)
          plus ``exclude_from_weight_decay`` and ``exclude_from_layer_adaptation`` name
          patterns; an excluded variable gets no decay term or a trust ratio of 1. Here
          :meth:`~optim.Optimizer.exclude_from_weight_decay` removes the decay term the same
          way; every variable keeps its trust ratio (give the others a second optimizer, with
          :class:`optim.MultiOptimizer`).
        * Keras 3 ``Lamb`` defaults to ``epsilon=1e-7`` and applies its ``weight_decay`` the
          Keras way, ``var -= learning_rate * weight_decay * var`` before the step, outside the
          trust ratio. With ``weight_decay=0`` and ``epsilon=1e-7`` it gives the numbers here.

        The norms and bias corrections are computed in the variable's dtype, as optax and Keras
        do. Sparse gradients are not supported: the trust ratio needs the whole variable.

    References:
        You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
        2019 (ICLR 2020).
    """

    flat_kernel = "lamb"  # optim.engine: one call per dtype, the trust ratios per segment
    decay_in_kernel = True  # the decay term sits inside the trust ratio

    kernel_slots = ("m", "v")
    kernel_scratch = 2
    step_state_name = "step"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-6,
        weight_decay: Any = 0.0,
        use_locking: bool = False,
        name: str = "LAMB",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, weight_decay=weight_decay, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1, BETA)
        self._set_hyper("beta2", beta2, BETA)
        self._set_hyper("epsilon", epsilon, NONNEGATIVE)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr, beta1, 1 - beta1, beta2, 1 - beta2, epsilon, weight_decay, 1 - beta1**t,
        1 - beta2**t)`` in ``dtype``, as optax and Keras compute them."""
        t = dtype.type(self._step_number())
        beta1 = self._get_hyper("beta1", dtype)
        beta2 = self._get_hyper("beta2", dtype)
        return (
            self._get_hyper("learning_rate", dtype),
            beta1,
            1 - beta1,
            beta2,
            1 - beta2,
            self._get_hyper("epsilon", dtype),
            self._get_hyper("weight_decay", dtype),
            1 - beta1**t,
            1 - beta2**t,
        )

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        m, v = slots
        update, tmp = scratch
        lamb_direction(var, m, v, update, grad, (tmp,), *scalars[1:])
        ratio = trust_ratio(norm(var, tmp), norm(update, tmp))
        scaled_step(var, update, ratio, scalars[0])

    def _flat_update(self, kernel, arena, grad) -> None:
        # The fused kernel takes the arena's segment offsets (one trust ratio per variable).
        buffers = arena.slot_buffers
        kernel(
            arena.var_buffer, buffers["m"], buffers["v"], grad, arena.offsets,
            *self._scalars(arena.dtype),
        )  # fmt: skip
