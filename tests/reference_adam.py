"""Independent numpy oracles for Adadelta, RMSProp, Adam, AdamW, Adamax and Nadam.

Written from the update equations in shared/reference/tf1_optimizers.md (sections 2.5-2.7,
2.11 and 2.12), in the textbook form ``beta * m + (1 - beta) * g`` with fresh arrays; nothing
here imports optim. The step counter ``t`` and the bias corrections are recomputed from
``state["_t"]`` with Python powers, not stored as running products as optim does.

Every oracle has the signature ``oracle(w, g, state, **hyperparameters) -> (w, state)``: one
step for one variable, with the optimizer's own argument names as keywords. ``state`` maps slot
names (and private ``_``-prefixed values) to arrays; it starts empty.
"""

import math

import numpy as np


def adadelta(w, g, state, learning_rate=0.001, rho=0.95, epsilon=1e-8):
    accum = state.get("accum", np.zeros_like(w))
    accum_update = state.get("accum_update", np.zeros_like(w))
    accum = rho * accum + (1 - rho) * g * g
    update = np.sqrt(accum_update + epsilon) / np.sqrt(accum + epsilon) * g
    w = w - learning_rate * update
    accum_update = rho * accum_update + (1 - rho) * update * update
    return w, {"accum": accum, "accum_update": accum_update}


def rmsprop(w, g, state, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, centered=False):
    ms = state.get("rms", np.ones_like(w))
    mom = state.get("momentum", np.zeros_like(w))
    ms = decay * ms + (1 - decay) * g * g
    new_state = {"rms": ms}
    if centered:
        mg = decay * state.get("mg", np.zeros_like(w)) + (1 - decay) * g
        denom = ms - mg * mg + epsilon
        new_state["mg"] = mg
    else:
        denom = ms + epsilon
    mom = momentum * mom + learning_rate * g / np.sqrt(denom)
    new_state["momentum"] = mom
    return w - mom, new_state


def adam(w, g, state, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, amsgrad=False):
    t = state.get("_t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g * g
    alpha = learning_rate * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    new_state = {"_t": t, "m": m, "v": v}
    if amsgrad:
        vhat = np.maximum(state.get("vhat", np.zeros_like(w)), v)
        new_state["vhat"] = vhat
        w = w - alpha * m / (np.sqrt(vhat) + epsilon)
    else:
        w = w - alpha * m / (np.sqrt(v) + epsilon)
    return w, new_state


def adamw(
    w,
    g,
    state,
    weight_decay=0.004,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-7,
    amsgrad=False,
    weight_decay_scale="learning_rate",
):
    scale = learning_rate if weight_decay_scale == "learning_rate" else 1.0
    w = w - scale * weight_decay * w
    return adam(w, g, state, learning_rate, beta1, beta2, epsilon, amsgrad)


def adamax(w, g, state, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7):
    t = state.get("_t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
    v = np.maximum(beta2 * state.get("v", np.zeros_like(w)), np.abs(g))
    w = w - learning_rate / (1 - beta1**t) * m / (v + epsilon)
    return w, {"_t": t, "m": m, "v": v}


def nadam(
    w,
    g,
    state,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-7,
    schedule_decay=0.004,
):
    t = state.get("_t", 0) + 1
    u_t = beta1 * (1 - 0.5 * 0.96 ** (schedule_decay * t))
    u_next = beta1 * (1 - 0.5 * 0.96 ** (schedule_decay * (t + 1)))
    product = state.get("_product", 1.0) * u_t
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g * g
    m_bar = (1 - u_t) * g / (1 - product) + u_next * m / (1 - product * u_next)
    v_hat = v / (1 - beta2**t)
    w = w - learning_rate * m_bar / (np.sqrt(v_hat) + epsilon)
    return w, {"_t": t, "_product": product, "m": m, "v": v}
