"""Evaluation counts, wall time and final value of scipy's L-BFGS-B against optim.minimize.

Problems (standard test functions, standard starting points):

* ``rosenbrock``: the chained n-D Rosenbrock function from ``x0 = (-1.2, 1, -1.2, 1, ...)``, for
  n = 2, 10, 100, 1000 (``--quick``: 2, 10, 100);
* ``powell``: the extended Powell singular function (Moré, Garbow and Hillstrom 1981, #13) from
  ``x0 = (3, -1, 0, 1, ...)``, n = 100 (``--quick``: 20); its Hessian is singular at the
  minimum (0), so convergence is slow for everyone;
* ``digits``: L2-regularised multinomial logistic regression (softmax, 10 classes, 64 pixels +
  a bias: n = 650) on the training split of ``optim.datasets.load_digits()`` (1437 images;
  ``--quick``: the first 300), from zero weights.

Solvers, each on the same problem and starting point, in the same run:

* ``scipy L-BFGS-B fd``: ``scipy.optimize.minimize(method="L-BFGS-B")`` with no ``jac``
  (scipy's forward differences: n + 1 evaluations per gradient, counted in ``nfev``). Skipped
  above n = 100 (``--fd-max-n``), where one gradient costs more than 100 evaluations: shown as
  "skipped".
* ``scipy L-BFGS-B exact``: the same with the hand-written gradient (``jac=True``, the value and
  the gradient from one function). This is the baseline of the ``time/exact`` column.
* ``optim L-BFGS-B autodiff``: ``optim.minimize(method="L-BFGS-B")``, gradient by autograd.
* ``optim adam``: ``optim.minimize(method="adam")`` with the learning rate in ``ADAM``, up to
  ``--adam-maxiter`` steps (``gtol`` 1e-5, ``ftol`` 2.2e-9, scipy's L-BFGS-B defaults). A
  first-order method: many cheap steps, and usually ``maxiter`` before L-BFGS-B's precision.

Columns: ``nfev`` and ``njev`` as reported in the result (scipy counts finite-difference
evaluations in ``nfev``), wall time of one ``minimize`` call (``time.perf_counter``, best of
``--repeats``), its ratio to the hand-written-gradient run, the final ``fun``, and whether the
solver reported success. numpy's and scipy's BLAS pools are capped at ``--blas-threads``
(default 1) for the run (why: ``benchmarks/blas_threads.py``).

Usage::

    PYTHONPATH=. python benchmarks/bench_scipy.py            # full table (~20 s on 2 cores)
    PYTHONPATH=. python benchmarks/bench_scipy.py --quick    # a few seconds
    PYTHONPATH=. python benchmarks/bench_scipy.py --problems rosenbrock --sizes 10,1000
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import autograd.numpy as anp
import numpy as np
import scipy
import scipy.optimize

import optim
from optim.scipy import minimize as optim_minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blas_threads import blas_threads  # noqa: E402 - the directory above is its home

ADAM = {"rosenbrock": 0.1, "powell": 0.1, "digits": 0.05}  # the best of 0.001..0.1 at 3000 steps


@dataclass
class Problem:
    name: str
    n: int
    fun: Callable[[Any], Any]  # written with autograd.numpy
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]]  # hand-written
    x0: np.ndarray


# -- problems ---------------------------------------------------------------------------------


def rosenbrock(n: int) -> Problem:
    def fun(x):
        return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def value_and_grad(x):
        inner = x[1:] - x[:-1] ** 2
        value = np.sum(100.0 * inner**2 + (1.0 - x[:-1]) ** 2)
        g = np.zeros_like(x)
        g[:-1] = -400.0 * x[:-1] * inner - 2.0 * (1.0 - x[:-1])
        g[1:] += 200.0 * inner
        return value, g

    x0 = np.tile([-1.2, 1.0], n // 2 + 1)[:n]
    return Problem("rosenbrock", n, fun, value_and_grad, x0)


def extended_powell(n: int) -> Problem:
    if n % 4:
        raise ValueError(f"`n` must be a multiple of 4, got {n!r}.")

    def fun(x):
        a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
        return anp.sum(
            (a + 10.0 * b) ** 2 + 5.0 * (c - d) ** 2 + (b - 2.0 * c) ** 4 + 10.0 * (a - d) ** 4
        )

    def value_and_grad(x):
        a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
        t1, t2, t3, t4 = a + 10.0 * b, c - d, b - 2.0 * c, a - d
        value = np.sum(t1**2 + 5.0 * t2**2 + t3**4 + 10.0 * t4**4)
        g = np.empty_like(x)
        g[0::4] = 2.0 * t1 + 40.0 * t4**3
        g[1::4] = 20.0 * t1 + 4.0 * t3**3
        g[2::4] = 10.0 * t2 - 8.0 * t3**3
        g[3::4] = -10.0 * t2 - 40.0 * t4**3
        return value, g

    x0 = np.tile([3.0, -1.0, 0.0, 1.0], n // 4)
    return Problem("powell", n, fun, value_and_grad, x0)


def digits_logistic(limit: int | None, l2: float = 1e-3) -> Problem:
    (images, labels), _ = optim.datasets.load_digits(dtype=np.float64)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    features = np.hstack([images, np.ones((len(images), 1))])
    one_hot = np.eye(10)[labels]
    m, d = features.shape

    def fun(w):
        logits = anp.dot(features, anp.reshape(w, (d, 10)))
        shifted = logits - anp.max(logits, axis=1, keepdims=True)
        log_z = anp.log(anp.sum(anp.exp(shifted), axis=1))
        nll = anp.sum(log_z) - anp.sum(shifted * one_hot)
        return nll / m + 0.5 * l2 * anp.sum(w**2)

    def value_and_grad(w):
        W = w.reshape(d, 10)
        logits = features @ W
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        z = exp.sum(axis=1)
        value = (np.sum(np.log(z)) - np.sum(shifted * one_hot)) / m + 0.5 * l2 * np.sum(w**2)
        probs = exp / z[:, None]
        grad = features.T @ (probs - one_hot) / m + l2 * W
        return value, grad.ravel()

    return Problem("digits", d * 10, fun, value_and_grad, np.zeros(d * 10))


# -- solvers ----------------------------------------------------------------------------------


def scipy_fd(problem: Problem) -> scipy.optimize.OptimizeResult:
    def value(x):
        return problem.value_and_grad(x)[0]

    return scipy.optimize.minimize(value, problem.x0, method="L-BFGS-B")


def scipy_exact(problem: Problem) -> scipy.optimize.OptimizeResult:
    return scipy.optimize.minimize(problem.value_and_grad, problem.x0, jac=True, method="L-BFGS-B")


def optim_lbfgsb(problem: Problem) -> scipy.optimize.OptimizeResult:
    return optim_minimize(problem.fun, problem.x0, method="L-BFGS-B")


def optim_adam(problem: Problem, maxiter: int) -> scipy.optimize.OptimizeResult:
    options = {"learning_rate": ADAM[problem.name], "maxiter": maxiter}
    return optim_minimize(problem.fun, problem.x0, method="adam", options=options)


# -- running and printing ---------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small problems, a few seconds")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    parser.add_argument("--fd-max-n", type=int, default=100, help="largest n for scipy's FD")
    parser.add_argument("--adam-maxiter", type=int, default=None, help="Adam's step budget")
    parser.add_argument(
        "--problems", default="rosenbrock,powell,digits", help="comma-separated problem names"
    )
    parser.add_argument("--sizes", default=None, help="Rosenbrock sizes, e.g. 2,10,100")
    parser.add_argument(
        "--blas-threads", type=int, default=1, help="threads per BLAS pool (blas_threads.py)"
    )
    args = parser.parse_args(argv)
    args.problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    unknown = sorted(set(args.problems) - {"rosenbrock", "powell", "digits"})
    if unknown:
        parser.error(f"unknown problems {unknown}; choose among rosenbrock, powell, digits")
    if args.sizes is not None:
        args.sizes = [int(n) for n in args.sizes.split(",")]
    if args.adam_maxiter is None:
        args.adam_maxiter = 300 if args.quick else 3000
    return args


def _problems(args: argparse.Namespace) -> list[Problem]:
    problems = []
    if "rosenbrock" in args.problems:
        sizes = args.sizes or ((2, 10, 100) if args.quick else (2, 10, 100, 1000))
        problems += [rosenbrock(n) for n in sizes]
    if "powell" in args.problems:
        problems.append(extended_powell(20 if args.quick else 100))
    if "digits" in args.problems:
        problems.append(digits_logistic(300 if args.quick else None))
    return problems


HEADER = (
    f"{'problem':<11} {'n':>5}  {'solver':<24} {'nfev':>7} {'njev':>6} {'time s':>8} "
    f"{'time/exact':>10} {'fun':>12}  success"
)


def _format(row: dict[str, Any]) -> str:
    if row["skipped"]:
        return (
            f"{row['problem']:<11} {row['n']:>5}  {row['solver']:<24} "
            f"{'skipped: ' + row['skipped']}"
        )
    return (
        f"{row['problem']:<11} {row['n']:>5}  {row['solver']:<24} {row['nfev']:>7} "
        f"{row['njev']:>6} {row['time']:>8.3f} {row['ratio']:>10.2f} {row['fun']:>12.4e}  "
        f"{row['success']}"
    )


def _timed(run: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return result, best


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the table and returns its rows (one dict per solver run)."""
    args = _parse_args(argv)
    with blas_threads(args.blas_threads) as blas:
        print(blas)
        return _run(args)


def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"optim {optim.__version__}; best of {args.repeats}; time/exact = time / time of scipy "
        "L-BFGS-B with the hand-written gradient"
    )
    print(HEADER)
    print("-" * len(HEADER))
    rows = []
    for problem in _problems(args):
        solvers: list[tuple[str, Callable[[], Any] | None, str]] = [
            (
                "scipy L-BFGS-B fd",
                (lambda p=problem: scipy_fd(p)) if problem.n <= args.fd_max_n else None,
                f"n > --fd-max-n={args.fd_max_n} (n + 1 evaluations per gradient)",
            ),
            ("scipy L-BFGS-B exact", lambda p=problem: scipy_exact(p), ""),
            ("optim L-BFGS-B autodiff", lambda p=problem: optim_lbfgsb(p), ""),
            ("optim adam", lambda p=problem: optim_adam(p, args.adam_maxiter), ""),
        ]
        baseline = None
        results = []
        for name, run, why in solvers:
            row: dict[str, Any] = {"problem": problem.name, "n": problem.n, "solver": name}
            if run is None:
                row["skipped"] = why
                results.append(row)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # overflow while diverging
                res, seconds = _timed(run, args.repeats)
            row.update(
                skipped="",
                nfev=int(res.nfev),
                njev=int(res.get("njev", 0)),
                time=seconds,
                fun=float(res.fun),
                success=bool(res.success),
                nit=int(res.nit),
                message=str(res.message),
            )
            if name == "scipy L-BFGS-B exact":
                baseline = seconds
            results.append(row)
        for row in results:
            if not row["skipped"]:
                row["ratio"] = row["time"] / baseline
            rows.append(row)
            print(_format(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
