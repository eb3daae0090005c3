"""What automatic differentiation buys over finite differences, measured.

For two real objectives, the n-dimensional Rosenbrock function and softmax regression on
scikit-learn's bundled digits (random features of the images, so that n can grow), the script
computes the gradient five ways through optim's gradient sources:

* ``autodiff``: reverse mode through autograd (optim's default),
* ``hand-written``: the gradient worked out on paper (the reference the others are compared to),
* ``2-point``, ``3-point``: forward and central differences,
* ``cs``: the complex step,

for n from 10 to 10,000, and reports the error against the hand-written gradient
(``max |g - g_exact| / max |g_exact|``) and the time per gradient. Finite differences need n or
2n loss evaluations per gradient; where that would take longer than ``--budget`` seconds they
are skipped (shown as "-"). The figure has two panels, error and time against n, log scales.

Run:
    python examples/autodiff_vs_numeric.py --out autodiff_vs_numeric.png
"""

from __future__ import annotations

import argparse
import time

import autograd.numpy as np
import numpy

import optim

METHODS = ("autodiff", "hand-written", "2-point", "3-point", "cs")


# -- the objectives, each with its hand-written gradient ----------------------------------


def rosenbrock_problem(n, rng):
    x = optim.Variable(rng.uniform(-1.5, 1.5, size=n), name="x")

    def loss():
        v = x.value
        return np.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)

    def exact():
        v = x.numpy()
        g = numpy.zeros_like(v)
        inner = v[1:] - v[:-1] ** 2
        g[:-1] += -400.0 * v[:-1] * inner - 2.0 * (1.0 - v[:-1])
        g[1:] += 200.0 * inner
        return [g]

    return loss, exact, [x]


def softmax_problem(n, rng, images, labels):
    """Softmax regression with k = n/10 - 1 random cosine features of the digit images."""
    k = max(n // 10 - 1, 1)
    projection = rng.normal(size=(images.shape[1], k)) / numpy.sqrt(images.shape[1])
    features = numpy.cos(images @ projection * 3.0)
    one_hot = numpy.eye(10)[labels]
    W = optim.Variable(rng.normal(size=(k, 10)) * 0.1, name="W")
    b = optim.Variable(numpy.zeros(10), name="b")
    m = len(labels)

    def loss():
        # Written to accept complex input too (for the complex step): the shift is real.
        z = features @ W.value + b.value
        shift = numpy.max(numpy.real(optim.stop_gradient(z)), axis=1, keepdims=True)
        log_norm = np.log(np.sum(np.exp(z - shift), axis=1)) + shift[:, 0]
        return (np.sum(log_norm) - np.sum(z * one_hot)) / m

    def exact():
        z = features @ W.numpy() + b.numpy()
        p = numpy.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        d = (p - one_hot) / m
        return [features.T @ d, d.sum(axis=0)]

    return loss, exact, [W, b]


# -- measuring ----------------------------------------------------------------------------


def time_call(fn, min_seconds=0.05):
    """Seconds per call: the best of a few repeats of a loop lasting ``min_seconds``."""
    fn()
    best = float("inf")
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while True:
            fn()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / count)
    return best


def measure(problem, budget):
    loss, exact, var_list = problem
    n = sum(v.size for v in var_list)
    reference = exact()
    scale = max(numpy.max(numpy.abs(g)) for g in reference)
    loss_seconds = time_call(loss, 0.02)
    # Loss evaluations per gradient; complex arithmetic costs about three real evaluations.
    evaluations = {"2-point": n, "3-point": 2 * n, "cs": 3 * n}
    results = {}
    for method in METHODS:
        if method == "hand-written":
            seconds = time_call(exact)
            grads = reference
        else:
            if method in evaluations and evaluations[method] * loss_seconds > budget:
                results[method] = None
                continue
            source = optim.as_gradient_source(None if method == "autodiff" else method)

            def gradient(source=source):
                return source.value_and_gradients(loss, var_list)[1]

            grads = gradient()
            seconds = time_call(gradient) if method == "autodiff" else _once(gradient)
        error = max(numpy.max(numpy.abs(g - r)) for g, r in zip(grads, reference)) / scale
        results[method] = (error, seconds)
    return n, results


def _once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(sizes, budget, seed=0):
    rng = numpy.random.default_rng(seed)
    (images, labels), _ = optim.datasets.load_digits(test_size=0.2, seed=seed, dtype=numpy.float64)
    table = {"rosenbrock": [], "softmax (digits)": []}
    with optim.Graph().as_default():
        for n in sizes:
            table["rosenbrock"].append(measure(rosenbrock_problem(n, rng), budget))
            table["softmax (digits)"].append(
                measure(softmax_problem(n, rng, images, labels), budget)
            )
    return table


def print_table(table):
    header = f"{'objective':<18}{'n':>7}  " + "".join(f"{m:>22}" for m in METHODS)
    print("relative error vs the hand-written gradient | time per gradient")
    print(header)
    print("-" * len(header))
    for objective, rows in table.items():
        for n, results in rows:
            cells = []
            for method in METHODS:
                cell = results[method]
                cells.append(
                    f"{'-':>22}" if cell is None else f"{cell[0]:>10.1e} | {_ms(cell[1]):>9}"
                )
            print(f"{objective:<18}{n:>7}  " + "".join(cells))


def _ms(seconds):
    if seconds >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} us"


def plot(table, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_err, ax_time) = plt.subplots(1, 2, figsize=(11, 5))
    styles = {"rosenbrock": "-", "softmax (digits)": "--"}
    colors = dict(zip(METHODS, ["C0", "k", "C1", "C2", "C3"]))
    for objective, rows in table.items():
        for method in METHODS:
            points = [(n, r[method]) for n, r in rows if r[method] is not None]
            if not points:
                continue
            ns = [n for n, _ in points]
            label = f"{method}, {objective}"
            errors = [max(cell[0], 1e-17) for _, cell in points]
            if method != "hand-written":
                ax_err.loglog(
                    ns,
                    errors,
                    styles[objective],
                    color=colors[method],
                    marker="o",
                    ms=3,
                    label=label,
                )
            ax_time.loglog(
                ns,
                [cell[1] for _, cell in points],
                styles[objective],
                color=colors[method],
                marker="o",
                ms=3,
                label=label,
            )
    ax_err.set(
        xlabel="number of parameters n",
        ylabel="relative error (floored at 1e-17)",
        title="Error against the exact gradient",
    )
    ax_time.set(
        xlabel="number of parameters n", ylabel="seconds per gradient", title="Time per gradient"
    )
    for ax in (ax_err, ax_time):
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax_time.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, ncol=5, loc="lower center")
    fig.suptitle("Autodiff vs finite differences (solid: Rosenbrock, dashed: softmax on digits)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10,100,1000,10000", help="comma-separated parameter counts"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=2.0,
        help="skip a finite-difference gradient estimated to take longer (s)",
    )
    parser.add_argument("--out", default="autodiff_vs_numeric.png", help="where to save the PNG")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    start = time.perf_counter()
    table = run(sizes, args.budget)
    print_table(table)
    plot(table, args.out)
    print(f"figure: {args.out}  ({time.perf_counter() - start:.1f} s in all)")
    return table


if __name__ == "__main__":
    main()
