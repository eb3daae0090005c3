"""Prodigy, Adam whose step size ``d`` is estimated on the fly (prodigyopt's ``Prodigy``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..optimizer import Optimizer
from ..validation import BETA, POSITIVE, check_bool, check_real
from ..variables import Variable

__all__ = ["ProdigyOptimizer"]

_ESTIMATE_KEYS = ("d", "d_max", "numerator", "k")


class ProdigyOptimizer(Optimizer):
    """Prodigy: Adam with a learning rate ``d`` that estimates the distance to the solution.

    One step, over every variable of the apply at once (``d`` is shared). With ``k`` the
    number of updates made, ``d`` the current estimate, slots ``p0`` (the variable's initial
    value), ``s``, ``m`` (only if ``beta1 > 0``) and ``v`` (zeros), ``beta3`` defaulting to
    ``sqrt(beta2)`` and ``bc = sqrt(1 - beta2**(k+1)) / (1 - beta1**(k+1))`` if
    ``use_bias_correction`` else 1::

        dlr = d * learning_rate * bc
        for every variable:                         # grad += weight_decay * var if not decouple
            numerator_step += (d / d0) * dlr * <grad, p0 - var>
            m = beta1 * m + d * (1 - beta1) * grad
            v = beta2 * v + d**2 * (1 - beta2) * grad**2
            s = beta3 * s + (d / d0) * (d if safeguard_warmup else dlr) * grad
            denominator += sum(|s|)
        if denominator == 0: stop (nothing moves, k stays)
        numerator = beta3 * numerator + numerator_step
        d_hat = d_coef * numerator / denominator
        d = max(d, d_hat) if d == d0 else d;   d_max = max(d_max, d_hat)
        d = min(d_max, d * growth_rate)
        for every variable:
            var -= weight_decay * dlr * var         # if decouple
            var -= dlr * m / (sqrt(v) + d * epsilon)          # beta1 > 0
            var -= dlr * d * grad / (sqrt(v) + d * epsilon)   # beta1 = 0
        k += 1

    The step and the decay use the old ``d`` (in ``dlr``), epsilon and the ``beta1 = 0`` step
    the new one. Without ``growth_rate``, ``d`` never decreases. The estimate (``d``,
    ``d_max``, ``numerator``, ``k``) is held in Python floats, as the reference holds it, and
    saved by :meth:`state_dict` under ``"prodigy"``; :attr:`d` reads it. A variable's
    ``constraint`` projects it after its step.

    Args:
        learning_rate: a multiplier of ``d``, a float >= 0 or a callable (keep it at 1 and
            tune ``d_coef``). Default 1.0. A step at rate 0 changes nothing, not even the slots.
        beta1: decay of ``m``, in [0, 1). Default 0.9.
        beta2: decay of ``v``, in [0, 1). Default 0.999.
        beta3: decay of ``s`` and of the numerator, in [0, 1), or None (``sqrt(beta2)``).
        epsilon: scaled by ``d`` and added to ``sqrt(v)``, > 0. Default 1e-8.
        weight_decay: >= 0 (None: 0). Default 0. The kernel owns it (``decay_in_kernel``:
            decoupled, it is scaled by ``dlr``, which Keras' rule cannot express); a variable
            excluded by :meth:`~optim.Optimizer.exclude_from_weight_decay` decays neither
            way, coupled or decoupled.
        decouple: decoupled (AdamW-style, scaled by ``dlr``) decay; False adds
            ``weight_decay * var`` to the gradient. Default True.
        use_bias_correction: Adam's bias correction, in ``dlr``. Default False.
        safeguard_warmup: leave ``dlr``'s learning rate out of ``s`` (use it with warmup).
            Default False.
        d0: the initial estimate, > 0. Default 1e-6.
        d_coef: a multiplier of the estimate, > 0. Default 1.0.
        growth_rate: the largest factor ``d`` may grow by per step, > 0, or None (no limit,
            the reference's ``inf``). Default None.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Prodigy"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.ProdigyOptimizer(1.0, weight_decay=0.01, safeguard_warmup=True)
        >>> opt.minimize(loss, var_list=[w, b])
        >>> opt.d                  # the estimate so far (it starts at d0 = 1e-6)

    .. note::
        This is ``prodigyopt.Prodigy`` 1.1.2 with one parameter group and ``slice_p=1``
        (its ``s`` and ``p0`` are flattened; here they are shaped like the variable, and an
        all-zero variable gets a full zero ``p0`` instead of a scalar: the same numbers).
        ``growth_rate=None`` is its ``inf``; the learning rate may be 0 here (prodigyopt's
        constructor rejects it; a rate of 0 from its schedulers changes nothing, as here).
        ``optax.contrib.prodigy`` always bias-corrects, always decouples the decay, has no
        ``growth_rate`` and no guard for ``denominator == 0`` (it gives NaN on an all-zero
        first gradient). In float32 the inner product ``<grad, p0 - var>`` cancels while
        ``var - p0`` is of the order of ``d``: ``d`` differs from a float64 run by about 1 %
        from step 2, as it does in torch.

    References:
        Mishchenko and Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner",
        2023 (ICML 2024).
    """

    kernel_slots = ("p0", "s", "m", "v")
    decay_in_kernel = True  # dlr-scaled (decoupled) or in the gradient (coupled)

    def __init__(
        self,
        learning_rate: Any = 1.0,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        beta3: Any = None,
        epsilon: Any = 1e-8,
        weight_decay: Any = 0.0,
        decouple: bool = True,
        use_bias_correction: bool = False,
        safeguard_warmup: bool = False,
        d0: float = 1e-6,
        d_coef: Any = 1.0,
        growth_rate: Any = None,
        use_locking: bool = False,
        name: str = "Prodigy",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, weight_decay=weight_decay, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1, BETA)
        self._set_hyper("beta2", beta2, BETA)
        self._beta3_default = beta3 is None
        if beta3 is not None:
            self._set_hyper("beta3", beta3, BETA)
        self._set_hyper("epsilon", epsilon, POSITIVE)
        self._set_hyper("d_coef", d_coef, POSITIVE)
        self._growth_unbounded = growth_rate is None
        if growth_rate is not None:
            self._set_hyper("growth_rate", growth_rate, POSITIVE)
        self._decouple = check_bool("decouple", decouple)
        self._use_bias_correction = check_bool("use_bias_correction", use_bias_correction)
        self._safeguard_warmup = check_bool("safeguard_warmup", safeguard_warmup)
        self._d0 = check_real("d0", d0, POSITIVE, expected="a float")
        self._estimate = {"d": self._d0, "d_max": self._d0, "numerator": 0.0, "k": 0}
        self._pass: dict[str, Any] = {}

    @property
    def d(self) -> float:
        """The current estimate ``d`` (the effective learning rate is ``d * learning_rate``)."""
        return self._estimate["d"]

    def _beta3(self) -> float:
        if self._beta3_default:
            return math.sqrt(self._current_hyper("beta2"))
        return self._current_hyper("beta3")

    def _create_slots(self, var_list: list[Variable]) -> None:
        with_m = self._current_hyper("beta1") > 0
        for var in var_list:
            self._get_or_make_slot(var, var.array, "p0", self._name)
            self._zeros_slot(var, "s", self._name)
            if with_m:
                self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)

    def _prepare(self) -> None:
        super()._prepare()
        h = self._current_hyper
        beta1, beta2, k = h("beta1"), h("beta2"), self._estimate["k"]
        bc = 1.0
        if self._use_bias_correction:
            bc = math.sqrt(1 - beta2 ** (k + 1)) / (1 - beta1 ** (k + 1))
        lr = h("learning_rate")
        d = self._estimate["d"]
        self._pass = {"lr": lr, "dlr": d * lr * bc, "delta": 0.0, "denominator": 0.0, "pairs": []}

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """The statistics pass's ``((d / d0) * dlr, beta1, d * (1 - beta1), beta2,
        d**2 * (1 - beta2), beta3, (d / d0) * (d or dlr), weight_decay if coupled else 0)``,
        computed in float64 (the reference's Python floats) and cast to ``dtype``."""
        h = self._current_hyper
        cast = dtype.type
        d, dlr = self._estimate["d"], self._pass["dlr"]
        beta1, beta2 = h("beta1"), h("beta2")
        rate = d if self._safeguard_warmup else dlr
        coupled = 0.0 if self._decouple else h("weight_decay")
        return (
            cast((d / self._d0) * dlr),
            cast(beta1),
            cast(d * (1 - beta1)),
            cast(beta2),
            cast(d * d * (1 - beta2)),
            cast(self._beta3()),
            cast((d / self._d0) * rate),
            cast(coupled),
        )

    def _apply_dense(self, grad: np.ndarray, var: Variable) -> None:
        """The statistics pass for ``var`` (moments, ``s`` and the two sums); the step itself
        waits for :meth:`_finish`, which knows the new ``d``."""
        state = self._pass
        state["pairs"].append((grad, var))
        if state["lr"] == 0:
            return
        p0, s, m, v = self._kernel_slot_arrays(var)
        delta, s_norm = _prodigy_statistics(
            var.array, p0, s, m, v, grad, self._scratch(var, 2), *self._scalars_of(var)
        )
        state["delta"] += delta
        state["denominator"] += s_norm

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        state, estimate = self._pass, self._estimate
        self._pass = {}  # holds this apply's gradients and variables: never kept, never pickled
        if state["denominator"] == 0:
            return  # no gradient yet (or a zero rate): nothing moves and k stays
        h = self._current_hyper
        d, d_max = estimate["d"], estimate["d_max"]
        numerator = self._beta3() * estimate["numerator"] + state["delta"]
        d_hat = h("d_coef") * numerator / state["denominator"]
        if d == self._d0:
            d = max(d, d_hat)
        d_max = max(d_max, d_hat)
        d = d_max if self._growth_unbounded else min(d_max, d * h("growth_rate"))
        estimate.update(d=d, d_max=d_max, numerator=numerator, k=estimate["k"] + 1)
        dlr, weight_decay = state["dlr"], h("weight_decay")
        masked = self._decay_masked()
        for grad, var in state["pairs"]:
            cast = var.dtype.type
            decay = 0.0 if masked and not self._uses_weight_decay(var) else weight_decay
            _, _, m, v = self._kernel_slot_arrays(var)
            _prodigy_step(
                var.array, m, v, grad, self._scratch(var, 2), cast(dlr),
                cast(d * h("epsilon")), cast(decay * dlr) if self._decouple else None,
                None if self._decouple or not decay else cast(decay), cast(dlr * d),
            )  # fmt: skip
            if var.constraint is not None:  # the base projected before this real update
                np.copyto(var.array, var.constraint(var.array), casting="same_kind")

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """:meth:`optim.Optimizer.state_dict`, plus ``"prodigy": {"d", "d_max", "numerator",
        "k"}``, the estimate."""
        state = super().state_dict()
        state["prodigy"] = dict(self._estimate)
        return state

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output, the estimate included.

        Raises:
            ValueError: as :meth:`optim.Optimizer.load_state_dict`, or a missing or malformed
                ``"prodigy"`` entry. Nothing is changed then.
        """
        self._check_state_header(state)
        extra = state.get("prodigy")
        if not isinstance(extra, dict) or set(extra) != set(_ESTIMATE_KEYS):
            raise ValueError(
                f"`state['prodigy']` must be a dict with keys {_ESTIMATE_KEYS}, got {extra!r}."
            )
        estimate = {key: float(extra[key]) for key in ("d", "d_max", "numerator")}
        if not all(math.isfinite(x) for x in estimate.values()) or estimate["d"] <= 0:
            raise ValueError(f"`state['prodigy']` must hold a finite d > 0, got {extra!r}.")
        estimate["k"] = int(extra["k"])
        super().load_state_dict(state, var_list)
        self._estimate = estimate


def _prodigy_statistics(
    var, p0, s, m, v, grad, scratch, numerator_scale, beta1, m_scale, beta2, v_scale, beta3,
    s_scale, coupled_decay,
) -> tuple[float, float]:  # fmt: skip
    """The statistics pass of one variable in place (prodigyopt's order); two scratch arrays.

    Returns ``numerator_scale * <grad, p0 - var>`` and ``sum(|s|)`` (after ``s``'s update) as
    Python floats. With ``coupled_decay``, ``grad + coupled_decay * var`` is used throughout.
    """
    g, tmp = scratch
    if coupled_decay:
        np.multiply(var, coupled_decay, out=g)
        np.add(grad, g, out=g)
    else:
        g = grad
    np.subtract(p0, var, out=tmp)
    delta = float(numerator_scale) * float(np.dot(g.ravel(), tmp.ravel()))
    if m is not None:
        np.multiply(m, beta1, out=m)
        np.multiply(g, m_scale, out=tmp)
        np.add(m, tmp, out=m)
    np.multiply(v, beta2, out=v)
    np.multiply(g, g, out=tmp)
    np.multiply(tmp, v_scale, out=tmp)
    np.add(v, tmp, out=v)
    np.multiply(s, beta3, out=s)
    np.multiply(g, s_scale, out=tmp)
    np.add(s, tmp, out=s)
    np.abs(s, out=tmp)
    return delta, float(np.sum(tmp))


def _prodigy_step(var, m, v, grad, scratch, dlr, d_epsilon, decay, coupled_decay, g_step) -> None:
    """The step of one variable in place, with the new ``d``; two scratch arrays.

    ``var -= decay * var`` (decoupled decay, when ``decay`` is not None), then ``var -= dlr *
    m / (sqrt(v) + d_epsilon)``, or without ``m`` ``var -= g_step * grad / (sqrt(v) +
    d_epsilon)`` (``grad + coupled_decay * var`` with a coupled decay).
    """
    denom, tmp = scratch
    np.sqrt(v, out=denom)
    np.add(denom, d_epsilon, out=denom)
    if decay is not None:
        np.multiply(var, decay, out=tmp)
        np.subtract(var, tmp, out=var)
    if m is not None:
        np.divide(m, denom, out=tmp)
        np.multiply(tmp, dlr, out=tmp)
    else:
        if coupled_decay is not None:
            np.multiply(var, coupled_decay, out=tmp)
            np.add(grad, tmp, out=tmp)
            np.divide(tmp, denom, out=tmp)
        else:
            np.divide(grad, denom, out=tmp)
        np.multiply(tmp, g_step, out=tmp)
    np.subtract(var, tmp, out=var)
