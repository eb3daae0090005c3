"""Optimizer trajectories on Rosenbrock's valley and Beale's function, and a small MLP.

Every optimizer runs the same number of steps from the same point, with a learning rate chosen
per problem (listed below); its path is drawn over log-scaled contours of the function, one
panel per problem, into a PNG. Gradient descent, momentum and Nesterov always run; Adam,
RMSProp, Adagrad, Adadelta, Nadam and Lion join when ``optim.train`` has them.

The third panel trains a 64-32-10 MLP on the bundled 8x8 digits with ``optim.fit`` and draws
the validation loss per epoch for Adam beside the recent optimizers: Muon (its two weight
matrices take Newton-Schulz steps, the biases AdamW ones), Schedule-Free AdamW (no schedule;
``fit`` validates on its average ``x``, not on the training point) and Prodigy (no learning
rate to tune: ``learning_rate=1``, its step size estimated as it trains).

Run:
    python examples/compare_optimizers.py                      # writes compare_optimizers.png
    python examples/compare_optimizers.py --out figure.png --steps 2000 --mlp-epochs 30
"""

from __future__ import annotations

import argparse
import math
import time

import autograd.numpy as anp
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


# name -> (class name in optim.train, constructor keywords) for the MLP panel. Adam's rate and
# Schedule-Free's are the best of {3e-3, 1e-2} for 20 epochs; Prodigy's d_coef 0.5 halves its
# d estimate (with the default 1 its validation loss jumps from 0.09 to 0.31 at epoch 20).
MLP_OPTIMIZERS = {
    "Adam": ("AdamOptimizer", {"learning_rate": 1e-2}),
    "Muon": (
        "MuonOptimizer",
        {"learning_rate": 0.02, "weight_decay": 0.0, "adam_learning_rate": 3e-3},
    ),
    "Schedule-Free AdamW": ("ScheduleFreeAdamWOptimizer", {"learning_rate": 0.01}),
    "Prodigy": ("ProdigyOptimizer", {"learning_rate": 1.0, "d_coef": 0.5}),
}


def mlp_curves(epochs, hidden=32, batch_size=64, seed=0):
    """``{name: (validation losses per epoch, test accuracy)}`` for MLP_OPTIMIZERS that
    ``optim.train`` has, each from the same initial weights and batch order."""
    (x_train, y_train), (x_test, y_test) = optim.datasets.load_digits(
        seed=seed, dtype=numpy.float64
    )
    n_val = len(x_train) // 8
    x_val, y_val = x_train[-n_val:], y_train[-n_val:]
    x_train, y_train = x_train[:-n_val], y_train[:-n_val]
    curves = {}
    for name, (cls_name, kwargs) in MLP_OPTIMIZERS.items():
        cls = getattr(optim.train, cls_name, None)
        if cls is None:
            continue
        rng = numpy.random.default_rng(seed)
        with optim.Graph().as_default():
            shapes = [(64, hidden), (hidden,), (hidden, 10), (10,)]
            weights = [
                optim.Variable(
                    rng.uniform(-1, 1, size=s) * math.sqrt(6.0 / sum(s)) if len(s) == 2
                    else numpy.zeros(s),
                    name=f"v{i}",
                )
                for i, s in enumerate(shapes)
            ]  # fmt: skip

            def logits(x, w=weights):
                hidden_units = anp.maximum(x @ w[0].value + w[1].value, 0.0)
                return hidden_units @ w[2].value + w[3].value

            def loss(x, y, logits=logits):
                return anp.mean(
                    optim.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(x))
                )

            opt = cls(**kwargs)
            history = optim.fit(
                loss, x_train, y_train, optimizer=opt, var_list=weights, batch_size=batch_size,
                epochs=epochs, validation_data=(x_val, y_val), seed=seed, verbose=0,
            )  # fmt: skip
            # fit returns in eval mode: a Schedule-Free model is evaluated at x, as validated
            accuracy = float(numpy.mean(numpy.argmax(logits(x_test), axis=1) == y_test))
        curves[name] = (history.history["val_loss"], accuracy)
    return curves


def draw_mlp(ax, curves, epochs):
    colors = plt.get_cmap("tab10").colors
    for i, (name, (val_loss, accuracy)) in enumerate(curves.items()):
        ax.plot(
            range(1, len(val_loss) + 1), val_loss, "-o", ms=3, color=colors[i % 10], lw=1.6,
            label=f"{name}: val loss {val_loss[-1]:.3f}, test acc {accuracy:.3f}",
        )  # fmt: skip
    ax.set_yscale("log")
    ax.set_title(f"MLP 64-32-10 on 8x8 digits: {epochs} epochs of optim.fit")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss (cross entropy)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)


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
    parser.add_argument("--mlp-epochs", type=int, default=20, help="epochs of the MLP panel")
    args = parser.parse_args(argv)

    optimizers = available_optimizers()
    start = time.perf_counter()
    table = {}
    fig, axes = plt.subplots(1, 3, figsize=(22, 6.5), layout="constrained")
    for ax, (title, problem) in zip(axes, PROBLEMS.items()):
        results = {}
        for name, (cls, kwargs, rates) in optimizers.items():
            path, final = run(problem, cls, kwargs, rates[title], args.steps)
            results[name] = (path, final, rates[title])
        table[title] = {name: (final, path) for name, (path, final, _) in results.items()}
        draw(ax, f"{title}: {args.steps} steps from {problem['start']}", problem, results)
    curves = mlp_curves(args.mlp_epochs)
    draw_mlp(axes[2], curves, args.mlp_epochs)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    seconds = time.perf_counter() - start

    print(f"{'optimizer':<10}" + "".join(f"{title:>24}" for title in PROBLEMS))
    for name in optimizers:
        row = "".join(
            f"{table[t][name][0]:>14.3e} ({len(table[t][name][1]) - 1:>4} st)" for t in PROBLEMS
        )
        print(f"{name:<10}{row}")
    print(f"\n{'MLP optimizer':<20}{'val loss':>10}{'test acc':>10}")
    for name, (val_loss, accuracy) in curves.items():
        print(f"{name:<20}{val_loss[-1]:>10.4f}{accuracy:>10.3f}")
    print(
        f"final f(x) after at most {args.steps} steps; {len(optimizers)} optimizers, and the "
        f"MLP for {args.mlp_epochs} epochs, in {seconds:.1f} s; figure: {args.out}"
    )
    table["MLP"] = curves
    return table


if __name__ == "__main__":
    main()
