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
