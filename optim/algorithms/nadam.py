"""Nadam, Adam with Nesterov momentum (Keras ``Nadam``; no TF1 class)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import nadam_update
from ..optimizer import Optimizer
from ..validation import BETA, NONNEGATIVE
from ..variables import Variable

__all__ = ["NadamOptimizer"]


class NadamOptimizer(Optimizer):
    """Nadam: Adam whose momentum looks one step ahead (Nesterov), with a momentum schedule.

    The update at step ``t`` (1 at the first ``apply_gradients``), with slots ``m`` and ``v``
    (zero) and the non-slot ``momentum_cache`` (``P``, the product of the ``u``, from 1) and
    ``steps`` (the number of updates so far, from 0)::

        u_t   = beta1 * (1 - 0.5 * 0.96**(schedule_decay * t))
        u_t1  = beta1 * (1 - 0.5 * 0.96**(schedule_decay * (t + 1)))
        P_t   = P_{t-1} * u_t;   P_t1 = P_t * u_t1
        m     = beta1 * m + (1 - beta1) * grad
        v     = beta2 * v + (1 - beta2) * grad**2
        m_bar = (1 - u_t) * grad / (1 - P_t) + u_t1 * m / (1 - P_t1)
        var  -= learning_rate * m_bar / (sqrt(v / (1 - beta2**t)) + epsilon)

    Both non-slot values are created with the variable whose name sorts first (in its dtype).
    ``momentum_cache`` is state (a running product, whose rounding is Keras'), advanced once
    per ``apply_gradients`` in ``_finish``; ``t`` is the base class's step count, and
    ``steps`` is its copy, kept so saved states keep their format (``step_state_name``).

    There is no TF1 class; this is Keras 2's ``Nadam`` (``tf.keras.optimizers.Nadam`` of TF
    2.0-2.10). Argument names follow TF1 (``beta1``, ``beta2``), the defaults are Keras'.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        beta1: the base momentum, in [0, 1). Default 0.9.
        beta2: decay of the second moment, in [0, 1). Default 0.999.
        epsilon: a float >= 0 added to the bias-corrected ``sqrt(v)``. Default 1e-7 (Keras).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Nadam"``.
        schedule_decay: a float >= 0, the ``k`` of the momentum schedule
            ``0.96**(k * t)``. Default 0.004 (Keras 2's ``schedule_decay``, PyTorch's
            ``momentum_decay``); ``schedule_decay=1.0`` gives Keras 3's ``0.96**t``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.NadamOptimizer(learning_rate=0.002)
        >>> keras3_like = optim.train.NadamOptimizer(0.002, schedule_decay=1.0)

    Sparse gradients are dense-equivalent (the same update as a dense gradient with zero
    rows, as Adam's). Keras 2's sparse path is a hybrid: it decays ``m`` and ``v`` on every
    row but moves only the touched rows; it is not followed here.

    .. note::
        The momentum schedule differs between frameworks: Keras 2 and PyTorch's ``NAdam``
        use ``0.96**(0.004 * t)`` (``u_t`` rises from ``0.45`` to ``beta1`` over thousands of
        steps), Keras 3 uses ``0.96**t`` (``u_t`` reaches ``beta1`` within ~100 steps): with
        ``learning_rate=0.5`` on ``var=[1, 2, 3, 4]``, ``grad=[1, 6, 7, 2]`` one step gives
        ``var - 0.5314`` with Keras 3's schedule (``schedule_decay=1.0``) and ``var - 0.5282``
        with the default. PyTorch also defaults to ``lr=0.002`` and ``eps=1e-8``. The
        epsilon sits outside the bias-corrected root, as in PyTorch (unlike TF's Adam).

    References:
        Dozat, "Incorporating Nesterov Momentum into Adam", 2016.
    """

    flat_kernel = "nadam"  # optim.engine: one call over every variable of a dtype

    sparse_updates = "dense_equivalent"
    kernel_slots = ("m", "v")
    kernel_scratch = 2
    step_state_name = "steps"

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-7,
        use_locking: bool = False,
        name: str = "Nadam",
        schedule_decay: Any = 0.004,
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1, BETA)
        self._set_hyper("beta2", beta2, BETA)
        self._set_hyper("epsilon", epsilon)
        self._set_hyper("schedule_decay", schedule_decay, NONNEGATIVE)

    def _create_slots(self, var_list: list[Variable]) -> None:
        first_var = min(var_list, key=lambda var: var.name)
        self._create_non_slot_variable(1, "momentum_cache", colocate_with=first_var)
        for var in var_list:
            self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr, beta1, beta2, epsilon, u_t, u_t1, 1 - P_t, 1 - P_t1, 1 - beta2**t)`` in
        ``dtype`` (the fused kernel's arguments), the momentum schedule computed as Keras
        does, then ``(1 - beta1, 1 - beta2, 1 - u_t)``."""
        one = dtype.type(1)
        t = dtype.type(self._step_number())
        beta1 = self._get_hyper("beta1", dtype)
        beta2 = self._get_hyper("beta2", dtype)
        decay = self._get_hyper("schedule_decay", dtype)
        base = dtype.type(0.96)
        u_t = beta1 * (1 - 0.5 * base ** (decay * t))
        u_t1 = beta1 * (1 - 0.5 * base ** (decay * (t + 1)))
        product = dtype.type(self._get_non_slot_variable("momentum_cache")) * u_t
        return (
            self._get_hyper("learning_rate", dtype),
            beta1,
            beta2,
            self._get_hyper("epsilon", dtype),
            u_t,
            u_t1,
            one - product,
            one - product * u_t1,
            one - beta2**t,
            one - beta1,
            one - beta2,
            one - u_t,
        )

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        return scalars[:9]

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        m, v = slots
        lr, beta1, beta2, epsilon, _, u_t1, omp, ompn, omb2p, omb1, omb2, omu = scalars
        nadam_update(
            var, m, v, grad, scratch, lr, beta1, omb1, beta2, omb2, epsilon,
            u_t1, omu, omp, ompn, omb2p,
        )  # fmt: skip

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        cache = self._get_non_slot_variable("momentum_cache")
        u_t = self._scalars(cache.dtype)[4]
        np.multiply(cache, u_t, out=cache)
