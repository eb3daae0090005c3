"""The first-order loop: an optim optimizer run with scipy's stopping rules and result object.

One loop behind ``optim.minimize(method=<optim optimizer>)`` and ``optim.scipy_method``, per
iteration ``k`` at the iterate ``x_k``::

    f_k, g_k = value and gradient at x_k              # nfev += 1, njev += 1 (autodiff)
    stop if f_k or g_k is not finite                  # status 3, the last finite iterate
    callback(x_k)                                     # k >= 1; StopIteration -> status 99
    stop if max|P(x_k - g_k) - x_k| <= gtol           # status 0 (P: projection onto bounds)
    stop if |f_{k-1} - f_k| <= ftol * max(|f_{k-1}|, |f_k|, 1)     # status 0 or 2, see below
    stop if k == maxiter                              # status 1
    x_{k+1} = P(optimizer step from x_k with g_k)     # apply_gradients + Variable constraint

so ``res.x``, ``res.fun`` and ``res.jac`` always belong to the same point.

An optimizer with train/eval modes (Schedule-Free, :mod:`optim.modes`) iterates on its training
point ``y``: the loop above, its stopping tests and ``callback`` see ``y``. When the loop ends
(other than on a non-finite value) it switches to eval mode and evaluates once more, at the
average ``x``, the point Schedule-Free returns: ``res.x``, ``res.fun`` and ``res.jac`` are
``x``'s (``nfev`` and ``njev`` count that evaluation). The optimizer is then put back in train
mode, so an instance passed as ``method`` can run again. With finite ``bounds`` the result stays
the projected training point ``y``: the projection applies to ``y`` alone, so ``y`` and ``z`` no
longer determine ``x`` (``x = (y - (1 - beta) * z) / beta`` holds for unprojected ``y`` only),
and the ``z`` iterates drift beyond an active bound.

``success`` is honest: it is True only when a test the caller can read off the options held.
The gradient test always counts. The ``ftol`` test counts as convergence (status 0) when the
caller set ``ftol`` (or scipy's ``tol``); with the default ``ftol`` it only stops a run that no
longer moves, reported as ``success=False``, status 2, with the gradient norm in the message.

With ``jac=None`` the optimizer's own gradient source is used (autodiff unless it was built
with ``gradient=``). When autodiff cannot follow ``fun`` at ``x0`` the loop falls back to
forward differences, as scipy does, with one ``OptimizeWarning``; ``jac="autodiff"`` raises.
An optimizer *instance* keeps its state across calls: its slots move onto the next call's
variables by leaf position.

.. note::
    ``ftol`` is L-BFGS-B's test on the *change* ``|f_{k-1} - f_k|``, not on the decrease: a
    first-order step may raise ``f`` (momentum, Adam) and must not count as convergence. A step
    of size ``lr`` changes ``f`` by about ``lr * |g|**2``, so ``ftol`` stops where
    ``|g|**2 ~ ftol * max(|f|, 1) / lr``, usually before ``gtol``: lower ``ftol`` (0 turns it
    off) for tight solutions. A method that settles into a cycle at a constant rate (Lion's
    sign steps; RMSProp with a short ``decay``) stops there, about ``lr`` from the minimum.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult, OptimizeWarning

from ..backend import get_backend
from ..gradients import (
    Autodiff,
    FiniteDifferences,
    LossWithGradient,
    UserGradient,
    check_loss_value,
    explain_trace_error,
    is_trace_failure,
    value_and_gradients,
)
from ..modes import evaluation_mode, has_modes
from ..optimizer import Optimizer
from ..pytree import TreeDef
from ..variables import Graph, Variable, get_or_create_global_step
from .arguments import AUTODIFF, STOP_MESSAGE, wants_intermediate_result
from .evaluation import SCIPY_HINT, LeafFunction, scalar_output, short_repr, zeros_for_none
from .registry import constructor_parameters, display_name, spec_name

__all__ = ["minimize_first_order", "tol_into_options", "warn_second_order"]


# Options the first-order loop reads itself (everything else must be a constructor argument).
_LOOP_DEFAULTS = {
    "maxiter": 15000,
    "gtol": 1e-5,
    "ftol": 2.220446049250313e-09,
    "norm": math.inf,
    "disp": False,
}


def _bounds_in_dtype(low: np.ndarray, high: np.ndarray, dtype: np.dtype):
    """Bounds rounded inward to ``dtype``, so a clipped float32 value never leaves them."""
    lo = low.astype(dtype)
    hi = high.astype(dtype)
    lo = np.where(lo.astype(np.float64) < low, np.nextafter(lo, dtype.type(np.inf)), lo)
    hi = np.where(hi.astype(np.float64) > high, np.nextafter(hi, dtype.type(-np.inf)), hi)
    return lo.astype(dtype), hi.astype(dtype)


def tol_into_options(options: dict, tol: Any) -> None:
    """Puts scipy's ``tol`` into the loop's options: the default of ``ftol`` and ``gtol``.

    Args:
        options: the (caller's copy of the) options dict, changed in place; an ``ftol`` or
            ``gtol`` already there wins.
        tol: scipy's ``tol``, or None (nothing to do).
    """
    if tol is not None:
        options.setdefault("ftol", tol)
        options.setdefault("gtol", tol)


class _Counted:
    """Counts calls of a user function."""

    __slots__ = ("fn", "count")

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.count = 0

    def __call__(self, *a: Any, **k: Any) -> Any:
        self.count += 1
        return self.fn(*a, **k)


def _split_options(spec: Any, options: dict) -> tuple[dict, dict, dict]:
    """``(loop options, constructor hyperparameters, unknown)`` from one options dict."""
    loop = {k: options[k] for k in options if k in _LOOP_DEFAULTS}
    rest = {k: v for k, v in options.items() if k not in _LOOP_DEFAULTS}
    if isinstance(spec, Optimizer):
        return loop, {}, rest
    named, _ = constructor_parameters(spec)
    hyper = {k: v for k, v in rest.items() if k in named}
    unknown = {k: v for k, v in rest.items() if k not in named}
    return loop, hyper, unknown


def _warn_unknown(unknown: dict, stacklevel: int, spec: Any = None) -> None:
    if not unknown:
        return
    message = f"Unknown solver options: {', '.join(map(str, unknown))}"
    if isinstance(spec, Optimizer):
        message += (
            f" (method is the optimizer instance {spec!r}, already built: pass its class or "
            "name to set hyperparameters)"
        )
    warnings.warn(message, OptimizeWarning, stacklevel=stacklevel)


def _build_optimizer(spec: Any, hyper: dict, global_step: Variable) -> Optimizer:
    """An optimizer instance from a class and hyperparameters (instances pass through)."""
    if isinstance(spec, Optimizer):
        return spec
    named, _ = constructor_parameters(spec)
    kwargs = dict(hyper)
    missing = []
    for k, p in named.items():
        if p.default is p.empty and k not in kwargs:
            if k == "global_step":
                kwargs[k] = global_step
            else:
                missing.append(k)
    if missing:
        signature = f"{spec.__name__}{inspect.signature(spec.__init__)}".replace("(self, ", "(")
        raise TypeError(
            f"`options` must set {', '.join(map(repr, missing))} for method "
            f"{display_name(spec)!r} ({signature} has no default for "
            f"{'it' if len(missing) == 1 else 'them'}), got {hyper!r}."
        )
    return spec(**kwargs)


def _carry_over_state(opt: Optimizer, variables: list[Variable]) -> None:
    """An optimizer instance's slots move onto this call's variables, by leaf position.

    The loop names the variable of leaf ``i`` ``"x{i}"`` in every call, so the state one call
    left (slots keyed by those names; beta powers and the iteration count as they are) is
    restored onto the next call's variables: two calls run as one long run.

    Raises:
        ValueError: the instance holds state for other variables (another structure, shape or
            dtype of ``x0``, or variables of the TF world); nothing is changed.
    """
    state = opt.state_dict()
    if not any(state["slots"].values()):
        return
    try:
        opt.load_state_dict(state, var_list=variables)
    except ValueError as exc:
        raise ValueError(
            f"`method` is an optimizer instance whose state belongs to other variables than "
            f"this x0's ({exc}); pass a fresh optimizer, or its class or name, to start anew."
        ) from exc


def _loop_settings(loop: dict) -> dict:
    settings = {**_LOOP_DEFAULTS, **loop}
    maxiter = settings["maxiter"]
    if isinstance(maxiter, bool) or not isinstance(maxiter, numbers.Integral) or maxiter < 0:
        raise ValueError(f"`options['maxiter']` must be an integer >= 0, got {maxiter!r}.")
    for key in ("gtol", "ftol"):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"`options[{key!r}]` must be a number >= 0, got {value!r}.")
    if settings["norm"] is None or not isinstance(settings["norm"], numbers.Real):
        raise ValueError(f"`options['norm']` must be a number, got {settings['norm']!r}.")
    return settings


def minimize_first_order(
    fun: Callable,
    leaves0: list[np.ndarray],
    treedef: TreeDef,
    args: tuple,
    spec: Any,
    jac: Any,
    bounds: list[tuple[np.ndarray, np.ndarray]] | None,
    callback: Callable | None,
    options: dict,
    stacklevel: int,
) -> OptimizeResult:
    """The first-order loop behind ``minimize(method=<optim optimizer>)`` and scipy_method.

    Args:
        fun: the user's ``fun(x, *args)``, ``x`` in ``treedef``'s structure.
        leaves0: the starting leaves (from :func:`optim.scipy.arguments.check_x0`).
        treedef: the layout of ``x0``.
        args: extra positional arguments of ``fun`` and ``jac``.
        spec: an ``optim.Optimizer`` subclass (built here from ``options``) or instance.
        jac: None (the optimizer's gradient source), True, False, a finite-difference name or
            a callable, already checked.
        bounds: per-leaf ``(low, high)`` from :func:`optim.scipy.arguments.standardize_bounds`.
        callback: ``callback(xk)`` or ``callback(intermediate_result)``, or None.
        options: the loop's options and the optimizer's constructor arguments (others warn).
        stacklevel: the warning stack level that points at the caller's line.

    Returns:
        scipy's ``OptimizeResult`` (see the module docstring for ``status``).
    """
    loop, hyper, unknown = _split_options(spec, options)
    _warn_unknown(unknown, stacklevel + 1, spec)
    settings = _loop_settings(loop)
    ftol_asked = "ftol" in loop  # given, or set from scipy's tol
    counted_fun = _Counted(fun)

    with Graph().as_default() as graph:
        variables = []
        for i, leaf in enumerate(leaves0):
            constraint = None
            value = leaf
            if bounds is not None:
                lo, hi = _bounds_in_dtype(*bounds[i], leaf.dtype)
                if np.isfinite(lo).any() or np.isfinite(hi).any():
                    constraint = _Clip(lo, hi)
                    value = np.clip(leaf, lo, hi)
            variables.append(Variable(value, name=f"x{i}", constraint=constraint))
        global_step = get_or_create_global_step(graph)
        opt = _build_optimizer(spec, hyper, global_step)
    if isinstance(spec, Optimizer):
        _carry_over_state(opt, variables)
    step_var = getattr(opt, "global_step", None)  # AdagradDA counts on its own global step
    if not isinstance(step_var, Variable):
        step_var = global_step

    def current() -> Any:
        return treedef.unflatten([v.value for v in variables])

    if jac is True:

        def loss() -> Any:
            out = counted_fun(current(), *args)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(
                    "`fun` must return a (value, gradient) pair with jac=True, got "
                    f"{short_repr(out)}."
                )
            grads = treedef.leaves_of(out[1], "jac")
            return scalar_output(out[0]), [_as_float(g) for g in grads]

        source = LossWithGradient()
    else:

        def loss() -> Any:
            return scalar_output(counted_fun(current(), *args))

        if jac is None:
            source = opt.gradient
        elif jac == AUTODIFF:
            source = Autodiff()
        elif jac is False:
            source = FiniteDifferences("2-point")
        elif isinstance(jac, str):
            source = FiniteDifferences(jac)
        else:

            def user_gradient() -> list[np.ndarray]:
                grads = treedef.leaves_of(jac(current(), *args), "jac")
                return [_as_float(g) for g in grads]

            source = UserGradient(user_gradient)

    njev = 0
    may_fall_back = jac is None and isinstance(source, Autodiff)
    # Autodiff takes fun itself, on the variables' arrays (the one gradient path, compiled by a
    # compiling backend): fun runs once per evaluation, counted here rather than by its calls.
    leaf_fun = LeafFunction(fun, treedef)
    pure_evaluations = 0

    def gradients_of_fun() -> tuple[Any, list]:
        nonlocal pure_evaluations
        pure_evaluations += 1
        value, grads = value_and_gradients(
            leaf_fun, [v.array for v in variables], args, key=leaf_fun.key, hint=SCIPY_HINT
        )
        check_loss_value(value, None)
        return value, [
            None if g is None else np.asarray(g).astype(v.dtype, copy=False)
            for g, v in zip(grads, variables)
        ]

    def evaluate() -> tuple[float, list[np.ndarray]]:
        nonlocal njev, source
        try:
            if type(source) is Autodiff:
                value, grads = gradients_of_fun()
            else:
                value, grads = source.value_and_gradients(loss, variables)
        except Exception as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            if not (isinstance(source, Autodiff) and is_trace_failure(cause)):
                raise
            if not (may_fall_back and njev == 0):
                explained = explain_trace_error(cause, SCIPY_HINT)
                raise (exc if explained is None else explained) from cause
            warnings.warn(
                f"autodiff could not follow fun ({type(cause).__name__}: {cause}), so "
                "forward finite differences (jac='2-point') are used, as scipy.optimize."
                "minimize does with jac=None. For exact gradients, write fun with "
                f"{get_backend().numpy_hint}, or pass jac=callable; "
                "jac='autodiff' raises instead of falling back.",
                OptimizeWarning,
                stacklevel=stacklevel + 2,
            )
            source = FiniteDifferences("2-point")
            value, grads = source.value_and_gradients(loss, variables)
        njev += 1
        grads = zeros_for_none(grads, leaves0)
        return float(np.real(value)), grads

    def snapshot(arrays: Sequence[np.ndarray]) -> Any:
        return treedef.unflatten([np.array(a) for a in arrays])

    wants_result = callback is not None and wants_intermediate_result(callback)
    lows = highs = None
    if bounds is not None:
        lows = [np.asarray(v.constraint.low) if v.constraint else None for v in variables]
        highs = [np.asarray(v.constraint.high) if v.constraint else None for v in variables]

    def gradient_norm(grads: list[np.ndarray]) -> float:
        parts = []
        for i, (g, v) in enumerate(zip(grads, variables)):
            g = g.astype(np.float64)
            if lows is not None and lows[i] is not None:
                x = v.array.astype(np.float64)
                g = x - np.clip(x - g, lows[i], highs[i])
            parts.append(np.abs(g).ravel())
        flat = np.concatenate(parts)
        order = settings["norm"]
        if order == math.inf:
            return float(flat.max())
        if order == -math.inf:
            return float(flat.min())
        return float(np.sum(flat**order) ** (1.0 / order))

    nit = 0
    f, g = evaluate()
    f_prev: float | None = None
    prev: tuple | None = None  # (values, f, g) of the last finite iterate
    status, message = 1, "Maximum number of iterations has been exceeded."
    while True:
        if not (math.isfinite(f) and all(np.isfinite(gi).all() for gi in g)):
            what = f"fun ({f})" if not math.isfinite(f) else "the gradient"
            status = 3
            if prev is None:
                message = f"NaN result encountered: {what} is not finite at x0."
                break
            for v, value in zip(variables, prev[0]):  # back to the last finite iterate
                np.copyto(v.array, value)
            f, g = prev[1], prev[2]
            message = (
                f"NaN result encountered: {what} is not finite after step {nit}; the result is "
                f"the last finite iterate, after step {nit - 1}."
            )
            nit -= 1
            break
        if callback is not None and nit > 0:
            x_user = snapshot([v.array for v in variables])
            try:
                if wants_result:
                    callback(
                        intermediate_result=OptimizeResult(
                            x=x_user, fun=f, jac=snapshot(g), nit=nit
                        )
                    )
                else:
                    callback(x_user)
            except StopIteration:
                status, message = 99, STOP_MESSAGE
                break
        norm = gradient_norm(g)
        if norm <= settings["gtol"]:
            status = 0
            message = "Optimization terminated successfully: the gradient norm is <= gtol."
            break
        if f_prev is not None and abs(f_prev - f) <= settings["ftol"] * max(
            abs(f_prev), abs(f), 1.0
        ):
            if ftol_asked:
                status = 0
                message = (
                    "Optimization terminated successfully: the relative change of fun is <= "
                    "ftol."
                )
            else:
                status = 2
                message = (
                    f"fun stopped changing (relative change <= the default ftol "
                    f"{settings['ftol']:.3g}) while the gradient norm {norm:.3g} is above gtol "
                    f"{settings['gtol']:.3g}: not converged. Lower ftol (0 turns this test off) "
                    "or the learning rate, or pass ftol to accept this point."
                )
            break
        if nit >= settings["maxiter"]:
            status, message = 1, "Maximum number of iterations has been exceeded."
            break
        prev = ([v.array.copy() for v in variables], f, g)
        try:
            opt.apply_gradients(zip(g, variables), global_step=step_var)
        except FloatingPointError as exc:
            status, message = 3, f"NaN result encountered: {exc}"
            break
        nit += 1
        f_prev = f
        f, g = evaluate()

    bounded = any(v.constraint is not None for v in variables)
    if status != 3 and not bounded and has_modes(opt):
        with evaluation_mode(opt):  # the result is the average x, not the training point y
            f, g = evaluate()
            x_result = snapshot([v.array for v in variables])
    else:
        x_result = snapshot([v.array for v in variables])
    result = OptimizeResult(
        x=x_result,
        fun=f,
        jac=snapshot(g),
        nit=nit,
        nfev=counted_fun.count + pure_evaluations,
        njev=njev,
        status=status,
        success=status == 0,
        message=message,
    )
    if settings["disp"]:
        _print_summary(result)
    return result


def _as_float(g: np.ndarray) -> np.ndarray:
    return g if g.dtype.kind == "f" else g.astype(np.float64)


class _Clip:
    """A Variable constraint clipping to fixed bounds (kept as attributes for the loop)."""

    __slots__ = ("low", "high")

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        self.low, self.high = low, high

    def __call__(self, value: np.ndarray) -> np.ndarray:
        return np.clip(value, self.low, self.high)


def _print_summary(result: OptimizeResult) -> None:
    print(result.message)
    print(f"         Current function value: {result.fun:f}")
    print(f"         Iterations: {result.nit:d}")
    print(f"         Function evaluations: {result.nfev:d}")
    print(f"         Gradient evaluations: {result.njev:d}")


def warn_second_order(spec: Any, hess: Any, hessp: Any, stacklevel: int) -> None:
    """Warns (``RuntimeWarning``, as scipy) that a first-order method ignores ``hess``/``hessp``.

    Args:
        spec: the optim optimizer class or instance, named in the message.
        hess: the caller's ``hess`` (warns when not None).
        hessp: the caller's ``hessp`` (warns when not None).
        stacklevel: the warning stack level that points at the caller's line.
    """
    name = spec_name(spec)
    if hess is not None:
        warnings.warn(
            f"Method {name} does not use Hessian information (hess).",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    if hessp is not None:
        warnings.warn(
            f"Method {name} does not use Hessian-vector product information (hessp).",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
