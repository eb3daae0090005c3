"""``optim.minimize``: ``scipy.optimize.minimize`` on pytrees, with autodiff and optim optimizers.

It checks its arguments once, then hands the problem to scipy (:mod:`optim.scipy.bridge`) or
to the first-order loop (:mod:`optim.scipy.first_order`), by what ``method`` names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scipy.optimize import OptimizeResult

from ..backend import check_backend_name, use_backend
from .arguments import check_callback, check_jac, check_x0, standardize_bounds
from .bridge import minimize_scipy
from .evaluation import short_repr
from .first_order import minimize_first_order, tol_into_options, warn_second_order
from .registry import resolve_method, spec_name

__all__ = ["minimize"]


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    args: Any = (),
    method: Any = None,
    jac: Any = None,
    hess: Any = None,
    hessp: Any = None,
    bounds: Any = None,
    constraints: Any = (),
    tol: float | None = None,
    callback: Callable[..., Any] | None = None,
    options: dict[str, Any] | None = None,
    backend: str | None = None,
) -> OptimizeResult:
    """``scipy.optimize.minimize`` over pytrees, with autodiff gradients and optim's optimizers.

    A drop-in: every call ``scipy.optimize.minimize`` accepts works here with the same
    meaning, result fields, counts and exception types (a table of scipy's calling patterns
    run through both, tests/test_scipy_dropin.py, keeps it so). On top of that, ``x0`` may be
    any pytree, ``method`` may name an optim optimizer, and ``jac=None`` gives exact
    gradients when it can.

    .. note::
        ``jac=None`` (the default) means **reverse-mode automatic differentiation** of ``fun``
        (and autodiff Hessian products or Hessians for the methods that use them) whenever
        autograd can follow ``fun``: code written with ``autograd.numpy``, and most plain
        numpy code. When it cannot (``float()`` or ``math.exp`` on the input, writes into a
        preallocated array), the call runs exactly as in scipy, with scipy's forward finite
        differences, and one ``OptimizeWarning`` says why. ``jac="autodiff"`` demands autodiff
        and raises instead. Autodiff evaluates ``fun`` once per point scipy asks about, value,
        gradient and Hessian products together; the fallback adds one aborted call at ``x0``.
        Derivative-free methods (Nelder-Mead, Powell, COBYLA, COBYQA) never trace ``fun``.

    Args:
        fun: ``fun(x, *args) -> float``, ``x`` with the structure of ``x0``. With
            ``jac=True`` it returns ``(value, gradient)``, the gradient shaped like ``x``.
        x0: the starting point: a scalar, an array of any shape, or a dict / list / tuple
            pytree of them. A plain list or tuple of numbers only (``[1.0, 2.0]``) is an array,
            as in scipy; wrap the entries in ``np.array`` for a list of 0-d leaves. Integer
            leaves become float64; float32 leaves stay float32 in everything the user sees
            (``x`` given to ``fun`` and callbacks, ``res.x``, ``res.jac``), where scipy would
            compute in float64. A bare scalar ``x0`` is a vector of one entry, as in scipy (a
            0-d leaf inside a container stays 0-d).
        args: extra positional arguments of ``fun``, ``jac``, ``hess`` and ``hessp`` (a
            non-tuple is wrapped in a tuple).
        method: one of scipy's methods (``"BFGS"``, ``"L-BFGS-B"``, ``"Newton-CG"``,
            ``"trust-krylov"``...; case-insensitive), a scipy custom method (a callable), or an
            optim optimizer: a name from :func:`optimizer_names` (``"adam"``, ``"momentum"``,
            ``"sgd"``...), an ``optim.Optimizer`` subclass or an instance. Default: as scipy,
            ``"SLSQP"`` with constraints, else ``"L-BFGS-B"`` with bounds, else ``"BFGS"``.
        jac: ``None`` (autodiff, else scipy's differences, see above), ``"autodiff"`` (autodiff
            or an error), ``True`` (``fun`` returns the gradient too), a callable
            ``jac(x, *args)`` returning the gradient with ``x``'s structure (for an array
            ``x0``, any shape of its size, as scipy reads it), ``False`` (scipy's default
            differences) or ``"2-point"`` / ``"3-point"`` / ``"cs"``. With scipy's
            methods, finite differences are scipy's, whose float64-sized steps would round away
            in float32: ``fun`` then receives float64 leaves. With optim optimizers they are
            :class:`optim.FiniteDifferences`, with steps sized for each leaf's dtype.
        hess: as scipy (a callable ``hess(x, *args)`` returns an ``(n, n)`` matrix over the flat
            layout of ``x``, see :mod:`optim.pytree`), or ``"autodiff"``: Hessian information
            by autodiff for every method that uses it, also with a user ``jac``, and an error
            instead of a fallback when autodiff cannot follow ``fun``. When neither ``hess``
            nor ``hessp`` is given, dogleg and trust-exact get a dense autodiff Hessian (one
            Hessian-vector product per column; on jax, one compiled call per 128 columns),
            with ``jac=None`` and also with a user ``jac`` (they cannot run without one).
        hessp: as scipy: ``hessp(x, p, *args)``, ``p`` and the result shaped like ``x``. When
            neither ``hess`` nor ``hessp`` is given, trust-ncg and trust-krylov always, and
            Newton-CG and trust-constr with ``jac=None`` (or ``hess="autodiff"``), get autodiff
            Hessian-vector products (autograd: reverse over reverse, the gradient traced once
            per point and each product one backward pass through that trace; jax: forward over
            reverse, compiled once).
        bounds: ``scipy.optimize.Bounds`` (scalars or arrays over the flat layout), a sequence
            of ``n`` ``(low, high)`` pairs (flat layout; one pair for every entry of an array
            ``x0``, as scipy broadcasts it), or a pytree of ``(low, high)`` pairs
            shaped like ``x0`` (each bound a scalar or an array broadcasting to its leaf;
            ``None``, ``nan`` or a missing dict key means unbounded). For an array ``x0`` the
            caller's bounds object reaches scipy unchanged (fixed variables, ``lb == ub``,
            included). Optim optimizers keep them by projecting (``np.clip``) after every
            step, ``x0`` included.
        constraints: as scipy (dicts, ``NonlinearConstraint``, ``LinearConstraint``); the
            functions receive ``x`` with ``x0``'s structure, and a dict without ``'jac'`` gets
            an autodiff Jacobian for SLSQP and trust-constr (``'jac': '2-point'`` asks for
            scipy's differences, and a constraint autograd cannot follow gets them with the
            same warning as ``fun``). Optim optimizers do not take constraints.
        tol: as scipy; for optim optimizers it sets ``gtol`` and ``ftol``.
        callback: ``callback(xk)`` or ``callback(intermediate_result)`` (chosen by signature,
            as scipy does), with ``xk`` / ``intermediate_result.x`` in ``x0``'s structure.
            Raising ``StopIteration`` ends the run with ``success=False``, ``status=99``.
        options: as scipy for scipy's methods (unknown keys warn with ``OptimizeWarning``).
            For optim optimizers: ``maxiter`` (15000), ``gtol`` (1e-5, on the largest entry of
            the projected gradient; ``norm`` changes the norm), ``ftol`` (2.2e-9, relative
            change of ``fun`` between iterations: it stops the run, but counts as success only
            when the caller set it or ``tol``), ``disp`` (print a summary), and the
            optimizer's constructor arguments (``learning_rate``, ``beta1``, ``momentum``...,
            and ``gradient`` / ``nonfinite``). The caller's dict is never changed.

    Returns:
        ``scipy.optimize.OptimizeResult`` with ``x`` and ``jac`` in ``x0``'s structure and
        dtypes, ``fun``, ``nit``, ``nfev``, ``njev``, ``success``, ``status``, ``message``;
        ``nhev`` when Hessians were used, ``hess_inv`` when scipy's method gives it (over the
        flat layout). For optim optimizers, ``status`` is 0 (converged: ``gtol``, or an
        ``ftol`` the caller set), 1 (``maxiter``), 2 (the default ``ftol`` stopped a run whose
        gradient is still above ``gtol``: not converged), 3 (non-finite value or gradient;
        ``x`` is the last finite iterate) or 99 (``StopIteration``). A failed run returns
        ``success=False``; it does not raise.

    Raises:
        ValueError: an unknown ``backend``; ``x0`` not finite, bounds of the wrong shape or with
            low > high, an unknown ``method`` (the message lists the valid ones), a ``fun``
            returning a non-scalar, a ``jac`` of the wrong shape, bad loop options, constraints
            given to an optim optimizer. Where scipy raises for the same input, the message starts
            with scipy's own words ("Unknown solver ...", "The user-provided objective function
            must return a scalar value.", the two bounds messages), then says more.
        ImportError: ``backend="jax"`` without jax installed (``pip install "optim[jax]"``).
        TypeError: a non-callable ``fun``, ``jac``, ``callback``; a ``jac`` or ``hessp``
            returning another structure; a missing required hyperparameter (``momentum`` for
            ``"momentum"``).

    Example:
        >>> np = optim.get_backend().numpy        # autograd.numpy by default
        >>> def fun(p):
        ...     return np.sum((p["w"] - 1.0) ** 2) + (p["b"] + 2.0) ** 2
        >>> res = optim.minimize(fun, {"w": np.zeros(3), "b": 0.0})       # BFGS, autodiff
        >>> res = optim.minimize(fun, {"w": np.zeros(3), "b": 0.0}, method="adam",
        ...                      options={"learning_rate": 0.1})
        >>> res.x["b"]
        array(-2.)
    """
    if backend is not None:
        check_backend_name(backend)
    with use_backend(backend):  # the whole call, fun's own evaluations included
        if not callable(fun):
            raise TypeError(f"`fun` must be callable, got {fun!r}.")
        if not isinstance(args, tuple):
            args = (args,)
        kind, spec = resolve_method(method, constraints, bounds)
        leaves0, treedef = check_x0(x0)
        check_jac(jac)
        check_callback(callback)
        if options is None:
            options = {}
        elif not isinstance(options, dict):
            raise TypeError(f"`options` must be a dict or None, got {options!r}.")
        options = dict(options)
        std_bounds = standardize_bounds(bounds, treedef)
        if kind == "scipy":
            return minimize_scipy(
                fun,
                leaves0,
                treedef,
                args,
                spec,
                jac,
                hess,
                hessp,
                std_bounds,
                bounds,
                constraints,
                tol,
                callback,
                options,
            )
        if constraints:
            raise ValueError(
                f"`constraints` must be empty for the optim optimizer {spec_name(spec)!r} "
                f"(first-order methods take bounds only); use 'SLSQP' or 'trust-constr', got "
                f"{short_repr(constraints)}."
            )
        warn_second_order(spec, hess, hessp, stacklevel=3)
        tol_into_options(options, tol)
        return minimize_first_order(
            fun, leaves0, treedef, args, spec, jac, std_bounds, callback, options, stacklevel=3
        )
