"""FTRL-Proximal (TF1 ``FtrlOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import ftrl_update
from ..optimizer import Optimizer
from ..validation import NONNEGATIVE, NONPOSITIVE, POSITIVE, check_real
from ..variables import Variable

__all__ = ["FtrlOptimizer"]


class FtrlOptimizer(Optimizer):
    """FTRL-Proximal: follow the regularized leader, with per-coordinate learning rates.

    With slots ``accum`` (``n``, starting at ``initial_accumulator_value``) and ``linear``
    (``z``, starting at 0), ``p = -learning_rate_power``, ``lr = learning_rate``,
    ``l1 = l1_regularization_strength``, ``l2 = l2_regularization_strength + beta / (2 * lr)``
    and ``s = l2_shrinkage_regularization_strength``::

        g_s  = grad + 2 * s * var
        z   += g_s - ((n + grad**2)**p - n**p) / lr * var
        n   += grad**2
        var  = (l1 * sign(z) - z) / (n**p / lr + 2 * l2)   if |z| > l1   else 0

    ``var`` is overwritten, not moved. Sparse gradients update only the touched rows (and their
    slots); shrinkage then applies to those rows only. With ``var = 0`` at the start and
    ``l1 == l2 == 0``, ``learning_rate_power=-0.5`` reproduces Adagrad (same initial
    accumulator) and ``learning_rate_power=0`` plain gradient descent.

    Args:
        learning_rate: a float > 0 or a zero-argument callable (a schedule).
        learning_rate_power: a float <= 0 or a zero-argument callable (default -0.5); 0 keeps
            the learning rate fixed.
        initial_accumulator_value: the accumulator's starting value, a float >= 0 (default
            0.1).
        l1_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0).
        l2_regularization_strength: a float >= 0 or a zero-argument callable (default 0.0), the
            stabilizing L2 of the FTRL objective.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Ftrl"``.
        accum_name: the op name of the ``accum`` slot (TF1 names the slot variable
            ``"<var>/<accum_name>"``); a non-empty string or None (the optimizer's name).
            ``get_slot(var, "accum")`` is unchanged.
        linear_name: the same for the ``linear`` slot.
        l2_shrinkage_regularization_strength: a float >= 0 or a zero-argument callable
            (default 0.0): an L2 penalty on the weights' magnitude, added to the gradient that
            feeds ``linear`` (not the accumulator).
        beta: ``None`` (0.0) or a float >= 0 (or a zero-argument callable), the ``beta`` of
            the FTRL paper's per-coordinate rate; folded into L2 as ``beta / (2 * lr)``, as TF
            does (with ``lr`` floored at 1e-36).
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type (``initial_accumulator_value`` must be a
            number), or a slot op name that is not a string.
        ValueError: a NaN or infinite hyperparameter, ``learning_rate <= 0``,
            ``learning_rate_power > 0``, or a negative ``initial_accumulator_value``, ``l1``,
            ``l2``, shrinkage or ``beta``.

    Example:
        >>> opt = optim.train.FtrlOptimizer(0.1, l1_regularization_strength=1e-3)

    .. note::
        The L2 shrinkage enters only the ``linear`` update. Current TF (and this class)
        accumulate the raw gradient, ``n += grad**2``, so shrinkage does not change the
        learning-rate schedule; older TF builds accumulated the shrinkage-augmented one,
        ``n += (grad + 2*s*var)**2``, and their ``testFtrlWithL1_L2_L2Shrinkage`` literals
        differ (var0 after 10 steps: ``[-0.22578995, -0.44345796]`` now, about
        ``[-0.21931979, -0.40642976]`` with the old rule).
        Keras's ``Ftrl`` keeps this math (default ``learning_rate=0.001``, ``beta=0.0``; Keras
        3 writes the L1 branch as ``clip(z, -l1, l1) - z``, the same values). PyTorch and optax
        have no FTRL.

    References:
        McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD 2013.
    """

    flat_kernel = "ftrl"  # optim.engine: one call over every variable of a dtype

    # Only the touched rows move, slots included (TF's SparseApplyFtrl).
    sparse_updates = "lazy_rows"
    kernel_slots = ("accum", "linear")
    kernel_scratch = 4  # the last one is reused as the boolean mask

    def __init__(
        self,
        learning_rate: Any,
        learning_rate_power: Any = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: Any = 0.0,
        l2_regularization_strength: Any = 0.0,
        use_locking: bool = False,
        name: str = "Ftrl",
        accum_name: str | None = None,
        linear_name: str | None = None,
        l2_shrinkage_regularization_strength: Any = 0.0,
        beta: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate, POSITIVE)
        self._set_hyper("learning_rate_power", learning_rate_power, NONPOSITIVE)
        self._initial_accumulator_value = check_real(
            "initial_accumulator_value",
            initial_accumulator_value,
            NONNEGATIVE,
            expected="a float",
        )
        self._set_hyper("l1_regularization_strength", l1_regularization_strength, NONNEGATIVE)
        self._set_hyper("l2_regularization_strength", l2_regularization_strength, NONNEGATIVE)
        self._set_hyper(
            "l2_shrinkage_regularization_strength",
            l2_shrinkage_regularization_strength,
            NONNEGATIVE,
        )
        self._set_hyper("beta", 0.0 if beta is None else beta, NONNEGATIVE)
        for arg, value in (("accum_name", accum_name), ("linear_name", linear_name)):
            if value is not None and (not isinstance(value, str) or not value):
                raise TypeError(f"`{arg}` must be a non-empty string or None, got {value!r}.")
        self._accum_name = accum_name
        self._linear_name = linear_name

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._get_or_make_slot(
                var, self._initial_accumulator_value, "accum", self._accum_name or self._name
            )
            self._zeros_slot(var, "linear", self._linear_name or self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, Any, Any, Any, Any]:
        """``(lr, l1, l2, l2_shrinkage, lr_power)``, with ``beta`` folded into ``l2``."""
        lr = self._get_hyper("learning_rate", dtype)
        l2 = self._get_hyper("l2_regularization_strength", dtype)
        beta = self._get_hyper("beta", dtype)
        if beta:
            # TF1's _prepare: l2 + beta / (2 * max(lr, 1e-36)), in the variable's dtype here.
            l2 = l2 + beta / (2 * max(lr, dtype.type(1e-36)))
        return (
            lr,
            self._get_hyper("l1_regularization_strength", dtype),
            l2,
            self._get_hyper("l2_shrinkage_regularization_strength", dtype),
            self._get_hyper("learning_rate_power", dtype),
        )

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        accum, linear = slots
        ftrl_update(var, accum, linear, grad, scratch, *scalars)
