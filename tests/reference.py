"""Independent numpy oracles for the optimizers.

Written from the TF1 kernel equations in shared/reference/tf1_optimizers.md, section 2, with
fresh arrays and plain expressions. Nothing here imports optim; the tests compare optim's
in-place kernels against these.

Every oracle has the signature ``oracle(w, g, state, **hyperparameters) -> (w, state)``: one
step for one variable, with the optimizer's own argument names as keywords. ``state`` maps slot
names (and private ``_``-prefixed counters) to arrays; it starts empty.
"""

import numpy as np


def gradient_descent(w, g, state, learning_rate):
    return w - learning_rate * g, state


def momentum(w, g, state, learning_rate, momentum, use_nesterov=False):
    accum = state.get("momentum", np.zeros_like(w)) * momentum + g
    if use_nesterov:
        w = w - (g * learning_rate + accum * momentum * learning_rate)
    else:
        w = w - accum * learning_rate
    return w, {"momentum": accum}
