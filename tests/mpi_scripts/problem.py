"""The training problem the MPI tests share with their single-process oracle: a small tanh
network on a fixed regression data set, float64, and the batches of each step."""

import numpy as np

import optim
import optim.numpy as anp

N_EXAMPLES = 120
N_FEATURES = 4
HIDDEN = 5


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_EXAMPLES, N_FEATURES))
    y = np.sin(x @ rng.normal(size=N_FEATURES)) + 0.1 * rng.normal(size=N_EXAMPLES)
    return x, y


def make_variables():
    rng = np.random.default_rng(1)
    return [
        optim.Variable(rng.normal(size=(N_FEATURES, HIDDEN)) * 0.5, name="W1"),
        optim.Variable(np.zeros(HIDDEN), name="b1"),
        optim.Variable(rng.normal(size=(HIDDEN,)) * 0.5, name="W2"),
    ]


def predict(variables, x):
    w1, b1, w2 = variables
    return anp.tanh(x @ w1.value + b1.value) @ w2.value


def loss(variables, x, y):
    return anp.mean((predict(variables, x) - y) ** 2)


OPTIMIZERS = {
    "gd": lambda: optim.train.GradientDescentOptimizer(0.1),
    "momentum": lambda: optim.train.MomentumOptimizer(0.05, 0.9),
    "adam": lambda: optim.train.AdamOptimizer(0.01),
}


def step_rows(step, total):
    """The ``total`` example indices of step ``step`` (the whole batch over all ranks)."""
    return np.random.default_rng([7, step]).permutation(N_EXAMPLES)[:total]


def shard(rows, rank, size):
    """Rank ``rank``'s equal share of ``rows``."""
    per = len(rows) // size
    return rows[rank * per : (rank + 1) * per]
