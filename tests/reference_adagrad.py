"""Independent numpy oracles for the Adagrad family, FTRL and the proximal optimizers.

Written from the TF1 kernel equations in shared/reference/tf1_optimizers.md (sections 2.3, 2.4,
2.8, 2.9, 2.10 and 2.12), with fresh arrays and plain expressions. Nothing here imports optim.

Every oracle has the signature ``oracle(w, g, state, **hyperparameters) -> (w, state)``: one
step for one variable, with the optimizer's own argument names as keywords. ``state`` maps slot
names (and private ``_``-prefixed counters) to arrays; it starts empty.
"""

import numpy as np


def adagrad(w, g, state, learning_rate, initial_accumulator_value=0.1, epsilon=None):
    acc = state.get("accumulator", np.full_like(w, initial_accumulator_value)) + g * g
    if epsilon is None:
        w = w - learning_rate * g / np.sqrt(acc)
    else:
        w = w - learning_rate * g / (np.sqrt(acc) + epsilon)
    return w, {"accumulator": acc}


def adagrad_da(
    w,
    g,
    state,
    learning_rate,
    initial_gradient_squared_accumulator_value=0.1,
    l1_regularization_strength=0.0,
    l2_regularization_strength=0.0,
):
    # The oracle counts its own steps: T = global_step + 1 with global_step = steps so far.
    t = state.get("_t", 0) + 1
    ga = state.get("gradient_accumulator", np.zeros_like(w)) + g
    gga = (
        state.get(
            "gradient_squared_accumulator",
            np.full_like(w, initial_gradient_squared_accumulator_value),
        )
        + g * g
    )
    lr, l1, l2 = learning_rate, l1_regularization_strength, l2_regularization_strength
    denom = l2 * t * lr + np.sqrt(gga)
    if l1 > 0:
        w = -np.sign(ga) * lr * np.maximum(np.abs(ga) - l1 * t, 0) / denom
    else:
        w = -lr * ga / denom
    return w.astype(ga.dtype), {
        "gradient_accumulator": ga,
        "gradient_squared_accumulator": gga,
        "_t": t,
    }


def _ftrl(
    accumulate_shrinkage,
    w,
    g,
    state,
    learning_rate,
    learning_rate_power=-0.5,
    initial_accumulator_value=0.1,
    l1_regularization_strength=0.0,
    l2_regularization_strength=0.0,
    accum_name=None,
    linear_name=None,
    l2_shrinkage_regularization_strength=0.0,
    beta=None,
):
    lr, p = learning_rate, -learning_rate_power
    l1, s = l1_regularization_strength, l2_shrinkage_regularization_strength
    l2 = l2_regularization_strength
    if beta is not None:
        l2 = l2 + beta / (2 * max(lr, 1e-36))
    n = state.get("accum", np.full_like(w, initial_accumulator_value))
    z = state.get("linear", np.zeros_like(w))
    gs = g + 2 * s * w
    n_new = n + (gs * gs if accumulate_shrinkage else g * g)
    z = z + gs - (n_new**p - n**p) / lr * w
    quad = n_new**p / lr + 2 * l2
    shrink = np.abs(z) > l1
    w = np.where(shrink, (l1 * np.sign(z) - z) / np.where(shrink, quad, 1), 0)
    return w.astype(n_new.dtype), {"accum": n_new, "linear": z}


def ftrl(w, g, state, **hyper):
    """FTRL-Proximal as current TF: the accumulator takes the raw ``g**2``."""
    return _ftrl(False, w, g, state, **hyper)


def ftrl_accumulating_shrinkage(w, g, state, **hyper):
    """The FTRL rule of older TF builds: the accumulator takes ``(g + 2*s*w)**2``."""
    return _ftrl(True, w, g, state, **hyper)


def proximal_gradient_descent(
    w, g, state, learning_rate, l1_regularization_strength=0.0, l2_regularization_strength=0.0
):
    lr, l1, l2 = learning_rate, l1_regularization_strength, l2_regularization_strength
    prox = w - lr * g
    if l1 > 0:
        w = np.sign(prox) * np.maximum(np.abs(prox) - lr * l1, 0) / (1 + lr * l2)
    else:
        w = prox / (1 + lr * l2)
    return w.astype(prox.dtype), state


def proximal_adagrad(
    w,
    g,
    state,
    learning_rate,
    initial_accumulator_value=0.1,
    l1_regularization_strength=0.0,
    l2_regularization_strength=0.0,
):
    l1, l2 = l1_regularization_strength, l2_regularization_strength
    acc = state.get("accumulator", np.full_like(w, initial_accumulator_value)) + g * g
    eta = learning_rate / np.sqrt(acc)
    prox = w - eta * g
    if l1 > 0:
        w = np.sign(prox) * np.maximum(np.abs(prox) - eta * l1, 0) / (1 + eta * l2)
    else:
        w = prox / (1 + eta * l2)
    return w, {"accumulator": acc}
