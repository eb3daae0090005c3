"""Lion, the sign-of-interpolated-momentum optimizer (Keras 3 ``Lion`` in TF1 style)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import lion_update
from ..optimizer import Optimizer
from ..validation import UNIT, Interval
from ..variables import Variable

__all__ = ["LionOptimizer"]

_BETA1 = Interval(0.0, 1.0, low_open=True)


class LionOptimizer(Optimizer):
    """Lion (EvoLved Sign Momentum): a step of fixed size ``learning_rate`` per coordinate.

    The update, with slot ``momentum`` (``m``, starting at zero)::

        var -= learning_rate * sign(beta1 * m + (1 - beta1) * grad)
        m    = beta2 * m + (1 - beta2) * grad

    ``beta1`` sets how much of the current gradient enters the step, ``beta2`` how fast the
    momentum forgets. Every coordinate moves by exactly ``learning_rate`` (or not at all where the
    interpolation is zero), so a good rate is usually 3-10x smaller than Adam's.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        beta1: interpolation weight of the momentum in the step, in (0, 1]. Default 0.9.
        beta2: decay of the momentum, in [0, 1]. Default 0.99.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Lion"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite (``beta1 = 0`` would make Lion
            plain signSGD, which Keras rejects too).

    Example:
        >>> opt = optim.train.LionOptimizer(1e-4, beta1=0.9, beta2=0.99)
        >>> opt.minimize(loss, var_list=[w])

    .. note::
        The rule and defaults are Keras 3's ``keras.optimizers.Lion`` (and the paper's Algorithm
        2 without weight decay). ``optax.lion`` adds decoupled weight decay by default
        (``weight_decay=1e-3``: ``var -= lr * (sign(...) + 1e-3 * var)``); here it is off by
        default, and ``weight_decay=`` gives the base class's decoupled decay, Keras 3's
        ``var -= var * weight_decay * lr`` before the step: the same rule as the paper's and
        optax's (the decay reads the weights before the step), rounded Keras' way.
        Sparse gradients (``IndexedSlices``) are *lazy*, as TF1's Momentum: only the touched rows
        update ``m`` and ``var``. Keras densifies them, so there an untouched row keeps moving by
        ``lr * sign(beta1 * m)`` and its momentum decays.

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023.
    """

    flat_kernel = "lion"  # optim.engine: one call over every variable of a dtype
    flat_decay_kernel = "lion_weight_decay"  # the base's weight decay and the step, one pass

    # Lazy: only the touched rows move, and only their momentum is updated.
    sparse_updates = "lazy_rows"
    kernel_slots = ("momentum",)
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.99,
        use_locking: bool = False,
        name: str = "Lion",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1, _BETA1)
        self._set_hyper("beta2", beta2, UNIT)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._zeros_slot(var, "momentum", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr, beta1, 1 - beta1, beta2, 1 - beta2)`` in ``dtype``."""
        lr, beta1, beta2 = (self._get_hyper(k, dtype) for k in ("learning_rate", "beta1", "beta2"))
        return lr, beta1, 1 - beta1, beta2, 1 - beta2

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        lr, beta1, _, beta2, _ = scalars
        return lr, beta1, beta2  # the fused kernel's arguments

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        (m,) = slots
        lion_update(var, m, grad, scratch, *scalars)
