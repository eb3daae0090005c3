"""Gradient checking: any gradient source against central differences, variable by variable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .gradients import FiniteDifferences, as_gradient_source
from .validation import resolve_var_list_for_gradients
from .variables import Variable

__all__ = ["GradientCheck", "check_gradients", "assert_gradients_close"]


@dataclass(frozen=True)
class GradientCheck:
    """The result of :func:`check_gradients`.

    Attributes:
        names: the variables' names, in ``var_list`` order.
        abs_errors: per variable, ``max |g - g_numeric|``.
        rel_errors: per variable, ``max |g - g_numeric| / max(max |g_numeric|, tiny)``.
        gradients: per variable, the checked source's gradient (zeros where it gave ``None``).
        numeric: per variable, the central-difference gradient.
    """

    names: tuple[str, ...]
    abs_errors: tuple[float, ...]
    rel_errors: tuple[float, ...]
    gradients: tuple[np.ndarray, ...]
    numeric: tuple[np.ndarray, ...]

    @property
    def max_abs_error(self) -> float:
        return max(self.abs_errors)

    @property
    def max_rel_error(self) -> float:
        return max(self.rel_errors)

    def __str__(self) -> str:
        rows = [
            f"  {name}: abs {a:.3e}, rel {r:.3e}"
            for name, a, r in zip(self.names, self.abs_errors, self.rel_errors)
        ]
        return "gradient check against central differences:\n" + "\n".join(rows)


def check_gradients(
    loss: Callable[[], Any],
    var_list: Sequence[Variable] | Variable | None = None,
    gradient: Any = None,
    *,
    rel_step: float | None = None,
) -> GradientCheck:
    """Compares a gradient source with central differences (``"3-point"``), per variable.

    Args:
        loss: zero-argument loss reading the variables through ``.value``.
        var_list: the variables (default: every trainable variable).
        gradient: the source to check: ``None`` (autodiff), a user function, ``True`` (the loss
            returns ``(value, gradients)``)... any ``gradient=`` value.
        rel_step: relative finite-difference step (default: scipy's for the dtype).

    Returns:
        A :class:`GradientCheck` with the maximum absolute and relative error per variable.
        Work in float64: float32 central differences are good to about 1e-3 only.
    """
    var_list = resolve_var_list_for_gradients(var_list)
    source = as_gradient_source(gradient)
    _, grads = source.value_and_gradients(loss, var_list, None)
    numeric_source = FiniteDifferences("3-point", rel_step=rel_step)
    if gradient is True:
        value_only = lambda: loss()[0]  # noqa: E731
    else:
        value_only = loss
    _, numeric = numeric_source.value_and_gradients(value_only, var_list, None)
    abs_errors, rel_errors, checked = [], [], []
    for g, n, var in zip(grads, numeric, var_list):
        g = np.zeros(var.shape, var.dtype) if g is None else np.asarray(g)
        diff = float(np.max(np.abs(g.astype(np.float64) - n), initial=0.0))
        scale = max(float(np.max(np.abs(n), initial=0.0)), np.finfo(np.float64).tiny)
        abs_errors.append(diff)
        rel_errors.append(diff / scale)
        checked.append(g)
    return GradientCheck(
        tuple(v.name for v in var_list),
        tuple(abs_errors),
        tuple(rel_errors),
        tuple(checked),
        tuple(numeric),
    )


def assert_gradients_close(
    loss: Callable[[], Any],
    var_list: Sequence[Variable] | Variable | None = None,
    gradient: Any = None,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    rel_step: float | None = None,
) -> GradientCheck:
    """Like :func:`check_gradients`, raising ``AssertionError`` naming the first bad variable.

    A variable passes when ``abs_error <= atol + rtol * max |g_numeric|``.
    """
    result = check_gradients(loss, var_list, gradient, rel_step=rel_step)
    for name, a, n in zip(result.names, result.abs_errors, result.numeric):
        bound = atol + rtol * float(np.max(np.abs(n), initial=0.0))
        if not a <= bound:
            raise AssertionError(
                f"Gradient of variable {name!r} differs from central differences by {a:.3e} "
                f"(allowed {bound:.3e}).\n{result}"
            )
    return result
