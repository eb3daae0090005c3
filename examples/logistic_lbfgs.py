"""Multinomial logistic regression on the bundled digits with ``optim.minimize(method='L-BFGS-B')``.

The parameters are a dict ``{"W": (64, 10), "b": (10,)}``; the loss is the mean softmax
cross-entropy plus an L2 penalty ``1/(2 C n) * ||W||^2`` matching scikit-learn's
``LogisticRegression(C=C)`` objective, and the gradient comes from autodiff. The script fits
scikit-learn's model on the same split and prints both test accuracies.

Run:
    python examples/logistic_lbfgs.py
"""

from __future__ import annotations

import argparse
import time

import autograd.numpy as np
import numpy

import optim


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = optim.datasets.load_digits(
        seed=args.seed, dtype=numpy.float64
    )
    n, d = x_train.shape
    one_hot = numpy.eye(10)[y_train]

    def loss(params):
        logits = x_train @ params["W"] + params["b"]
        data = np.mean(optim.nn.softmax_cross_entropy_with_logits(labels=one_hot, logits=logits))
        return data + np.sum(params["W"] ** 2) / (2.0 * args.C * n)

    x0 = {"W": numpy.zeros((d, 10)), "b": numpy.zeros(10)}
    start = time.perf_counter()
    res = optim.minimize(loss, x0, method="L-BFGS-B", options={"maxiter": 1000})
    seconds = time.perf_counter() - start
    ours = float(numpy.mean(numpy.argmax(x_test @ res.x["W"] + res.x["b"], axis=1) == y_test))

    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    sk = LogisticRegression(C=args.C, max_iter=1000).fit(x_train, y_train)
    sk_seconds = time.perf_counter() - start
    theirs = float(sk.score(x_test, y_test))

    print(f"optim.minimize L-BFGS-B: {res.message} ({res.nit} iterations, {res.nfev} "
          f"evaluations, {seconds:.2f} s), loss {res.fun:.5f}")  # fmt: skip
    print(f"test accuracy: optim {ours:.4f}, scikit-learn {theirs:.4f} ({sk_seconds:.2f} s)")
    return ours, theirs


if __name__ == "__main__":
    main()
