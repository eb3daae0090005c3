"""Optimizer trajectories on Rosenbrock's valley and Beale's function, from the same start.

Every optimizer runs the same number of steps from the same point, with a learning rate chosen
per problem (listed below); its path is drawn over log-scaled contours of the function, one
panel per problem, into a PNG. Gradient descent, momentum and Nesterov always run; Adam,
RMSProp, Adagrad, Adadelta, Nadam and Lion join when ``optim.train`` has them.

Run:
    python examples/compare_optimizers.py                      # writes compare_optimizers.png
    python examples/compare_optimizers.py --out figure.png --steps 2000
"""

from __future__ import annotations

import argparse
import math
import time

import matplotlib
import numpy

import optim

matplotlib.use("Agg")  # headless: the figure only goes to a file
import matplotlib.pyplot as plt  # noqa: E402


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def beale(p):
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


PROBLEMS = {
    "Rosenbrock": {
        "f": rosenbrock,
        "start": (-1.2, 1.0),
        "minimum": (1.0, 1.0),
        "xlim": (-2.0, 2.0),
        "ylim": (-1.0, 3.0),
        "legend": "upper left",
    },
    "Beale": {
        "f": beale,
        "start": (1.0, 1.5),
        "minimum": (3.0, 0.5),
        "xlim": (-0.5, 4.5),
        "ylim": (-1.0, 2.5),
        "legend": "upper right",
    },
}

# name -> (class name in optim.train, constructor keywords, {problem: learning rate}); each
# rate is about the best of a 1e-4 .. 10 grid that does not diverge, for 500 steps.
OPTIMIZERS = {
    "GD": ("GradientDescentOptimizer", {}, {"Rosenbrock": 2e-3, "Beale": 1e-2}),
    "Momentum": ("MomentumOptimizer", {"momentum": 0.9}, {"Rosenbrock": 5e-4, "Beale": 1e-3}),
    "Nesterov": (
        "MomentumOptimizer",
        {"momentum": 0.9, "use_nesterov": True},
        {"Rosenbrock": 5e-4, "Beale": 1e-3},
    ),
    "Adam": ("AdamOptimizer", {}, {"Rosenbrock": 0.1, "Beale": 0.1}),
    "RMSProp": ("RMSPropOptimizer", {}, {"Rosenbrock": 0.01, "Beale": 0.01}),
    "Adagrad": ("AdagradOptimizer", {}, {"Rosenbrock": 1.0, "Beale": 0.3}),
    "Adadelta": ("AdadeltaOptimizer", {}, {"Rosenbrock": 10.0, "Beale": 10.0}),
    "Nadam": ("NadamOptimizer", {}, {"Rosenbrock": 0.1, "Beale": 0.1}),
    "Lion": ("LionOptimizer", {}, {"Rosenbrock": 0.01, "Beale": 0.01}),
}


def available_optimizers():
    """The entries of OPTIMIZERS whose class optim.train has (looked up by name)."""
    found = {}
    for name, (cls_name, kwargs, rates) in OPTIMIZERS.items():
        cls = getattr(optim.train, cls_name, None) or getattr(optim, cls_name, None)
        if cls is not None:
            found[name] = (cls, kwargs, rates)
    return found


def run(problem, cls, kwargs, learning_rate, steps):
    """The path of one optimizer: the start and every iterate, stopping if it leaves the plot."""
    with optim.Graph().as_default():
        p = optim.Variable(numpy.array(problem["start"]), name="p")
        opt = cls(learning_rate, **kwargs)
        path = [p.numpy()]
        lo_x, hi_x = problem["xlim"]
        lo_y, hi_y = problem["ylim"]
        for _ in range(steps):
            try:
                opt.minimize(lambda: problem["f"](p.value), var_list=[p])
            except FloatingPointError:  # diverged to inf / nan
                break
            x, y = p.numpy()
            path.append(p.numpy())
            span = 4 * max(hi_x - lo_x, hi_y - lo_y)
            if not (abs(x) < span and abs(y) < span):
                break
        return numpy.array(path), float(problem["f"](p.numpy()))


def draw(ax, title, problem, results):
    lo_x, hi_x = problem["xlim"]
    lo_y, hi_y = problem["ylim"]
    xs, ys = numpy.meshgrid(numpy.linspace(lo_x, hi_x, 400), numpy.linspace(lo_y, hi_y, 400))
    zs = problem["f"](numpy.stack([xs, ys]))
    levels = numpy.logspace(math.log10(max(zs.min(), 1e-3)), math.log10(zs.max()), 25)
    ax.contourf(
        xs, ys, zs, levels=levels, norm=matplotlib.colors.LogNorm(), cmap="Greys_r", alpha=0.55
    )
    ax.contour(
        xs, ys, zs, levels=levels, norm=matplotlib.colors.LogNorm(), colors="0.45", linewidths=0.4
    )
    colors = plt.get_cmap("tab10").colors
    for i, (name, (path, final, rate)) in enumerate(results.items()):
        ax.plot(
            path[:, 0],
            path[:, 1],
            "-",
            color=colors[i % 10],
            lw=1.6,
            label=f"{name} (lr {rate:g}): f={final:.1e}",
        )
        ax.plot(path[-1, 0], path[-1, 1], "o", color=colors[i % 10], ms=4)
    ax.plot(*problem["start"], "ks", ms=7, label="start")
    ax.plot(*problem["minimum"], "*", color="gold", mec="k", ms=16, label="minimum")
    ax.set_xlim(lo_x, hi_x)
    ax.set_ylim(lo_y, hi_y)
    ax.set_title(title)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc=problem["legend"], fontsize=8, framealpha=0.9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="compare_optimizers.png", help="the PNG to write")
    parser.add_argument("--steps", type=int, default=500, help="steps per optimizer")
    args = parser.parse_args(argv)

    optimizers = available_optimizers()
    start = time.perf_counter()
    table = {}
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5), layout="constrained")
    for ax, (title, problem) in zip(axes, PROBLEMS.items()):
        results = {}
        for name, (cls, kwargs, rates) in optimizers.items():
            path, final = run(problem, cls, kwargs, rates[title], args.steps)
            results[name] = (path, final, rates[title])
        table[title] = {name: (final, path) for name, (path, final, _) in results.items()}
        draw(ax, f"{title}: {args.steps} steps from {problem['start']}", problem, results)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    seconds = time.perf_counter() - start

    print(f"{'optimizer':<10}" + "".join(f"{title:>24}" for title in PROBLEMS))
    for name in optimizers:
        row = "".join(
            f"{table[t][name][0]:>14.3e} ({len(table[t][name][1]) - 1:>4} st)" for t in PROBLEMS
        )
        print(f"{name:<10}{row}")
    print(
        f"final f(x) after at most {args.steps} steps; {len(optimizers)} optimizers in "
        f"{seconds:.1f} s; figure: {args.out}"
    )
    return table


if __name__ == "__main__":
    main()
