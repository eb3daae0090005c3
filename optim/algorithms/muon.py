"""Muon, momentum orthogonalised by a Newton-Schulz iteration (``torch.optim.Muon`` in TF1 style).

Matrices (2-D variables) take the Muon step; every other variable (biases, scalars, 3-D and
4-D kernels) takes an AdamW step with options of its own, as ``optax.contrib.muon`` routes them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..engine.numpy_kernels import update_first_moment
from ..optimizer import Optimizer
from ..validation import BETA, NONNEGATIVE, POSITIVE, check_bool, check_real
from ..variables import Variable

__all__ = ["MuonOptimizer", "newton_schulz"]

_ADJUST_LR_FNS = (None, "original", "match_rms_adamw")
_TORCH_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(
    update: np.ndarray, coefficients: tuple[Any, Any, Any], steps: int, epsilon: Any
) -> np.ndarray:
    """The quintic Newton-Schulz iteration of Muon: an approximately orthogonal matrix.

    With ``(a, b, c) = coefficients``, on ``X`` = ``update`` (transposed when it has more rows
    than columns, so ``X @ X.T`` is the smaller Gram matrix)::

        X = X / max(||X||_F, epsilon)
        repeat steps times:
            A = X @ X.T
            X = a * X + (b * A + c * A @ A) @ X

    and ``X`` transposed back. The singular vectors are ``update``'s; the singular values are
    pushed towards 1 (with torch's coefficients they land in about [0.7, 1.1], not exactly 1).

    Args:
        update: a 2-D array (read only).
        coefficients: ``(a, b, c)`` as scalars of ``update``'s dtype.
        steps: the number of iterations, >= 1.
        epsilon: the floor of the Frobenius norm (a clamp, as torch's, not an addition).

    Returns:
        A new array of ``update``'s shape and dtype. The matrices of the iteration are
        allocated here: they are Gram-shaped, not shaped like the variable.
    """
    a, b, c = coefficients
    wide = update.shape[0] <= update.shape[1]
    x = update.copy() if wide else update.T.copy()
    norm = x.dtype.type(np.sqrt(np.sum(np.square(x))))
    np.divide(x, max(norm, epsilon), out=x)
    for _ in range(steps):
        gram = x @ x.T
        poly = b * gram + c * (gram @ gram)
        x = a * x + poly @ x
    return x if wide else np.ascontiguousarray(x.T)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive integer, got {value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


class MuonOptimizer(Optimizer):
    """Muon: SGD momentum whose update is orthogonalised, for matrices; AdamW for the rest.

    For a 2-D variable ``var`` of shape ``(fan_in, fan_out)`` (optim's dense kernels), with slot
    ``momentum`` (``m``, zeros)::

        m    = momentum * m + (1 - momentum) * grad          # an EMA, as torch's lerp
        u    = (1 - momentum) * grad + momentum * m  if use_nesterov  else m
        o    = newton_schulz(u, ns_coefficients, ns_steps, epsilon)
        s    = sqrt(max(1, fan_out / fan_in))                # adjust_lr_fn None / "original"
        s    = 0.2 * sqrt(max(fan_in, fan_out))              # adjust_lr_fn "match_rms_adamw"
        var *= 1 - learning_rate * weight_decay               # decoupled, unadjusted rate
        var -= learning_rate * s * o

    (:func:`newton_schulz` has the iteration.) Muon has no step count and no bias correction.
    Every variable that is not 2-D takes PyTorch's AdamW step instead, with slots ``m`` and
    ``v`` (zeros), ``t`` the 1-based step and ``lr = adam_learning_rate``::

        var *= 1 - lr * adam_weight_decay
        m    = adam_beta1 * m + (1 - adam_beta1) * grad
        v    = adam_beta2 * v + (1 - adam_beta2) * grad**2
        var -= lr / (1 - adam_beta1**t) * m / (sqrt(v / (1 - adam_beta2**t)) + adam_epsilon)

    "Original" scaling makes a tall-in-output matrix (``fan_out > fan_in``) move further, as
    torch does for its ``(out, in)`` weights; "match_rms_adamw" gives the update the RMS of a
    typical AdamW update (0.2), so AdamW's learning rate and weight decay carry over.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        momentum: the EMA coefficient of the momentum, in [0, 1). Default 0.95.
        use_nesterov: use the Nesterov mix of gradient and momentum. Default True.
        weight_decay: decoupled weight decay of the matrices, >= 0 (None: 0). Default 0.1.
            The kernel owns it (``decay_in_kernel``, torch's ``var *= 1 - lr * wd``); a
            variable excluded by :meth:`~optim.Optimizer.exclude_from_weight_decay` decays by
            neither ``weight_decay`` nor ``adam_weight_decay``.
        ns_coefficients: the iteration's ``(a, b, c)``, three finite floats. Default
            ``(3.4445, -4.7750, 2.0315)``.
        ns_steps: Newton-Schulz iterations, a positive int. Default 5.
        epsilon: the floor of the Frobenius norm before the iteration, > 0. Default 1e-7.
        adjust_lr_fn: the shape factor ``s``: ``None`` or ``"original"``, or
            ``"match_rms_adamw"``. Default None.
        adam_learning_rate: the AdamW branch's rate (a float >= 0 or a callable); None (the
            default) uses ``learning_rate``.
        adam_beta1: the AdamW branch's first-moment decay, in [0, 1). Default 0.9.
        adam_beta2: the AdamW branch's second-moment decay, in [0, 1). Default 0.999.
        adam_epsilon: the AdamW branch's epsilon, added to ``sqrt(v_hat)``, >= 0. Default 1e-8.
        adam_weight_decay: the AdamW branch's decoupled decay, >= 0. Default 0.0.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Muon"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type (``ns_steps`` not an int,
            ``use_nesterov`` not a bool, ``ns_coefficients`` not three numbers).
        ValueError: a hyperparameter out of range, NaN or infinite, an unknown
            ``adjust_lr_fn``.

    Example:
        >>> opt = optim.train.MuonOptimizer(0.02, weight_decay=0.01, adam_learning_rate=3e-4)
        >>> opt.minimize(loss, var_list=[kernel, bias])     # kernel: Muon, bias: AdamW

    .. note::
        The Muon rule, its defaults and its argument meanings are ``torch.optim.Muon``'s (torch
        2.13), with three differences:

        * **Layout.** The shape factor reads optim's ``(fan_in, fan_out)`` layout (as optax):
          ``sqrt(max(1, shape[1] / shape[0]))``. torch's weights are ``(out, in)`` and it
          computes ``sqrt(max(1, shape[0] / shape[1]))``: the same factor for the transposed
          matrix. To compare with torch, give torch ``var.T`` and ``grad.T``.
        * **Precision.** torch always runs the iteration in bfloat16 (its result differs from
          this one by about 1 % of the update); here it runs in the variable's dtype, as
          optax does. With torch's iteration patched to the parameter dtype the two agree to
          rounding.
        * **Other variables.** torch raises for any parameter that is not 2-D; here they take
          the AdamW step above (PyTorch's AdamW arithmetic: epsilon on the bias-corrected
          ``sqrt(v_hat)``). ``optax.contrib.muon`` routes them the same way but its AdamW is
          Nesterov-flavoured (NAdamW) and shares Muon's epsilon (1e-8). optax's Muon also
          bias-corrects the momentum (which changes the Nesterov mix for small ``t``),
          normalises by ``||X|| + 1e-8`` rather than ``max(||X||, 1e-7)`` and defaults to
          ``weight_decay=0``.

        The reference implementation (Keller Jordan's ``muon.py``) has the same step but adds
        epsilon to the norm and flattens 4-D kernels into matrices. Sparse gradients are not
        supported: the iteration needs the whole matrix.

    References:
        Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024;
        Liu et al., "Muon is Scalable for LLM Training", 2025 (the ``match_rms_adamw`` scale).
    """

    kernel_slots = ("momentum", "m", "v")
    kernel_scratch = 2
    decay_in_kernel = True  # torch's multiplicative decay, in the kernel
    decay_hypers = ("weight_decay", "adam_weight_decay")

    def __init__(
        self,
        learning_rate: Any = 0.001,
        momentum: Any = 0.95,
        use_nesterov: bool = True,
        weight_decay: Any = 0.1,
        ns_coefficients: tuple[float, float, float] = _TORCH_COEFFICIENTS,
        ns_steps: int = 5,
        epsilon: Any = 1e-7,
        adjust_lr_fn: str | None = None,
        adam_learning_rate: Any = None,
        adam_beta1: Any = 0.9,
        adam_beta2: Any = 0.999,
        adam_epsilon: Any = 1e-8,
        adam_weight_decay: Any = 0.0,
        use_locking: bool = False,
        name: str = "Muon",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, weight_decay=weight_decay, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("momentum", momentum, BETA)
        self._set_hyper("epsilon", epsilon, POSITIVE)
        self._adam_follows_lr = adam_learning_rate is None  # the AdamW rate is learning_rate
        if adam_learning_rate is not None:
            self._set_hyper("adam_learning_rate", adam_learning_rate)
        self._set_hyper("adam_beta1", adam_beta1, BETA)
        self._set_hyper("adam_beta2", adam_beta2, BETA)
        self._set_hyper("adam_epsilon", adam_epsilon, NONNEGATIVE)
        self._set_hyper("adam_weight_decay", adam_weight_decay, NONNEGATIVE)
        self._use_nesterov = check_bool("use_nesterov", use_nesterov)
        if (
            isinstance(ns_coefficients, (str, bytes))
            or not hasattr(ns_coefficients, "__len__")
            or len(ns_coefficients) != 3
        ):
            raise TypeError(
                f"`ns_coefficients` must be a tuple of three floats, got {ns_coefficients!r}."
            )
        self._ns_coefficients = tuple(
            check_real(f"ns_coefficients[{i}]", c, expected="a float")
            for i, c in enumerate(ns_coefficients)
        )
        self._ns_steps = _positive_int("ns_steps", ns_steps)
        if adjust_lr_fn not in _ADJUST_LR_FNS:
            raise ValueError(
                f"`adjust_lr_fn` must be one of {_ADJUST_LR_FNS}, got {adjust_lr_fn!r}."
            )
        self._adjust_lr_fn = adjust_lr_fn

    @staticmethod
    def uses_muon(var: Variable) -> bool:
        """Whether ``var`` takes the Muon step (a 2-D variable) rather than the AdamW step."""
        return len(var.shape) == 2

    def shape_factor(self, shape: tuple[int, ...]) -> float:
        """The factor ``s`` of ``learning_rate`` for a matrix of ``shape`` ``(fan_in, fan_out)``."""
        fan_in, fan_out = shape
        if self._adjust_lr_fn == "match_rms_adamw":
            return 0.2 * math.sqrt(max(fan_in, fan_out))
        return math.sqrt(max(1.0, fan_out / fan_in)) if fan_in else 1.0  # (0, n): no update

    def _create_slots(self, var_list: list[Variable]) -> None:
        for var in var_list:
            if self.uses_muon(var):
                self._zeros_slot(var, "momentum", self._name)
            else:
                self._zeros_slot(var, "m", self._name)
                self._zeros_slot(var, "v", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(lr, 1 - momentum, momentum, 1 - lr * weight_decay, epsilon, (a, b, c),
        adam_lr / (1 - adam_beta1**t), 1 - adam_beta1, adam_beta2, 1 - adam_beta2,
        sqrt(1 - adam_beta2**t), adam_epsilon, 1 - adam_lr * adam_weight_decay)``, computed
        in float64 (torch's Python floats) and cast to ``dtype``; ``lr`` stays a float, as the
        shape factor multiplies it before the cast."""
        h = self._current_hyper
        cast = dtype.type
        lr, mu, wd = h("learning_rate"), h("momentum"), h("weight_decay")
        adam_lr = lr if self._adam_follows_lr else h("adam_learning_rate")
        beta1, beta2 = h("adam_beta1"), h("adam_beta2")
        t = self._step_number()
        return (
            lr,
            cast(1 - mu),
            cast(mu),
            cast(1 - lr * wd),
            cast(h("epsilon")),
            tuple(cast(c) for c in self._ns_coefficients),
            cast(adam_lr / (1 - beta1**t)),
            cast(1 - beta1),
            cast(beta2),
            cast(1 - beta2),
            cast(math.sqrt(1 - beta2**t)),
            cast(h("adam_epsilon")),
            cast(1 - adam_lr * h("adam_weight_decay")),
        )

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        momentum, m, v = slots
        if momentum is not None:
            lr, one_minus_mu, mu, decay, epsilon, coefficients = scalars[:6]
            step = var.dtype.type(lr * self.shape_factor(var.shape))
            _muon_update(
                var, momentum, grad, scratch, one_minus_mu, mu, decay, epsilon, coefficients,
                self._ns_steps, self._use_nesterov, step,
            )  # fmt: skip
        else:
            _adamw_update(var, m, v, grad, scratch, *scalars[6:])


def _muon_update(
    var, m, grad, scratch, one_minus_mu, mu, decay, epsilon, coefficients, steps, nesterov, step
) -> None:
    """One Muon step of a matrix in place, in torch's order; two scratch arrays."""
    tmp, update = scratch
    update_first_moment(m, grad, one_minus_mu, tmp)  # torch's buf.lerp_(grad, 1 - momentum)
    if nesterov:  # grad.lerp(m, momentum)
        np.subtract(m, grad, out=update)
        np.multiply(update, mu, out=update)
        np.add(update, grad, out=update)
    else:
        np.copyto(update, m)
    orthogonal = newton_schulz(update, coefficients, steps, epsilon)
    np.multiply(var, decay, out=var)
    np.multiply(orthogonal, step, out=orthogonal)
    np.subtract(var, orthogonal, out=var)


def _adamw_update(
    var, m, v, grad, scratch, step_size, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps,
    decay,
) -> None:
    """One PyTorch AdamW step in place (``torch.optim.AdamW``'s order); two scratch arrays."""
    tmp, denom = scratch
    np.multiply(var, decay, out=var)
    update_first_moment(m, grad, one_minus_beta1, tmp)
    np.multiply(v, beta2, out=v)
    np.square(grad, out=tmp)
    np.multiply(tmp, one_minus_beta2, out=tmp)
    np.add(v, tmp, out=v)
    np.sqrt(v, out=denom)
    np.divide(denom, bias2_sqrt, out=denom)
    np.add(denom, eps, out=denom)
    np.divide(m, denom, out=tmp)
    np.multiply(tmp, step_size, out=tmp)
    np.subtract(var, tmp, out=var)
