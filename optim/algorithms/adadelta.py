"""Adadelta (TF1 ``AdadeltaOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import adadelta_update
from ..optimizer import Optimizer
from ..validation import POSITIVE, UNIT
from ..variables import Variable

__all__ = ["AdadeltaOptimizer"]


class AdadeltaOptimizer(Optimizer):
    """Adadelta: steps scaled by the ratio of running RMS of updates and of gradients.

    The update, with slots ``accum`` and ``accum_update`` (both starting at zero)::

        accum        = rho * accum + (1 - rho) * grad**2
        update       = sqrt(accum_update + epsilon) / sqrt(accum + epsilon) * grad
        var         -= learning_rate * update
        accum_update = rho * accum_update + (1 - rho) * update**2

    ``update`` uses the *old* ``accum_update``.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        rho: the decay rate of both running averages, in [0, 1]. Default 0.95.
        epsilon: a float > 0 added inside both square roots. Default 1e-8.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Adadelta"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite. ``epsilon`` must be
            strictly positive (TF does not check): with ``epsilon = 0`` the ``accum_update``
            slot stays zero, so every update is zero (or NaN where the gradient is zero).

    Example:
        >>> opt = optim.train.AdadeltaOptimizer(learning_rate=1.0, rho=0.95, epsilon=1e-6)

    Sparse gradients are lazy, as TF's ``SparseApplyAdadelta``: only the rows in ``indices``
    update their slots and move; the other rows keep their averages, which do not decay.

    .. note::
        TF's default ``learning_rate=0.001`` makes steps 1000 times smaller than the paper's,
        which has no learning rate (``learning_rate=1.0``, PyTorch's default). The default
        ``epsilon`` is 1e-8 here and in TF1, 1e-7 in Keras, 1e-6 in PyTorch and in the paper.
        The update rule is otherwise the same in all of them.

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012.
    """

    flat_kernel = "adadelta"  # optim.engine: one call over every variable of a dtype

    # Lazy (TF's SparseApplyAdadelta): only the touched rows and their slots change.
    sparse_updates = "lazy_rows"
    kernel_slots = ("accum", "accum_update")
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: Any = 0.95,
        epsilon: Any = 1e-8,
        use_locking: bool = False,
        name: str = "Adadelta",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("rho", rho, UNIT)
        self._set_hyper("epsilon", epsilon, POSITIVE)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._zeros_slot(var, "accum", self._name)
            self._zeros_slot(var, "accum_update", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr, rho, 1 - rho, epsilon)`` in ``dtype``."""
        lr, rho, epsilon = (self._get_hyper(k, dtype) for k in ("learning_rate", "rho", "epsilon"))
        return lr, rho, 1 - rho, epsilon

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        lr, rho, _, epsilon = scalars
        return lr, rho, epsilon  # the fused kernel's arguments

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        accum, accum_update = slots
        adadelta_update(var, accum, accum_update, grad, scratch, *scalars)
