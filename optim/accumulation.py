"""Gradient accumulation: apply the mean (or sum) of ``k`` gradients as one update.

:class:`GradientAccumulationOptimizer` wraps any optimizer. Each ``apply_gradients`` adds the
gradients into accumulators; every ``k``-th call applies their mean (or sum) with the wrapped
optimizer and clears them, so ``k`` micro-batches of size ``b`` train like one batch of size
``k * b``. Keras calls this ``gradient_accumulation_steps``, optax ``MultiSteps``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .optimizer import Optimizer, all_finite
from .sparse import IndexedSlices
from .validation import flatten
from .variables import Variable, global_variables, match_by_name

__all__ = ["GradientAccumulationOptimizer"]

_REDUCTIONS = ("mean", "sum")


def _accumulate(acc: np.ndarray, grad: Any) -> None:
    """``acc += grad`` in place; an IndexedSlices adds its rows (repeated indices add up)."""
    if isinstance(grad, IndexedSlices):
        np.add.at(acc, grad.indices, grad.values)
    else:
        np.add(acc, grad, out=acc)


class GradientAccumulationOptimizer(Optimizer):
    """Accumulates gradients over ``every_k_steps`` calls, then applies them with ``optimizer``.

    Call ``i`` (1-based) of :meth:`apply_gradients` does::

        acc[v] += grad[v]                      # every call (None gradients add nothing)
        if i % every_k_steps == 0:
            optimizer.apply_gradients([(acc[v] / every_k_steps, v), ...])   # "mean"
            optimizer.apply_gradients([(acc[v], v), ...])                   # "sum"
            acc[v] = 0

    With ``"mean"`` and a loss that is a mean over the batch, ``k`` calls on micro-batches of
    equal size give exactly the update of one call on their concatenation (Keras'
    ``gradient_accumulation_steps``, optax ``MultiSteps(use_grad_mean=True)``). ``"sum"`` is
    optax's ``use_grad_mean=False``.

    Args:
        optimizer: the optimizer that makes the real updates (any :class:`optim.Optimizer`).
        every_k_steps: how many calls make one update, an int >= 1 (1: every call updates).
        reduction: ``"mean"`` (default) or ``"sum"`` of the accumulated gradients.
        name: default ``"GradientAccumulation"``.

    Counting:
        ``global_step`` (when passed) grows only on the calls that update, once per real
        update, as Keras' ``iterations``; :attr:`iterations` is the wrapped optimizer's count of
        real updates; :attr:`mini_step` is the number of gradients accumulated since the last
        one (0 to ``k - 1``).

    Gradients:
        :meth:`compute_gradients` and :meth:`minimize` use the wrapped optimizer's gradient
        source. A variable whose gradient is None on some calls counts zero for those calls
        (the mean still divides by ``k``); one that got None on every call of a cycle gets None
        at the update and is skipped, as TF does. Sparse gradients (``IndexedSlices``) are added
        into dense accumulators, so the wrapped optimizer sees a dense gradient.

    Non-finite values:
        The wrapped optimizer's ``nonfinite=`` policy applies to every micro-step: ``"raise"``
        raises ``FloatingPointError`` and accumulates nothing; ``"skip"`` drops that micro-batch
        (it does not count towards ``k``; :attr:`skipped_steps` grows; after the wrapped
        optimizer's ``max_consecutive_nonfinite`` drops in a row it raises); ``"propagate"``
        accumulates it, and the update that follows carries it.

    Pickling:
        Pickling (or ``copy.deepcopy``) keeps the wrapped optimizer's state and the
        accumulators, keyed by variable name: they bind to the variables of those names that
        the next calls see. The call that completes a cycle looks up the remaining ones by name
        in the default graph, and raises ValueError, changing nothing, if one is missing.

    Raises:
        TypeError: ``optimizer`` is not an optim.Optimizer, ``every_k_steps`` not an int.
        ValueError: ``every_k_steps`` < 1, an unknown ``reduction``.

    Example:
        >>> opt = GradientAccumulationOptimizer(optim.train.MomentumOptimizer(0.1, 0.9), 4)
        >>> for x_batch in micro_batches:                   # 4 calls per real update
        ...     opt.minimize(lambda: loss(x_batch), global_step=step)

    References:
        Keras ``BaseOptimizer(gradient_accumulation_steps=...)``; optax ``MultiSteps``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        every_k_steps: int,
        reduction: str = "mean",
        name: str = "GradientAccumulation",
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"`optimizer` must be an optim.Optimizer, got {optimizer!r}.")
        if isinstance(every_k_steps, (bool, np.bool_)) or not isinstance(
            every_k_steps, numbers.Integral
        ):
            raise TypeError(f"`every_k_steps` must be a positive integer, got {every_k_steps!r}.")
        if every_k_steps < 1:
            raise ValueError(f"`every_k_steps` must be a positive integer, got {every_k_steps!r}.")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"`reduction` must be one of {_REDUCTIONS}, got {reduction!r}.")
        # "propagate" here: the base class then leaves every non-finite check to _apply below,
        # which applies the wrapped optimizer's policy to micro-steps.
        super().__init__(False, name, nonfinite="propagate")
        self._gradient = optimizer.gradient
        self._optimizer = optimizer
        self._every_k_steps = int(every_k_steps)
        self._reduction = reduction
        self._accumulators: dict[Variable, np.ndarray] = {}
        # Accumulators restored by unpickling, keyed by variable name until a Variable is met.
        self._pending_accumulators: dict[str, np.ndarray] = {}
        self._mini_step = 0

    # -- the wrapped optimizer -------------------------------------------------------------
    @property
    def inner_optimizer(self) -> Optimizer:
        """The optimizer that makes the real updates (Keras' name)."""
        return self._optimizer

    @property
    def every_k_steps(self) -> int:
        return self._every_k_steps

    @property
    def reduction(self) -> str:
        return self._reduction

    @property
    def iterations(self) -> int:
        """Real updates made (the wrapped optimizer's :attr:`~optim.Optimizer.iterations`)."""
        return self._optimizer.iterations

    @property
    def mini_step(self) -> int:
        """Gradients accumulated since the last real update, 0 to ``every_k_steps - 1``."""
        return self._mini_step

    def get_slot(self, var: Variable, name: str) -> np.ndarray | None:
        return self._optimizer.get_slot(var, name)

    def get_slot_names(self) -> list[str]:
        return self._optimizer.get_slot_names()

    def variables(self) -> list[np.ndarray]:
        """The wrapped optimizer's state arrays, then the accumulators (sorted by name)."""
        accumulators = sorted(self._accumulators_by_name().items())
        return self._optimizer.variables() + [a for _, a in accumulators]

    def accumulator(self, var: Variable) -> np.ndarray | None:
        """The running sum of ``var``'s gradients in this cycle (live), or None.

        After unpickling, binds the accumulator saved under ``var``'s name to ``var``.
        """
        if isinstance(var, Variable):
            self._bind_pending([var])
        return self._accumulators.get(var)

    # -- pickling: accumulators keyed by name, as the wrapped optimizer's slots -------------
    def _accumulators_by_name(self) -> dict[str, np.ndarray]:
        """``{variable_name: accumulator}`` (live arrays), the unpickled ones included."""
        out: dict[str, np.ndarray] = {}
        for var, acc in self._accumulators.items():
            if var.name in out:
                raise ValueError(
                    f"Two different variables named {var.name!r} hold accumulators; the state "
                    "is keyed by variable name, so it cannot be saved, copied or pickled."
                )
            out[var.name] = acc
        for name, acc in self._pending_accumulators.items():
            out.setdefault(name, acc)
        return out

    def _bind_pending(self, variables: list[Variable]) -> None:
        """Binds unpickled accumulators to the ``variables`` of the same names.

        Raises:
            ValueError: a shape or dtype that differs (nothing is bound then).
        """
        pending = self._pending_accumulators
        if not pending:
            return
        names = {v.name for v in variables if v not in self._accumulators}
        found = match_by_name(
            {n: a for n, a in pending.items() if n in names}, variables, "accumulator"
        )
        for var, acc in found.items():
            self._accumulators[var] = acc
            del pending[var.name]

    def __getstate__(self) -> dict[str, Any]:
        """As :meth:`Optimizer.__getstate__`, with the accumulators keyed by variable name."""
        state = super().__getstate__()
        state["_pending_accumulators"] = self._accumulators_by_name()
        state["_accumulators"] = {}
        return state

    # -- the update ------------------------------------------------------------------------
    def _apply_sparse(self, grad: IndexedSlices, var: Variable) -> None:  # pragma: no cover
        # Present so the base class accepts IndexedSlices; _apply below handles them.
        raise AssertionError("unreachable: _apply accumulates sparse gradients itself")

    def _nonfinite_micro_step(self, names: list[str], what: str) -> bool:
        """The wrapped optimizer's policy on a bad micro-step; True to accumulate it anyway."""
        policy = self._optimizer.nonfinite
        if policy == "propagate":
            return True
        message = (
            f"Non-finite {what} at micro-step {self._mini_step + 1} of {self._every_k_steps} "
            f"(after {self.iterations} real updates) for variables {names}."
        )
        if policy == "raise":
            raise FloatingPointError(
                message + " Nothing was accumulated. Pass nonfinite='skip' to the wrapped "
                "optimizer to drop such micro-batches."
            )
        self._consecutive_nonfinite += 1
        limit = self._optimizer.max_consecutive_nonfinite
        if limit is not None and self._consecutive_nonfinite >= limit:
            raise FloatingPointError(
                f"{message} That is {self._consecutive_nonfinite} non-finite micro-steps in a "
                f"row (max_consecutive_nonfinite={limit}). Nothing was accumulated."
            )
        self._skipped_steps += 1
        return False

    def _apply(self, updates: list[tuple[Any, Variable]], global_step, name) -> None:
        """Accumulates checked gradients; every k-th call, the real update."""
        if self._pending_accumulators:
            variables = [var for _, var in updates]
            if self._mini_step + 1 >= self._every_k_steps:
                # The update needs every accumulator: the rest by name in the default graph.
                names = {v.name for v in variables}
                variables += [v for v in global_variables() if v.name not in names]
            self._bind_pending(variables)
            if self._mini_step + 1 >= self._every_k_steps and self._pending_accumulators:
                raise ValueError(
                    "This call completes a cycle, but the accumulators of variables "
                    f"{sorted(self._pending_accumulators)}, restored by unpickling, match no "
                    "variable of this call or of the default graph. Nothing was accumulated."
                )
        if self._optimizer.nonfinite != "propagate":
            bad = [var.name for grad, var in updates if not all_finite(grad)]
            if bad and not self._nonfinite_micro_step(bad, "gradient"):
                return
        for grad, var in updates:
            acc = self._accumulators.get(var)
            if acc is None:
                acc = self._accumulators[var] = np.zeros(var.shape, var.dtype)
            _accumulate(acc, grad)
        self._consecutive_nonfinite = 0
        self._mini_step += 1
        if self._mini_step < self._every_k_steps:
            return
        if self._reduction == "mean":
            k = self._every_k_steps
            reduced = [(acc / acc.dtype.type(k), var) for var, acc in self._accumulators.items()]
        else:
            reduced = [(acc.copy(), var) for var, acc in self._accumulators.items()]
        # The accumulators are cleared even if the wrapped optimizer raises (its "raise"
        # policy on a non-finite mean): that cycle's gradients are then dropped, not re-used.
        self._accumulators = {}
        self._mini_step = 0
        self._optimizer.apply_gradients(reduced, global_step=global_step, name=name)

    def minimize(
        self,
        loss: Callable[[], Any],
        global_step: Variable | None = None,
        var_list: Any = None,
        gate_gradients: int = Optimizer.GATE_OP,
        aggregation_method: int | None = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: Any = None,
        *,
        gradient: Any = None,
    ) -> Any:
        """One micro-step: the wrapped optimizer's gradients, then :meth:`apply_gradients`.

        Returns:
            The loss value of this micro-batch.
        """
        value, grads_and_vars = self._compute(
            loss, var_list, gate_gradients, aggregation_method, grad_loss, gradient
        )
        if all(g is None for g, _ in grads_and_vars):
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                f"support gradients, between variables {[v.name for _, v in grads_and_vars]} "
                f"and loss {loss!r}."
            )
        if self._optimizer.nonfinite != "propagate" and not all_finite(np.asarray(value)):
            names = [v.name for g, v in grads_and_vars if g is not None]
            if not self._nonfinite_micro_step(names, f"loss ({value})"):
                return value
        self.apply_gradients(grads_and_vars, global_step=global_step, name=name)
        return value

    # -- state, keyed by name ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The accumulation state and the wrapped optimizer's, as plain data keyed by name.

        ``{"kind", "version", "mini_step", "skipped_steps", "consecutive_nonfinite",
        "accumulators": {variable_name: array}, "inner": optimizer.state_dict()}``.
        """
        return {
            "kind": type(self).__name__,
            "version": self.STATE_VERSION,
            "every_k_steps": self._every_k_steps,
            "mini_step": self._mini_step,
            "skipped_steps": self._skipped_steps,
            "consecutive_nonfinite": self._consecutive_nonfinite,
            "accumulators": {n: acc.copy() for n, acc in self._accumulators_by_name().items()},
            "inner": self._optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output (the wrapped optimizer's state included).

        Raises:
            ValueError: another kind, version or ``every_k_steps``, an accumulator for a
                variable not in ``var_list``, a shape or dtype that differs, or anything the
                wrapped optimizer's ``load_state_dict`` rejects. Nothing is changed then.
        """
        self._check_state_header(state)
        if state.get("every_k_steps") != self._every_k_steps:
            raise ValueError(
                f"`state` was saved with every_k_steps={state.get('every_k_steps')!r}; this "
                f"optimizer has every_k_steps={self._every_k_steps}."
            )
        mini_step = int(state["mini_step"])
        if not 0 <= mini_step < self._every_k_steps:
            raise ValueError(
                f"`state['mini_step']` must be in [0, {self._every_k_steps}), got {mini_step!r}."
            )
        candidates = global_variables() if var_list is None else list(flatten(var_list))
        accumulators = match_by_name(state["accumulators"], candidates, "accumulator")
        # The wrapped optimizer validates before it changes anything; ours is validated above.
        self._optimizer.load_state_dict(state["inner"], var_list)
        self._accumulators = accumulators
        self._pending_accumulators = {}
        self._mini_step = mini_step
        self._skipped_steps = int(state["skipped_steps"])
        self._consecutive_nonfinite = int(state["consecutive_nonfinite"])

    def __repr__(self) -> str:
        return (
            f"GradientAccumulationOptimizer({self._optimizer!r}, every_k_steps="
            f"{self._every_k_steps}, reduction={self._reduction!r}, name={self._name!r})"
        )
