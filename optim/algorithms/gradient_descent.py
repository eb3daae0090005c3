"""Plain gradient descent (TF1 ``GradientDescentOptimizer``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.numpy_kernels import gradient_descent_update
from ..optimizer import Optimizer
from ..sparse import IndexedSlices
from ..variables import Variable

__all__ = ["GradientDescentOptimizer"]


class GradientDescentOptimizer(Optimizer):
    """Gradient descent: ``var -= learning_rate * grad``.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"GradientDescent"``.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: ``learning_rate`` is not a float or a callable.
        ValueError: ``learning_rate`` is negative, NaN or infinite.

    Example:
        >>> w = optim.Variable([1.0, 2.0])
        >>> optim.train.GradientDescentOptimizer(0.1).minimize(lambda: np.sum(w.value ** 2))
        5.0

    .. note::
        TF1 converts a Python-float learning rate to a float32 tensor before casting it to the
        variable's dtype, so its float64 runs use the rate rounded to float32. optim casts the
        Python float directly: float32 results are identical to TF's, float64 results use the
        exact rate.
    """

    flat_kernel = "gradient_descent"  # optim.engine: one call over every variable of a dtype

    # Its own sparse rule: linear in the gradient, so repeated rows simply subtract twice
    # (TF's scatter_sub), without summing duplicates first.
    sparse_updates = "custom"
    kernel_scratch = 1

    def __init__(
        self,
        learning_rate: Any,
        use_locking: bool = False,
        name: str = "GradientDescent",
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any]:
        return (self._get_hyper("learning_rate", dtype),)

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        gradient_descent_update(var, grad, scratch, *scalars)

    def _apply_sparse_duplicate_indices(self, grad: IndexedSlices, var: Variable) -> None:
        (lr,) = self._scalars(var.dtype)
        np.subtract.at(var.array, grad.indices, grad.values * lr)
