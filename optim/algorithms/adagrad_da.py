"""Adagrad dual averaging (TF1 ``AdagradDAOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import adagrad_da_update
from ..optimizer import Optimizer
from ..validation import NONNEGATIVE, POSITIVE, check_global_step, check_real
from ..variables import Variable

__all__ = ["AdagradDAOptimizer"]


class AdagradDAOptimizer(Optimizer):
    """Adagrad dual averaging: the variable is a closed form of the summed gradients.

    With slots ``gradient_accumulator`` (``ga``, starting at 0) and
    ``gradient_squared_accumulator`` (``gga``, starting at
    ``initial_gradient_squared_accumulator_value``), and ``T = global_step + 1`` read once per
    apply::

        ga  += grad
        gga += grad ** 2
        var  = -sign(ga) * learning_rate * max(|ga| - l1_regularization_strength * T, 0)
               / (l2_regularization_strength * T * learning_rate + sqrt(gga))

    (with ``l1_regularization_strength == 0`` this is
    ``var = -learning_rate * ga / (l2 * T * learning_rate + sqrt(gga))``). The previous value of
    ``var`` plays no part. Sparse gradients recompute only the touched rows; untouched rows
    keep a value computed with an older ``T``.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule).
        global_step: the integer scalar Variable counting steps (required, as in TF1), e.g.
            ``optim.train.get_or_create_global_step()``. ``T`` only advances if the caller
            increments it, normally by passing it to ``apply_gradients``/``minimize``.
        initial_gradient_squared_accumulator_value: a float > 0 (default 0.1).
        l1_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0).
        l2_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"AdagradDA"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`, except
            ``weight_decay``: the update overwrites the variable, so a decoupled decay would
            do nothing (``l2_regularization_strength`` is this algorithm's decay).

    Raises:
        TypeError: a hyperparameter of the wrong type, or ``global_step`` not an integer scalar
            Variable.
        ValueError: ``weight_decay`` other than None or 0 (see above).
        ValueError: a negative, NaN or infinite hyperparameter, or
            ``initial_gradient_squared_accumulator_value <= 0``.

    Example:
        >>> w = optim.Variable([1.0, -2.0])
        >>> step = optim.train.get_or_create_global_step()
        >>> opt = optim.train.AdagradDAOptimizer(0.1, step, l1_regularization_strength=1e-3)
        >>> opt.minimize(lambda: np.sum((w.value - 3.0) ** 2), global_step=step)
        29.0

    .. note::
        PyTorch, Keras and optax have no dual-averaging Adagrad. Unlike proximal Adagrad
        (:class:`ProximalAdagradOptimizer`), which shrinks the current variable, dual averaging
        applies the regularization to the *sum* of all gradients, with ``l1 * T`` growing with
        the step: coordinates whose average gradient stays below ``l1`` are exactly zero, which
        gives sparser solutions. Forgetting to pass ``global_step`` to ``apply_gradients``
        keeps ``T = 1`` forever, so the regularization never grows.

    References:
        Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization", JMLR 2011; Xiao, "Dual Averaging Methods for Regularized
        Stochastic Learning and Online Optimization", JMLR 2010.
    """

    flat_kernel = "adagrad_da"  # optim.engine: one call over every variable of a dtype

    # Only the touched rows are recomputed (TF's SparseApplyAdagradDA).
    sparse_updates = "lazy_rows"
    kernel_slots = ("gradient_accumulator", "gradient_squared_accumulator")
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any,
        global_step: Variable,
        initial_gradient_squared_accumulator_value: float = 0.1,
        l1_regularization_strength: Any = 0.0,
        l2_regularization_strength: Any = 0.0,
        use_locking: bool = False,
        name: str = "AdagradDA",
        **kwargs: Any,
    ) -> None:
        if kwargs.get("weight_decay"):  # None or 0: off, as for every optimizer
            raise ValueError(
                "`weight_decay` must be None or 0 for AdagradDAOptimizer, whose variable is a "
                "closed form of its accumulators (a decay before the step would be overwritten); "
                f"use l2_regularization_strength, got {kwargs['weight_decay']!r}."
            )
        kwargs.pop("weight_decay", None)
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._global_step = check_global_step(global_step, optional=False)
        self._initial_gradient_squared_accumulator_value = check_real(
            "initial_gradient_squared_accumulator_value",
            initial_gradient_squared_accumulator_value,
            POSITIVE,
            expected="a float",
        )
        self._set_hyper("l1_regularization_strength", l1_regularization_strength, NONNEGATIVE)
        self._set_hyper("l2_regularization_strength", l2_regularization_strength, NONNEGATIVE)

    @property
    def global_step(self) -> Variable:
        """The global step this optimizer reads its ``T`` from (and that callers advance)."""
        return self._global_step

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._zeros_slot(var, "gradient_accumulator", self._name)
            self._get_or_make_slot(
                var,
                self._initial_gradient_squared_accumulator_value,
                "gradient_squared_accumulator",
                self._name,
            )

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, Any, Any, Any]:
        """``(learning_rate, l1, l2, T)`` with TF1's ``T = global_step + 1``.

        The global step, not the optimizer's own step count, by TF1's definition. It is read
        once per apply and dtype, before the apply advances it (the base increments it after
        every update).
        """
        return (
            self._get_hyper("learning_rate", dtype),
            self._get_hyper("l1_regularization_strength", dtype),
            self._get_hyper("l2_regularization_strength", dtype),
            dtype.type(int(self._global_step.array) + 1),
        )

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        grad_accum, grad_sq_accum = slots
        adagrad_da_update(var, grad_accum, grad_sq_accum, grad, scratch, *scalars)
