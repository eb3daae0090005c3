"""RMSProp, plain and centered, with momentum (TF1 ``RMSPropOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import rmsprop_update
from ..optimizer import Optimizer
from ..validation import UNIT, check_bool
from ..variables import Variable

__all__ = ["RMSPropOptimizer"]


class RMSPropOptimizer(Optimizer):
    """RMSProp: gradient steps divided by a running root mean square of the gradients.

    The update, with slots ``rms`` (``ms``, starting at **one**), ``momentum`` (``mom``, zero)
    and, when centered, ``mg`` (zero)::

        ms   = decay * ms + (1 - decay) * grad**2
        mg   = decay * mg + (1 - decay) * grad                         # centered only
        mom  = momentum * mom + learning_rate * grad / sqrt(ms + epsilon)          # plain
        mom  = momentum * mom + learning_rate * grad / sqrt(ms - mg**2 + epsilon)  # centered
        var -= mom

    The ``momentum`` slot exists and is used even with ``momentum=0``.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule).
        decay: the discount of the running averages, in [0, 1]. Default 0.9.
        momentum: a float >= 0. Default 0.0.
        epsilon: a float >= 0, added *inside* the square root. Default 1e-10.
        use_locking: accepted for TF1 compatibility.
        centered: subtract the squared running mean of the gradients (an estimate of their
            variance instead of their second moment). Default False.
        name: defaults to ``"RMSProp"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type, or ``centered`` not a bool.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.RMSPropOptimizer(0.01, decay=0.9, momentum=0.9, centered=True)

    Sparse gradients are lazy, as TF's ``SparseApplyRMSProp``: only the rows in ``indices``
    update ``rms``, ``mg`` and ``momentum`` and move; the other rows neither decay nor take a
    momentum step.

    .. note::
        TF1's ``rms`` slot starts at 1.0 and ``epsilon`` (default 1e-10) sits inside the
        square root, so the first steps are much smaller than PyTorch's (``rms`` from 0,
        ``lr * g / (sqrt(ms) + eps)``, eps 1e-8, ``alpha=0.99``) or Keras' (``rms`` from 0;
        Keras 2 moves eps outside the root when ``momentum=0``). With ``decay=0.9`` the
        initial 1.0 still weighs ``0.9**t`` after ``t`` steps.

    References:
        Tieleman and Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for Machine
        Learning, 2012. Graves, "Generating Sequences With Recurrent Neural Networks", 2013
        (the centered form).
    """

    flat_kernel = "rmsprop"  # optim.engine: one call over every variable of a dtype

    # Lazy (TF's SparseApplyRMSProp): only the touched rows and their slots change.
    sparse_updates = "lazy_rows"
    kernel_slots = ("rms", "mg", "momentum")  # no "mg" slot unless centered: None
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any,
        decay: Any = 0.9,
        momentum: Any = 0.0,
        epsilon: Any = 1e-10,
        use_locking: bool = False,
        centered: bool = False,
        name: str = "RMSProp",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("decay", decay, UNIT)
        self._set_hyper("momentum", momentum)
        self._set_hyper("epsilon", epsilon)
        self._centered = check_bool("centered", centered)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._get_or_make_slot(var, 1, "rms", self._name)
            if self._centered:
                self._zeros_slot(var, "mg", self._name)
            self._zeros_slot(var, "momentum", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr, rho, momentum, epsilon, 1 - rho)`` in ``dtype`` (``rho`` is ``decay``); the
        first four are the fused kernel's arguments."""
        names = ("learning_rate", "decay", "momentum", "epsilon")
        lr, rho, momentum, epsilon = (self._get_hyper(k, dtype) for k in names)
        return lr, rho, momentum, epsilon, 1 - rho

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        return scalars[:4]

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        ms, mg, mom = slots
        lr, _, momentum, epsilon, one_minus_rho = scalars
        rmsprop_update(var, ms, mg, mom, grad, scratch, lr, one_minus_rho, momentum, epsilon)
