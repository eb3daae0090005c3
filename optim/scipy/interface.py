"""TF1 contrib's ``ExternalOptimizerInterface`` and ``ScipyOptimizerInterface``.

The bridge for the world of Variables and zero-argument closures: pack the variables into one
vector, minimize with scipy (or an optim optimizer, through :func:`optim.scipy_method`), write
the solution back into the variables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.optimize
from scipy.optimize import OptimizeResult

from ..gradients import value_and_gradients
from ..validation import resolve_var_list_for_gradients
from ..variables import Variable, substituted
from .arguments import bound_array
from .evaluation import SCIPY_HINT, scalar_output, zeros_for_none
from .method import scipy_method
from .registry import resolve_method

__all__ = ["ExternalOptimizerInterface", "ScipyOptimizerInterface"]


_logger = logging.getLogger(__name__)


def _closure_value_and_grads(closure, var_list, values, what):
    """Value and gradients of a zero-argument closure with the variables reading ``values``."""

    def traced(*vals: Any) -> Any:
        with substituted(var_list, vals):
            return scalar_output(closure(), what)

    value, grads = value_and_gradients(traced, values, hint=SCIPY_HINT)
    return np.asarray(value)[()], zeros_for_none(grads, values)


class ExternalOptimizerInterface:
    """TF1 contrib's base class for optimizers that run outside the step loop (scipy's).

    The variables are packed into one float64 vector (``var_list`` order, each flattened in C
    order); the loss, each constraint and their autodiff gradients become functions of that
    vector; :meth:`_minimize` (the subclass contract) returns the best vector, which is
    unpacked and written back into the variables, once, at the end.

    Args:
        loss: zero-argument callable returning a scalar, reading the variables through
            ``.value`` (the TF world's loss).
        var_list: the variables to optimize; default ``optim.trainable_variables()``.
        equalities: zero-argument callables held ``== 0`` (scalars).
        inequalities: zero-argument callables held ``>= 0`` (scalars).
        var_to_bounds: ``{variable: (low, high)}``; each bound a scalar or anything that
            broadcasts to the variable's shape, ``None`` or infinity for no bound.
        **optimizer_kwargs: passed on to :meth:`_minimize` (for scipy: ``method``,
            ``options``, ``tol``...).

    Raises:
        TypeError: a non-callable loss or constraint, a bad ``var_list`` or ``var_to_bounds``.
        ValueError: a bound that does not broadcast, low > high, a ``var_to_bounds`` key that
            is not in ``var_list``.
    """

    def __init__(
        self,
        loss: Callable[[], Any],
        var_list: Any = None,
        equalities: Sequence[Callable[[], Any]] | None = None,
        inequalities: Sequence[Callable[[], Any]] | None = None,
        var_to_bounds: dict[Variable, Any] | None = None,
        **optimizer_kwargs: Any,
    ) -> None:
        if not callable(loss):
            raise TypeError(
                f"`loss` must be a zero-argument callable reading variables, got {loss!r}."
            )
        self._loss = loss
        self._vars = resolve_var_list_for_gradients(var_list)
        self._equalities = self._check_closures(equalities, "equalities")
        self._inequalities = self._check_closures(inequalities, "inequalities")
        self.optimizer_kwargs = optimizer_kwargs
        self._packed_bounds = self._pack_bounds(var_to_bounds)
        sizes = [v.size for v in self._vars]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self._packing_slices = [slice(a, b) for a, b in zip(offsets[:-1], offsets[1:])]

    @staticmethod
    def _check_closures(closures: Any, name: str) -> list[Callable[[], Any]]:
        if closures is None:
            return []
        if callable(closures):
            closures = [closures]
        closures = list(closures)
        for i, c in enumerate(closures):
            if not callable(c):
                raise TypeError(f"`{name}[{i}]` must be a zero-argument callable, got {c!r}.")
        return closures

    def _pack_bounds(self, var_to_bounds: Any) -> list[tuple[float, float]] | None:
        if var_to_bounds is None:
            return None
        if not isinstance(var_to_bounds, dict):
            raise TypeError(
                f"`var_to_bounds` must be a dict {{Variable: (low, high)}}, got {var_to_bounds!r}."
            )
        known = {id(v) for v in self._vars}
        for var in var_to_bounds:
            if not isinstance(var, Variable) or id(var) not in known:
                raise ValueError(
                    f"`var_to_bounds` must only hold variables of `var_list`, got {var!r}."
                )
        lows, highs = [], []
        for var in self._vars:
            low, high = var_to_bounds.get(var, (None, None))
            path = f"[{var.name!r}]"
            lo = bound_array(low, -np.inf, var.shape, f"var_to_bounds{path}[0]")
            hi = bound_array(high, np.inf, var.shape, f"var_to_bounds{path}[1]")
            if np.any(lo > hi):
                raise ValueError(
                    f"`var_to_bounds{path}` must have low <= high everywhere, got {(low, high)!r}."
                )
            lows.append(lo.ravel())
            highs.append(hi.ravel())
        return list(zip(np.concatenate(lows).tolist(), np.concatenate(highs).tolist()))

    # -- packing ---------------------------------------------------------------------------
    def _pack(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.ravel(a).astype(np.float64) for a in arrays])

    def _unpack(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(x)
        return [
            x[s].reshape(v.shape).astype(v.dtype) for s, v in zip(self._packing_slices, self._vars)
        ]

    def _make_eval_func(self, closure, what, callback=None):
        """``x -> (value, packed gradient)`` for a closure; the variables are not written."""

        def eval_func(x: np.ndarray) -> tuple[Any, np.ndarray]:
            value, grads = _closure_value_and_grads(closure, self._vars, self._unpack(x), what)
            if callback is not None:
                callback(value)
            return value, self._pack(grads)

        return eval_func

    def minimize(
        self,
        step_callback: Callable[[np.ndarray], Any] | None = None,
        loss_callback: Callable[[Any], Any] | None = None,
    ) -> OptimizeResult:
        """Minimizes the loss and writes the solution into the variables.

        Args:
            step_callback: called once per iteration with the packed vector (float64).
            loss_callback: called with the loss value after every loss evaluation (not after
                constraint evaluations). TF calls it with the ``fetches``; optim has no
                session, so it gets the loss.

        Returns:
            The ``OptimizeResult`` of the external optimizer (``x`` is the packed vector). A
            subclass whose :meth:`_minimize` returns a bare vector gives ``OptimizeResult(x=...)``.
        """
        for name, cb in (("step_callback", step_callback), ("loss_callback", loss_callback)):
            if cb is not None and not callable(cb):
                raise TypeError(f"`{name}` must be callable or None, got {cb!r}.")
        initial_val = self._pack([v.value for v in self._vars])
        loss_grad_func = self._make_eval_func(self._loss, "loss", loss_callback)
        eq = [self._make_eval_func(c, f"equalities[{i}]") for i, c in enumerate(self._equalities)]
        ineq = [
            self._make_eval_func(c, f"inequalities[{i}]") for i, c in enumerate(self._inequalities)
        ]
        result = self._minimize(
            initial_val=initial_val,
            loss_grad_func=loss_grad_func,
            equality_funcs=[_first(f) for f in eq],
            equality_grad_funcs=[_second(f) for f in eq],
            inequality_funcs=[_first(f) for f in ineq],
            inequality_grad_funcs=[_second(f) for f in ineq],
            packed_bounds=self._packed_bounds,
            step_callback=step_callback,
            optimizer_kwargs=self.optimizer_kwargs,
        )
        if not isinstance(result, OptimizeResult):
            result = OptimizeResult(x=np.asarray(result, dtype=np.float64))
        x = np.asarray(result.x)
        if x.shape != initial_val.shape:
            raise ValueError(
                f"`_minimize` must return a vector of shape {initial_val.shape}, got shape "
                f"{x.shape}."
            )
        for var, value in zip(self._vars, self._unpack(x)):
            var.assign(value)
        return result

    def _minimize(
        self,
        initial_val: np.ndarray,
        loss_grad_func: Callable,
        equality_funcs: list,
        equality_grad_funcs: list,
        inequality_funcs: list,
        inequality_grad_funcs: list,
        packed_bounds: list | None,
        step_callback: Callable | None,
        optimizer_kwargs: dict,
    ) -> Any:
        """The subclass contract (TF's): return the optimal packed vector or an OptimizeResult.

        Args:
            initial_val: the packed starting point (float64).
            loss_grad_func: ``x -> (loss, packed gradient)``.
            equality_funcs, inequality_funcs: ``x -> value`` per constraint.
            equality_grad_funcs, inequality_grad_funcs: ``x -> packed gradient``.
            packed_bounds: one ``(low, high)`` pair per packed element, or None.
            step_callback: to call with the packed vector after each step, or None.
            optimizer_kwargs: the constructor's extra keyword arguments.
        """
        raise NotImplementedError("_minimize must be implemented by subclasses.")


def _first(f: Callable) -> Callable:
    return lambda x: f(x)[0]


def _second(f: Callable) -> Callable:
    return lambda x: f(x)[1]


class ScipyOptimizerInterface(ExternalOptimizerInterface):
    """TF1 contrib's ``ScipyOptimizerInterface``: minimize Variables with ``scipy.optimize``.

    Example:
        >>> vector = optim.Variable(np.zeros(5), name="vector")
        >>> def loss():
        ...     v = vector.value
        ...     return np.sum(100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)
        >>> optimizer = optim.ScipyOptimizerInterface(loss, options={"maxiter": 100})
        >>> result = optimizer.minimize()
        >>> vector.numpy()     # ~ ones(5)

    ``optimizer_kwargs`` go to ``scipy.optimize.minimize``: ``method`` (default
    ``"L-BFGS-B"`` as in TF; ``"SLSQP"`` when there are equalities or inequalities and no
    method, where TF would keep L-BFGS-B and ignore them), ``options``, ``tol``, ``hess``,
    ``hessp``... ``method`` may also be an optim optimizer (name, class or instance), run
    through :func:`scipy_method`. The gradient of the loss and of every constraint comes from
    autodiff; scipy gets ``jac=True``.

    Raises:
        ValueError: ``bounds`` in ``optimizer_kwargs`` ("Bounds must be set using the
            var_to_bounds argument"), or ``jac``, ``callback`` or ``constraints`` ("Optimizer
            keyword arg '<k>' is set automatically and cannot be injected manually"), at
            construction (TF raises in ``minimize``); plus everything the base class raises.
    """

    _DEFAULT_METHOD = "L-BFGS-B"

    def __init__(
        self,
        loss: Callable[[], Any],
        var_list: Any = None,
        equalities: Sequence[Callable[[], Any]] | None = None,
        inequalities: Sequence[Callable[[], Any]] | None = None,
        var_to_bounds: dict[Variable, Any] | None = None,
        **optimizer_kwargs: Any,
    ) -> None:
        for kwarg in ("jac", "callback", "constraints", "bounds"):
            if kwarg in optimizer_kwargs:
                if kwarg == "bounds":
                    raise ValueError("Bounds must be set using the var_to_bounds argument")
                raise ValueError(
                    f"Optimizer keyword arg '{kwarg}' is set automatically and cannot be "
                    "injected manually"
                )
        super().__init__(
            loss, var_list, equalities, inequalities, var_to_bounds, **optimizer_kwargs
        )
        method = optimizer_kwargs.get("method")
        if method is not None:
            resolve_method(method, (), None)  # an unknown name raises here, before any work

    def _minimize(
        self,
        initial_val,
        loss_grad_func,
        equality_funcs,
        equality_grad_funcs,
        inequality_funcs,
        inequality_grad_funcs,
        packed_bounds,
        step_callback,
        optimizer_kwargs,
    ):
        def loss_grad_func_wrapper(x: np.ndarray) -> tuple[float, np.ndarray]:
            loss, gradient = loss_grad_func(x)
            return float(loss), gradient.astype("float64")

        optimizer_kwargs = dict(optimizer_kwargs)
        constraints = []
        for func, grad_func in zip(equality_funcs, equality_grad_funcs):
            constraints.append({"type": "eq", "fun": func, "jac": grad_func})
        for func, grad_func in zip(inequality_funcs, inequality_grad_funcs):
            constraints.append({"type": "ineq", "fun": func, "jac": grad_func})
        default = "SLSQP" if constraints else self._DEFAULT_METHOD
        method = optimizer_kwargs.pop("method", None) or default
        kind, spec = resolve_method(method, constraints, packed_bounds)
        if kind == "optim":
            method = scipy_method(spec)
        callback = None
        if step_callback is not None:

            def callback(xk: np.ndarray, *unused: Any) -> None:
                step_callback(xk)

        result = scipy.optimize.minimize(
            loss_grad_func_wrapper,
            initial_val,
            jac=True,
            callback=callback,
            method=method,
            constraints=constraints,
            bounds=packed_bounds,
            **optimizer_kwargs,
        )
        lines = [
            "Optimization terminated with:",
            f"  Message: {result.message}",
            f"  Objective function value: {result.fun:f}",
        ]
        if "nit" in result:
            lines.append(f"  Number of iterations: {result.nit}")
        if "nfev" in result:
            lines.append(f"  Number of functions evaluations: {result.nfev}")
        _logger.info("\n".join(lines))
        return result
