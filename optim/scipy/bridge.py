"""The scipy bridge: ``minimize`` with one of scipy's methods, on pytrees and with autodiff.

:class:`ScipyProblem` presents the user's ``fun`` (and ``jac``, ``hess``, ``hessp``,
constraints, callbacks) on scipy's flat float64 vector, with the gradient, Hessian-vector
products and Hessians taken by autodiff; :func:`minimize_scipy` calls
``scipy.optimize.minimize`` with them and gives the result back in ``x0``'s structure.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize
from scipy.optimize import Bounds, OptimizeResult, OptimizeWarning

from ..backend import get_backend
from ..gradients import (
    FINITE_DIFFERENCE_METHODS,
    dense_hessian,
    explained_failures,
    is_trace_failure,
    second_order,
    value_and_gradients,
)
from ..pytree import TreeDef
from .arguments import AUTODIFF, STOP_MESSAGE, wants_intermediate_result
from .evaluation import (
    SCIPY_HINT,
    FlatFunction,
    LeafFunction,
    scalar_output,
    short_repr,
    zeros_for_none,
)

__all__ = ["ScipyProblem", "minimize_scipy"]

_JAC_STRINGS = FINITE_DIFFERENCE_METHODS
_GRADIENT_FREE = {"nelder-mead", "powell", "cobyla", "cobyqa"}
_USES_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_USES_HESS = {"dogleg", "trust-exact"}
# Methods that cannot run without second-order information (scipy raises otherwise).
_NEEDS_HESSIAN = {"dogleg", "trust-exact", "trust-ncg", "trust-krylov"}
# How many points' second-order information is kept for Hessian products (with autograd, each
# holds a recorded gradient computation, a few times the memory of x).
_POINTS_KEPT = 3
# Methods that use the Jacobians of their constraints.
_USES_CONSTRAINT_JACOBIANS = {"slsqp", "trust-constr"}


def _key(x: np.ndarray, args: tuple) -> tuple:
    """What identifies a point for the one-point memos: ``x``'s dtype and bytes, ``args``' ids."""
    x = np.asarray(x)
    return x.dtype, x.tobytes(), tuple(map(id, args))


class ScipyProblem:
    """``fun`` and its derivatives on scipy's flat float64 vector, for one pytree layout.

    Counts what scipy asks for (``nfev``, ``njev``, ``nhev``, and ``nit`` for TNC's callback)
    and, with ``keep_last``, remembers the last finite value and gradient with their point.

    Args:
        fun: the user's ``fun(x, *args)``, ``x`` in ``treedef``'s structure.
        treedef: the layout of ``x0``.
        args: extra positional arguments of ``fun``.
        float64_leaves: give ``fun`` float64 leaves (scipy's finite-difference steps) instead
            of the leaves' own dtypes.
        keep_last: keep :attr:`last` and :attr:`last_grad` (a copy of each point: TNC, whose
            callback and stopped result get the value and gradient from there; scipy gives
            them neither).
    """

    def __init__(
        self,
        fun: Callable,
        treedef: TreeDef,
        args: tuple,
        float64_leaves: bool,
        keep_last: bool = False,
    ):
        self.fun = fun
        self.treedef = treedef
        self.leaf_fun = LeafFunction(fun, treedef)
        # What autodiff differentiates: on a compiling engine, fun of scipy's flat vector (the
        # leaves are cut out inside the compiled code); else fun of the leaves, cut out here.
        self.flat_fun = (
            FlatFunction(fun, treedef)
            if get_backend().compiles and all(d.kind == "f" for d in treedef.dtypes)
            else None
        )
        self.args = args
        self.float64_leaves = float64_leaves
        self.nfev = self.njev = self.nhev = self.nit = 0
        self.keep_last = keep_last
        self.last: tuple[np.ndarray, float] | None = None
        self.last_grad: tuple[np.ndarray, np.ndarray] | None = None
        # The probe's value and gradient at x0, kept for scipy's first call (at x0 too).
        self._probed: tuple[tuple, float, np.ndarray] | None = None
        # The second-order information Hessian products and rows are taken from, by point:
        # scipy asks for several things at one x (the value and gradient, then one Hessian
        # product per CG step), and fun runs once for them all.
        self._points: dict[tuple, Any] = {}  # the last few points, oldest first
        # Zero arrays shaped like the leaves: where autodiff gives None (no path), a zero.
        self._zeros = [np.zeros(s, d) for s, d in zip(treedef.shapes, treedef.dtypes)]
        #: Hessian information by autodiff is in use: gradients come from the second-order point.
        self.second_order = False

    def leaves(self, x: np.ndarray, copy: bool = True) -> list[np.ndarray]:
        """``x`` cut into the leaves, in their dtypes; ``copy=False`` gives views of ``x``
        where no cast is needed (for autodiff, which never writes into its arguments)."""
        x = np.asarray(x)
        parts = self.treedef.split(x)
        if x.dtype.kind == "c" or self.float64_leaves:
            return parts if not copy else [p.copy() for p in parts]
        return [p.astype(d, copy=copy) for p, d in zip(parts, self.treedef.dtypes)]

    def user(self, x: np.ndarray) -> Any:
        return self.treedef.unflatten(self.leaves(x))

    def shown(self, x: np.ndarray) -> Any:
        """A copy of ``x`` in the user's structure and leaf dtypes (callbacks, results).

        A vector of another length is passed on as scipy gives it: scipy's COBYLA hands its
        callback ``x`` without the variables that bounds fix.
        """
        x = np.asarray(x)
        if x.shape != (self.treedef.size,):
            return np.array(x)
        return self.treedef.unravel(x)

    def _remember(self, x: np.ndarray, value: Any, grad: np.ndarray | None = None) -> None:
        self.nfev += 1
        if grad is not None:
            self.njev += 1
        if not self.keep_last or np.asarray(value).dtype.kind == "c":
            return
        self.last = (np.array(x), float(value))
        if grad is not None:
            self.last_grad = (self.last[0], grad)

    def value(self, x: np.ndarray, *args: Any) -> Any:
        value = np.asarray(scalar_output(self.fun(self.user(x), *args)))[()]
        self._remember(x, value)
        return value

    def value_and_grad(self, x: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
        """One autodiff pass: the value and the flat float64 gradient (scipy's ``jac=True``).

        The first call after :meth:`probe_autodiff`, at the probe's ``x`` (scipy's first call,
        at ``x0``), gets the probe's answer without running ``fun``. scipy keeps its own last
        point otherwise.
        """
        probed = self._probed
        if probed is not None:
            self._probed = None
            if probed[0] == _key(x, args):
                return probed[1], probed[2].copy()
        if self.second_order:  # the point Hessian products at this x will be taken from
            point = self._second_order(x, args)
            value, grads = point.value, point.gradients
        else:
            fun, inputs = self._autodiff_inputs(x, copy=False)
            value, grads = value_and_gradients(fun, inputs, args, key=fun.key, hint=SCIPY_HINT)
        flat = self._flat(grads)
        self._remember(x, value, flat)
        return float(value), flat

    def probe_autodiff(self, x: np.ndarray) -> BaseException | None:
        """Tries autodiff at ``x`` (kept for scipy's first call): None, or why it failed.

        Only failures of the trace itself are returned (see
        :func:`optim.gradients.is_trace_failure`); any other error of ``fun`` is raised,
        as scipy would raise it.
        """
        try:
            value, grad = self.value_and_grad(x, *self.args)
        except Exception as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            if is_trace_failure(cause):
                return exc
            raise
        self._probed = (_key(x, self.args), value, grad.copy())
        return None

    def value_and_user_grad(self, x: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
        out = self.fun(self.user(x), *args)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                "`fun` must return a (value, gradient) pair with jac=True, got "
                f"{short_repr(out)}."
            )
        value = float(np.asarray(scalar_output(out[0])))
        flat = self._flat_jac(out[1])
        self._remember(x, value, flat)
        return value, flat

    def _flat_jac(self, out: Any) -> np.ndarray:
        """A user gradient on the flat layout; for one leaf, any shape of its size (scipy's
        ``np.atleast_1d`` reading, so a 0-d gradient of a size-1 ``x`` is accepted)."""
        treedef = self.treedef
        if treedef.num_leaves == 1 and not isinstance(out, (dict, list, tuple)):
            array = np.asarray(out)
            if array.size == treedef.size and array.dtype.kind in "biufc":
                return array.ravel().astype(np.float64 if array.dtype.kind != "c" else complex)
        return treedef.ravel(out, "jac")

    def stopped_result(self, xk: np.ndarray) -> OptimizeResult:
        """The (flat) result of a TNC run stopped by its callback, at the iterate ``xk``."""
        result = OptimizeResult(
            x=np.array(xk),
            nit=self.nit,
            nfev=self.nfev,
            status=99,
            success=False,
            message=STOP_MESSAGE,
        )
        if self.last is not None and np.array_equal(self.last[0], xk):
            result["fun"] = self.last[1]
        if self.last_grad is not None and np.array_equal(self.last_grad[0], xk):
            result["jac"] = self.last_grad[1]
        return result

    def user_jac(self, jac: Callable) -> Callable:
        def flat_jac(x: np.ndarray, *args: Any) -> np.ndarray:
            return self._flat_jac(jac(self.user(x), *args))

        return flat_jac

    def user_hessp(self, hessp: Callable) -> Callable:
        def flat_hessp(x: np.ndarray, p: np.ndarray, *args: Any) -> np.ndarray:
            self.nhev += 1
            return self.treedef.ravel(hessp(self.user(x), self.user(p), *args), "hessp")

        return flat_hessp

    def user_hess(self, hess: Callable) -> Callable:
        def flat_hess(x: np.ndarray, *args: Any) -> Any:
            self.nhev += 1
            return hess(self.user(x), *args)

        return flat_hess

    def _second_order(self, x: np.ndarray, args: tuple) -> Any:
        """The backend's second-order information at ``x`` (:func:`optim.gradients.second_order`).

        Its value, gradient and every Hessian product at one ``x`` cost one run of ``fun`` with
        autograd (one trace of the gradient, one backward pass per product). The last few points
        are kept, since trust-region methods come back to the centre of the region after trying
        a step.
        """
        key = _key(x, args)
        points = self._points
        point = points.get(key)
        if point is not None:
            return point
        # Its own copy of x: the point outlives this call, and scipy may reuse x's buffer.
        fun, inputs = self._autodiff_inputs(x, copy=True)
        point = second_order(fun, inputs, args, key=fun.key, hint=SCIPY_HINT)
        points[key] = point
        if len(points) > _POINTS_KEPT:
            del points[next(iter(points))]
        return point

    def hessp(self, x: np.ndarray, p: np.ndarray, *args: Any) -> np.ndarray:
        """``H(x) @ p`` by autodiff, with scipy's argument order ``(x, p, *args)``."""
        self.nhev += 1
        point = self._second_order(x, args)
        if self.flat_fun is not None:  # the backend makes p a tangent of the flat vector
            return self._flat(point.hvp([p]))
        return self._flat(point.hvp(self.treedef.split(np.asarray(p, dtype=np.float64))))

    def hess(self, x: np.ndarray, *args: Any) -> np.ndarray:
        """The dense Hessian by autodiff: one product per column (:func:`dense_hessian`)."""
        self.nhev += 1
        # dense_hessian reads the arguments' shapes and dtypes only: no copy of x needed.
        return dense_hessian(self._second_order(x, args), self._autodiff_inputs(x, False)[1])

    def _autodiff_inputs(self, x: np.ndarray, copy: bool) -> tuple[Any, list[np.ndarray]]:
        """What autodiff differentiates at ``x``: ``(function, its arguments)``.

        On a compiling engine, :class:`FlatFunction` of the flat vector itself; else
        :class:`LeafFunction` of the leaves (:meth:`leaves`).
        """
        if self.flat_fun is not None:
            return self.flat_fun, [np.array(x, dtype=np.float64) if copy else x]
        return self.leaf_fun, self.leaves(x, copy=copy)

    def _flat(self, grads: list[Any]) -> np.ndarray:
        """Gradients (or Hessian products) of :meth:`_autodiff_inputs`' arguments, as scipy's
        flat float64 vector; zeros where autodiff found no path."""
        if self.flat_fun is not None:
            (grad,) = grads
            return np.zeros(self.treedef.size) if grad is None else np.asarray(grad, np.float64)
        return self.treedef.ravel_leaves(zeros_for_none(grads, self._zeros))

    def constraint_jacobian(self, cfun: Callable) -> Callable:
        """The autodiff Jacobian ``(m, n)`` (``(n,)`` for a scalar) of a constraint function."""
        treedef = self.treedef
        leaf_fun = LeafFunction(cfun, treedef, what=None)
        memo: list[Any] = [None]  # (key, Jacobian) at the last point

        def jacobian(x: np.ndarray, *args: Any) -> np.ndarray:
            key = _key(x, args)
            if memo[0] is not None and memo[0][0] == key:
                return memo[0][1].copy()
            leaves = self.leaves(x)
            with explained_failures(SCIPY_HINT):
                trace = get_backend().trace(leaf_fun, leaves, args, key=leaf_fun.key)
            value = np.asarray(trace.value)
            if value.ndim == 0:
                out = treedef.ravel_leaves(
                    zeros_for_none(trace.gradients(np.ones((), value.dtype)), leaves)
                )
            else:
                rows = []
                for i in range(value.size):
                    basis = np.zeros(value.size, dtype=value.dtype)
                    basis[i] = 1
                    grads = trace.gradients(basis.reshape(value.shape))
                    rows.append(treedef.ravel_leaves(zeros_for_none(grads, leaves)))
                out = np.stack(rows)
            memo[0] = (key, out.copy())
            return out

        return jacobian


def _wrap_constraints(
    constraints: Any, problem: ScipyProblem, x0: np.ndarray, autodiff: bool, demand: bool
) -> tuple[list, list[str]]:
    """Constraint functions receive the user's structure; dict constraints get autodiff ``jac``.

    Args:
        constraints: the caller's constraints.
        problem: the objective's problem (its layout turns flat vectors into the user's ``x``).
        x0: the flat start, where each autodiff Jacobian is tried first.
        autodiff: give dict constraints without ``'jac'`` an autodiff Jacobian (the methods
            that use constraint Jacobians: SLSQP, trust-constr).
        demand: ``jac="autodiff"``: a constraint autodiff cannot follow raises instead of
            getting scipy's finite differences.

    Returns:
        ``(constraints for scipy, names of the constraints that fell back to differences)``.
    """
    fell_back: list[str] = []
    if constraints is None:
        return [], fell_back
    single = isinstance(
        constraints, (dict, scipy.optimize.NonlinearConstraint, scipy.optimize.LinearConstraint)
    )
    items = [constraints] if single else list(constraints)
    out = []
    for i, con in enumerate(items):
        if isinstance(con, dict):
            if "fun" not in con or not callable(con["fun"]):
                raise TypeError(
                    f"`constraints[{i}]['fun']` must be callable, got {con.get('fun')!r}."
                )
            user_fun = con["fun"]
            new = dict(con)
            new["fun"] = _on_user_x(user_fun, problem)
            cjac = con.get("jac")
            if cjac is None:
                if autodiff:
                    jacobian = problem.constraint_jacobian(user_fun)
                    try:
                        jacobian(x0, *con.get("args", ()))
                    except Exception as exc:
                        cause = exc.__cause__ if exc.__cause__ is not None else exc
                        if demand or not is_trace_failure(cause):
                            raise
                        fell_back.append(f"constraints[{i}]")
                    else:
                        new["jac"] = jacobian
            elif isinstance(cjac, str):
                if cjac not in _JAC_STRINGS:
                    raise ValueError(
                        f"`constraints[{i}]['jac']` must be a callable, None (autodiff) or one "
                        f"of {_JAC_STRINGS}, got {cjac!r}."
                    )
                new.pop("jac")  # scipy's own finite differences
            elif callable(cjac):
                new["jac"] = _on_user_x(cjac, problem)
            else:
                raise TypeError(f"`constraints[{i}]['jac']` must be callable, got {cjac!r}.")
            out.append(new)
        elif isinstance(con, scipy.optimize.NonlinearConstraint):
            cjac = con.jac
            out.append(
                scipy.optimize.NonlinearConstraint(
                    _on_user_x(con.fun, problem),
                    con.lb,
                    con.ub,
                    jac=_on_user_x(cjac, problem) if callable(cjac) else cjac,
                    hess=con.hess,
                    keep_feasible=con.keep_feasible,
                    finite_diff_rel_step=con.finite_diff_rel_step,
                    finite_diff_jac_sparsity=con.finite_diff_jac_sparsity,
                )
            )
        else:
            out.append(con)  # LinearConstraint: a matrix over the flat layout
    return out, fell_back


def _on_user_x(fn: Callable, problem: ScipyProblem) -> Callable:
    def wrapped(x: np.ndarray, *args: Any) -> Any:
        return fn(problem.user(x), *args)

    return wrapped


class _StopTNC(Exception):
    """Carries TNC's iterate out of scipy when the callback raised StopIteration."""

    def __init__(self, xk: np.ndarray) -> None:
        super().__init__()
        self.xk = np.array(xk)


def _wrap_scipy_callback(callback: Callable | None, meth: str, problem: ScipyProblem):
    if callback is None:
        return None
    wants_result = wants_intermediate_result(callback)
    if meth == "tnc":
        # scipy neither inspects TNC's callback (it always gets a bare array) nor catches its
        # StopIteration: both are done here, so TNC behaves like the other methods.
        def tnc_callback(xk: np.ndarray) -> None:
            problem.nit += 1
            try:
                if wants_result:
                    result = OptimizeResult(x=problem.shown(xk))
                    if problem.last is not None and np.array_equal(problem.last[0], xk):
                        result["fun"] = problem.last[1]
                    callback(intermediate_result=result)
                else:
                    callback(problem.shown(xk))
            except StopIteration:
                raise _StopTNC(xk) from None

        return tnc_callback
    if wants_result:

        def new_style(intermediate_result: OptimizeResult) -> Any:
            result = OptimizeResult(intermediate_result)
            result["x"] = problem.shown(intermediate_result.x)
            return callback(intermediate_result=result)

        return new_style

    def old_style(xk: np.ndarray, *rest: Any) -> Any:
        return callback(problem.shown(xk), *rest)

    return old_style


def minimize_scipy(
    fun,
    leaves0,
    treedef,
    args,
    method,
    jac,
    hess,
    hessp,
    bounds,
    caller_bounds,
    constraints,
    tol,
    callback,
    options,
) -> OptimizeResult:
    """``scipy.optimize.minimize`` with scipy's method ``method`` on the pytree problem.

    The arguments are those of ``optim.minimize``, already checked: ``leaves0`` and ``treedef``
    from :func:`optim.scipy.arguments.check_x0`, ``bounds`` per leaf from
    :func:`optim.scipy.arguments.standardize_bounds` and ``caller_bounds`` as the caller passed
    them, ``method`` a canonical scipy name or a callable.

    With ``jac=None`` the gradient (and, where the method uses them, Hessian products or the
    Hessian) come from autodiff. When autodiff cannot follow ``fun`` at ``x0`` (plain Python
    or numpy code: ``float()``, the math module, writes into an array), the call is made as
    scipy would make it, with scipy's finite differences, and one ``OptimizeWarning`` says
    why; ``jac="autodiff"`` raises instead.

    Returns:
        scipy's ``OptimizeResult`` with ``x``, and ``jac`` / ``grad`` when flat vectors, in
        ``x0``'s structure; ``nhev`` set when Hessian information was supplied and scipy keeps
        no count of its own.
    """
    meth = method.lower() if isinstance(method, str) else "_custom"
    demand = jac == AUTODIFF
    demand_hess = isinstance(hess, str) and hess == AUTODIFF
    if demand_hess:
        if hessp is not None:
            raise ValueError(
                f"`hess` must not be 'autodiff' when `hessp` is given, got hessp={hessp!r}."
            )
        hess = None
    if demand and meth in _GRADIENT_FREE:
        warnings.warn(
            f"Method {method} does not use gradient information (jac).",
            RuntimeWarning,
            stacklevel=4,
        )
    autodiff = (jac is None or demand) and meth not in _GRADIENT_FREE
    float64_leaves = (isinstance(jac, str) and not demand) or jac is False
    problem = ScipyProblem(fun, treedef, args, float64_leaves, keep_last=meth == "tnc")
    x0 = treedef.ravel_leaves(leaves0)
    fell_back: list[str] = []
    # Autodiff second order (when the caller gives none): gradients come from the same trace.
    problem.second_order = (
        autodiff and hess is None and hessp is None and meth in _USES_HESS | _USES_HESSP
    )
    if autodiff:
        failure = problem.probe_autodiff(x0)
        if failure is not None:
            if demand or demand_hess:
                raise failure
            fell_back.append(f"fun ({_first_line(failure)})")
            autodiff = problem.second_order = False
            problem.float64_leaves = True  # scipy's steps need float64
    kwargs: dict[str, Any] = {}
    if autodiff:
        call_fun, call_jac = problem.value_and_grad, True
    elif jac is True:
        call_fun, call_jac = problem.value_and_user_grad, True
    elif callable(jac):
        call_fun, call_jac = problem.value, problem.user_jac(jac)
    else:
        call_fun, call_jac = problem.value, None if jac in (None, "autodiff") else jac
    supplied_second_order = False
    if callable(hess):
        hess = problem.user_hess(hess)
    if callable(hessp):
        hessp = problem.user_hessp(hessp)
    if (
        hess is None
        and hessp is None
        and (autodiff or demand_hess or (meth in _NEEDS_HESSIAN and not fell_back))
    ):
        if meth in _USES_HESS:
            hess, supplied_second_order = problem.hess, True
        elif meth in _USES_HESSP:
            hessp, supplied_second_order = problem.hessp, True
        elif demand_hess:
            hess = AUTODIFF  # scipy warns that the method does not use it, as for any hess
    if hess is not None:
        kwargs["hess"] = hess
    if hessp is not None:
        kwargs["hessp"] = hessp
    if bounds is not None:
        kwargs["bounds"] = _bounds_for_scipy(caller_bounds, bounds, treedef)
    if constraints:
        kwargs["constraints"], fell = _wrap_constraints(
            constraints, problem, x0, meth in _USES_CONSTRAINT_JACOBIANS, demand
        )
        fell_back += fell
    if fell_back:
        warnings.warn(
            f"autodiff could not follow {' and '.join(fell_back)}, so scipy's finite "
            "differences are used, as scipy.optimize.minimize does with jac=None. For exact "
            f"gradients, write the function with {get_backend().numpy_hint}, "
            "or pass jac=callable; jac='autodiff' raises instead of falling back.",
            OptimizeWarning,
            stacklevel=4,
        )
    try:
        res = scipy.optimize.minimize(
            call_fun,
            x0,
            args=args,
            method=method,
            jac=call_jac,
            tol=tol,
            callback=_wrap_scipy_callback(callback, meth, problem),
            options=dict(options),
            **kwargs,
        )
    except _StopTNC as stop:
        res = problem.stopped_result(stop.xk)
    n = treedef.size
    flat_x = np.asarray(res.x)
    res.x = treedef.unravel(flat_x)
    for key in ("jac", "grad"):
        value = res.get(key)
        if isinstance(value, np.ndarray) and value.shape == (n,) and value.dtype.kind == "f":
            res[key] = treedef.unravel(value)
    if supplied_second_order or callable(hess) or callable(hessp):
        res.setdefault("nhev", problem.nhev)  # scipy's own count wins where it keeps one
    return res


def _first_line(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"


def _bounds_for_scipy(caller_bounds: Any, bounds: list, treedef: TreeDef) -> Any:
    """The caller's own bounds object when ``x0`` is scipy's flat vector, else flat Bounds."""
    flat_vector = treedef.is_leaf and len(treedef.shapes[0]) == 1
    if flat_vector and isinstance(caller_bounds, (Bounds, list, tuple)):
        return caller_bounds
    low = treedef.ravel_leaves([lo for lo, _ in bounds])
    high = treedef.ravel_leaves([hi for _, hi in bounds])
    keep = caller_bounds.keep_feasible if isinstance(caller_bounds, Bounds) else False
    return Bounds(low, high, keep_feasible=keep)
