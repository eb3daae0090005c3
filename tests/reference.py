"""Independent numpy oracles for the optimizers.

Written from the TF1 kernel equations in shared/reference/tf1_optimizers.md, section 2, with
fresh arrays and plain expressions. Nothing here imports optim; the tests compare optim's
in-place kernels against these.
"""

import numpy as np


def gradient_descent(w, g, state, lr):
    return w - lr * g, state


def momentum(w, g, state, lr, momentum, use_nesterov=False):
    accum = state.get("momentum", np.zeros_like(w)) * momentum + g
    if use_nesterov:
        w = w - (g * lr + accum * momentum * lr)
    else:
        w = w - accum * lr
    return w, {"momentum": accum}
