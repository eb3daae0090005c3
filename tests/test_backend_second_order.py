"""The one second-order path (optim.gradients.second_order / dense_hessian) and hess="autodiff".

Checked against scipy's hand-written Rosenbrock derivatives, on the default (autograd) engine.
"""

from __future__ import annotations

import warnings

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.optimize

import optim
from optim.gradients import dense_hessian, second_order, value_and_gradients


def rosen(x):
    return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


X = np.array([0.3, -0.7, 1.1, 0.2, -1.4])


def test_value_gradients_and_products_against_scipy():
    value, (grad,) = value_and_gradients(rosen, [X])
    point = second_order(rosen, [X])
    np.testing.assert_allclose(value, scipy.optimize.rosen(X), rtol=1e-14)
    np.testing.assert_allclose(grad, scipy.optimize.rosen_der(X), rtol=1e-13)
    np.testing.assert_allclose(point.gradients[0], grad, rtol=0, atol=0)
    for p in (np.ones(5), np.array([1.0, -2.0, 0.5, 0.25, 3.0])):
        (product,) = point.hvp([p])
        np.testing.assert_allclose(product, scipy.optimize.rosen_hess_prod(X, p), rtol=1e-13)
    H = dense_hessian(point, [X])
    np.testing.assert_allclose(H, scipy.optimize.rosen_hess(X), rtol=1e-13, atol=1e-12)


def test_dense_hessian_columns_over_several_arguments_and_unreached_ones():
    """``H[:, j] = H @ e_j`` over the concatenated arguments; zeros where there is no path."""

    def fun(a, b, unused):
        return anp.sum(a**2 * b[0]) + b[1] ** 3 + anp.sum(a) * b[1]

    a, b, unused = np.array([1.0, 2.0]), np.array([3.0, 0.5]), np.array([7.0])
    point = second_order(fun, [a, b, unused])
    products = point.hvp([np.zeros(2), np.array([1.0, 0.0]), np.ones(1)])
    np.testing.assert_allclose(products[0], 2 * a)  # d2f/da db0 = 2a
    assert products[2] is None
    H = dense_hessian(point, [a, b, unused])
    expected = np.array(
        [
            [2 * b[0], 0.0, 2 * a[0], 1.0, 0.0],
            [0.0, 2 * b[0], 2 * a[1], 1.0, 0.0],
            [2 * a[0], 2 * a[1], 0.0, 0.0, 0.0],
            [1.0, 1.0, 0.0, 6 * b[1], 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_allclose(H, expected, rtol=1e-15)


def test_tf_world_hessian_is_the_same_algorithm():
    with optim.Graph().as_default():
        x = optim.Variable(X.copy())
        H = optim.hessian(lambda: rosen(x.value), [x])
        (hv,) = optim.hessian_vector_product(lambda: rosen(x.value), [x], [np.ones(5)])
    np.testing.assert_allclose(H, scipy.optimize.rosen_hess(X), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(hv, scipy.optimize.rosen_hess_prod(X, np.ones(5)), rtol=1e-13)


def quartic(x):
    return anp.sum(x**4) + anp.sum((x - 1.0) ** 2)


def quartic_jac(x):
    return 4 * x**3 + 2 * (x - 1.0)


@pytest.mark.parametrize("method", ["trust-exact", "dogleg", "Newton-CG", "trust-constr"])
def test_hess_autodiff_gives_autodiff_hessians_with_a_user_jac(method):
    x0 = np.array([2.0, -1.0, 0.5])
    res = optim.minimize(quartic, x0, jac=quartic_jac, method=method, hess="autodiff")
    # the same run with scipy and the Hessian written out by hand
    exact = scipy.optimize.minimize(
        quartic, x0, jac=quartic_jac, method=method, hess=lambda x: np.diag(12 * x**2 + 2)
    )
    assert res.success and res.nhev > 0
    assert (res.nfev, res.njev, res.nit) == (exact.nfev, exact.njev, exact.nit)
    np.testing.assert_allclose(res.x, exact.x, rtol=0, atol=1e-10)


def test_hess_autodiff_on_a_method_without_hessians_warns_as_scipy_does():
    with pytest.warns(RuntimeWarning, match=r"Method BFGS does not use Hessian information"):
        res = optim.minimize(quartic, np.zeros(2), method="BFGS", hess="autodiff")
    assert res.success and "nhev" not in res


def test_hess_autodiff_raises_where_autodiff_cannot_follow_fun():
    def fun(x):
        return float(np.sum(x**4))  # float() cuts the trace

    with pytest.raises(TypeError, match="Cannot differentiate the loss"):
        optim.minimize(fun, np.ones(2), method="trust-exact", hess="autodiff")
    with warnings.catch_warnings():  # without hess="autodiff": scipy's differences, a warning
        warnings.simplefilter("ignore")
        res = optim.minimize(fun, np.ones(2), method="BFGS")
    assert res.success


def test_hess_autodiff_with_hessp_is_refused():
    with pytest.raises(ValueError, match="`hess` must not be 'autodiff' when `hessp` is given"):
        optim.minimize(quartic, np.ones(2), method="trust-ncg", hess="autodiff", hessp=np.dot)


def _three_argument_function(traces=None):
    """``f(a, b, unused)`` in the active engine's numpy (a Hessian with cross terms, and an
    argument f does not reach) and a point of it; ``traces`` counts the runs of f's body (once
    per trace when compiled)."""
    xp = optim.get_backend().numpy

    def fun(a, b, unused):
        if traces is not None:
            traces.append(1)
        return xp.sum(a**2 * b[0]) + b[1] ** 3 + xp.sum(a) * b[1] + xp.sum(xp.sin(a)) * b[0]

    return fun, [np.array([1.0, 2.0]), np.array([3.0, 0.5]), np.array([7.0])]


ENGINE_KEYS = [("autograd", None), ("jax", None), ("jax", "hvp-batch-test")]


@pytest.mark.parametrize("engine, key", ENGINE_KEYS)
def test_hvp_batch_stacks_what_hvp_gives_vector_by_vector(engine, key):
    if engine == "jax":
        pytest.importorskip("jax")
    rng = np.random.default_rng(3)
    with optim.use_backend(engine):
        fun, args = _three_argument_function()
        point = second_order(fun, args, key=key)
        batch = [rng.standard_normal((4,) + a.shape) for a in args]
        stacked = point.hvp_batch(batch)
        one_by_one = [point.hvp([v[i] for v in batch]) for i in range(4)]
    if key is None:  # traced as it runs: None for the argument f does not reach
        assert stacked[2] is None and all(products[2] is None for products in one_by_one)
    else:  # compiled: zeros there, as the compiled products give (see optim.backends.jax)
        assert np.array_equal(stacked[2], np.zeros((4, 1)))
        assert all(np.array_equal(products[2], np.zeros(1)) for products in one_by_one)
    for j in (0, 1):
        want = np.stack([products[j] for products in one_by_one])
        assert stacked[j].shape == want.shape == (4,) + args[j].shape
        # vmap may order XLA's arithmetic differently from one product at a time
        np.testing.assert_allclose(stacked[j], want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("engine, key", ENGINE_KEYS)
@pytest.mark.parametrize("columns", [1, 2, 3, 5, 128])
def test_dense_hessian_in_batches_of_any_width_gives_the_same_columns(
    engine, key, columns, monkeypatch
):
    """Batches of ``columns`` columns, the last one moved back to end at column n (5 here):
    widths 2 and 3 overlap the batch before, 1 and 5 tile exactly, 128 is wider than n."""
    if engine == "jax":
        pytest.importorskip("jax")
    monkeypatch.setattr(optim.gradients, "HESSIAN_COLUMNS", columns)
    with optim.use_backend(engine):
        fun, args = _three_argument_function()
        H = dense_hessian(second_order(fun, args, key=key), args)
    (a, b, _), cos = args, np.cos(args[0])
    d2a = 2 * b[0] - np.sin(a) * b[0]  # the diagonal of d2f/da2
    expected = np.array(
        [
            [d2a[0], 0.0, 2 * a[0] + cos[0], 1.0, 0.0],
            [0.0, d2a[1], 2 * a[1] + cos[1], 1.0, 0.0],
            [2 * a[0] + cos[0], 2 * a[1] + cos[1], 0.0, 0.0, 0.0],
            [1.0, 1.0, 0.0, 6 * b[1], 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_allclose(H, expected, rtol=1e-14, atol=1e-15)


def test_dense_hessian_on_jax_traces_one_batch_width(monkeypatch):
    """Every batch has the same width, so the compiled batched product is traced once, also
    when the last batch overlaps the one before (5 columns in batches of 3), and not again at
    a new point of the same shapes."""
    pytest.importorskip("jax")
    monkeypatch.setattr(optim.gradients, "HESSIAN_COLUMNS", 3)
    traces = []
    key = ("one-batch-width", id(traces))
    with optim.use_backend("jax"):
        fun, args = _three_argument_function(traces)
        point = second_order(fun, args, key=key)
        before = len(traces)
        first = dense_hessian(point, args)
        assert len(traces) == before + 1
        moved = [a + 0.5 for a in args]
        point = second_order(fun, moved, key=key)
        after = len(traces)
        second = dense_hessian(point, moved)
        assert len(traces) == after  # nothing traced again: same shapes, same width
    assert not np.allclose(first, second)  # a new point, a new Hessian
