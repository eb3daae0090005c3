"""``scipy.optimize.minimize`` both ways, and TF contrib's ``ScipyOptimizerInterface``.

Three doors into the same engines:

* :func:`minimize` is ``scipy.optimize.minimize`` with pytrees and autodiff. ``method`` is either
  one of scipy's methods (the call goes to scipy, with the gradient, Hessian-vector products and
  Hessians taken by autograd) or any optim optimizer (``"adam"``, ``MomentumOptimizer``, an
  instance...), run by a first-order loop with scipy's stopping rules, bounds by projection and
  scipy's result object.
* :func:`scipy_method` packs an optim optimizer as a scipy *custom method*:
  ``scipy.optimize.minimize(fun, x0, method=optim.scipy_method("adam", learning_rate=0.01))``.
  It runs the same first-order loop.
* :class:`ScipyOptimizerInterface` is TF1 contrib's bridge for the world of Variables and
  zero-argument closures: pack the variables, minimize with scipy (or an optim optimizer), write
  the solution back into the variables.

The first-order loop (one loop behind :func:`minimize` and :func:`scipy_method`), per iteration
``k`` at the iterate ``x_k``::

    f_k, g_k = value and gradient at x_k              # nfev += 1, njev += 1 (autodiff)
    stop if f_k or g_k is not finite                  # status 3, the last finite iterate
    callback(x_k)                                     # k >= 1; StopIteration -> status 99
    stop if max|P(x_k - g_k) - x_k| <= gtol           # status 0 (P: projection onto bounds)
    stop if |f_{k-1} - f_k| <= ftol * max(|f_{k-1}|, |f_k|, 1)     # status 0
    stop if k == maxiter                              # status 1
    x_{k+1} = P(optimizer step from x_k with g_k)     # apply_gradients + Variable constraint

so ``res.x``, ``res.fun`` and ``res.jac`` always belong to the same point.

.. note::
    ``ftol`` is L-BFGS-B's test on the *change* ``|f_{k-1} - f_k|``, not on the decrease: a
    first-order step may raise ``f`` (momentum, Adam) and must not count as convergence. A step
    of size ``lr`` changes ``f`` by about ``lr * |g|**2``, so ``ftol`` stops where
    ``|g|**2 ~ ftol * max(|f|, 1) / lr``, usually before ``gtol``: lower ``ftol`` (0 turns it
    off) for tight solutions. A method that settles into a cycle at a constant rate (Lion's
    sign steps; RMSProp with a short ``decay``) stops there, about ``lr`` from the minimum.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import numbers
import pkgutil
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np
import scipy.optimize
from scipy.optimize import Bounds, OptimizeResult, OptimizeWarning

from .backend import get_backend
from .gradients import (
    FINITE_DIFFERENCE_METHODS,
    FiniteDifferences,
    LossWithGradient,
    UserGradient,
    _Substitute,
    as_gradient_source,
    explain_trace_error,
)
from .optimizer import Optimizer, _resolve_var_list
from .pytree import TreeDef, flatten
from .variables import Graph, Variable, get_or_create_global_step

__all__ = [
    "minimize",
    "scipy_method",
    "optimizer_names",
    "ScipyOptimizerInterface",
    "ExternalOptimizerInterface",
    "SCIPY_METHODS",
]

_logger = logging.getLogger(__name__)

#: scipy's built-in method names (``method=`` is matched case-insensitively, as scipy does).
SCIPY_METHODS = (
    "Nelder-Mead",
    "Powell",
    "CG",
    "BFGS",
    "Newton-CG",
    "L-BFGS-B",
    "TNC",
    "COBYLA",
    "COBYQA",
    "SLSQP",
    "trust-constr",
    "dogleg",
    "trust-ncg",
    "trust-exact",
    "trust-krylov",
)
_SCIPY_BY_LOWER = {m.lower(): m for m in SCIPY_METHODS}
_GRADIENT_FREE = {"nelder-mead", "powell", "cobyla", "cobyqa"}
_USES_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_USES_HESS = {"dogleg", "trust-exact"}
# Methods that cannot run without second-order information (scipy raises otherwise).
_NEEDS_HESSIAN = {"dogleg", "trust-exact", "trust-ncg", "trust-krylov"}

_STOP_MESSAGE = "`callback` raised `StopIteration`."
_JAC_STRINGS = FINITE_DIFFERENCE_METHODS

# Options the first-order loop reads itself (everything else must be a constructor argument).
_LOOP_DEFAULTS = {
    "maxiter": 15000,
    "gtol": 1e-5,
    "ftol": 2.220446049250313e-09,
    "norm": math.inf,
    "disp": False,
}
# Keywords of scipy's custom-method call that are not options.
_PROTOCOL_KEYWORDS = {"args", "jac", "hess", "hessp", "bounds", "constraints", "callback"}


# ---------------------------------------------------------------------------------------------
# The optimizer registry


_ALIASES = {"sgd": "gradient_descent", "gd": "gradient_descent"}
_algorithms_imported = False


def _import_algorithm_modules() -> None:
    """Imports every module of ``optim.algorithms`` once, so each family registers its classes."""
    global _algorithms_imported
    if _algorithms_imported:
        return
    from . import algorithms

    for info in pkgutil.iter_modules(algorithms.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{algorithms.__name__}.{info.name}")
    _algorithms_imported = True


def _display_name(cls: type) -> str:
    stem = cls.__name__.removesuffix("Optimizer") or cls.__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z]{2}|[A-Z][a-z])", "_", stem).lower()


def _normalize(name: str) -> str:
    key = re.sub(r"[\s_\-]", "", name).lower()
    return key.removesuffix("optimizer") or key


def _optimizer_classes() -> dict[str, type[Optimizer]]:
    """``{name: class}`` for every concrete optimizer defined in optim, found at call time."""
    _import_algorithm_modules()
    found: dict[str, type[Optimizer]] = {}
    stack = list(Optimizer.__subclasses__())
    seen: set[type] = set()
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if (
            not cls.__module__.startswith("optim.")
            or cls.__name__.startswith("_")
            or cls._apply_dense is Optimizer._apply_dense
        ):
            continue
        found[_display_name(cls)] = cls
    return dict(sorted(found.items()))


def optimizer_names() -> list[str]:
    """The optim optimizer names that ``method=`` accepts (aliases included), sorted.

    Names are matched ignoring case, ``_``, ``-`` and an ``Optimizer`` suffix, so ``"adam"``,
    ``"Adam"`` and ``"AdamOptimizer"`` are the same; ``"sgd"`` and ``"gd"`` mean
    ``"gradient_descent"``. The list is built when called, from every ``optim.Optimizer``
    subclass defined in optim: an optimizer added to ``optim/algorithms/`` is found without
    changes here.
    """
    classes = _optimizer_classes()
    aliases = [a for a, target in _ALIASES.items() if target in classes]
    return sorted([*classes, *aliases])


def _lookup_optimizer(name: str) -> type[Optimizer] | None:
    classes = _optimizer_classes()
    by_key = {_normalize(n): cls for n, cls in classes.items()}
    key = _normalize(name)
    key = _normalize(_ALIASES.get(key, key))
    return by_key.get(key)


def _valid_methods_text() -> str:
    return (
        f"one of scipy's methods {list(SCIPY_METHODS)}, an optim optimizer name "
        f"{optimizer_names()}, an optim.Optimizer subclass or instance, or a callable "
        "(a scipy custom method)"
    )


def _resolve_method(method: Any, constraints: Any, bounds: Any) -> tuple[str, Any]:
    """``("scipy", name or callable)`` or ``("optim", class or instance)``."""
    if method is None:
        if constraints:
            return "scipy", "SLSQP"
        return "scipy", "L-BFGS-B" if bounds is not None else "BFGS"
    if isinstance(method, Optimizer):
        return "optim", method
    if isinstance(method, type) and issubclass(method, Optimizer):
        return "optim", method
    if isinstance(method, str):
        scipy_name = _SCIPY_BY_LOWER.get(method.lower())
        if scipy_name is not None:
            return "scipy", scipy_name
        cls = _lookup_optimizer(method)
        if cls is not None:
            return "optim", cls
        raise ValueError(f"`method` must be {_valid_methods_text()}, got {method!r}.")
    if callable(method):
        return "scipy", method
    raise TypeError(f"`method` must be {_valid_methods_text()}, got {method!r}.")


# ---------------------------------------------------------------------------------------------
# Argument checks shared by minimize and scipy_method


def _is_number_nest(x: Any) -> bool:
    """A non-empty (nested) plain list or tuple of numbers only, e.g. ``[1.0, 2.0]``."""
    if type(x) not in (list, tuple) or not x:
        return False
    return all(
        _is_number_nest(e) or (isinstance(e, numbers.Number) and not isinstance(e, np.ndarray))
        for e in x
    )


def _check_x0(x0: Any) -> tuple[list[np.ndarray], TreeDef]:
    if _is_number_nest(x0):  # scipy's reading of x0=[1.0, 2.0]: a vector, not two leaves
        try:
            array = np.asarray(x0)
        except ValueError:  # ragged: keep it a pytree
            array = None
        if array is not None and array.dtype.kind in "biuf":
            x0 = array
    leaves, treedef = flatten(x0, "x0", as_float=True)
    if treedef.size == 0:
        raise ValueError(f"`x0` must hold at least one number, got {x0!r}.")
    for leaf, path in zip(leaves, treedef.paths):
        if not np.all(np.isfinite(leaf)):
            raise ValueError(f"`x0{path}` must be finite, got {leaf!r}.")
    return [np.array(leaf) for leaf in leaves], treedef


def _check_jac(jac: Any) -> None:
    if jac is None or isinstance(jac, bool) or callable(jac):
        return
    if isinstance(jac, str):
        if jac in _JAC_STRINGS:
            return
        raise ValueError(
            f"`jac` must be None (autodiff), True, False, a callable or one of {_JAC_STRINGS}, "
            f"got {jac!r}."
        )
    raise TypeError(
        f"`jac` must be None (autodiff), True, False, a callable or one of {_JAC_STRINGS}, "
        f"got {jac!r}."
    )


def _check_callback(callback: Any) -> None:
    if callback is not None and not callable(callback):
        raise TypeError(f"`callback` must be callable or None, got {callback!r}.")


def _wants_intermediate_result(callback: Callable) -> bool:
    """scipy's rule: the new form is chosen when the only parameter is ``intermediate_result``."""
    try:
        parameters = inspect.signature(callback).parameters
    except (TypeError, ValueError):
        return False
    return set(parameters) == {"intermediate_result"}


def _as_pair(value: Any, path: str) -> tuple[Any, Any]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    raise TypeError(f"`bounds{path}` must be a (low, high) pair, got {value!r}.")


def _bound_array(value: Any, fill: float, shape: tuple, name: str) -> np.ndarray:
    if value is None:
        return np.full(shape, fill)
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a number, an array or None, got {value!r}.") from exc
    array = np.where(np.isnan(array), fill, array)  # scipy reads NaN bounds as "no bound"
    try:
        return np.array(np.broadcast_to(array, shape))
    except ValueError as exc:
        raise ValueError(
            f"`{name}` must broadcast to shape {shape}, got shape {array.shape}."
        ) from exc


def _is_scalar_pair_list(bounds: Any, n: int) -> bool:
    if not isinstance(bounds, (list, tuple)) or len(bounds) != n:
        return False
    for pair in bounds:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            return False
        for b in pair:
            if b is not None and not (isinstance(b, numbers.Real) or np.ndim(b) == 0):
                return False
    return True


def _standardize_bounds(
    bounds: Any, treedef: TreeDef
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per-leaf ``(low, high)`` float64 arrays of each leaf's shape, or None (no bounds).

    Accepted: a ``scipy.optimize.Bounds`` (scalars or flat arrays over the flat layout), a
    sequence of ``n`` scalar ``(low, high)`` pairs (scipy's form, flat layout), or a pytree of
    ``(low, high)`` pairs shaped like ``x0`` (``None`` or a missing dict key: unbounded), each
    bound a scalar or broadcasting to its leaf.
    """
    if bounds is None:
        return None
    n = treedef.size
    if isinstance(bounds, Bounds):
        flat = []
        for name, value, fill in (
            ("bounds.lb", bounds.lb, -np.inf),
            ("bounds.ub", bounds.ub, np.inf),
        ):
            array = np.asarray(value, dtype=np.float64)
            if array.ndim > 1 or (array.ndim == 1 and array.size not in (1, n)):
                if treedef.num_leaves == 1 and array.shape == treedef.shapes[0]:
                    array = array.ravel()
                else:
                    raise ValueError(
                        f"`{name}` must be a scalar or have shape ({n},) (one entry per "
                        f"element of x0, in flat order), got shape {array.shape}."
                    )
            flat.append(_bound_array(array, fill, (n,), name))
        lows, highs = treedef.split(flat[0]), treedef.split(flat[1])
    elif _is_scalar_pair_list(bounds, n):
        low = np.array([-np.inf if lo is None else lo for lo, _ in bounds], dtype=np.float64)
        high = np.array([np.inf if hi is None else hi for _, hi in bounds], dtype=np.float64)
        low = np.where(np.isnan(low), -np.inf, low)
        high = np.where(np.isnan(high), np.inf, high)
        lows, highs = treedef.split(low), treedef.split(high)
    else:
        per_leaf = treedef.prefix_leaves(bounds, "bounds")
        lows, highs = [], []
        for entry, shape, path in zip(per_leaf, treedef.shapes, treedef.paths):
            lo, hi = (None, None) if entry is None else _as_pair(entry, path)
            lows.append(_bound_array(lo, -np.inf, shape, f"bounds{path}[0]"))
            highs.append(_bound_array(hi, np.inf, shape, f"bounds{path}[1]"))
    out = []
    for lo, hi, path in zip(lows, highs, treedef.paths):
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        bad = lo > hi
        if np.any(bad):
            raise ValueError(
                f"`bounds{path}` must have low <= high everywhere, got low {lo[bad]!r} above "
                f"high {hi[bad]!r}."
            )
        out.append((lo, hi))
    return out


def _bounds_in_dtype(low: np.ndarray, high: np.ndarray, dtype: np.dtype):
    """Bounds rounded inward to ``dtype``, so a clipped float32 value never leaves them."""
    lo = low.astype(dtype)
    hi = high.astype(dtype)
    lo = np.where(lo.astype(np.float64) < low, np.nextafter(lo, dtype.type(np.inf)), lo)
    hi = np.where(hi.astype(np.float64) > high, np.nextafter(hi, dtype.type(-np.inf)), hi)
    return lo.astype(dtype), hi.astype(dtype)


def _scalar_output(out: Any, what: str = "fun") -> Any:
    """Checks that ``fun`` returned one real (or, for complex steps, complex) number."""
    shape = getattr(out, "shape", None)
    if shape is None:
        if isinstance(out, numbers.Number) and not isinstance(out, bool):
            return out
        raise TypeError(f"`{what}` must return a real scalar, got {_short(out)}.")
    dtype = getattr(out, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind not in "iufc":
        raise TypeError(f"`{what}` must return a real scalar, got {_short(out)}.")
    if shape == ():
        return out
    size = int(np.prod(shape))
    if size == 1:
        return anp.reshape(out, ())
    raise ValueError(
        f"`{what}` must return a scalar, got {_short(out)} of shape {tuple(shape)}; reduce it "
        "(np.sum, np.mean)."
    )


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 160 else text[:160] + "...)"


def _trace(fun: Callable, args: Sequence[Any]):
    """``get_backend().trace`` with autograd's failures explained."""
    try:
        return get_backend().trace(fun, args)
    except Exception as exc:
        explained = explain_trace_error(exc)
        if explained is None:
            raise
        raise explained from exc


def _zeros_for_none(grads: Sequence[Any], leaves: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [
        np.zeros(leaf.shape, leaf.dtype) if g is None else np.asarray(g)
        for g, leaf in zip(grads, leaves)
    ]


def _pop_tol(options: dict, tol: Any) -> None:
    if tol is not None:
        options.setdefault("ftol", tol)
        options.setdefault("gtol", tol)


# ---------------------------------------------------------------------------------------------
# The first-order loop


class _Counted:
    """Counts calls of a user function."""

    __slots__ = ("fn", "count")

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.count = 0

    def __call__(self, *a: Any, **k: Any) -> Any:
        self.count += 1
        return self.fn(*a, **k)


def _constructor_parameters(cls: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """The named parameters of ``cls.__init__`` and whether it takes ``**kwargs``."""
    parameters = dict(inspect.signature(cls.__init__).parameters)
    parameters.pop("self", None)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    named = {k: p for k, p in parameters.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    if var_kw:  # the base class's keyword-only options travel through **kwargs
        base = inspect.signature(Optimizer.__init__).parameters
        for k, p in base.items():
            if p.kind is p.KEYWORD_ONLY:
                named.setdefault(k, p)
    return named, var_kw


def _split_options(spec: Any, options: dict) -> tuple[dict, dict, dict]:
    """``(loop options, constructor hyperparameters, unknown)`` from one options dict."""
    loop = {k: options[k] for k in options if k in _LOOP_DEFAULTS}
    rest = {k: v for k, v in options.items() if k not in _LOOP_DEFAULTS}
    if isinstance(spec, Optimizer):
        return loop, {}, rest
    named, _ = _constructor_parameters(spec)
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
    named, _ = _constructor_parameters(spec)
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
            f"{_display_name(spec)!r} ({signature} has no default for "
            f"{'it' if len(missing) == 1 else 'them'}), got {hyper!r}."
        )
    return spec(**kwargs)


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


def _first_order(
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
    """The first-order loop behind ``minimize(method=<optim optimizer>)`` and scipy_method."""
    loop, hyper, unknown = _split_options(spec, options)
    _warn_unknown(unknown, stacklevel + 1, spec)
    settings = _loop_settings(loop)
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
    step_var = getattr(opt, "_global_step", None)  # AdagradDA counts on its own global step
    if not isinstance(step_var, Variable):
        step_var = global_step

    def current() -> Any:
        return treedef.unflatten([v.value for v in variables])

    if jac is True:

        def loss() -> Any:
            out = counted_fun(current(), *args)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(
                    f"`fun` must return a (value, gradient) pair with jac=True, got {_short(out)}."
                )
            grads = treedef.leaves_of(out[1], "jac")
            return _scalar_output(out[0]), [_as_float(g) for g in grads]

        source = LossWithGradient()
    else:

        def loss() -> Any:
            return _scalar_output(counted_fun(current(), *args))

        if jac is None:
            source = getattr(opt, "_gradient", None) or as_gradient_source(None)
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

    def evaluate() -> tuple[float, list[np.ndarray]]:
        nonlocal njev
        value, grads = source.value_and_gradients(loss, variables)
        njev += 1
        grads = _zeros_for_none(grads, leaves0)
        return float(np.real(value)), grads

    def snapshot(arrays: Sequence[np.ndarray]) -> Any:
        return treedef.unflatten([np.array(a) for a in arrays])

    wants_result = callback is not None and _wants_intermediate_result(callback)
    lows = highs = None
    if bounds is not None:
        lows = [np.asarray(v.constraint.low) if v.constraint else None for v in variables]
        highs = [np.asarray(v.constraint.high) if v.constraint else None for v in variables]

    def gradient_norm(grads: list[np.ndarray]) -> float:
        parts = []
        for i, (g, v) in enumerate(zip(grads, variables)):
            g = g.astype(np.float64)
            if lows is not None and lows[i] is not None:
                x = v._value.astype(np.float64)
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
                np.copyto(v._value, value)
            f, g = prev[1], prev[2]
            message = (
                f"NaN result encountered: {what} is not finite after step {nit}; the result is "
                f"the last finite iterate, after step {nit - 1}."
            )
            nit -= 1
            break
        if callback is not None and nit > 0:
            x_user = snapshot([v._value for v in variables])
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
                status, message = 99, _STOP_MESSAGE
                break
        if gradient_norm(g) <= settings["gtol"]:
            status = 0
            message = "Optimization terminated successfully: the gradient norm is <= gtol."
            break
        if f_prev is not None and abs(f_prev - f) <= settings["ftol"] * max(
            abs(f_prev), abs(f), 1.0
        ):
            status = 0
            message = "Optimization terminated successfully: the relative change of fun is <= ftol."
            break
        if nit >= settings["maxiter"]:
            status, message = 1, "Maximum number of iterations has been exceeded."
            break
        prev = ([v._value.copy() for v in variables], f, g)
        try:
            opt.apply_gradients(zip(g, variables), global_step=step_var)
        except FloatingPointError as exc:
            status, message = 3, f"NaN result encountered: {exc}"
            break
        nit += 1
        f_prev = f
        f, g = evaluate()

    result = OptimizeResult(
        x=snapshot([v._value for v in variables]),
        fun=f,
        jac=snapshot(g),
        nit=nit,
        nfev=counted_fun.count,
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


# ---------------------------------------------------------------------------------------------
# scipy's own methods


class _ScipyProblem:
    """``fun`` and its derivatives on scipy's flat float64 vector, for one pytree layout."""

    def __init__(self, fun: Callable, treedef: TreeDef, args: tuple, float64_leaves: bool):
        self.fun = fun
        self.treedef = treedef
        self.args = args
        self.float64_leaves = float64_leaves
        self.nfev = self.njev = self.nhev = self.nit = 0
        self.last: tuple[np.ndarray, float] | None = None
        self.last_grad: tuple[np.ndarray, np.ndarray] | None = None

    def leaves(self, x: np.ndarray) -> list[np.ndarray]:
        parts = self.treedef.split(np.asarray(x))
        if np.iscomplexobj(x) or self.float64_leaves:
            return parts
        return [p.astype(d) for p, d in zip(parts, self.treedef.dtypes)]

    def user(self, x: np.ndarray) -> Any:
        return self.treedef.unflatten(self.leaves(x))

    def shown(self, x: np.ndarray) -> Any:
        """A copy of ``x`` in the user's structure and leaf dtypes (callbacks, results)."""
        return self.treedef.unravel(np.asarray(x))

    def _remember(self, x: np.ndarray, value: Any, grad: np.ndarray | None = None) -> None:
        self.nfev += 1
        if np.iscomplexobj(value):
            return
        self.last = (np.array(x), float(value))
        if grad is not None:
            self.njev += 1
            self.last_grad = (self.last[0], grad)

    def value(self, x: np.ndarray, *args: Any) -> Any:
        value = np.asarray(_scalar_output(self.fun(self.user(x), *args)))[()]
        self._remember(x, value)
        return value

    def _traced_fun(self, args: tuple) -> Callable:
        treedef, fun = self.treedef, self.fun

        def traced(*leaves: Any) -> Any:
            return _scalar_output(fun(treedef.unflatten(leaves), *args))

        return traced

    def value_and_grad(self, x: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
        """One autodiff pass: the value and the flat float64 gradient (scipy's ``jac=True``)."""
        leaves = self.leaves(x)
        trace = _trace(self._traced_fun(args), leaves)
        value = np.asarray(trace.value)
        grads = trace.gradients(np.ones((), value.dtype if value.dtype.kind == "f" else float))
        flat = self.treedef.ravel_leaves(_zeros_for_none(grads, leaves))
        self._remember(x, value[()], flat)
        return float(value), flat

    def value_and_user_grad(self, x: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
        out = self.fun(self.user(x), *args)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"`fun` must return a (value, gradient) pair with jac=True, got {_short(out)}."
            )
        value = float(np.asarray(_scalar_output(out[0])))
        flat = self.treedef.ravel(out[1], "jac")
        self._remember(x, value, flat)
        return value, flat

    def stopped_result(self, xk: np.ndarray) -> OptimizeResult:
        """The (flat) result of a TNC run stopped by its callback, at the iterate ``xk``."""
        result = OptimizeResult(
            x=np.array(xk),
            nit=self.nit,
            nfev=self.nfev,
            status=99,
            success=False,
            message=_STOP_MESSAGE,
        )
        if self.last is not None and np.array_equal(self.last[0], xk):
            result["fun"] = self.last[1]
        if self.last_grad is not None and np.array_equal(self.last_grad[0], xk):
            result["jac"] = self.last_grad[1]
        return result

    def user_jac(self, jac: Callable) -> Callable:
        def flat_jac(x: np.ndarray, *args: Any) -> np.ndarray:
            return self.treedef.ravel(jac(self.user(x), *args), "jac")

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

    def hessp(self, x: np.ndarray, p: np.ndarray, *args: Any) -> np.ndarray:
        """``H(x) @ p`` by autodiff, with scipy's argument order ``(x, p, *args)``."""
        self.nhev += 1
        leaves = self.leaves(x)
        vectors = [v.astype(leaf.dtype) for v, leaf in zip(self.treedef.split(p), leaves)]
        _, _, products = get_backend().hessian_vector_product(
            self._traced_fun(args), leaves, vectors
        )
        return self.treedef.ravel_leaves(_zeros_for_none(products, leaves))

    def hess(self, x: np.ndarray, *args: Any) -> np.ndarray:
        """The dense Hessian by autodiff: one traced gradient, then one backward pass per row."""
        self.nhev += 1
        leaves = self.leaves(x)
        traced = self._traced_fun(args)
        sizes = self.treedef.sizes

        def gradient_vector(*xs: Any) -> Any:
            inner = get_backend().trace(traced, xs)
            value = inner.value
            grads = inner.gradients(np.ones((), np.asarray(value).dtype))
            parts = [
                anp.zeros(size) if g is None else anp.ravel(g) for g, size in zip(grads, sizes)
            ]
            return anp.concatenate(parts)

        outer = _trace(gradient_vector, leaves)
        n = self.treedef.size
        dtype = np.asarray(outer.value).dtype
        rows = []
        for j in range(n):
            basis = np.zeros(n, dtype=dtype)
            basis[j] = 1
            rows.append(self.treedef.ravel_leaves(_zeros_for_none(outer.gradients(basis), leaves)))
        return np.stack(rows)

    def constraint_jacobian(self, cfun: Callable) -> Callable:
        """The autodiff Jacobian ``(m, n)`` (``(n,)`` for a scalar) of a constraint function."""
        treedef = self.treedef

        def jacobian(x: np.ndarray, *args: Any) -> np.ndarray:
            leaves = self.leaves(x)
            trace = _trace(lambda *ls: cfun(treedef.unflatten(ls), *args), leaves)
            value = np.asarray(trace.value)
            if value.ndim == 0:
                return treedef.ravel_leaves(
                    _zeros_for_none(trace.gradients(np.ones((), value.dtype)), leaves)
                )
            rows = []
            for i in range(value.size):
                basis = np.zeros(value.size, dtype=value.dtype)
                basis[i] = 1
                grads = trace.gradients(basis.reshape(value.shape))
                rows.append(treedef.ravel_leaves(_zeros_for_none(grads, leaves)))
            return np.stack(rows)

        return jacobian


def _wrap_constraints(constraints: Any, problem: _ScipyProblem) -> Any:
    """Constraint functions receive the user's structure; dict constraints get autodiff ``jac``."""
    if constraints is None:
        return ()
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
                new["jac"] = problem.constraint_jacobian(user_fun)
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
    return out


def _on_user_x(fn: Callable, problem: _ScipyProblem) -> Callable:
    def wrapped(x: np.ndarray, *args: Any) -> Any:
        return fn(problem.user(x), *args)

    return wrapped


class _StopTNC(Exception):
    """Carries TNC's iterate out of scipy when the callback raised StopIteration."""

    def __init__(self, xk: np.ndarray) -> None:
        super().__init__()
        self.xk = np.array(xk)


def _wrap_scipy_callback(callback: Callable | None, meth: str, problem: _ScipyProblem):
    if callback is None:
        return None
    wants_result = _wants_intermediate_result(callback)
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


def _minimize_scipy(
    keep_feasible,
    fun,
    leaves0,
    treedef,
    args,
    method,
    jac,
    hess,
    hessp,
    bounds,
    constraints,
    tol,
    callback,
    options,
) -> OptimizeResult:
    meth = method.lower() if isinstance(method, str) else "_custom"
    float64_leaves = isinstance(jac, str) or jac is False  # scipy's steps need float64
    problem = _ScipyProblem(fun, treedef, args, float64_leaves)
    x0 = treedef.ravel_leaves(leaves0)
    kwargs: dict[str, Any] = {}
    autodiff = jac is None and meth not in _GRADIENT_FREE
    if autodiff:
        call_fun, call_jac = problem.value_and_grad, True
    elif jac is True:
        call_fun, call_jac = problem.value_and_user_grad, True
    elif callable(jac):
        call_fun, call_jac = problem.value, problem.user_jac(jac)
    else:
        call_fun, call_jac = problem.value, jac
    supplied_second_order = False
    if callable(hess):
        hess = problem.user_hess(hess)
    if callable(hessp):
        hessp = problem.user_hessp(hessp)
    if hess is None and hessp is None and (autodiff or meth in _NEEDS_HESSIAN):
        if meth in _USES_HESS:
            hess, supplied_second_order = problem.hess, True
        elif meth in _USES_HESSP:
            hessp, supplied_second_order = problem.hessp, True
    if hess is not None:
        kwargs["hess"] = hess
    if hessp is not None:
        kwargs["hessp"] = hessp
    if bounds is not None:
        low = treedef.ravel_leaves([lo for lo, _ in bounds])
        high = treedef.ravel_leaves([hi for _, hi in bounds])
        kwargs["bounds"] = Bounds(low, high, keep_feasible=keep_feasible)
    if constraints:
        kwargs["constraints"] = _wrap_constraints(constraints, problem)
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


# ---------------------------------------------------------------------------------------------
# The public functions


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
) -> OptimizeResult:
    """``scipy.optimize.minimize`` over pytrees, with autodiff gradients and optim's optimizers.

    Same signature, argument meanings and result as ``scipy.optimize.minimize``, except for
    three things: ``x0`` may be any pytree, ``jac=None`` means automatic differentiation, and
    ``method`` may name an optim optimizer.

    .. warning::
        ``jac=None`` (the default) means **reverse-mode automatic differentiation** here
        (``fun`` must be written with ``autograd.numpy``). In scipy, ``jac=None`` means
        *forward finite differences*. For scipy's behaviour pass ``jac=False`` (scipy's
        absolute-step differences) or ``jac="2-point"`` / ``"3-point"`` / ``"cs"``.

    Args:
        fun: ``fun(x, *args) -> float``, ``x`` with the structure of ``x0``. With
            ``jac=True`` it returns ``(value, gradient)``, the gradient shaped like ``x``.
        x0: the starting point: a scalar, an array of any shape, or a dict / list / tuple
            pytree of them. A plain list or tuple of numbers only (``[1.0, 2.0]``) is an array,
            as in scipy; wrap the entries in ``np.array`` for a list of 0-d leaves. Integer
            leaves become float64; float32 leaves stay float32 in everything the user sees
            (``x`` given to ``fun`` and callbacks, ``res.x``, ``res.jac``). Python scalars
            become 0-d arrays.
        args: extra positional arguments of ``fun``, ``jac``, ``hess`` and ``hessp`` (a
            non-tuple is wrapped in a tuple).
        method: one of scipy's methods (``"BFGS"``, ``"L-BFGS-B"``, ``"Newton-CG"``,
            ``"trust-krylov"``...; case-insensitive), a scipy custom method (a callable), or an
            optim optimizer: a name from :func:`optimizer_names` (``"adam"``, ``"momentum"``,
            ``"sgd"``...), an ``optim.Optimizer`` subclass or an instance. Default: as scipy,
            ``"SLSQP"`` with constraints, else ``"L-BFGS-B"`` with bounds, else ``"BFGS"``.
        jac: ``None`` (autodiff), ``True`` (``fun`` returns the gradient too), a callable
            ``jac(x, *args)`` returning the gradient with ``x``'s structure, ``False`` (scipy's
            default differences) or ``"2-point"`` / ``"3-point"`` / ``"cs"``. With scipy's
            methods, finite differences are scipy's, whose float64-sized steps would round away
            in float32: ``fun`` then receives float64 leaves. With optim optimizers they are
            :class:`optim.FiniteDifferences`, with steps sized for each leaf's dtype.
        hess: as scipy (a callable ``hess(x, *args)`` returns an ``(n, n)`` matrix over the flat
            layout of ``x``, see :mod:`optim.pytree`). When neither ``hess`` nor ``hessp`` is
            given, dogleg and trust-exact get a dense autodiff Hessian (one traced gradient,
            then one backward pass per row), with ``jac=None`` and also with a user ``jac``
            (they cannot run without one).
        hessp: as scipy: ``hessp(x, p, *args)``, ``p`` and the result shaped like ``x``. When
            neither ``hess`` nor ``hessp`` is given, trust-ncg and trust-krylov always, and
            Newton-CG and trust-constr with ``jac=None``, get autodiff Hessian-vector products
            (reverse over reverse, about the cost of two gradients; scipy's
            ``(x, p, *args)`` order is mapped onto autograd's ``(x, *args, p)``).
        bounds: ``scipy.optimize.Bounds`` (scalars or arrays over the flat layout), a sequence
            of ``n`` ``(low, high)`` pairs (flat layout), or a pytree of ``(low, high)`` pairs
            shaped like ``x0`` (each bound a scalar or an array broadcasting to its leaf;
            ``None``, ``nan`` or a missing dict key means unbounded). Optim optimizers keep
            them by projecting (``np.clip``) after every step, ``x0`` included.
        constraints: as scipy (dicts, ``NonlinearConstraint``, ``LinearConstraint``); the
            functions receive ``x`` with ``x0``'s structure, and a dict without ``'jac'`` gets
            an autodiff Jacobian (``'jac': '2-point'`` asks for scipy's differences). Optim
            optimizers do not take constraints.
        tol: as scipy; for optim optimizers it sets ``gtol`` and ``ftol``.
        callback: ``callback(xk)`` or ``callback(intermediate_result)`` (chosen by signature,
            as scipy does), with ``xk`` / ``intermediate_result.x`` in ``x0``'s structure.
            Raising ``StopIteration`` ends the run with ``success=False``, ``status=99``.
        options: as scipy for scipy's methods (unknown keys warn with ``OptimizeWarning``).
            For optim optimizers: ``maxiter`` (15000), ``gtol`` (1e-5, on the largest entry of
            the projected gradient; ``norm`` changes the norm), ``ftol`` (2.2e-9, relative
            change of ``fun`` between iterations), ``disp`` (print a summary), and the
            optimizer's constructor arguments (``learning_rate``, ``beta1``, ``momentum``...,
            and ``gradient`` / ``nonfinite``). The caller's dict is never changed.

    Returns:
        ``scipy.optimize.OptimizeResult`` with ``x`` and ``jac`` in ``x0``'s structure and
        dtypes, ``fun``, ``nit``, ``nfev``, ``njev``, ``success``, ``status``, ``message``;
        ``nhev`` when Hessians were used, ``hess_inv`` when scipy's method gives it (over the
        flat layout). For optim optimizers, ``status`` is 0 (converged: ``gtol`` or ``ftol``),
        1 (``maxiter``), 3 (non-finite value or gradient; ``x`` is the last finite iterate) or
        99 (``StopIteration``). A failed run returns ``success=False``; it does not raise.

    Raises:
        ValueError: ``x0`` not finite, bounds of the wrong shape or with low > high, an
            unknown ``method`` (the message lists the valid ones), a ``fun`` returning a
            non-scalar, a ``jac`` of the wrong shape, bad loop options, constraints given to
            an optim optimizer.
        TypeError: a non-callable ``fun``, ``jac``, ``callback``; a ``jac`` or ``hessp``
            returning another structure; a missing required hyperparameter (``momentum`` for
            ``"momentum"``).

    Example:
        >>> import autograd.numpy as np
        >>> def fun(p):
        ...     return np.sum((p["w"] - 1.0) ** 2) + (p["b"] + 2.0) ** 2
        >>> res = optim.minimize(fun, {"w": np.zeros(3), "b": 0.0})       # BFGS, autodiff
        >>> res = optim.minimize(fun, {"w": np.zeros(3), "b": 0.0}, method="adam",
        ...                      options={"learning_rate": 0.1})
        >>> res.x["b"]
        array(-2.)
    """
    if not callable(fun):
        raise TypeError(f"`fun` must be callable, got {fun!r}.")
    if not isinstance(args, tuple):
        args = (args,)
    kind, spec = _resolve_method(method, constraints, bounds)
    leaves0, treedef = _check_x0(x0)
    _check_jac(jac)
    _check_callback(callback)
    if options is None:
        options = {}
    elif not isinstance(options, dict):
        raise TypeError(f"`options` must be a dict or None, got {options!r}.")
    options = dict(options)
    std_bounds = _standardize_bounds(bounds, treedef)
    if kind == "scipy":
        keep_feasible = bounds.keep_feasible if isinstance(bounds, Bounds) else False
        return _minimize_scipy(
            keep_feasible,
            fun,
            leaves0,
            treedef,
            args,
            spec,
            jac,
            hess,
            hessp,
            std_bounds,
            constraints,
            tol,
            callback,
            options,
        )
    if constraints:
        raise ValueError(
            f"`constraints` must be empty for the optim optimizer {_spec_name(spec)!r} "
            f"(first-order methods take bounds only); use 'SLSQP' or 'trust-constr', got "
            f"{_short(constraints)}."
        )
    _warn_second_order(spec, hess, hessp, stacklevel=3)
    _pop_tol(options, tol)
    return _first_order(
        fun, leaves0, treedef, args, spec, jac, std_bounds, callback, options, stacklevel=3
    )


def _spec_name(spec: Any) -> str:
    if isinstance(spec, Optimizer):
        return type(spec).__name__
    return _display_name(spec)


def _warn_second_order(spec: Any, hess: Any, hessp: Any, stacklevel: int) -> None:
    name = _spec_name(spec)
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


class _ScipyMethod:
    """An optim optimizer as a scipy custom method (see :func:`scipy_method`)."""

    def __init__(self, spec: Any, hyperparameters: dict[str, Any]) -> None:
        self.spec = spec
        self.hyperparameters = dict(hyperparameters)

    def __call__(
        self,
        fun: Callable[..., Any],
        x0: Any,
        args: Any = (),
        jac: Any = None,
        hess: Any = None,
        hessp: Any = None,
        bounds: Any = None,
        constraints: Any = (),
        callback: Callable[..., Any] | None = None,
        **options: Any,
    ) -> OptimizeResult:
        if not callable(fun):
            raise TypeError(f"`fun` must be callable, got {fun!r}.")
        if not isinstance(args, tuple):
            args = (args,)
        leaves0, treedef = _check_x0(x0)
        _check_jac(jac)
        _check_callback(callback)
        std_bounds = _standardize_bounds(bounds, treedef)
        if constraints:
            raise ValueError(
                f"`constraints` must be empty for the optim optimizer {_spec_name(self.spec)!r} "
                f"(first-order methods take bounds only), got {_short(constraints)}."
            )
        _warn_second_order(self.spec, hess, hessp, stacklevel=4)
        tol = options.pop("tol", None)
        options = {**self.hyperparameters, **options}
        _pop_tol(options, tol)
        return _first_order(
            fun,
            leaves0,
            treedef,
            args,
            self.spec,
            jac,
            std_bounds,
            callback,
            options,
            stacklevel=4,
        )

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v!r}" for k, v in self.hyperparameters.items())
        return f"optim.scipy_method({_spec_name(self.spec)!r}{hyper})"


def scipy_method(optimizer: Any, **hyperparameters: Any) -> Callable[..., OptimizeResult]:
    """An optim optimizer as a ``scipy.optimize.minimize`` custom method.

    Example:
        >>> res = scipy.optimize.minimize(
        ...     fun, x0, jac=grad, method=optim.scipy_method("adam", learning_rate=0.01),
        ...     options={"maxiter": 5000, "gtol": 1e-6})

    The returned callable follows scipy's custom-method protocol: it is called as
    ``method(fun, x0, args=args, jac=jac, hess=hess, hessp=hessp, bounds=bounds,
    constraints=constraints, callback=callback, **options)`` (plus ``tol=`` when given) and
    returns an ``OptimizeResult``. It runs the same loop as ``optim.minimize(method=...)``:

    * ``options`` arrive as keywords: the loop's (``maxiter``, ``gtol``, ``ftol``, ``norm``,
      ``disp``) and the optimizer's constructor arguments, which override ``hyperparameters``;
      any other keyword is accepted and warned about with ``OptimizeWarning``, as scipy's own
      methods do.
    * ``jac`` arrives as a callable (scipy turns ``jac=True`` into one) or as ``None``. scipy
      also turns ``"2-point"`` / ``"3-point"`` / ``"cs"`` into ``None`` for custom methods, so
      ``None`` means the optimizer's own gradient source: autodiff, unless built with
      ``gradient=`` (``scipy_method("adam", gradient="3-point")`` for finite differences).
    * ``bounds`` arrive raw (a ``Bounds``, pairs or a pytree of pairs) and are kept by
      projection; ``callback`` arrives raw and is called in the form its signature asks for,
      with ``StopIteration`` ending the run (``status=99``); ``constraints`` must be empty.

    It also works through ``scipy.optimize.basinhopping(fun, x0, minimizer_kwargs={"method":
    optim.scipy_method(...)})``.

    Args:
        optimizer: a name from :func:`optimizer_names`, an ``optim.Optimizer`` subclass or an
            instance (its state carries over between calls; pass a name or class for a fresh
            optimizer per call).
        **hyperparameters: constructor arguments of the optimizer (``learning_rate=0.01``...).

    Raises:
        ValueError: an unknown optimizer name (the message lists the valid ones).
        TypeError: anything else than a name, class or instance; hyperparameters given with an
            instance, or not accepted by the class.
    """
    if isinstance(optimizer, Optimizer) or (
        isinstance(optimizer, type) and issubclass(optimizer, Optimizer)
    ):
        spec = optimizer
    elif isinstance(optimizer, str):
        spec = _lookup_optimizer(optimizer)
        if spec is None:
            raise ValueError(
                f"`optimizer` must be an optim optimizer name {optimizer_names()}, an "
                f"optim.Optimizer subclass or instance, got {optimizer!r}."
            )
    else:
        raise TypeError(
            "`optimizer` must be an optim optimizer name, an optim.Optimizer subclass or "
            f"instance, got {optimizer!r}."
        )
    if hyperparameters:
        if isinstance(spec, Optimizer):
            raise TypeError(
                f"`hyperparameters` must be empty with an optimizer instance ({spec!r}); pass "
                f"its class or name instead, got {hyperparameters!r}."
            )
        named, _ = _constructor_parameters(spec)
        unknown = sorted(set(hyperparameters) - set(named))
        if unknown:
            raise TypeError(
                f"`hyperparameters` must be arguments of {spec.__name__} "
                f"({sorted(named)}), got {unknown!r}."
            )
    return _ScipyMethod(spec, hyperparameters)


# ---------------------------------------------------------------------------------------------
# TF contrib's ExternalOptimizerInterface / ScipyOptimizerInterface


def _closure_value_and_grads(closure, var_list, values, what):
    """Value and gradients of a zero-argument closure with the variables reading ``values``."""

    def traced(*vals: Any) -> Any:
        with _Substitute(var_list, vals):
            return _scalar_output(closure(), what)

    trace = _trace(traced, values)
    value = np.asarray(trace.value)
    grads = trace.gradients(np.ones((), value.dtype if value.dtype.kind == "f" else float))
    return value[()], _zeros_for_none(grads, values)


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
        self._vars = _resolve_var_list(var_list)
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
            lo = _bound_array(low, -np.inf, var.shape, f"var_to_bounds{path}[0]")
            hi = _bound_array(high, np.inf, var.shape, f"var_to_bounds{path}[1]")
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
            _resolve_method(method, (), None)  # an unknown name raises here, before any work

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
        kind, spec = _resolve_method(method, constraints, packed_bounds)
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
