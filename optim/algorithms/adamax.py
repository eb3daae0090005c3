"""Adamax, Adam with the infinity norm (TF's ``ApplyAdaMax`` kernel; Keras ``Adamax``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import adamax_update
from ..optimizer import Optimizer
from ..sparse import IndexedSlices
from ..validation import BETA
from ..variables import Variable

__all__ = ["AdamaxOptimizer"]


class AdamaxOptimizer(Optimizer):
    """Adamax: Adam with the infinity norm of past gradients in place of their RMS.

    The update at step ``t`` (1 at the first ``apply_gradients``), with slots ``m`` and ``v``
    (zero) and the non-slot ``beta1_power`` (``beta1**t``)::

        m    = beta1 * m + (1 - beta1) * grad
        v    = max(beta2 * v, |grad|)
        var -= learning_rate / (1 - beta1**t) * m / (v + epsilon)

    ``beta1_power`` is created with the variable whose name sorts first (in its dtype), shared
    by all variables, and advanced once per ``apply_gradients`` in ``_finish``, as Adam's: a
    running product kept as state (its rounding is TF's), not a step counter.

    There is no TF1 class; the rule is TF's ``ApplyAdaMax`` kernel, which Keras 2 and 3 use.
    Argument names follow TF1 (``beta1``, ``beta2``), the defaults are Keras'.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        beta1: decay of the first moment, in [0, 1). Default 0.9.
        beta2: decay of the infinity norm, in [0, 1). Default 0.999.
        epsilon: a float >= 0 added to ``v``. Default 1e-7 (Keras).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Adamax"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.AdamaxOptimizer(learning_rate=0.002)

    Sparse gradients are lazy, as Keras 2's ``Adamax``: only the rows in ``indices`` update
    ``m`` and ``v`` and move (with the shared bias correction ``1 - beta1**t``); the other
    rows neither decay nor move.

    .. note::
        PyTorch's ``Adamax`` adds epsilon inside the max (``max(beta2 * v, |grad| + eps)``,
        eps 1e-8) and defaults to ``lr=0.002``; TF and Keras add it to ``v`` in the
        denominator, as here. A dense gradient with zero rows still decays ``v`` and moves
        rows whose ``m`` is non-zero, so the lazy sparse update differs from it.

    References:
        Kingma and Ba, "Adam: A Method for Stochastic Optimization", 2014, section 7.1.
    """

    flat_kernel = "adamax"  # optim.engine: one call over every variable of a dtype

    # Its own sparse rule, Keras 2's lazy order: m_rows * beta1 + values * (1 - beta1), which
    # rounds differently from the dense kernel's m += (grad - m) * (1 - beta1) on the rows.
    sparse_updates = "custom"
    kernel_slots = ("m", "v")
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-7,
        use_locking: bool = False,
        name: str = "Adamax",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1, BETA)
        self._set_hyper("beta2", beta2, BETA)
        self._set_hyper("epsilon", epsilon)

    def _create_slots(self, var_list: list[Variable]) -> None:
        first_var = min(var_list, key=lambda var: var.name)
        initial = self._current_hyper("beta1")
        self._create_non_slot_variable(initial, "beta1_power", colocate_with=first_var)
        for var in var_list:
            self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr_t, beta1, beta2, epsilon, 1 - beta1)`` in ``dtype``, with
        ``lr_t = lr / (1 - beta1_power)``; the first four are the fused kernel's arguments."""
        one = dtype.type(1)
        beta1_power = dtype.type(self._get_non_slot_variable("beta1_power"))
        beta1 = self._get_hyper("beta1", dtype)
        return (
            self._get_hyper("learning_rate", dtype) / (one - beta1_power),
            beta1,
            self._get_hyper("beta2", dtype),
            self._get_hyper("epsilon", dtype),
            one - beta1,
        )

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        return scalars[:4]

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        m, v = slots
        lr_t, _, beta2, epsilon, one_minus_beta1 = scalars
        adamax_update(var, m, v, grad, scratch, lr_t, one_minus_beta1, beta2, epsilon)

    def _apply_sparse(self, grad: IndexedSlices, var: Variable) -> None:
        # Lazy, in Keras 2's order (see sparse_updates above).
        lr_t, beta1, beta2, epsilon, one_minus_beta1 = self._scalars(var.dtype)
        m, v = self._kernel_slot_arrays(var)
        rows, values = grad.indices, grad.values
        m_rows = m[rows] * beta1 + values * one_minus_beta1
        v_rows = np.maximum(v[rows] * beta2, np.abs(values))
        m[rows] = m_rows
        v[rows] = v_rows
        var.array[rows] -= lr_t * (m_rows / (v_rows + epsilon))

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        state = self._get_non_slot_variable("beta1_power")
        np.multiply(state, self._get_hyper("beta1", state.dtype), out=state)
