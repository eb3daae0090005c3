"""A two-layer MLP on the bundled 8x8 digits, trained with ``optim.fit``.

The loop draws shuffled mini-batches, holds out a validation split, decays the learning rate
with the global step, stops early on the validation loss (keeping the best weights) and
writes a checkpoint every epoch. The optimizer is Adam when ``optim.train`` has it, else
Nesterov momentum. ``--resume`` continues from the latest checkpoint in ``--checkpoint-dir``
on the exact batch where the run stopped. The loss is written with ``optim.numpy``, so
``--backend jax`` trains the same model on the jax engine, where ``fit`` compiles the step.

Run:
    python examples/mlp_digits.py
    python examples/mlp_digits.py --backend jax
    python examples/mlp_digits.py --checkpoint-dir runs/mlp --plot curves.png
    python examples/mlp_digits.py --checkpoint-dir runs/mlp --resume --epochs 60
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

import numpy

import optim
import optim.numpy as onp
from optim.training import CSVLogger, EarlyStopping, ModelCheckpoint, Trainer


def make_optimizer(schedule):
    """Adam if this optim has it, else Nesterov momentum (at 10 times the rate)."""
    if hasattr(optim.train, "AdamOptimizer"):
        return optim.train.AdamOptimizer(schedule), "Adam"
    rate = lambda: 10.0 * schedule()  # noqa: E731
    return optim.train.MomentumOptimizer(rate, 0.9, use_nesterov=True), "Nesterov momentum"


def make_schedule(learning_rate, global_step, decay_steps, decay_rate):
    """``learning_rate * decay_rate ** (step / decay_steps)``, TF's exponential_decay."""
    try:
        from optim import schedules
    except ImportError:  # an optim without schedules: the same function of the global step
        return lambda: learning_rate * decay_rate ** (float(global_step.numpy()) / decay_steps)
    return schedules.exponential_decay(learning_rate, global_step, decay_steps, decay_rate)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--decay-rate", type=float, default=0.5, help="per --decay-steps")
    parser.add_argument("--decay-steps", type=int, default=1000)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--checkpoint-dir", help="default: a temporary directory")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    parser.add_argument("--plot", help="write the training curves to this PNG")
    parser.add_argument("--csv", help="write the epoch logs to this CSV file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", default="auto", help="0, 1, 2 or auto")
    parser.add_argument("--backend", default="autograd", choices=["autograd", "jax"])
    args = parser.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        parser.error("--resume needs --checkpoint-dir")
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)

    (x_train, y_train), (x_test, y_test) = optim.datasets.load_digits(
        seed=args.seed, dtype=numpy.float64
    )
    n_val = len(x_train) // 8  # the training split's last eighth validates
    x_val, y_val = x_train[-n_val:], y_train[-n_val:]
    x_train, y_train = x_train[:-n_val], y_train[:-n_val]

    # The model: logits = relu(x W1 + b1) W2 + b2, Glorot-uniform weights.
    rng = numpy.random.default_rng(args.seed)

    def glorot(fan_in, fan_out):
        limit = numpy.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))

    W1 = optim.Variable(glorot(64, args.hidden), name="dense1/kernel")
    b1 = optim.Variable(numpy.zeros(args.hidden), name="dense1/bias")
    W2 = optim.Variable(glorot(args.hidden, 10), name="dense2/kernel")
    b2 = optim.Variable(numpy.zeros(10), name="dense2/bias")
    variables = [W1, b1, W2, b2]

    def logits(x):
        hidden = onp.maximum(x @ W1.value + b1.value, 0.0)
        return hidden @ W2.value + b2.value

    def loss(x, y):
        return onp.mean(
            optim.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(x))
        )

    def accuracy(x, y):
        return numpy.mean(numpy.argmax(logits(x), axis=1) == y)

    step = optim.train.get_or_create_global_step()
    schedule = make_schedule(args.learning_rate, step, args.decay_steps, args.decay_rate)
    optimizer, optimizer_name = make_optimizer(schedule)

    with contextlib.ExitStack() as stack:
        stack.enter_context(optim.use_backend(args.backend))
        directory = args.checkpoint_dir or stack.enter_context(tempfile.TemporaryDirectory())
        checkpoints = ModelCheckpoint(directory, max_to_keep=3, resume=args.resume)
        callbacks = [EarlyStopping(patience=args.patience, restore_best_weights=True), checkpoints]
        if args.csv:
            callbacks.append(CSVLogger(args.csv, append=args.resume))
        trainer = Trainer(
            loss,
            x_train,
            y_train,
            optimizer=optimizer,
            var_list=variables,
            batch_size=args.batch_size,
            metrics={"accuracy": accuracy},
            seed=args.seed,
            global_step=step,
        )
        start = time.perf_counter()
        history = trainer.fit(
            epochs=args.epochs,
            validation_data=(x_val, y_val),
            callbacks=callbacks,
            verbose=verbose,
        )
        seconds = time.perf_counter() - start
        saved = checkpoints.latest_checkpoint

    test_accuracy = float(accuracy(x_test, y_test))
    best = callbacks[0]
    print(
        f"data: {len(x_train)} train, {len(x_val)} validation, {len(x_test)} test digits; "
        f"MLP 64-{args.hidden}-10; {optimizer_name}, lr {args.learning_rate:g} decaying "
        f"x{args.decay_rate:g} every {args.decay_steps} steps; {args.backend} backend"
    )
    if checkpoints.restored_from:
        print(f"resumed from {checkpoints.restored_from}")
    print(
        f"trained {len(history.epoch)} epochs ({trainer.step} steps) in {seconds:.2f} s "
        f"({1e3 * seconds / max(trainer.step, 1):.2f} ms per step); best "
        f"val_loss {best.best:.4f} at epoch {best.best_epoch + 1}"
        + (f"; stopped early at epoch {best.stopped_epoch + 1}" if best.stopped_epoch else "")
    )
    if args.checkpoint_dir:
        print(f"last checkpoint: {saved}")
    print(f"test accuracy: {test_accuracy:.4f}")
    if args.plot:
        from optim.plotting import plot_history

        plot_history(history, args.plot)
        print(f"curves: {args.plot}")
    return test_accuracy


if __name__ == "__main__":
    main()
