"""The digits MLP trained data-parallel on MPI, with Horovod's recipe (optim.distributed).

Every rank holds the whole model and trains on its shard of each epoch; the gradients are
averaged over the ranks before every update, so the weights stay identical everywhere. The
recipe: ``hvd.init()``; scale the learning rate by ``hvd.size()`` (the global batch is
``size()`` times larger); wrap the optimizer in ``hvd.DistributedOptimizer``; broadcast the
initial weights from rank 0; let rank 0 alone write checkpoints (``optim.fit`` does) and print.

Run:
    mpiexec -n 2 python examples/mlp_digits_mpi.py
    mpiexec -n 2 python examples/mlp_digits_mpi.py --checkpoint-dir runs/mpi --resume
    python examples/mlp_digits_mpi.py          # one rank, no launcher needed
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

import autograd.numpy as np
import numpy

import optim
import optim.distributed as hvd
from optim.training import ModelCheckpoint, Trainer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="for one rank")
    parser.add_argument("--checkpoint-dir", help="default: a temporary directory")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", default="2", help="0, 1, 2 or auto (rank 0 only)")
    args = parser.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        parser.error("--resume needs --checkpoint-dir")
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)

    hvd.init()
    (x_train, y_train), (x_test, y_test) = optim.datasets.load_digits(
        seed=args.seed, dtype=numpy.float64
    )

    # Each rank draws its own initial weights; the broadcast below makes rank 0's everyone's.
    rng = numpy.random.default_rng(args.seed + hvd.rank())

    def glorot(fan_in, fan_out):
        limit = numpy.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))

    W1 = optim.Variable(glorot(64, args.hidden), name="dense1/kernel")
    b1 = optim.Variable(numpy.zeros(args.hidden), name="dense1/bias")
    W2 = optim.Variable(glorot(args.hidden, 10), name="dense2/kernel")
    b2 = optim.Variable(numpy.zeros(10), name="dense2/bias")
    variables = [W1, b1, W2, b2]
    hvd.broadcast_variables(variables, root_rank=0)

    def logits(x):
        hidden = np.maximum(x @ W1.value + b1.value, 0.0)
        return hidden @ W2.value + b2.value

    def loss(x, y):
        return np.mean(
            optim.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(x))
        )

    def accuracy(x, y):
        return numpy.mean(numpy.argmax(logits(x), axis=1) == y)

    optimizer = hvd.DistributedOptimizer(optim.train.AdamOptimizer(args.learning_rate * hvd.size()))
    with contextlib.ExitStack() as stack:
        directory = args.checkpoint_dir
        if directory is None:  # one directory for every rank: rank 0's, broadcast
            local = stack.enter_context(tempfile.TemporaryDirectory()) if hvd.rank() == 0 else None
            directory = hvd.broadcast_object(local, root_rank=0)
        checkpoints = ModelCheckpoint(directory, max_to_keep=2, resume=args.resume)
        trainer = Trainer(
            loss,
            x_train,
            y_train,
            optimizer=optimizer,  # its distribution: shards, averaged logs, rank 0 writes
            var_list=variables,
            batch_size=args.batch_size,
            metrics={"accuracy": accuracy},
            seed=args.seed,
        )
        start = time.perf_counter()
        history = trainer.fit(
            epochs=args.epochs,
            validation_data=(x_test, y_test),
            callbacks=[checkpoints],
            verbose=verbose,
        )
        seconds = time.perf_counter() - start
        hvd.barrier()  # rank 0 removes the temporary directory only after every rank is done

    test_accuracy = float(history.history["val_accuracy"][-1])  # averaged over the ranks
    if hvd.rank() == 0:
        if checkpoints.restored_from:
            print(f"resumed from {checkpoints.restored_from}")
        print(
            f"{hvd.size()} ranks x batch {args.batch_size}; Adam lr {args.learning_rate:g} x "
            f"{hvd.size()}; {trainer.steps_per_epoch} steps per epoch; trained to step "
            f"{trainer.step} in {seconds:.2f} s"
        )
        print(f"test accuracy: {test_accuracy:.4f}")
    return test_accuracy


if __name__ == "__main__":
    main()
