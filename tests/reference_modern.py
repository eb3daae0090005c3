"""Independent numpy oracles for Lion, Adafactor, RAdam and LAMB.

Written from the published rules (Keras 3 for Lion and Adafactor, ``torch.optim.RAdam``'s
documented algorithm for RAdam, ``optax.lamb`` for LAMB; shared/reference/tf1_optimizers.md
section 2.12 for the Keras ones) as plain out-of-place expressions. Nothing here imports optim.

Every oracle has the signature ``oracle(w, g, state, **hyperparameters) -> (w, state)``: one
step for one variable, with the optimizer's own argument names as keywords. ``state`` maps slot
names (and the private step count ``"_t"``) to arrays; it starts empty and is never mutated.
"""

import math

import numpy as np


def lion(w, g, state, learning_rate=0.001, beta1=0.9, beta2=0.99):
    m = state.get("momentum", np.zeros_like(w))
    w = w - learning_rate * np.sign(beta1 * m + (1 - beta1) * g)
    m = beta2 * m + (1 - beta2) * g
    return w, {"momentum": m}


def _rms(x):
    return np.sqrt(np.mean(np.square(x)))


def adafactor(
    w,
    g,
    state,
    learning_rate=0.001,
    beta_2_decay=-0.8,
    epsilon_1=1e-30,
    epsilon_2=1e-3,
    clip_threshold=1.0,
    relative_step=True,
):
    del relative_step  # Keras 3 caps rho at 1/sqrt(t) either way
    t = state.get("_t", 0) + 1
    rho = min(learning_rate, 1 / math.sqrt(t))
    alpha = max(epsilon_2, float(_rms(w))) * rho
    decay = 1 - t**beta_2_decay
    sq = np.square(g) + epsilon_1
    new = {"_t": t}
    if w.ndim >= 2:
        vr = decay * state.get("vr", np.zeros(w.shape[:-1], w.dtype)) + (1 - decay) * sq.mean(-1)
        vc = decay * state.get("vc", np.zeros(w.shape[:-2] + w.shape[-1:], w.dtype)) + (
            1 - decay
        ) * sq.mean(-2)
        v_hat = np.expand_dims(vr / vr.mean(-1, keepdims=True), -1) * np.expand_dims(vc, -2)
        new.update(vr=vr, vc=vc)
    else:
        v_hat = decay * state.get("v", np.zeros_like(w)) + (1 - decay) * sq
        new["v"] = v_hat
    u = g / np.sqrt(v_hat)
    u = u / max(1.0, float(_rms(u)) / clip_threshold)
    return w - alpha * u, new


def radam(w, g, state, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    t = state.get("_t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    if rho_t > 5:
        r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        w = w - learning_rate * r * m_hat * math.sqrt(1 - beta2**t) / (np.sqrt(v) + epsilon)
    else:
        w = w - learning_rate * m_hat
    return w, {"m": m, "v": v, "_t": t}


def lamb(w, g, state, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6, weight_decay=0.0):
    t = state.get("_t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g * g
    u = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + epsilon) + weight_decay * w
    w_norm, u_norm = np.linalg.norm(w.ravel()), np.linalg.norm(u.ravel())
    ratio = 1.0 if w_norm == 0 or u_norm == 0 else w_norm / u_norm
    return w - learning_rate * ratio * u, {"m": m, "v": v, "_t": t}
