"""Schedule-Free SGD and AdamW (Meta's ``schedulefree`` package in TF1 style).

Schedule-Free keeps three sequences: ``z`` (the base optimizer's iterates, a slot), ``x`` (their
weighted average, the point to evaluate) and ``y = (1 - beta) * z + beta * x`` (the point where
gradients are taken). In train mode the variables hold ``y``; :meth:`eval` swaps them to ``x``
and :meth:`train` back to ``y``.

Train and eval modes. The optimizer starts in train mode. The variables hold ``y`` while
training; the point whose loss Schedule-Free guarantees is ``x``. :meth:`eval` keeps a copy of
``y``, so :meth:`train` puts back exactly the ``y`` it left (bit for bit) when the variables are
still the ``x`` it set; if they were changed meanwhile (weights loaded, an EMA swapped in and not
out), :meth:`train` recomputes ``y`` from them and ``z``. Evaluating in between thus leaves
training bit-identical to a run that never evaluated. A step in eval mode raises
``RuntimeError`` and changes nothing.

Where optim switches modes itself (through :mod:`optim.modes`, for any optimizer with
``train``/``eval``):

* :func:`optim.fit` steps in train mode; validation, ``on_epoch_end`` callbacks (so
  ``EarlyStopping`` keeps the best ``x``), and the end of ``fit`` see ``x``: after ``fit`` the
  optimizer is in eval mode and the variables are the weights to use.
  ``Trainer.evaluate`` evaluates ``x`` and leaves the mode as it found it.
* :func:`optim.checkpoint.save_checkpoint` writes ``x`` as the variables (the weights a reader
  of the file wants) and the optimizer state of eval mode, which carries the copy of ``y``
  (``state["schedule_free"]["y"]``). A restored optimizer is in eval mode, its variables ``x``;
  ``train()`` (which ``fit`` calls before its next step) recovers ``y`` bit for bit, so a
  resumed run is bit-identical to an uninterrupted one.
* The ``MovingAverage`` callback averages ``x`` (see :class:`optim.ExponentialMovingAverage`).
* :func:`optim.minimize` returns ``x`` (and ``fun``, ``jac`` there).

Outside these, call ``eval()`` before evaluating, exporting or averaging the weights yourself
and ``train()`` before the next step; recompute batch-norm statistics at ``x`` if the model has
any (they were gathered at ``y``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..optimizer import Optimizer
from ..validation import BETA, NONNEGATIVE, Interval
from ..variables import Variable, global_variables

__all__ = ["ScheduleFreeSGDOptimizer", "ScheduleFreeAdamWOptimizer"]

_OPEN_UNIT = Interval(0.0, 1.0, low_open=True, high_open=True)
_STATE_KEYS = ("lr_max", "weight_sum", "train_mode")  # and "y" (optional: eval mode's copy)


def _power(base: float, exponent: float) -> float:
    """``base ** exponent`` in Python floats, infinite (not OverflowError) when too large."""
    try:
        return base**exponent
    except OverflowError:
        return math.inf


def _lerp(start: np.ndarray, end: np.ndarray, weight: Any, tmp: np.ndarray) -> None:
    """``start = start + weight * (end - start)`` in place, in ``torch.lerp``'s two forms
    (``end - (end - start) * (1 - weight)`` for ``weight >= 0.5``); one scratch array."""
    np.subtract(end, start, out=tmp)
    if weight < 0.5:
        np.multiply(tmp, weight, out=tmp)
        np.add(start, tmp, out=start)
    else:
        np.multiply(tmp, 1 - weight, out=tmp)
        np.subtract(end, tmp, out=start)


def _schedule_free_step(y, z, g_hat, c, y_step, gamma, tmp) -> None:
    """``y = lerp(y, z, c) + y_step * g_hat`` and ``z -= gamma * g_hat``, in place."""
    _lerp(y, z, c, tmp)
    np.multiply(g_hat, y_step, out=tmp)
    np.add(y, tmp, out=y)
    np.multiply(g_hat, gamma, out=tmp)
    np.subtract(z, tmp, out=z)


class _ScheduleFree(Optimizer):
    """The averaging weights, the train/eval swap and the saved scalars of both variants."""

    _beta_name = ""  # the hyperparameter that interpolates y between z and x
    decay_in_kernel = True  # the reference's decay, at y and scaled by gamma, in the kernel

    def __init__(
        self, use_locking, name, learning_rate, weight_decay, warmup_steps, r, weight_lr_power,
        **kwargs,
    ) -> None:  # fmt: skip
        super().__init__(use_locking, name, weight_decay=weight_decay, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("r", r, NONNEGATIVE)
        self._set_hyper("weight_lr_power", weight_lr_power, NONNEGATIVE)
        if isinstance(warmup_steps, (bool, np.bool_)) or not isinstance(
            warmup_steps, numbers.Integral
        ):
            raise TypeError(f"`warmup_steps` must be an integer >= 0, got {warmup_steps!r}.")
        if warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be an integer >= 0, got {warmup_steps!r}.")
        self._warmup_steps = int(warmup_steps)
        self._lr_max = 0.0
        self._weight_sum = 0.0
        self._train_mode = True
        self._y_copy: dict[str, np.ndarray] = {}  # eval mode: y by variable name
        self._pending_weights: tuple[float, float] | None = None

    # -- train / eval -------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        """True in train mode (variables hold ``y``), False in eval mode (they hold ``x``)."""
        return self._train_mode

    def eval(self) -> None:
        """Eval mode: every variable with a ``z`` slot is set to the average ``x``.

        ``x = (y - (1 - beta) * z) / beta``, computed as ``lerp(y, z, 1 - 1 / beta)``; a copy
        of ``y`` is kept for :meth:`train`. Call it before evaluating, validating, exporting or
        averaging (EMA) the weights. Idempotent.
        """
        if self._train_mode:
            self._bind_pending_z()
            self._y_copy = {var.name: var.array.copy() for var in self._slots.get("z", {})}
            self._swap(1 - 1 / self._beta())
            self._train_mode = False

    def train(self) -> None:
        """Train mode: every variable with a ``z`` slot is set back to ``y``.

        A variable still holding the ``x`` that :meth:`eval` computed gets the exact ``y`` it
        had; one changed since gets ``y = lerp(x, z, 1 - beta)`` from its new value. Call it
        after an evaluation, before the next step. Idempotent.
        """
        if self._train_mode:
            return
        self._bind_pending_z()
        to_eval = self._current_hyper(self._beta_name)
        for var, z in self._slots.get("z", {}).items():
            array = var.array
            y = self._y_copy.get(var.name)
            if y is not None and y.shape == array.shape and y.dtype == array.dtype:
                x = y.copy()
                _lerp(x, z, array.dtype.type(1 - 1 / to_eval), np.empty_like(x))
                if np.array_equal(x, array, equal_nan=True):
                    np.copyto(array, y)
                    continue
            _lerp(array, z, array.dtype.type(1 - to_eval), np.empty_like(array))
        self._y_copy = {}
        self._train_mode = True

    def _beta(self) -> float:
        return self._current_hyper(self._beta_name)

    def _bind_pending_z(self) -> None:
        """Binds unpickled ``z`` slots to their variables by name (before a swap)."""
        if "z" in self._pending_slots:
            for var in global_variables():
                if var.name in self._pending_slots.get("z", {}):
                    self.get_slot(var, "z")

    def _swap(self, weight: float) -> None:
        """Moves every variable with a ``z`` slot by ``lerp(var, z, weight)``, in place."""
        for var, z in self._slots.get("z", {}).items():
            array = var.array
            _lerp(array, z, array.dtype.type(weight), np.empty_like(array))

    # -- the step ------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars, global_step=None, name=None) -> None:
        """As :meth:`optim.Optimizer.apply_gradients`, in train mode only.

        Raises:
            RuntimeError: the optimizer is in eval mode (the variables hold ``x``, not the
                training point ``y``); nothing is changed. Call :meth:`train` first.
        """
        if not self._train_mode:
            raise RuntimeError(
                f"{type(self).__name__} is in eval mode: its variables hold the averaged "
                "weights x, not the training point y, so a step would corrupt both sequences. "
                "Call train() before apply_gradients() or minimize(); nothing was changed."
            )
        super().apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def _prepare(self) -> None:
        super()._prepare()
        k = self._step_number() - 1
        warmup = self._warmup_steps
        gamma = self._current_hyper("learning_rate") * ((k + 1) / warmup if k < warmup else 1.0)
        lr_max = max(self._lr_max, gamma)
        weight = _power(k + 1, self._current_hyper("r")) * _power(
            lr_max, self._current_hyper("weight_lr_power")
        )
        weight_sum = self._weight_sum + weight
        c = weight / weight_sum if weight_sum > 0 else 0.0
        beta = self._beta()
        self._step_weights = (gamma, c, gamma * (beta * (1 - c) - 1))
        self._pending_weights = (lr_max, weight_sum)

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        self._lr_max, self._weight_sum = self._pending_weights

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            self._get_or_make_slot(var, var.array, "z", self._name)

    # -- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """:meth:`optim.Optimizer.state_dict`, plus ``"schedule_free": {"lr_max",
        "weight_sum", "train_mode", "y"}``: the averaging state, which point the variables
        hold, and in eval mode the copy of ``y`` (``{variable_name: array}``, empty in train
        mode) that lets a restored optimizer's :meth:`train` recover ``y`` exactly."""
        state = super().state_dict()
        state["schedule_free"] = {
            "lr_max": self._lr_max,
            "weight_sum": self._weight_sum,
            "train_mode": self._train_mode,
            "y": {name: y.copy() for name, y in self._y_copy.items()},
        }
        return state

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output, the mode included (save the variables with it:
        they hold ``y`` or ``x`` as the saved mode says).

        Raises:
            ValueError: as :meth:`optim.Optimizer.load_state_dict`, or a missing or malformed
                ``"schedule_free"`` entry. Nothing is changed then.
        """
        self._check_state_header(state)
        extra = state.get("schedule_free")
        if (
            not isinstance(extra, dict)
            or not set(_STATE_KEYS) <= set(extra)
            or not set(extra) <= {*_STATE_KEYS, "y"}
        ):
            raise ValueError(
                f"`state['schedule_free']` must be a dict with keys {_STATE_KEYS} (and "
                f"optionally 'y'), got {extra!r}."
            )
        lr_max, weight_sum = float(extra["lr_max"]), float(extra["weight_sum"])
        if not (math.isfinite(lr_max) and math.isfinite(weight_sum) and weight_sum >= 0):
            raise ValueError(
                f"`state['schedule_free']` must hold finite lr_max and weight_sum >= 0, "
                f"got {extra!r}."
            )
        y_copy = extra.get("y", {})
        z_slots = state.get("slots", {}).get("z", {})
        if not isinstance(y_copy, dict):
            raise ValueError(f"`state['schedule_free']['y']` must be a dict, got {y_copy!r}.")
        y_copy = {name: np.asarray(array) for name, array in y_copy.items()}
        for name, array in y_copy.items():
            z = z_slots.get(name)
            if z is None or array.shape != np.shape(z) or array.dtype != np.asarray(z).dtype:
                raise ValueError(
                    f"`state['schedule_free']['y']` holds {name!r} with shape {array.shape} and "
                    f"dtype {array.dtype}, which must match its slot 'z' in `state['slots']`."
                )
        super().load_state_dict(state, var_list)
        self._lr_max, self._weight_sum = lr_max, weight_sum
        self._train_mode = bool(extra["train_mode"])
        self._y_copy = {} if self._train_mode else {k: a.copy() for k, a in y_copy.items()}


class ScheduleFreeSGDOptimizer(_ScheduleFree):
    """Schedule-Free SGD: SGD iterates ``z``, evaluated at their running weighted average.

    With ``k`` the 0-based step, ``W = warmup_steps``, ``beta = momentum`` and slot ``z``
    (a copy of the variable)::

        gamma     = learning_rate * ((k + 1) / W if k < W else 1)
        lr_max    = max(lr_max, gamma)
        w_k       = (k + 1)**r * lr_max**weight_lr_power
        sum      += w_k;   c = w_k / sum   (0 while sum is 0)
        g_hat     = grad + weight_decay * y
        y         = lerp(y, z, c) + gamma * (beta * (1 - c) - 1) * g_hat
        z        -= gamma * g_hat

    which is ``z' = z - gamma * g_hat``, ``x' = (1 - c) * x + c * z'`` and ``y' = (1 - beta) *
    z' + beta * x'``. With ``r = 0`` and no warmup ``c = 1 / (k + 1)``: ``x`` is the plain mean
    of the ``z`` iterates, and no learning-rate schedule is needed. ``lr_max`` and ``sum`` are
    Python floats of the optimizer, saved by :meth:`state_dict` (``"schedule_free"``).

    Args:
        learning_rate: a float >= 0 or a callable. Default 1.0.
        momentum: ``beta``, the interpolation of ``y`` between ``z`` and ``x``, in (0, 1).
            Default 0.9.
        weight_decay: coupled L2 decay evaluated at ``y``, scaled by ``gamma``, >= 0 (None: 0).
            Default 0. The kernel owns it (``decay_in_kernel``); a variable excluded by
            :meth:`~optim.Optimizer.exclude_from_weight_decay` gets no decay term.
        warmup_steps: linear warmup of ``gamma`` over this many steps, an int >= 0. Default 0.
        r: the polynomial weighting ``(k + 1)**r`` of the average, >= 0. Default 0.
        weight_lr_power: the power of ``lr_max`` in the weights, >= 0. Default 2.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"ScheduleFreeSGD"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Train and eval modes:
        See the module docstring: :meth:`eval` before evaluating or saving weights for
        inference, :meth:`train` before the next step (a step in eval mode raises).

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.ScheduleFreeSGDOptimizer(1.0, warmup_steps=100)
        >>> for batch in batches:
        ...     opt.minimize(lambda: loss(batch), var_list=[w])
        >>> opt.eval(); validate(w); opt.train()

    .. note::
        The arithmetic and defaults are ``schedulefree.SGDScheduleFree`` 1.4.1's. That
        optimizer starts in eval mode and raises (a bare ``Exception``) until ``train()`` is
        called; this one starts in train mode (before the first step ``x = y = z`` anyway).
        ``optax.contrib.schedule_free_sgd`` (``b1 = momentum``) has no ``r``; with ``r = 0`` and
        no warmup it matches this class (y and x to 1e-12 in float64, y to 1e-6 in float32:
        tests/test_schedule_free_optax.py). With ``warmup_steps`` it differs: its base
        optimizer reads its own schedule counter, which starts at 0, so the ``z`` step of step
        ``k`` uses ``lr * k / W`` (the first step moves nothing) while the averaging weights
        use ``lr * (k + 1) / W`` as here.

    References:
        Defazio et al., "The Road Less Scheduled", 2024.
    """

    _beta_name = "momentum"
    kernel_slots = ("z",)
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any = 1.0,
        momentum: Any = 0.9,
        weight_decay: Any = 0.0,
        warmup_steps: int = 0,
        r: Any = 0.0,
        weight_lr_power: Any = 2.0,
        use_locking: bool = False,
        name: str = "ScheduleFreeSGD",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            use_locking, name, learning_rate, weight_decay, warmup_steps, r, weight_lr_power,
            **kwargs,
        )  # fmt: skip
        self._set_hyper("momentum", momentum, _OPEN_UNIT)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(gamma, c, gamma * (beta * (1 - c) - 1), weight_decay)`` in ``dtype`` (computed
        in float64, as the reference's Python floats)."""
        cast = dtype.type
        return tuple(cast(s) for s in self._step_weights) + (
            cast(self._current_hyper("weight_decay")),
        )

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        (z,) = slots
        gamma, c, y_step, weight_decay = scalars
        g_hat, tmp = scratch
        if weight_decay:
            np.multiply(var, weight_decay, out=g_hat)
            np.add(grad, g_hat, out=g_hat)
        else:
            g_hat = grad
        _schedule_free_step(var, z, g_hat, c, y_step, gamma, tmp)


class ScheduleFreeAdamWOptimizer(_ScheduleFree):
    """Schedule-Free AdamW: the SGD variant on RMSprop-preconditioned gradients.

    As :class:`ScheduleFreeSGDOptimizer` with ``beta = beta1``, except that the gradient is
    first divided by a bias-corrected RMS (slot ``v``, zeros; there is no first moment: ``beta1``
    is the interpolation constant)::

        v     = beta2 * v + (1 - beta2) * grad**2
        g_hat = grad / (sqrt(v / (1 - beta2**(k + 1))) + epsilon) + weight_decay * y

    and then the same ``y`` and ``z`` updates. Step 1 is an RMSprop step without momentum.

    Args:
        learning_rate: a float >= 0 or a callable. Default 0.0025.
        beta1: ``beta``, the interpolation of ``y`` between ``z`` and ``x``, in (0, 1).
            Default 0.9.
        beta2: decay of ``v``, in [0, 1). Default 0.999.
        epsilon: added to the bias-corrected RMS, >= 0. Default 1e-8.
        weight_decay: decay evaluated at ``y`` and added after the preconditioner, scaled by
            ``gamma``, >= 0 (None: 0). Default 0. The kernel owns it (``decay_in_kernel``); a
            variable excluded by :meth:`~optim.Optimizer.exclude_from_weight_decay` gets no
            decay term.
        warmup_steps: linear warmup of ``gamma``, an int >= 0. Default 0.
        r: the polynomial weighting of the average, >= 0. Default 0.
        weight_lr_power: the power of ``lr_max`` in the weights, >= 0. Default 2.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"ScheduleFreeAdamW"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Train and eval modes:
        See the module docstring: :meth:`eval` before evaluating or saving weights for
        inference, :meth:`train` before the next step (a step in eval mode raises).

    Raises:
        TypeError: a hyperparameter of the wrong type.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.ScheduleFreeAdamWOptimizer(0.0025, warmup_steps=1000)
        >>> opt.minimize(loss, var_list=[w]); opt.eval(); validate(w); opt.train()

    .. note::
        The arithmetic and defaults are ``schedulefree.AdamWScheduleFree`` 1.4.1's (it starts
        in eval mode and needs ``train()`` before the first step; this one starts in train
        mode). Its decay is coupled to the rate (``gamma * weight_decay * y`` enters ``z``),
        unlike torch's AdamW. ``AdamWScheduleFreePaper`` moves the bias correction from ``v``
        into ``gamma`` (and so into the averaging weights). ``optax.contrib.schedule_free_adamw``
        (``b1, b2, eps``) matches this class without warmup (1e-12 in float64; in float32 its
        ``x``, rebuilt from ``y`` and ``z`` by a division every step, drifts to 9e-7 of the
        float64 run where this class's stays within 2e-7); with ``warmup_steps`` its ``z``
        step lags one schedule step, as for :class:`ScheduleFreeSGDOptimizer`.

    References:
        Defazio et al., "The Road Less Scheduled", 2024.
    """

    _beta_name = "beta1"
    kernel_slots = ("z", "v")
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any = 0.0025,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-8,
        weight_decay: Any = 0.0,
        warmup_steps: int = 0,
        r: Any = 0.0,
        weight_lr_power: Any = 2.0,
        use_locking: bool = False,
        name: str = "ScheduleFreeAdamW",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            use_locking, name, learning_rate, weight_decay, warmup_steps, r, weight_lr_power,
            **kwargs,
        )  # fmt: skip
        self._set_hyper("beta1", beta1, _OPEN_UNIT)
        self._set_hyper("beta2", beta2, BETA)
        self._set_hyper("epsilon", epsilon, NONNEGATIVE)

    def _create_slots(self, var_list: list[Variable]) -> None:
        super()._create_slots(var_list)
        for var in var_list:
            self._zeros_slot(var, "v", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(gamma, c, gamma * (beta1 * (1 - c) - 1), weight_decay, beta2, 1 - beta2,
        1 - beta2**(k + 1), epsilon)`` in ``dtype`` (computed in float64)."""
        cast = dtype.type
        h = self._current_hyper
        beta2 = h("beta2")
        return tuple(cast(s) for s in self._step_weights) + (
            cast(h("weight_decay")),
            cast(beta2),
            cast(1 - beta2),
            cast(1 - beta2 ** self._step_number()),
            cast(h("epsilon")),
        )

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        z, v = slots
        gamma, c, y_step, weight_decay, beta2, one_minus_beta2, bias2, epsilon = scalars
        g_hat, tmp = scratch
        np.multiply(v, beta2, out=v)  # torch: v.mul_(beta2).addcmul_(g, g, 1 - beta2)
        np.square(grad, out=tmp)
        np.multiply(tmp, one_minus_beta2, out=tmp)
        np.add(v, tmp, out=v)
        np.divide(v, bias2, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(tmp, epsilon, out=tmp)
        np.divide(grad, tmp, out=g_hat)
        if weight_decay:
            np.multiply(var, weight_decay, out=tmp)
            np.add(g_hat, tmp, out=g_hat)
        _schedule_free_step(var, z, g_hat, c, y_step, gamma, tmp)
