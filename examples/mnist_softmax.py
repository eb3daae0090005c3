"""Softmax regression, step for step as TensorFlow's ``mnist_softmax.py`` tutorial.

Zero-initialised ``W`` and ``b``, softmax cross-entropy, ``GradientDescentOptimizer(0.5)``,
1000 steps of 100 examples, then the test accuracy. The gradients come from reverse-mode
automatic differentiation: the loss below is ordinary (autograd) numpy code that reads ``W`` and
``b`` through ``.value``.

By default the data are scikit-learn's bundled 8x8 digits (no download). With ``--data-dir DIR``
the script reads the four standard MNIST IDX files (gzipped or not) from ``DIR``.

Run:
    python examples/mnist_softmax.py
    python examples/mnist_softmax.py --data-dir ~/data/mnist
"""

from __future__ import annotations

import argparse
import time

import autograd.numpy as np
import numpy

import optim


class Batches:
    """Mini-batches drawn from a seeded generator, reshuffled every epoch (as TF's DataSet)."""

    def __init__(self, images, labels, seed):
        self.images, self.labels = images, labels
        self.rng = numpy.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))
        self.position = 0

    def next_batch(self, batch_size):
        if self.position + batch_size > len(self.order):
            self.order = self.rng.permutation(len(self.images))
            self.position = 0
        rows = self.order[self.position : self.position + batch_size]
        self.position += batch_size
        return self.images[rows], self.labels[rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="directory with the MNIST IDX files")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.data_dir:
        (x_train, y_train), (x_test, y_test) = optim.datasets.load_mnist(args.data_dir)
        source = f"MNIST from {args.data_dir}"
    else:
        (x_train, y_train), (x_test, y_test) = optim.datasets.load_digits(seed=args.seed)
        source = "scikit-learn's bundled digits"
    n_features, n_classes = x_train.shape[1], 10
    one_hot = numpy.eye(n_classes, dtype=numpy.float32)

    # The model: y = softmax(x W + b).
    W = optim.Variable(numpy.zeros((n_features, n_classes), numpy.float32), name="W")
    b = optim.Variable(numpy.zeros(n_classes, numpy.float32), name="b")
    batch = {}

    def cross_entropy():
        logits = batch["x"] @ W.value + b.value
        return np.mean(optim.nn.softmax_cross_entropy_with_logits(labels=batch["y"], logits=logits))

    train_step = optim.train.GradientDescentOptimizer(args.learning_rate)

    data = Batches(x_train, y_train, args.seed)
    start = time.perf_counter()
    for _ in range(args.steps):
        batch_xs, batch_ys = data.next_batch(args.batch_size)
        batch["x"], batch["y"] = batch_xs, one_hot[batch_ys]
        loss = train_step.minimize(cross_entropy, var_list=[W, b])
    seconds = time.perf_counter() - start

    predictions = numpy.argmax(x_test @ W.value + b.value, axis=1)
    accuracy = float(numpy.mean(predictions == y_test))
    print(f"data: {source} ({len(x_train)} train, {len(x_test)} test, {n_features} features)")
    print(f"trained {args.steps} steps in {seconds:.2f} s; last batch loss {float(loss):.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
