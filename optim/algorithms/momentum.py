"""Momentum and Nesterov momentum (TF1 ``MomentumOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import momentum_update
from ..optimizer import Optimizer
from ..validation import check_bool
from ..variables import Variable

__all__ = ["MomentumOptimizer"]


class MomentumOptimizer(Optimizer):
    """Gradient descent with momentum.

    The update, with slot ``momentum`` (``accum``, starting at zero)::

        accum = momentum * accum + grad
        var  -= learning_rate * accum                                   # use_nesterov=False
        var  -= learning_rate * grad + learning_rate * momentum * accum  # use_nesterov=True

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule).
        momentum: a float >= 0 or a zero-argument callable.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Momentum"``.
        use_nesterov: Nesterov's accelerated gradient in Sutskever et al.'s form: the stored
            variable is the look-ahead point, and gradients are taken there.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a negative, NaN or infinite hyperparameter.

    Example:
        >>> opt = optim.train.MomentumOptimizer(0.1, momentum=0.9, use_nesterov=True)

    .. note::
        The learning rate sits outside the accumulator, as in TF1 and PyTorch (dampening 0).
        Keras folds it in (``accum = momentum * accum - lr * grad``); the two agree while the
        learning rate is constant and differ under a schedule.

    References:
        Sutskever et al., "On the importance of initialization and momentum in deep
        learning", 2013.
    """

    flat_kernel = "momentum"  # optim.engine: one call over every variable of a dtype

    # Only the touched rows move; untouched rows keep their accumulator (TF's sparse rule),
    # with SparseApplyMomentum's order of operations (``rows=True``).
    sparse_updates = "lazy_rows"
    kernel_slots = ("momentum",)
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any,
        momentum: Any,
        use_locking: bool = False,
        name: str = "Momentum",
        use_nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("momentum", momentum)
        self._use_nesterov = check_bool("use_nesterov", use_nesterov)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._zeros_slot(var, "momentum", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, Any]:
        return self._get_hyper("learning_rate", dtype), self._get_hyper("momentum", dtype)

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*scalars, self._use_nesterov)

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        (accum,) = slots
        lr, momentum = scalars
        momentum_update(var, accum, grad, scratch, lr, momentum, self._use_nesterov, rows)
