"""Lookahead (``optax.lookahead`` in TF1 style), and the base of optimizers that wrap another.

:class:`WrapperOptimizer` is an optimizer whose updates are another optimizer's: its own hooks
collect the checked gradients of an apply and hand them to the wrapped optimizer in
``_finish``, so the wrapper's clipping and non-finite policy run first and its slots (Lookahead's
slow weights) sit beside the wrapped optimizer's. :class:`LookaheadOptimizer` and
:class:`optim.train.SAMOptimizer` are built on it.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..modes import has_modes, set_training
from ..optimizer import Optimizer
from ..sparse import IndexedSlices
from ..validation import UNIT
from ..variables import Variable

__all__ = ["WrapperOptimizer", "LookaheadOptimizer"]


class WrapperOptimizer(Optimizer):
    """An optimizer whose updates are made by the optimizer it wraps.

    Each ``apply_gradients`` runs the base class's checks, clipping and non-finite policy
    (this optimizer's options), creates this optimizer's own slots, then passes the gradients
    unchanged to ``optimizer.apply_gradients`` and calls :meth:`_after_inner_step`. Slots,
    :meth:`variables` and :meth:`state_dict` show both optimizers' state (the wrapped one's
    under ``"inner"``); this optimizer counts its own :attr:`iterations` and the
    ``global_step``, the wrapped one is given none.

    Non-finite values:
        The wrapper applies the policy, before the wrapped optimizer sees anything: a skipped
        step does not reach it. ``nonfinite`` and ``max_consecutive_nonfinite`` default to
        the wrapped optimizer's, so setting them there is enough; ``"propagate"`` on the
        wrapper needs ``"propagate"`` on the wrapped optimizer too.

    Args:
        optimizer: the wrapped optimizer (any :class:`optim.Optimizer`); clip there or here,
            not both (this optimizer's clipping applies first).
        name: the wrapper's name.
        **kwargs: base-class options of the wrapper (``nonfinite=``, clipping); ``gradient=``
            defaults to the wrapped optimizer's gradient source.

    Raises:
        TypeError: ``optimizer`` is not an optim.Optimizer.
        ValueError: ``nonfinite="propagate"`` while the wrapped optimizer's policy is not.
    """

    sparse_updates = "custom"  # forwarded as they came; the wrapped optimizer has its rule

    def __init__(self, optimizer: Optimizer, name: str, **kwargs: Any) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"`optimizer` must be an optim.Optimizer, got {optimizer!r}.")
        if kwargs.get("weight_decay") is not None:
            raise TypeError(
                f"`weight_decay` must be set on the wrapped optimizer, not on "
                f"{type(self).__name__}, got {kwargs['weight_decay']!r}."
            )
        kwargs.pop("weight_decay", None)
        kwargs.setdefault("gradient", optimizer.gradient)
        kwargs.setdefault("nonfinite", optimizer.nonfinite)
        kwargs.setdefault("max_consecutive_nonfinite", optimizer.max_consecutive_nonfinite)
        if kwargs["nonfinite"] == "propagate" and optimizer.nonfinite != "propagate":
            raise ValueError(
                "`nonfinite` must not be 'propagate' when the wrapped optimizer's is "
                f"{optimizer.nonfinite!r}: it would refuse the values this optimizer passes on. "
                "Set nonfinite='propagate' on the wrapped optimizer (this one then takes it)."
            )
        super().__init__(False, name, **kwargs)
        self._optimizer = optimizer
        self._forward: list[tuple[Any, Variable]] = []

    @classmethod
    def implements_dense_updates(cls) -> bool:
        """False: a wrapper is no optimizer on its own (it needs the one it wraps), so
        ``optim.minimize(method=...)`` and the name registry do not offer it."""
        return False

    @property
    def inner_optimizer(self) -> Optimizer:
        """The wrapped optimizer (Keras' name)."""
        return self._optimizer

    # -- train / eval modes, forwarded (see optim.modes) ------------------------------------
    @property
    def training(self) -> bool | None:
        """The wrapped optimizer's ``training`` when it has train/eval modes
        (:func:`optim.modes.has_modes`), else None (this wrapper has no modes then)."""
        return self._optimizer.training if has_modes(self._optimizer) else None

    def train(self) -> None:
        """The wrapped optimizer's ``train()``, when it has modes; nothing otherwise."""
        set_training(self._optimizer, True)

    def eval(self) -> None:
        """The wrapped optimizer's ``eval()``, when it has modes; nothing otherwise."""
        set_training(self._optimizer, False)

    def _prepare(self) -> None:
        super()._prepare()
        self._forward = []

    def _apply_dense(self, grad: np.ndarray, var: Variable) -> None:
        self._scalars(var.dtype)  # this apply's step scalars, once per dtype (Lookahead's)
        self._forward.append((grad, var))

    def _apply_sparse_duplicate_indices(self, grad: IndexedSlices, var: Variable) -> None:
        self._scalars(var.dtype)
        self._forward.append((grad, var))

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        pairs, self._forward = self._forward, []  # never kept between applies (nor pickled)
        self._optimizer.apply_gradients(pairs, name=name_scope)
        self._after_inner_step(update_ops)

    def _after_inner_step(self, update_ops: list[Variable]) -> None:
        """Runs after the wrapped optimizer's update of this apply. Default: nothing."""

    # -- both optimizers' state ------------------------------------------------------------
    def get_slot(self, var: Variable, name: str) -> np.ndarray | None:
        """This optimizer's slot ``name`` of ``var``, else the wrapped optimizer's, or None."""
        own = super().get_slot(var, name)
        return own if own is not None else self._optimizer.get_slot(var, name)

    def get_slot_names(self) -> list[str]:
        return sorted(set(super().get_slot_names()) | set(self._optimizer.get_slot_names()))

    def variables(self) -> list[np.ndarray]:
        """This optimizer's state arrays, then the wrapped optimizer's."""
        return super().variables() + self._optimizer.variables()

    def state_dict(self) -> dict[str, Any]:
        """:meth:`optim.Optimizer.state_dict` of this optimizer, with the wrapped optimizer's
        under ``"inner"``."""
        state = super().state_dict()
        state["inner"] = self._optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output into both optimizers.

        Raises:
            ValueError: anything either optimizer's ``load_state_dict`` rejects, or no
                ``"inner"`` entry. Nothing is changed then.
        """
        self._check_state_header(state)
        if not isinstance(state.get("inner"), dict):
            raise ValueError(f"`state['inner']` must be the wrapped optimizer's state, got "
                             f"{state.get('inner')!r}.")  # fmt: skip
        before = self._optimizer.state_dict()
        self._optimizer.load_state_dict(state["inner"], var_list)
        try:
            super().load_state_dict(state, var_list)
        except Exception:
            self._optimizer.load_state_dict(before, var_list)  # validated when it was saved
            raise

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v!r}" for k, (v, _) in self._hyper.items())
        return f"{type(self).__name__}({self._optimizer!r}{hyper}, name={self._name!r})"


class LookaheadOptimizer(WrapperOptimizer):
    """Lookahead: ``k`` fast steps of the wrapped optimizer, then the slow weights catch up.

    With slot ``slow`` (the variable's value at its first update), ``t`` the 1-based update
    number, ``k = sync_period`` and ``alpha = slow_step_size``::

        var  = var + optimizer's update(grad)          # every step (the fast weights)
        if t % k == 0:                                  # a sync, for every variable with `slow`
            slow = slow + alpha * (var - slow)
            var  = slow

    So between syncs the variables hold the fast weights (gradients are taken there), and
    right after a sync the fast and slow weights are equal. The wrapped optimizer's state
    (momentum, Adam's moments) carries on across syncs.

    Args:
        optimizer: the fast optimizer (any :class:`optim.Optimizer`).
        sync_period: ``k``, a positive int. Default 6.
        slow_step_size: ``alpha``, a float in [0, 1] or a callable. Default 0.5.
        name: defaults to ``"Lookahead"``.
        **kwargs: base-class options (``nonfinite=``, clipping), see :class:`WrapperOptimizer`.

    Raises:
        TypeError: ``optimizer`` not an optim.Optimizer, ``sync_period`` not an int, a
            hyperparameter of the wrong type.
        ValueError: ``sync_period < 1``, ``slow_step_size`` outside [0, 1], NaN or infinite.

    Example:
        >>> opt = optim.train.LookaheadOptimizer(optim.train.AdamOptimizer(1e-3), 5, 0.5)
        >>> opt.minimize(loss, var_list=[w])

    .. note::
        The arithmetic is ``optax.lookahead(fast, sync_period, slow_step_size,
        reset_state=False)``; optax has no defaults (6 and 0.5 here) and keeps the slow weights
        in the parameters (``LookaheadParams``), here they are a slot, saved by name.
        ``reset_state=True`` (restarting the fast optimizer's state at each sync) is not
        offered. The paper and michaelrzhang's PyTorch version default to ``k = 5``,
        ``alpha = 0.8``; that version's ``state_dict`` loses the slow weights, this one keeps
        them (and the step count, so a resumed run syncs at the same steps).

    References:
        Zhang et al., "Lookahead Optimizer: k steps forward, 1 step back", 2019.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        sync_period: int = 6,
        slow_step_size: Any = 0.5,
        name: str = "Lookahead",
        **kwargs: Any,
    ) -> None:
        if isinstance(sync_period, (bool, np.bool_)) or not isinstance(
            sync_period, numbers.Integral
        ):
            raise TypeError(f"`sync_period` must be a positive integer, got {sync_period!r}.")
        if sync_period < 1:
            raise ValueError(f"`sync_period` must be a positive integer, got {sync_period!r}.")
        super().__init__(optimizer, name, **kwargs)
        self._sync_period = int(sync_period)
        self._set_hyper("slow_step_size", slow_step_size, UNIT)

    @property
    def sync_period(self) -> int:
        return self._sync_period

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._get_or_make_slot(var, var.array, "slow", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(slow_step_size,)`` in ``dtype``."""
        return (self._get_hyper("slow_step_size", dtype),)

    def _after_inner_step(self, update_ops: list[Variable]) -> None:
        if self._step_number() % self._sync_period:
            return
        for var, slow in self._slots.get("slow", {}).items():
            array = var.array
            (alpha,) = self._scalars(array.dtype)
            tmp = self._scratch(var)[0]
            np.subtract(array, slow, out=tmp)
            np.multiply(tmp, alpha, out=tmp)
            np.add(slow, tmp, out=slow)
            np.copyto(array, slow)
            if var.constraint is not None:
                np.copyto(array, var.constraint(array), casting="same_kind")
