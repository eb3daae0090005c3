"""Adagrad (TF1 ``AdagradOptimizer``), with TF2's optional epsilon."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import adagrad_update
from ..optimizer import Optimizer
from ..validation import NONNEGATIVE, POSITIVE, check_real
from ..variables import Variable

__all__ = ["AdagradOptimizer"]


class AdagradOptimizer(Optimizer):
    """Adagrad: per-coordinate steps scaled by the root of the summed squared gradients.

    The update, with slot ``accumulator`` (``accum``, starting at ``initial_accumulator_value``)::

        accum += grad ** 2
        var   -= learning_rate * grad / sqrt(accum)                 # epsilon=None (TF1)
        var   -= learning_rate * grad / (sqrt(accum) + epsilon)     # epsilon given (TF2 kernel)

    The accumulator is updated before the step. Sparse gradients update only the touched rows
    (and their accumulator), which equals the dense update with zero rows elsewhere.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule).
        initial_accumulator_value: the accumulator's starting value, a float > 0 (default 0.1).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Adagrad"``.
        epsilon: ``None`` (default, TF1: no epsilon) or a float >= 0 (or a zero-argument
            callable) added to ``sqrt(accum)``, as TF2's ``ApplyAdagradV2`` kernel and Keras 2
            do.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type (``initial_accumulator_value`` must be a
            number, not a callable).
        ValueError: a negative, NaN or infinite hyperparameter, or
            ``initial_accumulator_value <= 0``.

    Example:
        >>> w = optim.Variable([1.0, -2.0])
        >>> opt = optim.train.AdagradOptimizer(0.5)
        >>> opt.minimize(lambda: np.sum(w.value ** 2))
        5.0

    .. note::
        Frameworks disagree on epsilon and on the accumulator's start. TF1 (this default) has
        no epsilon and needs ``initial_accumulator_value > 0`` (default 0.1). Keras 2 and TF2's
        kernel use ``lr * g / (sqrt(accum) + eps)`` (``epsilon=`` here; Keras's default is
        1e-7). Keras 3 puts it inside the root, ``lr * g / sqrt(accum + eps)``. PyTorch starts
        the accumulator at 0 and uses ``lr * g / (sqrt(accum) + eps)`` with eps = 1e-10 (and
        an optional ``lr_decay``). With the 0.1 start, the first steps are far smaller than
        PyTorch's: a first gradient ``g`` moves ``lr * g / sqrt(0.1 + g**2)`` rather than
        ``lr * sign(g)``.

    References:
        Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 2011.
    """

    flat_kernel = "adagrad"  # optim.engine: one call over every variable of a dtype

    # Only the touched rows move (TF's SparseApplyAdagrad); a zero row would not change anyway.
    sparse_updates = "lazy_rows"
    kernel_slots = ("accumulator",)
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any,
        initial_accumulator_value: float = 0.1,
        use_locking: bool = False,
        name: str = "Adagrad",
        epsilon: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._initial_accumulator_value = check_real(
            "initial_accumulator_value",
            initial_accumulator_value,
            POSITIVE,
            expected="a float",
        )
        self._use_epsilon = epsilon is not None
        if self._use_epsilon:
            self._set_hyper("epsilon", epsilon, NONNEGATIVE)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._get_or_make_slot(var, self._initial_accumulator_value, "accumulator", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, Any]:
        """``(learning_rate, epsilon)``; ``epsilon`` is None without one (TF1's kernel)."""
        epsilon = self._get_hyper("epsilon", dtype) if self._use_epsilon else None
        return self._get_hyper("learning_rate", dtype), epsilon

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        (accum,) = slots
        adagrad_update(var, accum, grad, scratch, *scalars)
