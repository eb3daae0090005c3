"""Schedule-Free SGD/AdamW against ``optax.contrib.schedule_free_sgd`` / ``schedule_free_adamw``.

Without warmup optax computes schedulefree's arithmetic, and so optim's: y after every step and
x (``schedule_free_eval_params``) agree to 1e-12 in float64 and 1e-6 in float32. With
``warmup_steps`` optax's base optimizer reads its own schedule counter, which starts at 0, while
the averaging weight reads ``step_count``, which starts at 1: the ``z`` step of step ``k``
(0-based) uses ``lr * k / W`` where schedulefree and optim use ``lr * (k + 1) / W``. The tests
assert exactly that: optax equals tests/reference_2026.py's recurrence with the ``z`` rate one
schedule step behind, and optim equals it without the lag.
"""

import numpy as np
import pytest

import optim
from tests import reference_2026 as ref
from tests.test_parity_2026 import DTYPES, _close

optax = pytest.importorskip("optax", reason="the optax.contrib.schedule_free parity tests")
jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

SHAPES = [(3, 2), (4,)]
STEPS = 30


def _pair(kind, lr, warmup, weight_decay, weight_lr_power):
    """(optim optimizer, optax transformation) with the same hyperparameters."""
    common = {"weight_decay": weight_decay, "weight_lr_power": weight_lr_power}
    if kind == "sgd":
        opt = optim.train.ScheduleFreeSGDOptimizer(
            lr, momentum=0.85, warmup_steps=warmup, **common
        )
        tx = optax.contrib.schedule_free_sgd(
            lr, warmup_steps=warmup or None, b1=0.85, **common
        )
    else:
        opt = optim.train.ScheduleFreeAdamWOptimizer(
            lr, beta1=0.85, beta2=0.99, epsilon=1e-8, warmup_steps=warmup, **common
        )
        tx = optax.contrib.schedule_free_adamw(
            lr, warmup_steps=warmup or None, b1=0.85, b2=0.99, eps=1e-8, **common
        )
    return opt, tx


def _run_both(kind, dtype, lr, warmup=0, weight_decay=0.0, weight_lr_power=2.0, cast=None):
    """Per step: optim's y, optax's y; at the end optim's x and optax's eval params. The data
    are drawn in ``cast`` (default ``dtype``) and run in ``dtype``."""
    rng = np.random.default_rng(11)
    cast = dtype if cast is None else cast
    inits = [rng.normal(size=s).astype(cast).astype(dtype) for s in SHAPES]
    grads = [
        [rng.normal(size=s).astype(cast).astype(dtype) for s in SHAPES] for _ in range(STEPS)
    ]
    opt, tx = _pair(kind, lr, warmup, weight_decay, weight_lr_power)
    with optim.Graph().as_default():
        variables = [optim.Variable(w.copy(), name=f"v{i}") for i, w in enumerate(inits)]
        ours = []
        for g in grads:
            opt.apply_gradients(zip([x.copy() for x in g], variables))
            ours.append([v.numpy().copy() for v in variables])
        opt.eval()
        our_x = [v.numpy().copy() for v in variables]
    with jax.enable_x64(dtype == np.float64):
        params = [jnp.asarray(w) for w in inits]
        state = tx.init(params)
        update = jax.jit(tx.update)  # compiled once: eager dispatch took seconds per test
        theirs = []
        for g in grads:
            updates, state = update([jnp.asarray(x) for x in g], state, params)
            params = optax.apply_updates(params, updates)
            theirs.append([np.asarray(p) for p in params])
        their_x = [np.asarray(p) for p in optax.contrib.schedule_free_eval_params(state, params)]
    assert theirs[-1][0].dtype == dtype
    return inits, grads, ours, our_x, theirs, their_x


@DTYPES
@pytest.mark.parametrize("kind", ["sgd", "adamw"])
@pytest.mark.parametrize(
    "config", [{}, {"weight_decay": 0.01}, {"weight_lr_power": 1.0}],
    ids=["default", "decay", "power_1"],
)  # fmt: skip
def test_matches_optax_without_warmup(dtype, kind, config):
    """y step by step against optax in the same dtype; x against optax's float64 run.

    optax rebuilds x from y and z by a division every step, schedulefree and optim lerp
    instead: in float32 that costs optax up to 9e-7 (relative to the largest weight) against
    the float64 run, optim 1.4e-7 (measured, AdamW, 30 steps), so their float32 x differ by
    up to 1.04e-6. optax's float64 run is the better reference for float32 x.
    """
    lr = 0.5 if kind == "sgd" else 0.02
    _, _, ours, our_x, theirs, their_x = _run_both(kind, dtype, lr, **config)
    for t, (a, b) in enumerate(zip(ours, theirs)):
        for i, (u, v) in enumerate(zip(a, b)):
            _close(u, v, dtype, f"y of v{i} after step {t + 1}")
    if dtype == np.float32:
        their_x = [
            x.astype(np.float32) for x in _run_both(kind, np.float64, lr, **config, cast=dtype)[5]
        ]
    for i, (u, v) in enumerate(zip(our_x, their_x)):
        _close(u, v, dtype, f"x of v{i}")


def _oracle(kind, inits, grads, lr, warmup, lag):
    """tests/reference_2026.py's recurrence (float64), the z step's rate ``lag`` schedule
    steps behind the averaging weights' (optax: 1, schedulefree and optim: 0)."""
    ys, zs, vs = [w.astype(np.float64) for w in inits], None, None
    zs = [w.copy() for w in ys]
    vs = [np.zeros_like(w) for w in ys]
    state = {}
    for step in grads:
        k = state.get("_k", 0)
        _, c, state = ref._schedule_free_weights(state, lr, warmup, 0.0, 2.0)
        gamma_z = lr * min((k + 1 - lag) / warmup, 1.0)
        for i, g in enumerate(step):
            g = g.astype(np.float64)
            if kind == "adamw":
                vs[i] = 0.99 * vs[i] + 0.01 * g * g
                g = g / (np.sqrt(vs[i] / (1 - 0.99 ** state["_k"])) + 1e-8)
            ys[i], zs[i] = ref._schedule_free_sequences(ys[i], zs[i], g, gamma_z, c, 0.85)
    return ys, [ref.schedule_free_x(y, z, 0.85) for y, z in zip(ys, zs)]


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_optax_warmup_lags_the_z_rate_by_one_step(kind):
    """The documented difference, asserted exactly in float64 (lr * k / W is exact in float32
    here, so optax's float32 schedule values equal the float64 ones)."""
    lr, warmup = 0.5 if kind == "sgd" else 0.25, 4
    inits, grads, ours, our_x, theirs, their_x = _run_both(kind, np.float64, lr, warmup)
    # optax's first step is a no-op (z rate 0, c = 1): y = x = z = the initial point
    for w, p in zip(inits, theirs[0]):
        _close(p, w, np.float64, "optax y after step 1")  # 0.85 w + 0.15 w
    assert not np.array_equal(ours[0][0], inits[0])
    lagged_y, lagged_x = _oracle(kind, inits, grads, lr, warmup, lag=1)
    plain_y, plain_x = _oracle(kind, inits, grads, lr, warmup, lag=0)
    for i in range(len(SHAPES)):
        _close(theirs[-1][i], lagged_y[i], np.float64, f"optax y of v{i}")
        _close(their_x[i], lagged_x[i], np.float64, f"optax x of v{i}")
        _close(ours[-1][i], plain_y[i], np.float64, f"optim y of v{i}")
        _close(our_x[i], plain_x[i], np.float64, f"optim x of v{i}")
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(our_x, their_x))
    assert gap > 1e-3  # the lag is no rounding effect
