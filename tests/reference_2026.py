"""Independent numpy oracles for Muon, Schedule-Free SGD/AdamW, Prodigy, SAM and Lookahead.

Written from the published rules as summarised in shared/reference/modern_optimizers.md
(``torch.optim.Muon``, schedulefree's ``SGDScheduleFree`` / ``AdamWScheduleFree``, prodigyopt's
``Prodigy``, Foret et al.'s Algorithm 1 for SAM, optax's ``lookahead``), as plain out-of-place
expressions in the textbook form. Nothing here imports optim.

Every per-variable oracle has the signature ``oracle(w, g, state, **hyperparameters) -> (w,
state)``: one step for one variable, the optimizer's argument names as keywords, ``state``
mapping slot names (and private ``_``-prefixed values) to arrays; it starts empty and is never
mutated. Prodigy's step couples the variables (one ``d`` estimate for all), so its oracle is
*joint*: ``oracle(ws, gs, states, **hyperparameters) -> (ws, states)`` over lists. SAM needs a
loss, so its oracle is a function of a gradient function (:func:`sam_step`).
"""

import math

import numpy as np


# -- Muon ---------------------------------------------------------------------------------------
def orthogonalise(u, coefficients=(3.4445, -4.7750, 2.0315), steps=5, epsilon=1e-7):
    """Muon's Newton-Schulz iteration, in the dtype of ``u``."""
    a, b, c = coefficients
    transposed = u.shape[0] > u.shape[1]
    x = u.T if transposed else u
    x = x / max(np.linalg.norm(x), epsilon)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if transposed else x


def muon(
    w,
    g,
    state,
    learning_rate=0.001,
    momentum=0.95,
    use_nesterov=True,
    weight_decay=0.1,
    ns_coefficients=(3.4445, -4.7750, 2.0315),
    ns_steps=5,
    epsilon=1e-7,
    adjust_lr_fn=None,
    adam_learning_rate=None,
    adam_beta1=0.9,
    adam_beta2=0.999,
    adam_epsilon=1e-8,
    adam_weight_decay=0.0,
):
    t = state.get("_t", 0) + 1
    if w.ndim == 2:
        m = momentum * state.get("momentum", np.zeros_like(w)) + (1 - momentum) * g
        u = (1 - momentum) * g + momentum * m if use_nesterov else m
        o = orthogonalise(u, ns_coefficients, ns_steps, epsilon)
        fan_in, fan_out = w.shape
        if adjust_lr_fn == "match_rms_adamw":
            scale = 0.2 * math.sqrt(max(fan_in, fan_out))
        else:
            scale = math.sqrt(max(1.0, fan_out / fan_in))
        w = w * (1 - learning_rate * weight_decay) - learning_rate * scale * o
        return w, {"momentum": m, "_t": t}
    lr = learning_rate if adam_learning_rate is None else adam_learning_rate
    m = adam_beta1 * state.get("m", np.zeros_like(w)) + (1 - adam_beta1) * g
    v = adam_beta2 * state.get("v", np.zeros_like(w)) + (1 - adam_beta2) * g * g
    m_hat, v_hat = m / (1 - adam_beta1**t), v / (1 - adam_beta2**t)
    w = w * (1 - lr * adam_weight_decay) - lr * m_hat / (np.sqrt(v_hat) + adam_epsilon)
    return w, {"m": m, "v": v, "_t": t}


# -- Schedule-Free --------------------------------------------------------------------------
def _schedule_free_weights(state, learning_rate, warmup_steps, r, weight_lr_power):
    """The step's (gamma, c) and the new averaging state, all Python floats."""
    k = state.get("_k", 0)
    gamma = learning_rate * ((k + 1) / warmup_steps if k < warmup_steps else 1.0)
    lr_max = max(state.get("_lr_max", 0.0), gamma)
    weight = (k + 1) ** r * lr_max**weight_lr_power
    weight_sum = state.get("_weight_sum", 0.0) + weight
    c = weight / weight_sum if weight_sum > 0 else 0.0
    return gamma, c, {"_k": k + 1, "_lr_max": lr_max, "_weight_sum": weight_sum}


def _schedule_free_sequences(y, z, g_hat, gamma, c, beta):
    """z' = z - gamma g_hat; x' = (1 - c) x + c z'; y' = (1 - beta) z' + beta x'."""
    x = (y - (1 - beta) * z) / beta
    z = z - gamma * g_hat
    x = (1 - c) * x + c * z
    return (1 - beta) * z + beta * x, z


def schedule_free_sgd(
    w, g, state, learning_rate=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0, r=0.0,
    weight_lr_power=2.0,
):  # fmt: skip
    """``w`` is the training point y (the optimizer in train mode)."""
    gamma, c, new = _schedule_free_weights(state, learning_rate, warmup_steps, r, weight_lr_power)
    z = state.get("z", w)
    y, z = _schedule_free_sequences(w, z, g + weight_decay * w, gamma, c, momentum)
    return y, {**new, "z": z}


def schedule_free_adamw(
    w, g, state, learning_rate=0.0025, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0,
    warmup_steps=0, r=0.0, weight_lr_power=2.0,
):  # fmt: skip
    gamma, c, new = _schedule_free_weights(state, learning_rate, warmup_steps, r, weight_lr_power)
    z = state.get("z", w)
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g * g
    d = np.sqrt(v / (1 - beta2 ** new["_k"])) + epsilon
    y, z = _schedule_free_sequences(w, z, g / d + weight_decay * w, gamma, c, beta1)
    return y, {**new, "z": z, "v": v}


def schedule_free_x(y, z, beta):
    """The evaluation point x from the training point y and z."""
    return (y - (1 - beta) * z) / beta


# -- Prodigy (joint: one d for every variable) ------------------------------------------------
def prodigy(
    ws, gs, states, learning_rate=1.0, beta1=0.9, beta2=0.999, beta3=None, epsilon=1e-8,
    weight_decay=0.0, decouple=True, use_bias_correction=False, safeguard_warmup=False,
    d0=1e-6, d_coef=1.0, growth_rate=math.inf,
):  # fmt: skip
    """prodigyopt 1.1.2's Prodigy.step over every variable at once (one parameter group).

    The shared estimate lives under ``"_d"``, ``"_d_max"``, ``"_numerator"`` and ``"_k"`` in
    every variable's state (the same values in each).
    """
    beta3 = math.sqrt(beta2) if beta3 is None else beta3
    shared = states[0]
    d, d_max = shared.get("_d", d0), shared.get("_d_max", d0)
    numerator, k = shared.get("_numerator", 0.0), shared.get("_k", 0)
    bc = math.sqrt(1 - beta2 ** (k + 1)) / (1 - beta1 ** (k + 1)) if use_bias_correction else 1
    dlr = d * learning_rate * bc
    numerator *= beta3
    delta, denominator = 0.0, 0.0
    new_states, grads = [], []
    for w, g, state in zip(ws, gs, states):
        if weight_decay and not decouple:
            g = g + weight_decay * w
        grads.append(g)
        p0 = state.get("p0", w)
        new = {"p0": p0}
        if learning_rate > 0:
            delta += (d / d0) * dlr * float(np.dot(g.ravel(), (p0 - w).ravel()))
            if beta1 > 0:
                new["m"] = beta1 * state.get("m", np.zeros_like(w)) + d * (1 - beta1) * g
            new["v"] = beta2 * state.get("v", np.zeros_like(w)) + d * d * (1 - beta2) * g * g
            rate = d if safeguard_warmup else dlr
            new["s"] = beta3 * state.get("s", np.zeros_like(w)) + (d / d0) * rate * g
            denominator += float(np.sum(np.abs(new["s"])))
        new_states.append(new)
    if denominator == 0:  # no progress possible yet: nothing moves, k stays
        shared_keys = ("_d", "_d_max", "_numerator", "_k")
        kept = [{**n, **{key: s[key] for key in shared_keys if key in s}}
                for s, n in zip(states, new_states)]  # fmt: skip
        return list(ws), kept
    numerator += delta
    d_hat = d_coef * numerator / denominator
    if d == d0:
        d = max(d, d_hat)
    d_max = max(d_max, d_hat)
    d = min(d_max, d * growth_rate)
    out = []
    for w, g, new in zip(ws, grads, new_states):
        den = np.sqrt(new["v"]) + d * epsilon
        if weight_decay and decouple:
            w = w - weight_decay * dlr * w
        w = w - dlr * new["m"] / den if beta1 > 0 else w - dlr * d * g / den
        out.append(w)
        new.update(_d=d, _d_max=d_max, _numerator=numerator, _k=k + 1)
    return out, new_states


# -- SAM ----------------------------------------------------------------------------------------
def sam_perturbation(ws, gs, rho=0.05, adaptive=False, eta=0.0):
    """Foret et al.'s epsilon-hat for p = 2 (a global norm), ASAM's with ``adaptive``.

    SAM: e = rho g / ||g||. ASAM (Kwon et al.) with T = |w| + eta: e = rho T^2 g / ||T g||.
    A zero norm gives e = 0.
    """
    scales = [np.abs(w) + eta if adaptive else np.ones_like(w) for w in ws]
    norm = math.sqrt(sum(float(np.sum((t * g) ** 2)) for t, g in zip(scales, gs)))
    if norm == 0:
        return [np.zeros_like(w) for w in ws]
    return [rho * t * t * g / norm for t, g in zip(scales, gs)]


def sam_gradients(grad_fn, ws, rho=0.05, adaptive=False, eta=0.0):
    """The gradients SAM hands to the base optimizer: grad_fn at w + e, e from grad_fn at w."""
    e = sam_perturbation(ws, grad_fn(ws), rho, adaptive, eta)
    return grad_fn([w + d for w, d in zip(ws, e)])


# -- Lookahead (optax.lookahead around SGD with momentum) --------------------------------------
def lookahead_momentum(
    w, g, state, learning_rate=0.1, momentum=0.9, sync_period=6, slow_step_size=0.5
):
    """Fast SGD-with-momentum steps (TF1's accumulator form); every ``sync_period``-th step
    the slow weights move ``slow_step_size`` of the way to the fast ones and the fast weights
    restart from there. ``w`` is the fast weights."""
    t = state.get("_t", 0) + 1
    slow = state.get("slow", w)
    accumulation = momentum * state.get("momentum", np.zeros_like(w)) + g
    w = w - learning_rate * accumulation
    if t % sync_period == 0:
        slow = slow + slow_step_size * (w - slow)
        w = slow
    return w, {"slow": slow, "momentum": accumulation, "_t": t}
