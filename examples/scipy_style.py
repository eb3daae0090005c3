"""scipy.optimize three ways: optim.minimize, optim.scipy_method, ScipyOptimizerInterface.

One problem, a least-squares fit of a line ``y = w * x + b`` with ``w`` kept in [0, 1.5], solved

1. with ``optim.minimize``: scipy's signature on a dict of parameters, the gradient by autodiff,
   once with L-BFGS-B (scipy's solver) and once with Adam (optim's);
2. with ``scipy.optimize.minimize`` itself, Adam plugged in as a custom method;
3. the TF1 way: Variables, a zero-argument loss and ``ScipyOptimizerInterface``.

Run:
    python examples/scipy_style.py
"""

from __future__ import annotations

import autograd.numpy as np
import numpy
import scipy.optimize

import optim
from optim.scipy import ScipyOptimizerInterface, minimize, scipy_method

rng = numpy.random.default_rng(0)
X = numpy.linspace(-1.0, 1.0, 50)
Y = 2.0 * X - 0.5 + 0.05 * rng.standard_normal(50)  # the true slope, 2, is out of bounds


def way_1_optim_minimize():
    def loss(params, x, y):
        return np.mean((params["w"] * x + params["b"] - y) ** 2)

    x0 = {"w": 0.0, "b": 0.0}
    bounds = {"w": (0.0, 1.5)}  # a pytree of (low, high) pairs; "b" is free
    res = minimize(loss, x0, args=(X, Y), bounds=bounds)  # L-BFGS-B, autodiff gradient
    adam = minimize(loss, x0, args=(X, Y), bounds=bounds, method="adam",
                    options={"learning_rate": 0.05, "maxiter": 2000})  # fmt: skip
    return res, adam


def way_2_scipy_custom_method():
    def loss(theta):  # scipy's flat vector: theta = [w, b]
        return np.mean((theta[0] * X + theta[1] - Y) ** 2)

    method = scipy_method("adam", learning_rate=0.05)
    return scipy.optimize.minimize(
        loss, numpy.zeros(2), method=method, bounds=[(0.0, 1.5), (None, None)],
        options={"maxiter": 2000},
    )  # fmt: skip


def way_3_tf_variables():
    with optim.Graph().as_default():
        w = optim.Variable(0.0, name="w")
        b = optim.Variable(0.0, name="b")

        def loss():
            return np.mean((w.value * X + b.value - Y) ** 2)

        interface = ScipyOptimizerInterface(loss, var_to_bounds={w: (0.0, 1.5)})
        result = interface.minimize()  # L-BFGS-B; the solution is written into w and b
        return result, float(w.numpy()), float(b.numpy())


def main() -> dict[str, tuple[float, float]]:
    res, adam = way_1_optim_minimize()
    custom = way_2_scipy_custom_method()
    tf_result, w, b = way_3_tf_variables()
    fits = {
        "optim.minimize (L-BFGS-B)": (float(res.x["w"]), float(res.x["b"])),
        "optim.minimize (adam)": (float(adam.x["w"]), float(adam.x["b"])),
        "scipy + optim.scipy_method": (float(custom.x[0]), float(custom.x[1])),
        "ScipyOptimizerInterface": (w, b),
    }
    for name, (fw, fb) in fits.items():
        print(f"{name:<28} w = {fw:.4f}  b = {fb:+.4f}")
    print(f"L-BFGS-B: {res.nit} iterations, {res.nfev} evaluations; adam: {adam.message}")
    return fits


if __name__ == "__main__":
    main()
