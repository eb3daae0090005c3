"""The scipy world on the jax backend: optim.minimize(fun, x0, args=..., backend="jax").

The objectives are written once, with ``optim.get_backend().numpy`` (autograd.numpy or
jax.numpy, whichever engine runs them), and every result on jax is compared with the same call
on autograd; a few checks go against scipy's own hand-written derivatives.

.. note::
    The two engines do not do bitwise the same arithmetic: they multiply the chain rule's
    factors in different orders, and XLA fuses operations, so gradients agree to about one ulp
    (a quarter of random points on Rosenbrock differ in the last bit). Counts (``nfev``,
    ``njev``, ``nhev``, ``nit``) are compared exactly; ``x`` and ``fun`` with the tolerances
    below, set by how far such differences can move a run that stops at ``gtol`` (1e-5). The
    starting points are ones where no method's path turns on one ulp: from (-1.2, 1),
    TNC's does (76 evaluations on autograd, 68 on jax, both converged).
"""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import OptimizeWarning

import optim

jax = pytest.importorskip("jax")
pytestmark = pytest.mark.jax
jnp = jax.numpy

X_ATOL = 1e-4  # two runs stopped by gtol=1e-5 from paths one ulp apart
FUN_ATOL = 1e-6  # RMSProp's normalized steps, stopped by maxiter, amplify one ulp the most


def xp():
    """The active engine's array namespace."""
    return optim.get_backend().numpy


def rosen(x):
    return xp().sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


A = np.array([[1.0, 0.5, -0.25], [0.0, 2.0, 1.0], [-1.0, 0.25, 0.5], [0.5, -0.5, 1.5]])
Y = np.array([1.0, -0.5, 0.25, 2.0])


def tree_fun(p, A, y):
    """A least-squares fit plus quartic terms over {"w": (3,), "b": (offset, [shift])}."""
    offset, (shift,) = p["b"]
    r = A @ p["w"] + offset - y
    return xp().sum(r**2) + 0.5 * xp().sum(p["w"] ** 4) + (shift - 1.0) ** 4


def tree_x0():
    return {"w": np.zeros(3), "b": (np.array(0.5), [np.array(0.0)])}


PROBLEMS = {
    "rosenbrock": (rosen, lambda: np.array([2.0, 2.0]), ()),
    "pytree": (tree_fun, tree_x0, (A, Y)),
}

SCIPY_METHODS = [
    "Nelder-Mead", "Powell", "CG", "BFGS", "Newton-CG", "L-BFGS-B", "TNC", "COBYLA", "COBYQA",
    "SLSQP", "trust-constr", "dogleg", "trust-ncg", "trust-exact", "trust-krylov",
]  # fmt: skip
FIRST_ORDER = {
    "adam": {"learning_rate": 0.01, "maxiter": 300},
    "momentum": {"learning_rate": 1e-3, "momentum": 0.9, "maxiter": 300},
    "sgd": {"learning_rate": 1e-3, "maxiter": 300},
    "rmsprop": {"learning_rate": 1e-3, "maxiter": 300},
    "adagrad": {"learning_rate": 0.1, "maxiter": 300},
}
COUNTS = ("nfev", "njev", "nhev", "nit")


def flat(x):
    return optim.pytree.ravel(x)[0]


def assert_same_run(a, j):
    assert {k: a.get(k) for k in COUNTS} == {k: j.get(k) for k in COUNTS}
    assert a.success == j.success and a.status == j.status
    np.testing.assert_allclose(flat(j.x), flat(a.x), rtol=0, atol=X_ATOL)
    np.testing.assert_allclose(j.fun, a.fun, rtol=0, atol=FUN_ATOL)
    assert optim.pytree.flatten(j.x)[1] == optim.pytree.flatten(a.x)[1]  # structure and dtypes


@pytest.mark.parametrize("method", SCIPY_METHODS + list(FIRST_ORDER))
@pytest.mark.parametrize("problem", PROBLEMS)
def test_counts_and_results_match_autograd(problem, method):
    fun, x0, args = PROBLEMS[problem]
    options = FIRST_ORDER.get(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # COBYLA's maxiter on Rosenbrock
        a = optim.minimize(fun, x0(), args=args, method=method, options=options)
        j = optim.minimize(fun, x0(), args=args, method=method, options=options, backend="jax")
    assert_same_run(a, j)


TREE_BOUNDS = {"w": (-0.2, 0.4), "b": ((0.0, 0.3), [(None, 0.5)])}


@pytest.mark.parametrize(
    "method", ["L-BFGS-B", "TNC", "SLSQP", "trust-constr", "Powell", "Nelder-Mead", "adam"]
)
def test_bounds_match_autograd(method):
    options = FIRST_ORDER.get(method)
    runs = [
        optim.minimize(
            tree_fun, tree_x0(), args=(A, Y), method=method, bounds=TREE_BOUNDS,
            options=options, backend=backend,
        )  # fmt: skip
        for backend in ("autograd", "jax")
    ]
    assert_same_run(*runs)
    w = runs[1].x["w"]
    assert np.all(w >= -0.2) and np.all(w <= 0.4) and runs[1].x["b"][1][0] <= 0.5
    active = np.isclose(w, 0.4, atol=1e-3) | np.isclose(w, -0.2, atol=1e-3)
    assert np.any(active)  # the bounds matter (interior-point and Powell stop near them)


def test_value_gradient_and_hessian_products_against_scipy():
    x = np.array([0.3, -0.7, 1.1, 0.2, -1.4])
    p = np.array([1.0, -2.0, 0.5, 0.25, 3.0])
    with optim.use_backend("jax"):
        point = optim.gradients.second_order(rosen, [x], key="rosen-test")
        (product,) = point.hvp([p])
        hessian = optim.gradients.dense_hessian(point, [x])
    np.testing.assert_allclose(point.value, scipy.optimize.rosen(x), rtol=1e-14)
    np.testing.assert_allclose(point.gradients[0], scipy.optimize.rosen_der(x), rtol=1e-13)
    np.testing.assert_allclose(product, scipy.optimize.rosen_hess_prod(x, p), rtol=1e-13)
    np.testing.assert_allclose(hessian, scipy.optimize.rosen_hess(x), rtol=1e-13, atol=1e-12)


class Counted:
    """An objective that counts how often its Python body runs (once per trace under jit)."""

    def __init__(self):
        self.runs = 0

    def __call__(self, x, target):
        self.runs += 1
        return jnp.sum((x - target) ** 2) + jnp.sum(x**4)


def test_a_second_minimize_of_the_same_fun_does_not_recompile():
    fun = Counted()
    target = np.array([1.0, -2.0, 0.5])
    first = optim.minimize(fun, np.zeros(3), args=(target,), backend="jax")
    assert fun.runs == 1  # traced once; every evaluation ran the compiled code
    assert first.nfev > 3
    again = optim.minimize(fun, np.zeros(3), args=(target,), backend="jax")
    assert fun.runs == 1
    assert again.nfev == first.nfev and np.array_equal(again.x, first.x)
    optim.minimize(fun, np.ones(3), args=(target * 2,), method="L-BFGS-B", backend="jax")
    assert fun.runs == 1  # new values of the same shapes, another scipy method: the same code
    optim.minimize(fun, np.ones(3), args=(target,), method="adam", backend="jax")
    assert fun.runs == 2  # optim's first-order methods differentiate fun of the leaves
    optim.minimize(fun, np.zeros(3), args=(target * 3,), method="sgd", backend="jax",
                   options={"learning_rate": 0.1})
    assert fun.runs == 2
    optim.minimize(fun, np.zeros(3), args=(target,), method="trust-ncg", backend="jax")
    assert fun.runs == 3  # the Hessian-vector product, compiled once
    optim.minimize(fun, np.zeros(3), args=(target,), method="trust-krylov", backend="jax")
    assert fun.runs == 3
    optim.minimize(fun, np.zeros(4), args=(np.ones(4),), backend="jax")
    assert fun.runs == 4  # new shapes: jax compiles again


def test_args_are_traced_arguments_not_constants():
    fun = Counted()
    results = [
        optim.minimize(fun, np.zeros(2), args=(np.array(t),), backend="jax").x
        for t in ([1.0, 2.0], [-3.0, 0.5])
    ]
    expected = [
        optim.minimize(
            lambda x, t: np.sum((x - t) ** 2) + np.sum(x**4), np.zeros(2), args=(np.array(t),)
        ).x
        for t in ([1.0, 2.0], [-3.0, 0.5])
    ]
    assert fun.runs == 1
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert not np.allclose(results[0], results[1])


def test_static_python_int_args_recompile_per_value():
    runs = []

    def fun(x, power):
        runs.append(power)
        return jnp.sum(x**power) + jnp.sum((x - 1.0) ** 2)

    for power in (2, 4, 4):
        optim.minimize(fun, np.zeros(2), args=(power,), backend="jax")
    assert runs == [2, 4]  # an int is part of the compiled function (it may set a shape)


def test_float64_stays_float64():
    seen = []
    target = 1.0 + 1e-9  # rounds to 1.0 in float32

    def fun(x):
        seen.append(x.dtype)
        return jnp.sum((x - target) ** 2)

    x64_before = jax.config.jax_enable_x64
    res = optim.minimize(fun, np.zeros(3), method="BFGS", backend="jax")
    assert seen == [np.float64]
    assert res.x.dtype == np.float64 and res.jac.dtype == np.float64
    np.testing.assert_allclose(res.x, target, rtol=0, atol=1e-14)
    assert res.x[0] != np.float32(target)
    assert jax.config.jax_enable_x64 == x64_before  # scoped to the call


def test_float32_leaves_stay_float32():
    seen = []

    def fun(p):
        seen.append(p["w"].dtype)
        return jnp.sum((p["w"] - 0.5) ** 2) + (p["b"] - 2.0) ** 2

    x0 = {"w": np.zeros(3, np.float32), "b": np.float64(0.0)}
    a = optim.minimize(lambda p: np.sum((p["w"] - 0.5) ** 2) + (p["b"] - 2.0) ** 2, x0)
    j = optim.minimize(fun, x0, backend="jax")
    assert seen == [np.float32]
    assert j.x["w"].dtype == np.float32 and j.jac["w"].dtype == np.float32
    assert j.x["b"].dtype == np.float64
    assert_same_run(a, j)


def mixed_fun(p, A, y):
    r = A @ p["w"].astype(np.float64) + p["b"] - y
    return xp().sum(r**2) + xp().sum(p["w"] ** 4).astype(np.float64) + p["b"] ** 4


def test_flat_form_gives_the_bits_of_the_leaf_form():
    """On jax the scipy bridge differentiates fun of scipy's flat vector (the leaves are cut
    out and cast inside the compiled code); the value, gradient and Hessian products are
    bit for bit those of fun of the leaves, float32 leaves included."""
    from optim.scipy.arguments import check_x0
    from optim.scipy.bridge import ScipyProblem

    x0 = {"w": np.array([0.1, -0.3, 0.7], np.float32), "b": np.float64(0.2)}
    _, treedef = check_x0(x0)
    rng = np.random.default_rng(3)
    x, p = rng.normal(size=4), rng.normal(size=4)
    answers = {}
    with optim.use_backend("jax"):
        for form in ("flat", "leaves"):
            problem = ScipyProblem(mixed_fun, treedef, (A, Y), float64_leaves=False)
            assert problem.flat_fun is not None
            if form == "leaves":
                problem.flat_fun = None
            value, grad = problem.value_and_grad(x, A, Y)
            problem.second_order = True
            answers[form] = (value, grad, problem.hessp(x, p, A, Y), problem.hess(x, A, Y))
    for flat_answer, leaf_answer in zip(answers["flat"], answers["leaves"]):
        np.testing.assert_array_equal(flat_answer, leaf_answer)
    grad = answers["flat"][1]
    assert grad.dtype == np.float64
    w = grad[1:]  # the leaves in sorted key order: "b", then "w"
    np.testing.assert_array_equal(w, w.astype(np.float32))  # float32 gradients, widened
    with optim.use_backend("autograd"):  # eager engine: the leaves are cut out around fun
        assert ScipyProblem(mixed_fun, treedef, (A, Y), float64_leaves=False).flat_fun is None


Point = collections.namedtuple("Point", ["left", "right"])


def nested_fun(p):
    left, right = p["pair"]
    return (
        xp().sum((p["matrix"] - 1.0) ** 2)
        + (left - 2.0) ** 2
        + xp().sum((right[0] + 1.0) ** 2)
        + (p["point"].right - 3.0) ** 4
        + xp().sum(p["point"].left ** 2)
    )


def test_pytrees_of_any_structure():
    x0 = {
        "matrix": np.zeros((2, 3)),
        "pair": (np.array(0.0), [np.zeros(2)]),
        "point": Point(left=np.ones(4), right=np.array(0.0)),
    }
    a = optim.minimize(nested_fun, x0, method="L-BFGS-B")
    j = optim.minimize(nested_fun, x0, method="L-BFGS-B", backend="jax")
    assert_same_run(a, j)
    assert isinstance(j.x["point"], Point) and isinstance(j.x["pair"], tuple)
    assert j.x["matrix"].shape == (2, 3) and j.x["pair"][1][0].shape == (2,)
    np.testing.assert_allclose(j.x["point"].left, 0.0, atol=1e-4)
    assert optim.pytree.flatten(j.jac)[1] == optim.pytree.flatten(x0)[1]


def test_hess_autodiff_with_a_user_jacobian():
    def jac(x):
        return 4 * x**3 + 2 * (x - 1.0)

    def fun(x):
        return xp().sum(x**4) + xp().sum((x - 1.0) ** 2)

    x0 = np.array([2.0, -1.0, 0.5])
    for method in ("trust-exact", "Newton-CG", "trust-constr"):
        a = optim.minimize(fun, x0, jac=jac, method=method, hess="autodiff")
        j = optim.minimize(fun, x0, jac=jac, method=method, hess="autodiff", backend="jax")
        assert a.nhev > 0
        assert_same_run(a, j)


def test_user_hessp_in_jax_numpy():
    def hessp(x, p):
        return rosen_hessp(x, p)

    rosen_hessp = jax.jit(lambda x, p: jax.jvp(jax.grad(rosen), (x,), (p,))[1])
    x0 = np.array([2.0, 2.0, -1.0])
    with optim.use_backend("jax"):
        j = optim.minimize(rosen, x0, method="trust-ncg", hessp=hessp)
    a = optim.minimize(
        rosen, x0, method="trust-ncg", hessp=lambda x, p: scipy.optimize.rosen_hess_prod(x, p)
    )
    assert_same_run(a, j)


def test_constraint_jacobians_under_jax():
    constraints = [
        {"type": "eq", "fun": lambda p, A, y: xp().sum(p["w"]) - 0.5},
        {"type": "ineq", "fun": lambda p, A, y: xp().stack([p["b"][0] + 1.0, 1.0 - p["w"][0]])},
    ]
    for c in constraints:
        c["args"] = (A, Y)
    # trust-constr does not converge on this problem within its 1000 iterations; 100 compare
    # the two engines' runs as well, in a tenth of the time.
    options = {"SLSQP": {}, "trust-constr": {"maxiter": 100}}
    runs = [
        optim.minimize(
            tree_fun, tree_x0(), args=(A, Y), method=method, constraints=constraints,
            backend=backend, options=options[method],
        )  # fmt: skip
        for method in ("SLSQP", "trust-constr")
        for backend in ("autograd", "jax")
    ]
    assert_same_run(runs[0], runs[1])
    assert_same_run(runs[2], runs[3])
    np.testing.assert_allclose(np.sum(runs[1].x["w"]), 0.5, atol=1e-8)


def test_fun_jax_cannot_follow_falls_back_to_differences_or_raises():
    def fun(x):  # plain numpy on the input: jax cannot trace it
        return float(np.sum(np.asarray(x) ** 2 - 2.0 * np.asarray(x)))

    with pytest.warns(OptimizeWarning, match=r"jax\.numpy \(import jax\.numpy as jnp\)"):
        res = optim.minimize(fun, np.zeros(2), backend="jax")
    np.testing.assert_allclose(res.x, 1.0, atol=1e-6)
    with pytest.raises(TypeError, match=r"Cannot differentiate the loss: .*jax said:"):
        optim.minimize(fun, np.zeros(2), jac="autodiff", backend="jax")


def test_a_closure_without_key_is_run_eagerly_every_time():
    """A function that reads mutable state is never compiled: a changed batch is seen."""
    batch = {"y": np.array([1.0, 2.0])}

    def loss(w):
        return jnp.sum((w - batch["y"]) ** 2)

    w = np.zeros(2)
    with optim.use_backend("jax"):
        _, (g1,) = optim.gradients.value_and_gradients(loss, [w])
        batch["y"] = np.array([-5.0, 0.0])
        _, (g2,) = optim.gradients.value_and_gradients(loss, [w])
    np.testing.assert_allclose(g1, [-2.0, -4.0])
    np.testing.assert_allclose(g2, [10.0, 0.0])


def test_custom_gradient_works_and_override_map_says_it_is_not_supported():
    @optim.custom_gradient
    def halved(x):
        return x, lambda dy: dy / 2

    with optim.use_backend("jax"):
        np.testing.assert_array_equal(jax.grad(lambda x: jnp.sum(halved(x)))(jnp.ones(2)), 0.5)
        with pytest.raises(NotImplementedError, match="gradient_override_map"):
            with optim.gradient_override_map({jnp.round: "Identity"}):
                pass
        assert float(jax.grad(lambda x: optim.stop_gradient(x) * x)(3.0)) == 3.0


def test_set_backend_jax_keeps_float64_too():
    target = 1.0 + 1e-9
    try:
        optim.set_backend("jax")
        res = optim.minimize(lambda x: jnp.sum((x - target) ** 2), np.zeros(2), method="BFGS")
    finally:
        optim.set_backend("autograd")
    assert res.x.dtype == np.float64
    np.testing.assert_allclose(res.x, target, rtol=0, atol=1e-14)
