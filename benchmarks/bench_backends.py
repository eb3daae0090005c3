"""optim on its two autodiff engines, autograd and jax, side by side in one run (issue 11).

**scipy world.** Each problem is minimized from the same start with the same method by

* ``scipy``: ``scipy.optimize.minimize`` with the hand-written gradient (and Hessian-vector
  product for trust-ncg, Hessian for trust-exact): the floor;
* ``optim/autograd`` and ``optim/jax``: ``optim.minimize(..., backend=...)`` with the objective
  written once with ``optim.numpy``; jax compiles value-and-gradient once per objective and
  shapes, so its first call is timed apart (``compile``: first run minus the steady run);
* ``jax, no optim``: ``scipy.optimize.minimize`` driven by ``jax.jit(jax.value_and_grad(fun))``
  (and, for trust-ncg, a jitted forward-over-reverse product; for trust-exact, a jitted
  ``jax.hessian``) with no optim in between, the results brought to numpy with
  ``np.asarray``: what any jax user pays under scipy, so the floor of a compiling engine there
  (its first run compiles, as optim/jax's does);
* ``jaxopt``: ``jaxopt.ScipyMinimize`` where jaxopt is installed (else ``n/a``).

Reported: ``nfev``, ``njev`` (and ``nhev`` for the second-order methods), seconds per
evaluation (the best steady run's time over ``nfev``), its ratio to scipy's, and, as
``rounds``, the median over the rounds of the same ratio taken within each round (one slow
round cannot move it); then the compile time and the final ``fun``. The steady runs of a
problem's entries are interleaved in a new (seeded) order each round, so that no entry always
follows the same one: at least ``--repeats`` rounds, and about two seconds' worth for short
runs. Problems: Rosenbrock with n=100 and n=1000, the extended
Powell singular function with n=100 (L-BFGS-B), multinomial logistic regression on the bundled
digits (650 parameters, L-BFGS-B), trust-ncg on Rosenbrock n=100 (one Hessian-vector
product per CG step) and trust-exact on Rosenbrock n=100 (a dense Hessian per point: optim
asks for its columns in batches, one compiled call each on jax).

**TF world.** Time per step of the two examples' models, written with ``optim.numpy`` and
``optim.nn`` (as ``examples/mlp_digits.py`` is; the tutorial imports ``autograd.numpy``): the
tutorial's softmax regression (``examples/mnist_softmax.py``, on digits) and
``examples/mlp_digits.py``'s two-layer network, trained with ``minimize`` on mini-batches of
100 / 32 on autograd, on jax with the closure run eagerly (how a plain closure always runs
there), on jax with an ``optim.jit_closure`` called from a closure (differentiated eagerly
around the compiled loss) and with ``JitClosure.bind`` (value and gradients in one compiled
call); and ``optim.fit``, which compiles its step on jax (``JitClosure.bind``). fit's rows are
the best of ``--repeats`` runs of about ``--steps`` steps, the two engines' runs interleaved,
after a first epoch timed apart (jax compiles there).

**BLAS threads.** numpy's and scipy's OpenBLAS pools are capped at ``--blas-threads`` (default
1) for the run, and the header says so: with two threads per pool, scipy's own digits run
measured about ten times its one-thread time per evaluation (``benchmarks/blas_threads.py``).

Run:
    python benchmarks/bench_backends.py           # the full table (a few minutes)
    python benchmarks/bench_backends.py --quick   # small sizes, one repeat: a smoke run
    python benchmarks/bench_backends.py --world scipy --only "Rosenbrock 100"   # a subset
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.optimize

import optim
import optim.numpy as onp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blas_threads import blas_threads  # noqa: E402 - the directory above is its home


# -- problems: the objective once with optim.numpy, and scipy's hand-written derivatives --------
def rosen(x):
    return onp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def powell(x):
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    return onp.sum((a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4)


def powell_value_and_grad(x):
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    t1, t2, t3, t4 = a + 10 * b, c - d, b - 2 * c, a - d
    g = np.empty_like(x)
    g[0::4] = 2 * t1 + 40 * t4**3
    g[1::4] = 20 * t1 + 4 * t3**3
    g[2::4] = 10 * t2 - 8 * t3**3
    g[3::4] = -10 * t2 - 40 * t4**3
    return float(np.sum(t1**2 + 5 * t2**2 + t3**4 + 10 * t4**4)), g


def logistic(w, X, Y, lam):
    W = onp.reshape(w[:640], (64, 10))
    logits = X @ W + w[640:]
    return onp.mean(optim.nn.softmax_cross_entropy_with_logits(Y, logits)) + lam * onp.sum(W * W)


def logistic_value_and_grad(w, X, Y, lam):
    W = w[:640].reshape(64, 10)
    z = X @ W + w[640:]
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(X)
    value = -np.sum(Y * log_p) / n + lam * np.sum(W * W)
    d = (np.exp(log_p) - Y) / n
    return value, np.concatenate([(X.T @ d + 2 * lam * W).ravel(), d.sum(0)])


def problems(quick):
    (X, y), _ = optim.datasets.load_digits(seed=0, dtype=np.float64)
    Y = np.eye(10)[y]
    big = 200 if quick else 1000
    rosen_x0 = lambda n: np.tile([-1.2, 1.0], n // 2)  # noqa: E731
    sp_rosen = lambda x: (scipy.optimize.rosen(x), scipy.optimize.rosen_der(x))  # noqa: E731
    return [
        ("Rosenbrock 100", "L-BFGS-B", rosen, rosen_x0(100), (), sp_rosen, None),
        (f"Rosenbrock {big}", "L-BFGS-B", rosen, rosen_x0(big), (), sp_rosen, None),
        ("Powell 100", "L-BFGS-B", powell, np.tile([3.0, -1.0, 0.0, 1.0], 25), (),
         powell_value_and_grad, None),
        ("digits logistic", "L-BFGS-B", logistic, np.zeros(650), (X, Y, 1e-3),
         logistic_value_and_grad, None),
        ("Rosenbrock 100", "trust-ncg", rosen, rosen_x0(100), (), sp_rosen,
         scipy.optimize.rosen_hess_prod),
        ("Rosenbrock 100", "trust-exact", rosen, rosen_x0(100), (), sp_rosen,
         scipy.optimize.rosen_hess),
    ]  # fmt: skip


# Methods whose hand-written second-order function is the Hessian (the others': a product).
DENSE_HESSIAN_METHODS = {"trust-exact", "dogleg"}


def second_order_kwargs(method, second):
    """``{"hess": second}`` or ``{"hessp": second}`` (or nothing) for scipy's ``minimize``."""
    if second is None:
        return {}
    return {"hess" if method in DENSE_HESSIAN_METHODS else "hessp": second}


def timed(call):
    start = time.perf_counter()
    res = call()
    return res, time.perf_counter() - start


def scipy_call(vg, x0, args, method, second, options):
    def call():
        extra = second_order_kwargs(method, second)
        return scipy.optimize.minimize(vg, x0, args=args, jac=True, method=method,
                                       options=options, **extra)  # fmt: skip

    return call


def optim_call(fun, x0, args, method, options, engine):
    def call():  # trust-ncg: optim's autodiff Hessian-vector product (forward over reverse on jax)
        return optim.minimize(fun, x0, args=args, method=method, options=options, backend=engine)

    return call


def run_scipy_world(quick, repeats, only=None):
    rows = []
    for name, method, fun, x0, args, vg, second in problems(quick):
        if only is not None and only.lower() not in f"{name} {method}".lower():
            continue
        options = {"maxiter": 15000}
        entries = {"scipy": (scipy_call(vg, x0, args, method, second, options), False)}
        for engine in ("autograd", "jax"):
            call = optim_call(fun, x0, args, method, options, engine)
            entries[f"optim/{engine}"] = (call, engine == "jax")
        entries["jax, no optim"] = (raw_jax_call(fun, x0, args, method, second, options), True)
        entries["jaxopt"] = (jaxopt_call(fun, x0, args, method, second), True)
        # Every entry's first run (jax compiles there), then the steady runs interleaved, entry
        # after entry in a shuffled order, so that the machine's drift and what ran just before
        # (a run right after autograd's may find jax's code out of the caches) reach them
        # alike; short runs repeat more (about two seconds of runs each); the best run counts,
        # and beside it the median over the rounds of each round's ratio to scipy's run.
        firsts, results, best, failed = {}, {}, {}, {}
        times: dict[str, list[float]] = {}
        for label, (call, _) in entries.items():
            if call is None:
                continue
            try:
                results[label], firsts[label] = timed(call)
            except Exception as exc:  # a tool that cannot run this problem: say why
                failed[label] = f"n/a ({type(exc).__name__}: {exc})"[:90]
        running = [label for label in results]
        rounds = max(repeats, min(50, int(2.0 / max(min(firsts.values(), default=1.0), 1e-3))))
        order = np.random.default_rng(0)
        for _ in range(rounds):
            for label in (running[i] for i in order.permutation(len(running))):
                results[label], elapsed = timed(entries[label][0])
                best[label] = min(best.get(label, elapsed), elapsed)
                times.setdefault(label, []).append(elapsed)
        floor = floor_nfev = None
        for label, (call, compiles) in entries.items():
            if call is None:
                rows.append((name, method, label, "n/a (jaxopt not installed)"))
                continue
            if label in failed:
                rows.append((name, method, label, failed[label]))
                continue
            res = results[label]
            nfev = int(getattr(res, "nfev", 0))
            per_eval = best[label] / max(nfev, 1)
            if label == "scipy":
                floor, floor_nfev = per_eval, max(nfev, 1)
            paired = np.median([(t / max(nfev, 1)) / (t0 / floor_nfev)
                                for t, t0 in zip(times[label], times["scipy"])])  # fmt: skip
            compile_s = f"{firsts[label] - best[label]:7.3f}" if compiles else "      -"
            counts = f"nfev {nfev:5d} njev {int(getattr(res, 'njev', 0)):5d}"
            if second is not None:
                counts += f" nhev {int(getattr(res, 'nhev', 0)):4d}"
            rows.append((name, method, label,
                         f"{counts}  {1e6 * per_eval:9.1f} us/eval  x{per_eval / floor:5.2f} "
                         f"(rounds x{paired:5.2f})  compile {compile_s} s  "
                         f"fun {float(res.fun):.6e}"))  # fmt: skip
    return rows


def raw_jax_call(fun, x0, args, method, second, options):
    try:
        import jax
    except ImportError:
        return None
    grad = jax.grad(fun)
    value_and_grad = jax.jit(jax.value_and_grad(fun))
    product = jax.jit(lambda x, p, *a: jax.jvp(lambda y: grad(y, *a), (x,), (p,))[1])
    hessian = jax.jit(jax.hessian(fun))

    def vg(x, *a):
        value, g = value_and_grad(x, *a)
        return np.asarray(value)[()], np.asarray(g)

    def hvp(x, p, *a):
        return np.asarray(product(x, p, *a))

    def hess(x, *a):
        return np.asarray(hessian(x, *a))

    mine = hess if method in DENSE_HESSIAN_METHODS else hvp
    extra = second_order_kwargs(method, None if second is None else mine)

    def call():
        with optim.use_backend("jax"):  # optim.numpy is jax.numpy there, and float64 is on
            return scipy.optimize.minimize(vg, x0, args=args, jac=True, method=method,
                                           options=options, **extra)  # fmt: skip

    return call


def jaxopt_call(fun, x0, args, method, second):
    try:
        import jaxopt
    except ImportError:
        return None

    def call():
        with optim.use_backend("jax"):
            solver = jaxopt.ScipyMinimize(fun=fun, method=method, maxiter=15000)
            out = solver.run(x0, *args)
        state = out.state
        return scipy.optimize.OptimizeResult(fun=state.fun_val, nfev=state.num_fun_eval,
                                             njev=state.num_jac_eval, nhev=state.num_hess_eval)

    return call


# -- TF world --------------------------------------------------------------------------------
def tf_models(hidden):
    rng = np.random.default_rng(0)

    def softmax_regression():
        W = optim.Variable(np.zeros((64, 10)), name="W")
        b = optim.Variable(np.zeros(10), name="b")

        def loss(x, y):
            logits = x @ W.value + b.value
            return onp.mean(optim.nn.sparse_softmax_cross_entropy_with_logits(y, logits))

        return [W, b], loss, 100

    def mlp():
        W1 = optim.Variable(rng.normal(0, 0.1, (64, hidden)), name="W1")
        b1 = optim.Variable(np.zeros(hidden), name="b1")
        W2 = optim.Variable(rng.normal(0, 0.1, (hidden, 10)), name="W2")
        b2 = optim.Variable(np.zeros(10), name="b2")

        def loss(x, y):
            h = onp.maximum(x @ W1.value + b1.value, 0.0)
            logits = h @ W2.value + b2.value
            return onp.mean(optim.nn.sparse_softmax_cross_entropy_with_logits(y, logits))

        return [W1, b1, W2, b2], loss, 32

    return {"mnist_softmax (tutorial model)": softmax_regression, "mlp_digits": mlp}


def run_tf_world(steps, rounds, only=None):
    (X, y), _ = optim.datasets.load_digits(seed=0, dtype=np.float64)
    rows = []
    for name, make in tf_models(64).items():
        if only is not None and only.lower() not in name.lower():
            continue
        base = None
        for label, engine, compiled in (("autograd", "autograd", None),
                                        ("jax, eager closure", "jax", None),
                                        ("jax, jit_closure", "jax", "closure"),
                                        ("jax, jit_closure.bind", "jax", "bind")):  # fmt: skip
            variables, batch_loss, size = make()
            batch = {}
            step_loss = optim.jit_closure(batch_loss, variables) if compiled else batch_loss
            opt = optim.AdamOptimizer(1e-2)
            order = np.random.default_rng(1)
            with optim.use_backend(engine):
                # Two steps untimed: a bound JitClosure checks the loss on the general path
                # at its first step and compiles value and gradients at its second.
                for i in range(steps + 2):
                    if i == 2:
                        start = time.perf_counter()
                    rows_ = order.choice(len(X), size=size, replace=False)
                    batch["x"], batch["y"] = X[rows_], y[rows_]
                    if compiled == "bind":  # value and gradients in one compiled call
                        loss = step_loss.bind(batch["x"], batch["y"])
                    else:  # a closure, differentiated eagerly around the compiled loss
                        loss = lambda: step_loss(batch["x"], batch["y"])  # noqa: B023, E731
                    opt.minimize(loss, var_list=variables)
                per_step = (time.perf_counter() - start) / steps
            base = per_step if base is None else base
            timing = f"{1e3 * per_step:8.3f} ms/step  x{per_step / base:5.2f} autograd's"
            rows.append((name, "minimize", label, timing))
        timings = fit_timings(make, X, y, steps, rounds)
        for engine, (per_step, first) in timings.items():
            timing = (
                f"{1e3 * per_step:8.3f} ms/step  x{per_step / timings['autograd'][0]:5.2f} "
                f"autograd's fit, x{per_step / base:5.2f} its minimize; first epoch {first:.2f} s"
            )
            rows.append((name, "fit", engine + (" (compiled)" if engine == "jax" else ""), timing))
    return rows


def fit_timings(make, X, y, steps, rounds):
    """optim.fit's time per step on each engine: ``{engine: (best per-step time, first epoch)}``.

    Each engine's trainer runs a first epoch (which compiles every batch shape on jax), then
    ``rounds`` runs of about ``steps`` steps, the engines' runs interleaved; the best counts.
    """
    trainers, firsts = {}, {}
    for engine in ("autograd", "jax"):
        variables, batch_loss, size = make()
        with optim.use_backend(engine):
            opt = optim.AdamOptimizer(1e-2)
            trainer = optim.training.Trainer(
                batch_loss, X, y, optimizer=opt, var_list=variables, batch_size=size, seed=1
            )
            start = time.perf_counter()
            trainer.fit(epochs=1, verbose=0)
            firsts[engine] = time.perf_counter() - start
        trainers[engine] = trainer
    epochs = max(1, round(steps / trainer.steps_per_epoch))  # per round
    best = {}
    for done in range(1, 1 + rounds * epochs, epochs):
        for engine, trainer in trainers.items():
            with optim.use_backend(engine):
                start = time.perf_counter()
                trainer.fit(epochs=done + epochs, verbose=0)  # epochs count from the start
                elapsed = (time.perf_counter() - start) / (epochs * trainer.steps_per_epoch)
            best[engine] = min(best.get(engine, elapsed), elapsed)
    return {engine: (best[engine], firsts[engine]) for engine in trainers}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200, help="TF-world steps per engine")
    parser.add_argument("--world", choices=("scipy", "tf", "both"), default="both",
                        help="run one world only")  # fmt: skip
    parser.add_argument("--only", default=None,
                        help="rows whose problem (and method) or model name contains this text, "
                        'e.g. "Rosenbrock 100", "trust-ncg", "mlp"')  # fmt: skip
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads per BLAS pool (numpy's and scipy's; see blas_threads.py)")
    args = parser.parse_args(argv)
    with blas_threads(args.blas_threads) as blas:
        print(blas)
        run(args)


def run(args):
    repeats = 1 if args.quick else args.repeats
    steps = 10 if args.quick else args.steps
    if args.world in ("scipy", "both"):
        print("scipy world (seconds per evaluation: best of the steady runs / nfev)")
        for row in run_scipy_world(args.quick, repeats, args.only):
            print(f"  {row[0]:<18} {row[1]:<11} {row[2]:<14} {row[3]}")
    if args.world in ("tf", "both"):
        print("TF world (time per step; minimize: the first two steps excluded, "
              "fit: the first epoch)")
        for row in run_tf_world(steps, repeats, args.only):
            print(f"  {row[0]:<31} {row[1]:<9} {row[2]:<22} {row[3]}")


if __name__ == "__main__":
    main()
