"""Sharpness-Aware Minimization (SAM) and adaptive SAM (ASAM), wrapping any optimizer."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..optimizer import Optimizer, all_finite
from ..validation import NONNEGATIVE, check_bool, check_real
from ..variables import Variable
from .lookahead import WrapperOptimizer

__all__ = ["SAMOptimizer", "sam_perturbation"]


def sam_perturbation(
    arrays: list[np.ndarray], grads: list[np.ndarray], rho: float, adaptive: bool, eta: float
) -> list[np.ndarray]:
    """SAM's ascent step ``e`` for every variable, with one global norm.

    SAM: ``e = rho * g / ||g||``. ASAM (``adaptive``), with ``T = |w| + eta``:
    ``e = rho * T**2 * g / ||T * g||``. The norm runs over every variable together (float64
    sums of each variable's squares); a zero norm gives ``e = 0``.

    Args:
        arrays: the variables' current values (read only).
        grads: their gradients there (read only).
        rho: the radius of the neighbourhood.
        adaptive: scale by ``T`` (ASAM).
        eta: ASAM's offset of ``|w|``.

    Returns:
        New arrays, one per variable, in each variable's dtype.
    """
    scaled = []
    for w, g in zip(arrays, grads):
        scale = np.abs(w) + w.dtype.type(eta) if adaptive else None
        scaled.append((scale, g if scale is None else scale * g))
    norm = math.sqrt(sum(float(np.sum(np.square(tg), dtype=np.float64)) for _, tg in scaled))
    out = []
    for (scale, tg), w in zip(scaled, arrays):
        if norm == 0:
            out.append(np.zeros_like(w))
            continue
        e = tg if scale is None else scale * tg
        out.append((e * w.dtype.type(rho / norm)).astype(w.dtype, copy=False))
    return out


class SAMOptimizer(WrapperOptimizer):
    """SAM: step with the gradient taken at the worst nearby point, ``w + e``.

    Each :meth:`minimize` evaluates the loss and its gradient twice::

        g  = grad loss(w)                               # evaluation 1
        e  = rho * g / ||g||                            # SAM (one norm over every variable)
        e  = rho * T**2 * g / ||T * g||, T = |w| + eta  # ASAM, adaptive=True
        g' = grad loss(w + e)                           # evaluation 2, on the same batch
        w  = the wrapped optimizer's update of w with g'   # w restored exactly first

    Only :meth:`minimize` makes steps: SAM needs the loss itself, to evaluate it at ``w + e``,
    so :meth:`apply_gradients` of a precomputed gradient raises TypeError.
    :attr:`gradient_evaluations` counts the evaluations (two per step, one for a step the
    non-finite policy skips after the first).

    Args:
        optimizer: the optimizer that makes the update (any :class:`optim.Optimizer`).
        rho: the neighbourhood's radius, a float >= 0 or a callable. Default 0.05.
        adaptive: ASAM's scale-invariant neighbourhood. Default False.
        eta: ASAM's offset of ``|w|`` in ``T``, >= 0 (used with ``adaptive``). Default 0.0.
        name: defaults to ``"SAM"``.
        **kwargs: base-class options (``nonfinite=``, clipping of ``g'``), see
            :class:`optim.train.WrapperOptimizer`.

    Raises:
        TypeError: ``optimizer`` not an optim.Optimizer, a hyperparameter of the wrong type.
        ValueError: ``rho`` or ``eta`` negative, NaN or infinite.

    Example:
        >>> opt = optim.train.SAMOptimizer(optim.train.MomentumOptimizer(0.1, 0.9), rho=0.05)
        >>> opt.minimize(lambda: loss(batch), var_list=[w, b])    # two evaluations

    .. note::
        This is Foret et al.'s Algorithm 1 with ``p = 2``. The norm has no epsilon, as in
        google-research/sam and ``optax.contrib.sam`` (which give NaN for a zero gradient;
        here ``e = 0`` then); davda54/sam adds 1e-12 to it. ``adaptive=True`` with
        ``eta=0`` is davda54's ASAM (``T = |w|``); SamsungLabs' ASAM uses ``eta=0.01`` for
        weights only (and ``rho`` about 10x SAM's). The variables are restored from a copy
        before the update, bit for bit, as davda54's ``second_step``. ``optax.contrib.sam``
        splits a step into two calls of ``update`` (ascent, then descent); here one
        ``minimize`` does both.

    References:
        Foret et al., "Sharpness-Aware Minimization for Efficiently Improving
        Generalization", 2020 (ICLR 2021); Kwon et al., "ASAM: Adaptive Sharpness-Aware
        Minimization for Scale-Invariant Learning of Deep Neural Networks", 2021.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        rho: Any = 0.05,
        adaptive: bool = False,
        eta: Any = 0.0,
        name: str = "SAM",
        **kwargs: Any,
    ) -> None:
        super().__init__(optimizer, name, **kwargs)
        self._set_hyper("rho", rho, NONNEGATIVE)
        self._set_hyper("eta", eta, NONNEGATIVE)
        self._adaptive = check_bool("adaptive", adaptive)
        self._evaluations = 0

    @property
    def adaptive(self) -> bool:
        return self._adaptive

    @property
    def gradient_evaluations(self) -> int:
        """How many times :meth:`minimize` evaluated the loss and its gradient (two a step)."""
        return self._evaluations

    def state_dict(self) -> dict[str, Any]:
        """:meth:`WrapperOptimizer.state_dict`, plus ``"sam": {"gradient_evaluations": n}``."""
        state = super().state_dict()
        state["sam"] = {"gradient_evaluations": self._evaluations}
        return state

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output, :attr:`gradient_evaluations` included.

        Raises:
            ValueError: what :meth:`WrapperOptimizer.load_state_dict` rejects, or a missing
                or malformed ``"sam"`` entry. Nothing is changed then.
        """
        self._check_state_header(state)
        extra = state.get("sam")
        count = extra.get("gradient_evaluations") if isinstance(extra, dict) else None
        if (
            isinstance(count, (bool, np.bool_))
            or not isinstance(count, (int, np.integer))
            or count < 0
        ):
            raise ValueError(
                "`state['sam']` must be a dict {'gradient_evaluations': an integer >= 0}, got "
                f"{extra!r}."
            )
        super().load_state_dict(state, var_list)
        self._evaluations = int(count)

    def _value_now(self, name: str) -> float:
        """Hyperparameter ``name`` for the coming step (a callable is called now, checked)."""
        value = self.get_hyper(name)
        return check_real(name, value(), NONNEGATIVE) if callable(value) else value

    def apply_gradients(self, grads_and_vars, global_step=None, name=None) -> None:
        """Not available: SAM cannot apply a precomputed gradient.

        Raises:
            TypeError: always; nothing is changed.
        """
        raise TypeError(
            "SAMOptimizer.apply_gradients cannot apply precomputed gradients: SAM needs the "
            "gradient at the perturbed point w + e, so it must evaluate the loss itself. Call "
            "minimize(loss, ...) with the loss closure instead. Nothing was changed."
        )

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
        """One SAM step: the gradient at ``w``, the ascent to ``w + e``, the gradient there,
        ``w`` restored, and the wrapped optimizer's update with the second gradient.

        Returns:
            The loss at ``w`` (the first evaluation).

        Raises:
            ValueError: every gradient is None, plus what :meth:`optim.Optimizer.minimize`
                raises. ``FloatingPointError`` (``nonfinite="raise"``) for a non-finite loss
                or gradient at either point; nothing is changed then.
        """
        value, grads_and_vars = self._compute(
            loss, var_list, gate_gradients, aggregation_method, grad_loss, gradient
        )
        self._evaluations += 1
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                f"support gradients, between variables {[v.name for _, v in grads_and_vars]} "
                f"and loss {loss!r}."
            )
        variables = [v for _, v in pairs]
        names = [v.name for v in variables]
        if self.nonfinite != "propagate":
            if not all_finite(np.asarray(value)):
                if not self._is_finite_step(names, f"loss ({value})", global_step):
                    return value
            bad = [v.name for g, v in pairs if not all_finite(np.asarray(g))]
            if bad and not self._is_finite_step(bad, "gradient", global_step):
                return value
        saved = [v.array.copy() for v in variables]
        rho, eta = (self._value_now(name) for name in ("rho", "eta"))
        perturbation = sam_perturbation(
            saved, [np.asarray(g) for g, _ in pairs], rho, self._adaptive, eta
        )
        try:
            for var, e in zip(variables, perturbation):
                np.add(var.array, e, out=var.array)
            second_value, second = self._compute(
                loss, variables, gate_gradients, aggregation_method, grad_loss, gradient
            )
            self._evaluations += 1
        finally:
            for var, array in zip(variables, saved):
                np.copyto(var.array, array)
        if self.nonfinite != "propagate" and not all_finite(np.asarray(second_value)):
            if not self._is_finite_step(names, f"loss at w + e ({second_value})", global_step):
                return value
        super().apply_gradients(second, global_step=global_step, name=name)
        return value
