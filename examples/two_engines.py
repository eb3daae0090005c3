"""One loss, two autodiff engines: the same training run on autograd and on jax.

The loss is written once, with ``optim.numpy`` (the active backend's array namespace:
autograd.numpy or jax.numpy) and ``optim.nn``'s fused cross entropy, which follow the active
backend too. The same mini-batch loop (a two-layer network on the bundled 8x8 digits, Adam)
runs under ``optim.use_backend("autograd")`` and ``optim.use_backend("jax")``, from the same
initial weights and through the same batches; the final weights agree to rounding. A third run
compiles the loss on jax by explicit request (``optim.jit_closure``, the batch passed as
arguments); the closure of the first two runs reads the current batch from a dict and is run
eagerly, never compiled.

Run:
    python examples/two_engines.py
    python examples/two_engines.py --steps 300 --hidden 32
"""

from __future__ import annotations

import argparse
import time

import numpy

import optim
import optim.numpy as onp


def train(engine, data, args, compiled=False):
    """Trains from fixed weights on a fixed batch order; returns weights, loss, seconds/step."""
    (x_train, y_train), _ = data
    rng = numpy.random.default_rng(args.seed)
    W1 = optim.Variable(rng.normal(0, 0.1, size=(64, args.hidden)), name="W1")
    b1 = optim.Variable(numpy.zeros(args.hidden), name="b1")
    W2 = optim.Variable(rng.normal(0, 0.1, size=(args.hidden, 10)), name="W2")
    b2 = optim.Variable(numpy.zeros(10), name="b2")
    variables = [W1, b1, W2, b2]

    def batch_loss(x, y):  # written once: optim.numpy and optim.nn follow the active backend
        hidden = onp.tanh(x @ W1.value + b1.value)
        logits = hidden @ W2.value + b2.value
        return onp.mean(optim.nn.sparse_softmax_cross_entropy_with_logits(y, logits))

    batch = {}
    if compiled:
        step_loss = optim.jit_closure(batch_loss, variables)
        loss = lambda: step_loss(batch["x"], batch["y"])  # noqa: E731
    else:
        loss = lambda: batch_loss(batch["x"], batch["y"])  # noqa: E731  (run eagerly)
    order = numpy.random.default_rng(args.seed + 1)
    optimizer = optim.AdamOptimizer(args.learning_rate)
    with optim.use_backend(engine):
        start = None
        for step in range(args.steps):
            if step == 1:
                start = time.perf_counter()  # leave the first step (jax compiles) out
            rows = order.choice(len(x_train), size=args.batch_size, replace=False)
            batch["x"], batch["y"] = x_train[rows], y_train[rows]
            optimizer.minimize(loss, var_list=variables)
        per_step = (time.perf_counter() - start) / max(args.steps - 1, 1)
        batch["x"], batch["y"] = x_train, y_train
        final = float(loss())
    return [v.numpy() for v in variables], final, per_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = optim.datasets.load_digits(seed=args.seed, dtype=numpy.float64)

    runs = {"autograd": train("autograd", data, args)}
    try:
        runs["jax"] = train("jax", data, args)
        runs["jax, jit_closure"] = train("jax", data, args, compiled=True)
    except ImportError as exc:
        print(f"jax is not installed, only autograd ran ({exc})")
    reference = runs["autograd"][0]
    differences = {}
    for name, (weights, final, per_step) in runs.items():
        differences[name] = max(
            float(numpy.max(numpy.abs(w - r))) for w, r in zip(weights, reference)
        )
        print(
            f"{name:>17}: training loss {final:.6f}, {1e3 * per_step:7.3f} ms/step, "
            f"max |weights - autograd's| = {differences[name]:.1e}"
        )
    return differences, {name: run[1] for name, run in runs.items()}


if __name__ == "__main__":
    main()
