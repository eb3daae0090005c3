"""RMSProp, plain and centered, with momentum (TF1 ``RMSPropOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..optimizer import Optimizer
from ..validation import UNIT, check_bool
from ..variables import Variable
from .moments import update_first_moment, update_second_moment

__all__ = ["RMSPropOptimizer"]


def _rmsprop(
    var: np.ndarray,
    ms: np.ndarray,
    mg: np.ndarray | None,
    mom: np.ndarray,
    grad: np.ndarray,
    lr: Any,
    rho: Any,
    momentum: Any,
    epsilon: Any,
    scratch: tuple[np.ndarray, np.ndarray],
) -> None:
    """TF kernels ``ApplyRMSProp`` (``mg is None``) and ``ApplyCenteredRMSProp``, in place.

    ``ms += (grad² - ms) * (1 - rho)``; centered: ``mg += (grad - mg) * (1 - rho)``;
    ``mom = mom * momentum + (grad * lr) / sqrt(ms [- mg²] + epsilon)``; ``var -= mom``.
    """
    tmp, denom = scratch
    one_minus_rho = 1 - rho
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
        names = ("learning_rate", "decay", "momentum", "epsilon")
        return tuple(self._get_hyper(k, dtype) for k in names)

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        ms, mg, mom = slots
        _rmsprop(var, ms, mg, mom, grad, *scalars, scratch)
