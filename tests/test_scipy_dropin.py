"""``optim.minimize`` as a drop-in for ``scipy.optimize.minimize``: one table, both functions.

Every row is a call written the way scipy's users and scipy's own tests write it. The row runs
through ``scipy.optimize.minimize`` and through ``optim.minimize`` with the same arguments, and
the two must agree on everything a caller can see: ``x``, ``fun``, ``nit``, ``nfev``, ``njev``,
``nhev``, ``success``, ``status``, the iterates a callback sees, and how often the user's ``fun``
and ``jac`` are called (duplicates at the same ``x`` included), or on the exception's type and
the start of its message.

Where optim deliberately differs (``jac=None`` means autodiff for an objective autograd can
follow) the rows use an objective it cannot follow, so the documented fallback to scipy's own
behaviour is what is checked; the autodiff rows of the table compare with scipy given the exact
gradient instead (same solution, no more evaluations).
"""

from __future__ import annotations

import math
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
import scipy
import scipy.optimize as so
from autograd.tracer import getval
from scipy.optimize import OptimizeWarning, rosen, rosen_der, rosen_hess, rosen_hess_prod

import optim

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
GRADIENT_METHODS = ["CG", "BFGS", "L-BFGS-B", "TNC", "SLSQP", "trust-constr"]
FREE_METHODS = ["Nelder-Mead", "Powell", "COBYLA", "COBYQA"]
HESS_METHODS = ["Newton-CG", "dogleg", "trust-ncg", "trust-exact", "trust-krylov", "trust-constr"]
HESSP_METHODS = ["Newton-CG", "trust-ncg", "trust-krylov", "trust-constr"]
BOUNDED = ["L-BFGS-B", "TNC", "SLSQP", "trust-constr", "Powell", "Nelder-Mead", "COBYLA", "COBYQA"]
FIELDS = ("fun", "nit", "nfev", "njev", "nhev", "success", "status")


class Counted:
    """Counts calls and calls repeated at an ``x`` already seen (scipy's tests count both)."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0
        self.seen = []

    def __call__(self, x, *args):
        self.calls += 1
        value = getval(x)  # the array under autograd's tracer, when fun is being traced
        self.seen.append(np.array(value, dtype=complex if np.iscomplexobj(value) else float)
                         .tobytes())
        return self.fn(x, *args)

    @property
    def repeats(self):
        return self.calls - len(set(self.seen))


# Objectives in plain numpy that autograd cannot follow, each in one of the ways users write.
def rosen_float(x):
    """Converts to a Python float: autograd's tracer cannot pass through float()."""
    x = np.asarray(x, dtype=float)
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def exp_math(x):
    """math.exp on an entry."""
    return math.exp(x[0]) - 2.0 * x[0] + (x[1] - 0.5) ** 2


_BUFFER = np.zeros(5)


def rosen_buffer(x):
    """Writes the input into a preallocated array."""
    _BUFFER[: len(x)] = x
    y = _BUFFER[: len(x)]
    return np.sum(100.0 * (y[1:] - y[:-1] ** 2) ** 2 + (1 - y[:-1]) ** 2)


def rosen_float_der(x):
    return rosen_der(np.asarray(x, dtype=float))


def quad_con(x):
    return np.sum((np.asarray(x, dtype=float) - np.array([2.0, 1.0, 0.5])) ** 2)


def quad_con_der(x):
    return 2 * (np.asarray(x, dtype=float) - np.array([2.0, 1.0, 0.5]))


UNTRACEABLE = {"float": (rosen_float, X0), "math": (exp_math, np.array([1.0, 2.0])),
               "buffer": (rosen_buffer, X0)}


def _row(id_, fun, x0, **kwargs):
    return pytest.param(fun, x0, kwargs, id=id_)


def _rows():
    rows = []
    # Derivative-free methods: the objective is never traced.
    for m in FREE_METHODS:
        for name, (f, x0) in UNTRACEABLE.items():
            rows.append(_row(f"{m}-{name}", f, x0, method=m, options={"maxiter": 300}))
        rows.append(_row(f"{m}-rosen", rosen, X0, method=m, options={"maxiter": 300}))
        rows.append(_row(f"{m}-tol", rosen, X0, method=m, tol=1e-3))
    # jac=None with an objective autograd cannot follow: scipy's finite differences.
    for m in GRADIENT_METHODS:
        for name, (f, x0) in UNTRACEABLE.items():
            rows.append(_row(f"{m}-{name}-jacNone", f, x0, method=m))
    for name, (f, x0) in UNTRACEABLE.items():
        rows.append(_row(f"default-{name}", f, x0))
        rows.append(_row(f"Newton-CG-{name}-jacNone", f, x0, method="Newton-CG"))
    # A user gradient in every form scipy takes.
    for m in GRADIENT_METHODS + ["Newton-CG"]:
        rows.append(_row(f"{m}-jac", rosen, X0, method=m, jac=rosen_der))
        rows.append(
            _row(f"{m}-jacTrue", lambda x: (rosen(x), rosen_der(x)), X0, method=m, jac=True)
        )
        rows.append(_row(f"{m}-jac-args", lambda x, a: rosen(x) * a, X0, method=m,
                         jac=lambda x, a: rosen_der(x) * a, args=(2.0,)))
        rows.append(_row(f"{m}-jac-arg-scalar", lambda x, a: rosen(x) * a, X0, method=m,
                         jac=lambda x, a: rosen_der(x) * a, args=2.0))
    for m in GRADIENT_METHODS:
        for fd in ("2-point", "3-point", "cs"):
            if m == "trust-constr" and fd == "cs":
                continue  # scipy's trust-constr rejects 'cs' for the objective's gradient
            rows.append(_row(f"{m}-{fd}", rosen, X0, method=m, jac=fd))
        rows.append(_row(f"{m}-jacFalse", rosen_float, X0, method=m, jac=False))
    # Second order.
    for m in HESS_METHODS:
        rows.append(_row(f"{m}-hess", rosen, X0, method=m, jac=rosen_der, hess=rosen_hess))
    for m in HESSP_METHODS:
        rows.append(
            _row(f"{m}-hessp", rosen, X0, method=m, jac=rosen_der, hessp=rosen_hess_prod)
        )
    rows.append(_row("Newton-CG-xtol0", rosen, X0, method="Newton-CG", jac=rosen_der,
                     hess=rosen_hess, options={"xtol": 0, "maxiter": 40}))
    rows.append(_row("trust-constr-hess-2point", rosen, X0, method="trust-constr",
                     jac=rosen_der, hess="2-point"))
    rows.append(_row("trust-constr-hess-BFGS", rosen, X0, method="trust-constr",
                     jac=rosen_der, hess=so.BFGS()))
    # maxiter, exactly as scipy counts it.
    for m in GRADIENT_METHODS + ["Newton-CG"]:
        for maxiter in (0, 1, 3):
            rows.append(_row(f"{m}-maxiter{maxiter}", rosen, X0, method=m, jac=rosen_der,
                             options={"maxiter": maxiter}))
            rows.append(_row(f"{m}-maxiter{maxiter}-fd", rosen_float, X0, method=m,
                             options={"maxiter": maxiter}))
    # Bounds: scipy's Bounds, a list of pairs, one pair for every entry, fixed variables.
    fixed = so.Bounds([0, 1, -np.inf, 0, 0], [2, 1, np.inf, 3, 3])
    fixed_pairs = [(0, 2), (1, 1), (None, None), (0, 3), (0, 3)]
    for m in BOUNDED:
        jac = rosen_der if m not in FREE_METHODS else None
        rows.append(_row(f"{m}-fixed-Bounds", rosen, X0, method=m, jac=jac, bounds=fixed))
        rows.append(_row(f"{m}-fixed-pairs", rosen, X0, method=m, jac=jac, bounds=fixed_pairs))
        rows.append(_row(f"{m}-fixed-fd", rosen_float, X0, method=m, bounds=fixed))
        rows.append(_row(f"{m}-one-pair", rosen, X0, method=m, jac=jac, bounds=[(0.5, 1.5)]))
        rows.append(_row(f"{m}-Bounds-scalar", rosen, X0, method=m, jac=jac,
                         bounds=so.Bounds(0.0, 1.5)))
        rows.append(_row(f"{m}-keep-feasible", rosen, X0, method=m, jac=jac,
                         bounds=so.Bounds(0.0, 2.0, keep_feasible=True)))
    rows.append(_row("default-bounds", rosen, X0, jac=rosen_der, bounds=fixed))
    # Constraints.
    # Constraint functions autograd cannot follow (float(), np.array of entries), so both sides
    # estimate their Jacobians by scipy's differences; see test_constraint_jacobians_by_autodiff.
    eq = {"type": "eq", "fun": lambda x: float(x[0] + x[1] + x[2] - 1)}
    eq_jac = dict(eq, jac=lambda x: np.array([1.0, 1.0, 1.0]))
    ineq_vec = {"type": "ineq", "fun": lambda x: np.array([x[0] - 1, x[1] - 1])}
    ineq_vec_jac = dict(ineq_vec, jac=lambda x: np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    x3 = np.array([2.0, 0.5, 1.0])
    for m in ["SLSQP", "trust-constr", "COBYLA", "COBYQA"]:
        jac = quad_con_der if m in ("SLSQP", "trust-constr") else None
        if m != "COBYLA":  # COBYLA takes inequality constraints only
            rows.append(_row(f"{m}-eq", quad_con, x3, method=m, jac=jac, constraints=eq))
            rows.append(_row(f"{m}-eq-jac", quad_con, x3, method=m, jac=jac, constraints=eq_jac))
            rows.append(
                _row(f"{m}-eq-fd", quad_con, x3, method=m, jac="2-point" if jac else None,
                     constraints=[eq])
            )
        rows.append(_row(f"{m}-ineq-vector", quad_con, x3, method=m, jac=jac,
                         constraints=[ineq_vec]))
        rows.append(_row(f"{m}-ineq-vector-jac", quad_con, x3, method=m, jac=jac,
                         constraints=(ineq_vec_jac,)))
        rows.append(_row(f"{m}-nonlinear", quad_con, x3, method=m, jac=jac,
                         constraints=so.NonlinearConstraint(lambda x: x[0] ** 2 + x[1], 2, 5)))
        rows.append(_row(f"{m}-linear", quad_con, x3, method=m, jac=jac,
                         constraints=so.LinearConstraint([[1, 1, 1]], -np.inf, 1)))
    rows.append(_row("default-constraints", quad_con, x3, jac=quad_con_der, constraints=eq))
    rows.append(_row("SLSQP-eq-fd-untraceable", quad_con, x3, method="SLSQP", constraints=eq))
    # NaN at x0 and mid-run, with the same gradient on both sides.
    nan_fun = lambda x: np.nan * x[0]  # noqa: E731
    for m in ["BFGS", "L-BFGS-B", "CG", "SLSQP", "TNC", "Nelder-Mead"]:
        rows.append(_row(f"{m}-nan-x0", nan_fun, np.array([1.0]), method=m,
                         jac=(lambda x: np.array([1.0])) if m != "Nelder-Mead" else None))
        rows.append(_row(f"{m}-nan-midrun", _nan_below, np.array([1.0]), method=m,
                         jac=_nan_below_der if m != "Nelder-Mead" else None))
        rows.append(_row(f"{m}-nan-x0-fd", _nan_float, np.array([1.0]), method=m))
    # jac return shapes scipy accepts.
    for m in ["BFGS", "L-BFGS-B", "CG", "SLSQP", "TNC"]:
        rows.append(_row(f"{m}-jac-0d", lambda x: (x[0] - 2) ** 2, np.array([1.0]), method=m,
                         jac=lambda x: 2 * (x[0] - 2)))
        rows.append(_row(f"{m}-jac-list", lambda x: (x[0] - 2) ** 2 + x[1] ** 2, [1.0, 1.0],
                         method=m, jac=lambda x: [2 * (x[0] - 2), 2 * x[1]]))
        rows.append(_row(f"{m}-jac-tuple", lambda x: (x[0] - 2) ** 2 + x[1] ** 2, (1.0, 1.0),
                         method=m, jac=lambda x: (2 * (x[0] - 2), 2 * x[1])))
        rows.append(_row(f"{m}-x0-scalar", lambda x: (x[0] - 2) ** 2, 1.0, method=m,
                         jac=lambda x: 2 * (x - 2)))
        rows.append(_row(f"{m}-x0-int", rosen, [1, 2, 3], method=m, jac=rosen_der))
    # Callbacks of both forms, tol, scipy's finite-difference options, float32 and int starts.
    for m in GRADIENT_METHODS + ["Newton-CG"]:
        if m != "TNC":  # scipy's TNC hands a new-style callback a bare array; optim does not
            rows.append(_row(f"{m}-callback-result", rosen, X0, method=m, jac=rosen_der,
                             _intermediate=True))
        rows.append(_row(f"{m}-tol", rosen, X0, method=m, jac=rosen_der, tol=1e-3))
        rows.append(_row(f"{m}-x0-list", rosen, X0.tolist(), method=m, jac=rosen_der))
    for m in FREE_METHODS:
        rows.append(_row(f"{m}-callback-result", rosen, X0, method=m, _intermediate=True,
                         options={"maxiter": 200}))
    for m in ["BFGS", "CG", "L-BFGS-B"]:
        rows.append(_row(f"{m}-eps", rosen_float, X0, method=m, options={"eps": 1e-6}))
        rows.append(_row(f"{m}-rel-step", rosen_float, X0, method=m, jac="2-point",
                         options={"finite_diff_rel_step": 1e-7}))
    for m in ["Newton-CG", "trust-ncg", "trust-krylov"]:
        rows.append(_row(f"{m}-jacTrue-hessp", lambda x: (rosen(x), rosen_der(x)), X0, method=m,
                         jac=True, hessp=rosen_hess_prod))
    # Errors: scipy's exception type, scipy's words first.
    rows.append(_row("err-nonscalar", lambda x: x * 2, X0, method="BFGS", jac=rosen_der))
    rows.append(_row("err-nonscalar-fd", lambda x: np.asarray(x) * 2, X0, method="L-BFGS-B"))
    rows.append(_row("err-bounds-order", rosen, X0[:2], method="L-BFGS-B", jac=rosen_der,
                     bounds=[(1, 0), (0, 1)]))
    rows.append(_row("err-Bounds-order", rosen, X0[:2], method="L-BFGS-B", jac=rosen_der,
                     bounds=so.Bounds([1, 0], [0, 1])))
    rows.append(_row("err-bounds-count", rosen, X0, method="L-BFGS-B", jac=rosen_der,
                     bounds=[(0, 1), (0, 1)]))
    rows.append(_row("err-Bounds-count", rosen, X0, method="L-BFGS-B", jac=rosen_der,
                     bounds=so.Bounds([0, 0], [1, 1])))
    rows.append(_row("err-method", rosen, X0, method="no-such-method"))
    rows.append(_row("err-newton-no-jac", rosen, X0, method="Newton-CG", jac=False))
    rows.append(_row("err-dogleg-no-jac", rosen, X0, method="dogleg", jac=False))
    rows.append(_row("err-cobyla-eq", quad_con, x3, method="COBYLA", constraints=eq))
    rows.append(_row("err-fun-raises", _raises, X0, method="BFGS", jac=rosen_der))
    return rows


def _nan_below(x):
    return np.nan if x[0] < 0.5 else float(x[0] ** 2)


def _nan_below_der(x):
    return np.array([2.0 * x[0]])


def _nan_float(x):
    return float(np.nan * np.asarray(x, dtype=float)[0])


def _raises(x):
    raise RuntimeError("the user's objective failed")


def _run(minimize, fun, x0, kwargs):
    """One call, with the user's functions counted and the callback's iterates recorded."""
    kwargs = dict(kwargs)
    counted_fun = Counted(fun)
    counted = {"fun": counted_fun}
    if callable(kwargs.get("jac")):
        counted["jac"] = kwargs["jac"] = Counted(kwargs["jac"])
    for key in ("hess", "hessp"):
        if callable(kwargs.get(key)):
            counted[key] = kwargs[key] = Counted(kwargs[key])
    iterates = []
    if kwargs.pop("_intermediate", False):
        def callback(intermediate_result):
            iterates.append(np.array(intermediate_result.x, dtype=float))
            iterates.append(np.array(intermediate_result.fun, dtype=float))
        kwargs["callback"] = callback
    else:
        kwargs["callback"] = lambda xk, *rest: iterates.append(np.array(xk, dtype=float))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = minimize(counted_fun, x0, **kwargs)
        except Exception as exc:  # the outcome compared is the exception itself
            return {"exception": exc}, caught
    out = {"x": np.asarray(res.x, dtype=float), "iterates": iterates}
    for key in FIELDS:
        if key in res:
            out[key] = res[key]
    for key, c in counted.items():
        out[f"{key} calls"] = c.calls
        out[f"{key} repeats"] = c.repeats
    return out, caught


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    return a == b or (np.ndim(a) == 0 and np.ndim(b) == 0 and np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize("fun, x0, kwargs", _rows())
def test_optim_minimize_agrees_with_scipy(fun, x0, kwargs):
    expected, _ = _run(so.minimize, fun, x0, kwargs)
    got, caught = _run(optim.minimize, fun, x0, kwargs)
    if "exception" in expected:
        assert "exception" in got, f"scipy raised {expected['exception']!r}, optim returned"
        exp, exc = expected["exception"], got["exception"]
        assert type(exc) is type(exp), (exc, exp)
        assert str(exc).startswith(str(exp)), (str(exc), str(exp))
        return
    assert "exception" not in got, f"scipy returned, optim raised {got['exception']!r}"
    assert got["x"].shape == expected["x"].shape
    assert np.array_equal(got["x"], expected["x"], equal_nan=True), (got["x"], expected["x"])
    for key in expected:
        if key.endswith("calls") or key.endswith("repeats"):
            continue
        assert key in got, f"optim's result has no {key!r}"
        if key == "iterates":
            assert len(got[key]) == len(expected[key])
            for a, b in zip(got[key], expected[key]):
                assert np.array_equal(a, b, equal_nan=True)
        else:
            assert _same(got[key], expected[key]), (key, got[key], expected[key])
    for key in expected:
        if key.endswith("calls") or key.endswith("repeats"):
            # A fallback from autodiff has made one aborted call to fun, at x0 (see
            # test_fallback_*): it is not a completed evaluation and is counted apart.
            extra = 1 if key.startswith("fun ") and _fell_back(caught) else 0
            assert got[key] <= expected[key] + extra, (key, got[key], expected[key])


def _fell_back(caught):
    return any(issubclass(w.category, OptimizeWarning) and "autodiff" in str(w.message)
               for w in caught)


def test_the_table_is_large():
    assert len(_rows()) >= 300


# ---------------------------------------------------------------------------------------------
# The fallback from autodiff, seen on its own


@pytest.mark.parametrize("name", sorted(UNTRACEABLE))
def test_fallback_warns_once_with_reason_and_remedy(name):
    fun, x0 = UNTRACEABLE[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = optim.minimize(fun, x0, method="BFGS")
    ours = [w for w in caught if issubclass(w.category, OptimizeWarning)]
    assert len(ours) == 1
    text = str(ours[0].message)
    assert "finite differences" in text and "jac=" in text
    assert optim.get_backend().numpy_hint in text  # the remedy names the engine in use
    assert res.success


@pytest.mark.parametrize("name", sorted(UNTRACEABLE))
def test_fallback_makes_one_aborted_call_only(name):
    fun, x0 = UNTRACEABLE[name]
    ours, theirs = Counted(fun), Counted(fun)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        optim.minimize(ours, x0, method="L-BFGS-B")
    so.minimize(theirs, x0, method="L-BFGS-B")
    assert ours.calls == theirs.calls + 1


@pytest.mark.parametrize("name", sorted(UNTRACEABLE))
def test_jac_autodiff_demands_autodiff(name):
    fun, x0 = UNTRACEABLE[name]
    with pytest.raises((TypeError, ValueError, AttributeError, NotImplementedError)) as info:
        optim.minimize(fun, x0, method="BFGS", jac="autodiff")
    text = str(info.value)
    assert "Cannot differentiate" in text
    assert "jac=" in text and "gradient=" not in text


def test_jac_autodiff_is_autodiff_when_it_can_trace():
    def fun(x):
        return anp.sum((x - 3.0) ** 2)

    a = optim.minimize(fun, np.zeros(3), method="BFGS", jac="autodiff")
    b = optim.minimize(fun, np.zeros(3), method="BFGS")
    assert np.array_equal(a.x, b.x) and a.nfev == b.nfev


@pytest.mark.parametrize("method", FREE_METHODS)
def test_derivative_free_methods_never_trace(method):
    seen = []

    def fun(x):
        seen.append(type(x))
        return rosen(x)

    with warnings.catch_warnings():
        warnings.simplefilter("error", OptimizeWarning)
        optim.minimize(fun, X0, method=method, options={"maxiter": 50})
    assert set(seen) == {np.ndarray}


def test_first_order_method_falls_back_to_finite_differences():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = optim.minimize(exp_math, np.array([1.0, 2.0]), method="adam",
                             options={"learning_rate": 0.05, "maxiter": 3000, "gtol": 1e-4})
    assert any(issubclass(w.category, OptimizeWarning) for w in caught)
    np.testing.assert_allclose(res.x, [math.log(2.0), 0.5], atol=1e-3)


@pytest.mark.autograd_only  # counts runs of fun's body: a compiling engine runs it per trace
def test_an_autodiff_objective_is_not_evaluated_more_than_scipy_with_its_exact_gradient():
    """Autodiff evaluates ``fun`` once per distinct x scipy asks for, Hessian products too."""

    def ros(x):
        return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    for method in GRADIENT_METHODS + HESSP_METHODS:
        ours = Counted(ros)
        res = optim.minimize(ours, X0, method=method)
        assert res.success, method
        assert ours.repeats == 0 or method == "TNC", (method, ours.repeats)
        theirs_fun = Counted(rosen)
        theirs_jac = Counted(rosen_der)
        extra = {"hessp": Counted(rosen_hess_prod)} if method in HESSP_METHODS else {}
        so.minimize(theirs_fun, X0, method=method, jac=theirs_jac, **extra)
        calls = max(theirs_fun.calls, theirs_jac.calls) + sum(c.calls for c in extra.values())
        assert ours.calls <= calls, (method, ours.calls, calls)


def test_scipy_is_the_real_scipy():
    assert so.minimize.__module__.startswith("scipy.optimize")
    assert scipy.__version__


CONSTRAINT_CASES = {
    "eq": ({"type": "eq", "fun": lambda x: x[0] + x[1] + x[2] - 1},
           lambda x: np.array([1.0, 1.0, 1.0])),
    "ineq-vector": ({"type": "ineq", "fun": lambda x: anp.stack([x[0] - 1, x[1] - 1])},
                    lambda x: np.array([[1.0, 0, 0], [0, 1.0, 0]])),
    "ineq-curved": ({"type": "ineq", "fun": lambda x: 2.0 - x[0] ** 2 - x[1] ** 2},
                    lambda x: np.array([-2 * x[0], -2 * x[1], 0.0])),
}


@pytest.mark.parametrize("method", ["SLSQP", "trust-constr"])
@pytest.mark.parametrize("name", sorted(CONSTRAINT_CASES))
def test_constraint_jacobians_by_autodiff(method, name):
    """A constraint dict without 'jac' gets an autodiff Jacobian: scipy given the exact one."""
    con, jac = CONSTRAINT_CASES[name]
    x3 = np.array([2.0, 0.5, 1.0])
    ours = optim.minimize(quad_con, x3, method=method, jac=quad_con_der, constraints=[con])
    theirs = so.minimize(quad_con, x3, method=method, jac=quad_con_der,
                         constraints=[dict(con, jac=jac)])
    assert ours.success == theirs.success
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-7, atol=1e-8)
    assert abs(ours.nit - theirs.nit) <= 1


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "SLSQP"])
def test_float32_x0_is_the_documented_difference(method):
    """A float32 x0 stays float32 for fun and in the result, while scipy's own steps run in
    float64 (scipy's SLSQP refuses float32 outright, and its BFGS loses precision)."""
    seen = set()

    def fun(x):
        seen.add(x.dtype)
        return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    ours = optim.minimize(fun, X0.astype(np.float32), method=method)
    assert seen == {np.dtype(np.float32)} and ours.x.dtype == np.float32
    np.testing.assert_allclose(ours.x, np.ones(5), atol=2e-2)


def test_tnc_takes_a_new_style_callback_unlike_scipy():
    """scipy's TNC passes a bare array to callback(intermediate_result); optim gives the
    result object, as every other method does."""
    seen = []
    optim.minimize(rosen, X0, method="TNC", jac=rosen_der,
                   callback=lambda intermediate_result: seen.append(intermediate_result.fun))
    assert seen and all(np.isfinite(seen))
    with pytest.raises(AttributeError):
        so.minimize(rosen, X0, method="TNC", jac=rosen_der,
                    callback=lambda intermediate_result: intermediate_result.fun)
