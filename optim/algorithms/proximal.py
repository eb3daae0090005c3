"""Proximal (FOBOS) gradient descent and proximal Adagrad (TF1 ``ProximalGradientDescentOptimizer``,
``ProximalAdagradOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import proximal_adagrad_update, proximal_gradient_descent_update
from ..optimizer import Optimizer
from ..validation import NONNEGATIVE, POSITIVE, check_real
from ..variables import Variable

__all__ = ["ProximalGradientDescentOptimizer", "ProximalAdagradOptimizer"]


def _proximal_scalars(self: Optimizer, dtype: np.dtype) -> tuple[Any, Any, Any]:
    """The step scalars of both proximal optimizers: ``(learning_rate, l1, l2)`` in ``dtype``."""
    return (
        self._get_hyper("learning_rate", dtype),
        self._get_hyper("l1_regularization_strength", dtype),
        self._get_hyper("l2_regularization_strength", dtype),
    )


class ProximalGradientDescentOptimizer(Optimizer):
    """Proximal gradient descent (FOBOS): a gradient step, then the L1/L2 proximal step.

    The update (no slots)::

        prox = var - learning_rate * grad
        var  = sign(prox) * max(|prox| - learning_rate * l1, 0) / (1 + learning_rate * l2)

    with ``l1 = l1_regularization_strength`` and ``l2 = l2_regularization_strength``; with
    ``l1 == 0`` it is ``var = prox / (1 + learning_rate * l2)``. This minimizes
    ``loss + l1 * |var|_1 + l2/2 * |var|_2^2``; the soft threshold makes small coordinates
    exactly zero. Sparse gradients update only the touched rows.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule).
        l1_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0).
        l2_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"ProximalGradientDescent"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a negative, NaN or infinite hyperparameter.

    Example:
        >>> opt = optim.train.ProximalGradientDescentOptimizer(0.1, l1_regularization_strength=1e-3)

    .. note::
        The L2 term acts as a proximal shrink, ``var / (1 + lr * l2)`` *after* the gradient
        step, not as PyTorch's ``weight_decay`` (``grad + l2 * var`` before it) nor as
        decoupled decay (``var -= lr * l2 * var``). The three agree to first order in
        ``lr * l2`` and differ beyond it. TF1 does not validate ``l1``/``l2``; optim rejects
        negative values.

    References:
        Duchi and Singer, "Efficient Online and Batch Learning Using Forward Backward
        Splitting", JMLR 2009.
    """

    flat_kernel = "proximal_gradient_descent"  # optim.engine: one call per dtype

    # Only the touched rows move (TF's SparseApplyProximalGradientDescent).
    sparse_updates = "lazy_rows"
    kernel_scratch = 1

    def __init__(
        self,
        learning_rate: Any,
        l1_regularization_strength: Any = 0.0,
        l2_regularization_strength: Any = 0.0,
        use_locking: bool = False,
        name: str = "ProximalGradientDescent",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("l1_regularization_strength", l1_regularization_strength, NONNEGATIVE)
        self._set_hyper("l2_regularization_strength", l2_regularization_strength, NONNEGATIVE)

    _step_scalars = _proximal_scalars

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        proximal_gradient_descent_update(var, grad, scratch, *scalars)


class ProximalAdagradOptimizer(Optimizer):
    """Proximal Adagrad: an Adagrad step, then the L1/L2 proximal step at Adagrad's rate.

    The update, with slot ``accumulator`` (``accum``, starting at ``initial_accumulator_value``)::

        accum += grad ** 2
        eta    = learning_rate / sqrt(accum)
        prox   = var - eta * grad
        var    = sign(prox) * max(|prox| - eta * l1, 0) / (1 + eta * l2)

    with ``l1 = l1_regularization_strength`` and ``l2 = l2_regularization_strength``; with
    ``l1 == 0`` it is ``var = prox / (1 + eta * l2)``, and with ``l1 == l2 == 0`` exactly
    Adagrad. Sparse gradients update only the touched rows (and their accumulator).

    Args:
        learning_rate: a float > 0 or a zero-argument callable (a schedule); TF's kernel
            rejects 0.
        initial_accumulator_value: a float > 0 (default 0.1).
        l1_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0).
        l2_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"ProximalAdagrad"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type (``initial_accumulator_value`` must be a
            number, not a callable).
        ValueError: a NaN or infinite hyperparameter, ``learning_rate <= 0``, negative
            ``l1``/``l2``, or ``initial_accumulator_value <= 0``.

    Example:
        >>> opt = optim.train.ProximalAdagradOptimizer(0.1, l1_regularization_strength=1e-3)

    .. note::
        PyTorch and Keras have no proximal Adagrad. Adagrad with PyTorch's ``weight_decay``
        adds ``l2 * var`` to the gradient (so it also enters the accumulator); here the L2
        term is a proximal shrink at the per-coordinate rate ``eta`` and never touches the
        accumulator. FTRL (:class:`FtrlOptimizer`) with the same L1/L2 regularizes the sum of
        gradients instead of the current variable, and generally gives sparser results.

    References:
        Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 2011; Duchi and Singer, "Efficient Online and Batch
        Learning Using Forward Backward Splitting", JMLR 2009.
    """

    flat_kernel = "proximal_adagrad"  # optim.engine: one call over every variable of a dtype

    # Only the touched rows move (TF's SparseApplyProximalAdagrad).
    sparse_updates = "lazy_rows"
    kernel_slots = ("accumulator",)
    kernel_scratch = 3

    def __init__(
        self,
        learning_rate: Any,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: Any = 0.0,
        l2_regularization_strength: Any = 0.0,
        use_locking: bool = False,
        name: str = "ProximalAdagrad",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate, POSITIVE)
        self._initial_accumulator_value = check_real(
            "initial_accumulator_value",
            initial_accumulator_value,
            POSITIVE,
            expected="a float",
        )
        self._set_hyper("l1_regularization_strength", l1_regularization_strength, NONNEGATIVE)
        self._set_hyper("l2_regularization_strength", l2_regularization_strength, NONNEGATIVE)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._get_or_make_slot(var, self._initial_accumulator_value, "accumulator", self._name)

    _step_scalars = _proximal_scalars

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        (accum,) = slots
        proximal_adagrad_update(var, accum, grad, scratch, *scalars)
