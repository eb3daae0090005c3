"""Adadelta, RMSProp, Adam, AdamW, Adamax and Nadam: TF's test vectors and Keras 3 goldens.

TF literals and recurrences come from adadelta_test.py, rmsprop_test.py and adam_test.py; Keras
goldens from keras/src/optimizers/{adam,adamw,adamax,nadam}_test.py (reference section 6). The
numpy recurrences below are written as TF's tests write them (``adam_update_numpy``,
``_rmsprop_update_numpy``...). float64 is checked to 1e-12 where the expected value is exact or
computed from a formula, float32 to TF's own tolerance, and rounded literals to their precision.
"""

import math

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim.algorithms.adadelta import AdadeltaOptimizer
from optim.algorithms.adam import AdamOptimizer, AdamWOptimizer
from optim.algorithms.adamax import AdamaxOptimizer
from optim.algorithms.nadam import NadamOptimizer
from optim.algorithms.rmsprop import RMSPropOptimizer

DTYPES = [np.float32, np.float64]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
# TF's assertAllCloseAccordingToType for float32; exact-formula tolerance for float64.
TOL = {np.float32: 1e-6, np.float64: 1e-12}


def close(actual, expected, dtype, rtol=None, atol=None):
    np.testing.assert_allclose(
        actual,
        np.asarray(expected, dtype=np.float64),
        rtol=TOL[dtype] if rtol is None else rtol,
        atol=TOL[dtype] if atol is None else atol,
    )


def two_vars(dtype, v0=(1.0, 2.0), v1=(3.0, 4.0)):
    return (
        optim.Variable(np.array(v0, dtype), name="var0"),
        optim.Variable(np.array(v1, dtype), name="var1"),
    )


def run_golden(opt, dtype):
    """Keras 3's golden run: ones(10), one call with 0.01, then arange(0.1, 1.1, 0.1)."""
    x = optim.Variable(np.ones(10, dtype), name="x")
    opt.apply_gradients([(np.full(10, 0.01, dtype), x)])
    values = [x.numpy()]
    for _ in range(4):
        opt.apply_gradients([(np.arange(0.1, 1.1, 0.1).astype(dtype), x)])
        values.append(x.numpy())
    return np.array(values)


def single_step(opt, dtype):
    """Keras 3's single step: w = [1, 2, 3, 4], g = [1, 6, 7, 2]."""
    w = optim.Variable(np.array([1.0, 2.0, 3.0, 4.0], dtype), name="w")
    opt.apply_gradients([(np.array([1.0, 6.0, 7.0, 2.0], dtype), w)])
    return w.numpy()


# -- Adadelta (adadelta_test.py) ---------------------------------------------------------------


@dtypes
@pytest.mark.parametrize("grad", [0.2, 0.1, 0.01])
@pytest.mark.parametrize("lr", [1.0, 0.5, 0.1])
def test_adadelta_tf_basic(graph, dtype, grad, lr):
    var0, var1 = two_vars(dtype)
    rho, epsilon = 0.95, 1e-8
    opt = AdadeltaOptimizer(lr, rho, epsilon)
    grads = np.array([grad, grad], dtype)
    accum = accum_update = tot_update = 0.0
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {}
    for _ in range(4):
        opt.apply_gradients(zip([grads, grads], [var0, var1]))
        accum = accum * rho + (grad**2) * (1 - rho)
        update = np.sqrt(accum_update + epsilon) * (1.0 / np.sqrt(accum + epsilon)) * grad
        accum_update = accum_update * rho + (update**2) * (1.0 - rho)
        tot_update += update * lr
        for var, init in ((var0, (1.0, 2.0)), (var1, (3.0, 4.0))):
            close(opt.get_slot(var, "accum"), [accum, accum], dtype, **tol)
            close(opt.get_slot(var, "accum_update"), [accum_update, accum_update], dtype, **tol)
            close(var.value, [init[0] - tot_update, init[1] - tot_update], dtype, **tol)
    assert opt.get_slot_names() == ["accum", "accum_update"]


@dtypes
def test_adadelta_literals(graph, dtype):
    var0, var1 = two_vars(dtype)
    opt = AdadeltaOptimizer(1.0, 0.95, 1e-8)
    g = np.array([0.2, 0.2], dtype)
    expected = [0.99955279, 0.99909988, 0.99864311, 0.99818341]
    for step, value in enumerate(expected):
        opt.apply_gradients([(g, var0), (g, var1)])
        close(var0.value[0], value, dtype, rtol=0, atol=5e-9 if dtype == np.float64 else 1e-6)
        if step == 0:
            close(opt.get_slot(var0, "accum"), [0.002, 0.002], dtype)
            close(opt.get_slot(var0, "accum_update"), [9.99995e-09] * 2, dtype, rtol=1e-6)


@dtypes
@pytest.mark.parametrize("sparse", [True, False], ids=["indexed_slices", "autodiff"])
def test_adadelta_tf_minimize_sparse(graph, dtype, sparse):
    # testMinimizeSparseResourceVariable: (var0[[0]] @ [[4], [5]])**2, gradient [112, 140].
    # With rho = 1 and epsilon = 1 the update is the gradient itself.
    var0 = optim.Variable(np.array([[1.0, 2.0]], dtype), name="var0")
    opt = AdadeltaOptimizer(1.0, 1.0, 1.0)
    if sparse:
        grad = optim.IndexedSlices(np.array([[112.0, 140.0]], dtype), [0], (1, 2))
        opt.apply_gradients([(grad, var0)])
    else:
        x = np.array([[4.0], [5.0]], dtype)
        opt.minimize(lambda: anp.sum((var0.value[np.array([0])] @ x) ** 2), var_list=[var0])
    close(var0.value, [[-111.0, -138.0]], dtype)


@dtypes
def test_adadelta_sparse_is_lazy(graph, dtype):
    var = optim.Variable(np.array([[1.0], [2.0], [3.0]], dtype), name="var")
    opt = AdadeltaOptimizer(1.0, 0.95, 1e-6)
    opt.apply_gradients([(np.full((3, 1), 0.5, dtype), var)])
    before = var.numpy(), opt.get_slot(var, "accum").copy()
    opt.apply_gradients([(optim.IndexedSlices(np.array([[0.1]], dtype), [1], (3, 1)), var)])
    np.testing.assert_array_equal(var.value[[0, 2]], before[0][[0, 2]])
    np.testing.assert_array_equal(opt.get_slot(var, "accum")[[0, 2]], before[1][[0, 2]])
    assert var.value[1, 0] != before[0][1, 0]


def test_adadelta_note_learning_rate(graph):
    # The paper (and PyTorch's default) is learning_rate=1.0; TF's default is 1000x smaller.
    tf_default, paper = optim.Variable([1.0], name="a"), optim.Variable([1.0], name="b")
    AdadeltaOptimizer().apply_gradients([(np.array([0.2]), tf_default)])
    AdadeltaOptimizer(learning_rate=1.0).apply_gradients([(np.array([0.2]), paper)])
    step = math.sqrt(1e-8) / math.sqrt(0.05 * 0.04 + 1e-8) * 0.2
    np.testing.assert_allclose(1.0 - paper.numpy(), [step], rtol=1e-12)
    np.testing.assert_allclose(1.0 - tf_default.numpy(), [step / 1000], rtol=1e-9)


# -- RMSProp (rmsprop_test.py) -----------------------------------------------------------------


@dtypes
def test_rmsprop_tf_without_momentum(graph, dtype):
    var0, var1 = two_vars(dtype)
    g0, g1 = np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)
    opt = RMSPropOptimizer(learning_rate=2.0, decay=0.9, momentum=0.0, epsilon=1.0)
    opt.apply_gradients(zip([g0, g1], [var0, var1]))
    close(opt.get_slot(var0, "rms"), [0.901, 0.901], dtype)
    close(opt.get_slot(var1, "rms"), [0.90001, 0.90001], dtype)
    s0 = 0.1 * 2.0 / math.sqrt(0.901 + 1.0)
    s1 = 0.01 * 2.0 / math.sqrt(0.90001 + 1.0)
    close(var0.value, [1.0 - s0, 2.0 - s0], dtype)
    close(var1.value, [3.0 - s1, 4.0 - s1], dtype)
    opt.apply_gradients(zip([g0, g1], [var0, var1]))
    close(opt.get_slot(var0, "rms"), [0.901 * 0.9 + 0.001] * 2, dtype)
    close(opt.get_slot(var1, "rms"), [0.90001 * 0.9 + 1e-5] * 2, dtype)
    s0 += 0.1 * 2.0 / math.sqrt(0.901 * 0.9 + 0.001 + 1.0)
    s1 += 0.01 * 2.0 / math.sqrt(0.90001 * 0.9 + 1e-5 + 1.0)
    close(var0.value, [1.0 - s0, 2.0 - s0], dtype)
    close(var1.value, [3.0 - s1, 4.0 - s1], dtype)
    literal = {"rtol": 0, "atol": 1e-8 if dtype == np.float64 else 1e-6}
    close(var0.value, [0.70636205, 1.70636205], dtype, **literal)
    close(var1.value, [2.97062471, 3.97062471], dtype, **literal)


@dtypes
def test_rmsprop_tf_with_momentum(graph, dtype):
    var0, var1 = two_vars(dtype)
    g0, g1 = np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)
    opt = RMSPropOptimizer(learning_rate=2.0, decay=0.9, momentum=0.5, epsilon=1e-5)
    opt.apply_gradients(zip([g0, g1], [var0, var1]))
    mom0 = 0.1 * 2.0 / math.sqrt(0.901 + 1e-5)
    mom1 = 0.01 * 2.0 / math.sqrt(0.90001 + 1e-5)
    close(opt.get_slot(var0, "rms"), [0.901, 0.901], dtype)
    close(opt.get_slot(var1, "rms"), [0.90001, 0.90001], dtype)
    close(opt.get_slot(var0, "momentum"), [mom0, mom0], dtype)
    close(opt.get_slot(var1, "momentum"), [mom1, mom1], dtype)
    close(var0.value, [1.0 - mom0, 2.0 - mom0], dtype)
    close(var1.value, [3.0 - mom1, 4.0 - mom1], dtype)
    opt.apply_gradients(zip([g0, g1], [var0, var1]))
    new0 = 0.5 * mom0 + 0.1 * 2.0 / math.sqrt(0.901 * 0.9 + 0.001 + 1e-5)
    new1 = 0.5 * mom1 + 0.01 * 2.0 / math.sqrt(0.90001 * 0.9 + 1e-5 + 1e-5)
    close(opt.get_slot(var0, "rms"), [0.901 * 0.9 + 0.001] * 2, dtype)
    close(opt.get_slot(var0, "momentum"), [new0, new0], dtype)
    close(opt.get_slot(var1, "momentum"), [new1, new1], dtype)
    close(var0.value, [1.0 - mom0 - new0, 2.0 - mom0 - new0], dtype)
    close(var1.value, [3.0 - mom1 - new1, 4.0 - mom1 - new1], dtype)
    literal = {"rtol": 0, "atol": 1e-8 if dtype == np.float64 else 1e-6}
    close(var0.value, [0.46198884, 1.46198884], dtype, **literal)
    close(var1.value, [2.94615575, 3.94615575], dtype, **literal)


# (learning_rate, decay, momentum, epsilon, centered), from testDense / testSparse.
RMSPROP_CONFIGS = [
    (0.5, 0.9, 0.0, 1e-3, True),
    (0.5, 0.9, 0.0, 1e-3, False),
    (0.1, 0.9, 0.0, 1e-3, True),
    (0.5, 0.95, 0.0, 1e-3, False),
    (0.5, 0.95, 0.0, 1e-5, True),
    (0.5, 0.95, 0.9, 1e-5, True),
]
rmsprop_configs = pytest.mark.parametrize(
    "config", RMSPROP_CONFIGS, ids=["-".join(map(str, c)) for c in RMSPROP_CONFIGS]
)


def _rmsprop_update_numpy(var, g, mg, rms, mom, lr, decay, momentum, epsilon, centered):
    rms_t = rms * decay + (1 - decay) * g * g
    denom_t = rms_t + epsilon
    if centered:
        mg_t = mg * decay + (1 - decay) * g
        denom_t -= mg_t * mg_t
    else:
        mg_t = mg
    mom_t = momentum * mom + lr * g / np.sqrt(denom_t)
    return var - mom_t, mg_t, rms_t, mom_t


def _sparse_rmsprop_update_numpy(
    var, gindexs, gvalues, mg, rms, mom, lr, decay, momentum, epsilon, centered
):
    var_t, mg_t, rms_t, mom_t = var.copy(), mg.copy(), rms.copy(), mom.copy()
    for gindex, gvalue in zip(gindexs, gvalues):
        rms_t[gindex] = rms[gindex] * decay + (1 - decay) * gvalue * gvalue
        denom_t = rms_t[gindex] + epsilon
        if centered:
            mg_t[gindex] = mg_t[gindex] * decay + (1 - decay) * gvalue
            denom_t -= mg_t[gindex] * mg_t[gindex]
        mom_t[gindex] = momentum * mom[gindex] + lr * gvalue / np.sqrt(denom_t)
        var_t[gindex] = var[gindex] - mom_t[gindex]
    return var_t, mg_t, rms_t, mom_t


def _check_rmsprop_slots(opt, var, state, dtype, centered):
    mg, rms, mom = state
    if centered:
        close(opt.get_slot(var, "mg"), mg, dtype)
    else:
        assert opt.get_slot(var, "mg") is None
    close(opt.get_slot(var, "rms"), rms, dtype)
    close(opt.get_slot(var, "momentum"), mom, dtype)


@dtypes
@rmsprop_configs
def test_rmsprop_tf_dense(graph, dtype, config):
    lr, decay, momentum, epsilon, centered = config
    var0, var1 = two_vars(dtype)
    g0, g1 = np.array([0.1, 0.2], dtype), np.array([0.01, 0.2], dtype)
    opt = RMSPropOptimizer(lr, decay, momentum, epsilon, centered=centered)
    ref = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    states = [[np.zeros(2), np.ones(2), np.zeros(2)] for _ in range(2)]
    for _ in range(4):
        opt.apply_gradients(zip([g0, g1], [var0, var1]))
        for i, g in enumerate((g0, g1)):
            ref[i], *states[i] = _rmsprop_update_numpy(
                ref[i], g.astype(np.float64), *states[i], *config
            )
        for var, expected, state in zip((var0, var1), ref, states):
            close(var.value, expected, dtype)
            _check_rmsprop_slots(opt, var, state, dtype, centered)
    assert opt.get_slot_names() == (["mg", "momentum", "rms"] if centered else ["momentum", "rms"])
    if config == RMSPROP_CONFIGS[0]:
        literal = {"rtol": 0, "atol": 1e-8 if dtype == np.float64 else 1e-6}
        close(var0.value, [0.7718649, 1.54529857], dtype, **literal)
        close(var1.value, [2.9771604, 3.54529857], dtype, **literal)


@dtypes
@rmsprop_configs
def test_rmsprop_tf_sparse(graph, dtype, config):
    lr, decay, momentum, epsilon, centered = config
    var0, var1 = two_vars(dtype)
    opt = RMSPropOptimizer(lr, decay, momentum, epsilon, centered=centered)
    grads = [
        optim.IndexedSlices(np.array([0.1], dtype), [0], (2,)),
        optim.IndexedSlices(np.array([0.01], dtype), [1], (2,)),
    ]
    ref = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    states = [[np.zeros(2), np.ones(2), np.zeros(2)] for _ in range(2)]
    for _ in range(4):
        opt.apply_gradients(zip(grads, [var0, var1]))
        for i, g in enumerate(grads):
            ref[i], *states[i] = _sparse_rmsprop_update_numpy(
                ref[i], g.indices, g.values.astype(np.float64), *states[i], *config
            )
        for var, expected, state in zip((var0, var1), ref, states):
            close(var.value, expected, dtype)
            _check_rmsprop_slots(opt, var, state, dtype, centered)
    # Only the touched entries changed.
    assert var0.value[1] == 2.0 and var1.value[0] == 3.0
    assert opt.get_slot(var0, "rms")[1] == 1.0 and opt.get_slot(var0, "momentum")[1] == 0.0


def test_rmsprop_note_rms_starts_at_one(graph):
    w = optim.Variable([1.0], name="w")
    opt = RMSPropOptimizer(0.01)  # decay 0.9, epsilon 1e-10
    opt.apply_gradients([(np.array([1.0]), w)])
    np.testing.assert_allclose(opt.get_slot(w, "rms"), [0.9 * 1.0 + 0.1], rtol=1e-15)
    tf_step = 0.01 * 1.0 / math.sqrt(1.0 + 1e-10)
    np.testing.assert_allclose(1.0 - w.numpy(), [tf_step], rtol=1e-12)
    # PyTorch (rms from 0, alpha 0.99, eps 1e-8 outside the root) steps 10x further.
    torch_step = 0.01 * 1.0 / (math.sqrt(0.01 * 1.0) + 1e-8)
    assert torch_step / tf_step == pytest.approx(10.0, rel=1e-6)


# -- Adam (adam_test.py) ----------------------------------------------------------------------


def adam_update_numpy(param, g_t, t, m, v, alpha=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    alpha_t = alpha * np.sqrt(1 - beta2 ** (t + 1)) / (1 - beta1 ** (t + 1))
    m_t = beta1 * m + (1 - beta1) * g_t
    v_t = beta2 * v + (1 - beta2) * g_t * g_t
    param_t = param - alpha_t * m_t / (np.sqrt(v_t) + epsilon)
    return param_t, m_t, v_t


# ≈ var0 and var1 after steps 1..3 (reference section 6).
ADAM_VAR0 = [[0.999, 1.999], [0.998, 1.998], [0.997, 1.997]]
ADAM_VAR1 = [[2.99900003, 3.99900003], [2.99800005, 3.99800005], [2.99700007, 3.99700007]]


def _adam_basic(dtype, opt, step, var0, var1, grads0=None, grads1=None):
    """TF's testBasic loop: beta powers before each step, then var/slots against numpy."""
    g0 = np.array([0.1, 0.1], dtype)
    g1 = np.array([0.01, 0.01], dtype)
    var0_np, var1_np = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    m0 = v0 = m1 = v1 = np.zeros(2)
    literal = {"rtol": 0, "atol": 2e-8 if dtype == np.float64 else 1e-6}
    for t in range(3):
        if t > 0:
            close(opt._get_non_slot_variable("beta1_power"), 0.9 ** (t + 1), dtype)
            close(opt._get_non_slot_variable("beta2_power"), 0.999 ** (t + 1), dtype)
        step(t)
        var0_np, m0, v0 = adam_update_numpy(var0_np, g0.astype(np.float64), t, m0, v0)
        var1_np, m1, v1 = adam_update_numpy(var1_np, g1.astype(np.float64), t, m1, v1)
        close(var0.value, var0_np, dtype)
        close(var1.value, var1_np, dtype)
        close(opt.get_slot(var0, "m"), m0, dtype)
        close(opt.get_slot(var0, "v"), v0, dtype)
        close(opt.get_slot(var1, "m"), m1, dtype)
        close(opt.get_slot(var1, "v"), v1, dtype)
        close(var0.value, ADAM_VAR0[t], dtype, **literal)
        close(var1.value, ADAM_VAR1[t], dtype, **literal)
    close(opt._get_non_slot_variable("beta1_power"), 0.9**4, dtype)
    close(opt._get_non_slot_variable("beta2_power"), 0.999**4, dtype)


@dtypes
def test_adam_tf_basic(graph, dtype):
    var0, var1 = two_vars(dtype)
    opt = AdamOptimizer()
    grads = [np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)]
    _adam_basic(dtype, opt, lambda t: opt.apply_gradients(zip(grads, [var0, var1])), var0, var1)
    assert opt.get_slot_names() == ["m", "v"]


@dtypes
def test_adam_tf_sparse(graph, dtype):
    var0, var1 = two_vars(dtype)
    opt = AdamOptimizer()
    grads = [
        optim.IndexedSlices(np.array([0.1, 0.1], dtype), [0, 1], (2,)),
        optim.IndexedSlices(np.array([0.01, 0.01], dtype), [0, 1], (2,)),
    ]
    _adam_basic(dtype, opt, lambda t: opt.apply_gradients(zip(grads, [var0, var1])), var0, var1)


@dtypes
@pytest.mark.parametrize(
    "learning_rate", [np.array(0.001), lambda: 0.001], ids=["0-d-array", "callable"]
)
def test_adam_tf_tensor_learning_rate(graph, dtype, learning_rate):
    var0, var1 = two_vars(dtype)
    opt = AdamOptimizer(learning_rate)
    grads = [np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)]
    _adam_basic(dtype, opt, lambda t: opt.apply_gradients(zip(grads, [var0, var1])), var0, var1)


@dtypes
def test_adam_tf_sharing(graph, dtype):
    # Two update "ops" built from one optimizer, run alternately, share slots and beta powers.
    var0, var1 = two_vars(dtype)
    opt = AdamOptimizer()
    grads = [np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)]

    def update1():
        opt.apply_gradients(zip(grads, [var0, var1]))

    def update2():
        opt.apply_gradients([(grads[1], var1), (grads[0], var0)])

    _adam_basic(dtype, opt, lambda t: (update1 if t % 2 == 0 else update2)(), var0, var1)
    assert len(opt.variables()) == 6


@dtypes
def test_adam_tf_sparse_repeated_indices(graph, dtype):
    repeated = optim.Variable(np.array([[1.0], [2.0]], dtype), name="repeated")
    aggregated = optim.Variable(np.array([[1.0], [2.0]], dtype), name="aggregated")
    opt_r, opt_a = AdamOptimizer(), AdamOptimizer()
    g_r = optim.IndexedSlices(np.array([[0.1], [0.1]], dtype), [1, 1], (2, 1))
    g_a = optim.IndexedSlices(np.array([[0.2]], dtype), [1], (2, 1))
    for _ in range(3):
        opt_r.apply_gradients([(g_r, repeated)])
        opt_a.apply_gradients([(g_a, aggregated)])
        np.testing.assert_array_equal(repeated.value, aggregated.value)


def test_adam_tf_slots_unique(graph):
    var0, var1 = two_vars(np.float64)
    opt = AdamOptimizer(1.0)
    opt.minimize(lambda: anp.sum(var0.value + var1.value), var_list=[var0, var1])
    variables = opt.variables()
    assert len(variables) == 6  # m and v for each variable, beta1_power, beta2_power
    assert len({id(v) for v in variables}) == 6


def test_adam_sparse_is_dense_equivalent(graph):
    # An untouched row still moves once m is non-zero (not lazy), as TF's sparse Adam.
    var = optim.Variable(np.array([[1.0], [2.0]]), name="var")
    opt = AdamOptimizer(0.1)
    opt.apply_gradients([(optim.IndexedSlices(np.array([[1.0]]), [0], (2, 1)), var)])
    opt.apply_gradients([(optim.IndexedSlices(np.array([[1.0]]), [1], (2, 1)), var)])
    dense = optim.Variable(np.array([[1.0], [2.0]]), name="dense")
    opt_dense = AdamOptimizer(0.1)
    opt_dense.apply_gradients([(np.array([[1.0], [0.0]]), dense)])
    opt_dense.apply_gradients([(np.array([[0.0], [1.0]]), dense)])
    np.testing.assert_allclose(var.value, dense.value, rtol=1e-15)
    step1 = 0.1 * math.sqrt(0.001) / 0.1 * 0.1 / (math.sqrt(0.001) + 1e-8)
    m0, v0 = 0.9 * 0.1, 0.999 * 0.001
    step2 = 0.1 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2) * m0 / (math.sqrt(v0) + 1e-8)
    np.testing.assert_allclose(var.value[0, 0], 1.0 - step1 - step2, rtol=1e-12)


@dtypes
def test_adam_beta_powers_follow_first_variable_by_name(graph, dtype):
    other = np.float64 if dtype == np.float32 else np.float32
    b = optim.Variable(np.array([1.0, 2.0], other), name="b")
    a = optim.Variable(np.array([3.0], dtype), name="a")
    opt = AdamOptimizer()
    opt.apply_gradients([(np.ones(2, other), b), (np.ones(1, dtype), a)])
    for name, beta in (("beta1_power", 0.9), ("beta2_power", 0.999)):
        power = opt._get_non_slot_variable(name)
        assert power.dtype == dtype and power.shape == ()
        assert power == dtype(dtype(beta) * dtype(beta))


@dtypes
def test_adam_keras_single_step(graph, dtype):
    w = single_step(AdamOptimizer(learning_rate=0.5, epsilon=1e-7), dtype)
    np.testing.assert_allclose(w, [0.5, 1.5, 2.5, 3.5], rtol=1e-4, atol=1e-4)


@dtypes
def test_adam_keras_amsgrad_golden(graph, dtype):
    # Keras 3 Adam(amsgrad=True) with its defaults (epsilon 1e-7).
    values = run_golden(AdamOptimizer(amsgrad=True, epsilon=1e-7), dtype)
    golden = np.tile([[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))
    np.testing.assert_allclose(values, golden, rtol=5e-4, atol=5e-4)


def test_adam_amsgrad_vhat_is_running_max_of_v(graph):
    w, plain = optim.Variable([1.0], name="w"), optim.Variable([1.0], name="plain")
    opt, opt_plain = AdamOptimizer(0.1, amsgrad=True), AdamOptimizer(0.1)
    v = vhat = 0.0
    for g in (10.0, 0.1, 0.1):
        opt.apply_gradients([(np.array([g]), w)])
        opt_plain.apply_gradients([(np.array([g]), plain)])
        v = 0.999 * v + 0.001 * g * g
        vhat = max(vhat, v)
        np.testing.assert_allclose(opt.get_slot(w, "v"), [v], rtol=1e-14)
        np.testing.assert_allclose(opt.get_slot(w, "vhat"), [vhat], rtol=1e-14)
    assert vhat > v and opt.get_slot_names() == ["m", "v", "vhat"]
    assert abs(1.0 - w.numpy()[0]) < abs(1.0 - plain.numpy()[0])  # larger denominator


def test_adam_note_epsilon_hat(graph):
    # TF's epsilon sits on the uncorrected sqrt(v): at step t it equals PyTorch's epsilon
    # times sqrt(1 - beta2**t); with the same epsilon the two differ.
    lr, b1, b2, eps, g = 0.1, 0.9, 0.999, 1e-3, 0.01
    w = optim.Variable([1.0], name="w")
    AdamOptimizer(lr, b1, b2, eps).apply_gradients([(np.array([g]), w)])

    def torch_step(eps_torch):
        m_hat, v_hat = (1 - b1) * g / (1 - b1), (1 - b2) * g * g / (1 - b2)
        return lr * m_hat / (math.sqrt(v_hat) + eps_torch)

    np.testing.assert_allclose(1.0 - w.numpy()[0], torch_step(eps / math.sqrt(1 - b2)), 1e-12)
    assert abs((1.0 - w.numpy()[0]) - torch_step(eps)) > 1e-3


# -- AdamW (Keras 3 adamw_test.py; TF contrib) ------------------------------------------------


@dtypes
def test_adamw_keras_single_step(graph, dtype):
    w = single_step(AdamWOptimizer(learning_rate=0.5), dtype)
    np.testing.assert_allclose(w, [0.4980, 1.4960, 2.494, 3.492], rtol=1e-4, atol=1e-4)


ADAMW_GOLDEN = [
    [0.4998] * 10,
    [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
    [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
    [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
    [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159],
]


@dtypes
def test_adamw_keras_golden(graph, dtype):
    values = run_golden(AdamWOptimizer(learning_rate=1.0, weight_decay=0.5, epsilon=2.0), dtype)
    np.testing.assert_allclose(values, ADAMW_GOLDEN, rtol=5e-4, atol=5e-4)


@dtypes
def test_adamw_keras_weight_decay(graph, dtype):
    zero = np.zeros((), dtype)
    var1 = optim.Variable(dtype(2.0), name="var1")
    var2 = optim.Variable(dtype(2.0), name="exclude")
    var3 = optim.Variable(dtype(2.0), name="var3")
    AdamWOptimizer(learning_rate=1.0, weight_decay=0.004).apply_gradients([(zero, var1)])
    opt2 = AdamWOptimizer(
        learning_rate=1.0, weight_decay=0.004, exclude_from_weight_decay=["exclude"]
    )
    opt2.apply_gradients([(zero, var1), (zero, var2)])
    opt3 = AdamWOptimizer(learning_rate=1.0, weight_decay=0.004, exclude_from_weight_decay=[var3])
    opt3.apply_gradients([(zero, var1), (zero, var3)])
    np.testing.assert_allclose(var1.value, 1.9760959, rtol=0, atol=5e-7)
    close(var1.value, 2.0 * 0.996**3, dtype)
    assert var2.value == 2.0 and var3.value == 2.0


@dtypes
def test_adamw_weight_decay_scale(graph, dtype):
    # Zero gradient: only the decay moves w. Keras 3 / PyTorch scale by the learning rate,
    # TF contrib does not.
    scaled = optim.Variable(np.array([2.0], dtype), name="scaled")
    unscaled = optim.Variable(np.array([2.0], dtype), name="unscaled")
    zero = np.zeros(1, dtype)
    AdamWOptimizer(0.1, learning_rate=0.5).apply_gradients([(zero, scaled)])
    AdamWOptimizer(0.1, learning_rate=0.5, weight_decay_scale="none").apply_gradients(
        [(zero, unscaled)]
    )
    close(scaled.value, [2.0 - 0.5 * 0.1 * 2.0], dtype)
    close(unscaled.value, [2.0 - 0.1 * 2.0], dtype)


@dtypes
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_without_decay_is_adam(graph, dtype, amsgrad):
    rng = np.random.default_rng(0)
    a = optim.Variable(rng.normal(size=(3, 2)).astype(dtype), name="a")
    b = optim.Variable(a.numpy(), name="b")
    opt_w = AdamWOptimizer(0.0, 0.01, epsilon=1e-8, amsgrad=amsgrad)
    opt = AdamOptimizer(0.01, amsgrad=amsgrad)
    for _ in range(5):
        g = rng.normal(size=(3, 2)).astype(dtype)
        opt_w.apply_gradients([(g, a)])
        opt.apply_gradients([(g, b)])
    np.testing.assert_array_equal(a.value, b.value)
    assert isinstance(opt_w, AdamOptimizer) and opt_w.get_slot_names() == opt.get_slot_names()


def test_adamw_exclude_by_pattern_and_variable(graph):
    kernel = optim.Variable([1.0], name="dense/kernel")
    bias = optim.Variable([1.0], name="dense/bias")
    norm = optim.Variable([1.0], name="layer_norm/gamma")
    other = optim.Variable([1.0], name="other")
    opt = AdamWOptimizer(
        0.5, learning_rate=1.0, exclude_from_weight_decay=["bias$", norm, r"^lay.r_"]
    )
    zero = np.zeros(1)
    opt.apply_gradients([(zero, v) for v in (kernel, bias, norm, other)])
    assert kernel.value[0] == 0.5 and other.value[0] == 0.5
    assert bias.value[0] == 1.0 and norm.value[0] == 1.0
    # A single pattern or variable is accepted too.
    single = AdamWOptimizer(0.5, learning_rate=1.0, exclude_from_weight_decay="kernel")
    single.apply_gradients([(zero, kernel)])
    assert kernel.value[0] == 0.5


def test_adamw_decay_var_list(graph):
    a, b = optim.Variable([1.0], name="a"), optim.Variable([1.0], name="b")
    opt = AdamWOptimizer(0.5, learning_rate=1.0)
    zero = np.zeros(1)
    opt.apply_gradients([(zero, a), (zero, b)], decay_var_list=[a])
    assert a.value[0] == 0.5 and b.value[0] == 1.0
    opt.apply_gradients([(zero, a), (zero, b)], decay_var_list=[])  # none (contrib: all)
    assert a.value[0] == 0.5 and b.value[0] == 1.0
    opt.apply_gradients([(zero, a), (zero, b)])  # back to every variable
    assert a.value[0] == 0.25 and b.value[0] == 0.5
    opt.minimize(lambda: 0.0 * anp.sum(a.value + b.value), var_list=[a, b], decay_var_list=[b])
    assert a.value[0] == 0.25 and b.value[0] == 0.25
    opt.minimize(lambda: 0.0 * anp.sum(a.value + b.value), var_list=[a, b])
    assert a.value[0] == 0.125 and b.value[0] == 0.125


def test_adamw_bad_decay_var_list_changes_nothing(graph):
    a = optim.Variable([1.0], name="a")
    opt = AdamWOptimizer(0.5, learning_rate=1.0)
    opt.apply_gradients([(np.ones(1), a)])
    before = [a.numpy()] + [s.copy() for s in opt.variables()]
    with pytest.raises(TypeError, match=r"`decay_var_list` must be a list of optim.Variable"):
        opt.apply_gradients([(np.ones(1), a)], decay_var_list=a)
    with pytest.raises(TypeError, match=r"`decay_var_list\[0\]` must be an optim.Variable"):
        opt.minimize(lambda: anp.sum(a.value), var_list=[a], decay_var_list=["a"])
    for x, y in zip(before, [a.numpy()] + [s.copy() for s in opt.variables()]):
        np.testing.assert_array_equal(x, y)


@dtypes
def test_adamw_sparse_decays_whole_variable(graph, dtype):
    var = optim.Variable(np.array([[1.0], [2.0], [3.0]], dtype), name="var")
    opt = AdamWOptimizer(0.1, learning_rate=0.5)
    opt.apply_gradients([(optim.IndexedSlices(np.array([[1.0]], dtype), [1], (3, 1)), var)])
    close(var.value[[0, 2], 0], [1.0 - 0.05 * 1.0, 3.0 - 0.05 * 3.0], dtype)
    step = 0.5 * math.sqrt(0.001) / 0.1 * 0.1 / (math.sqrt(0.001) + 1e-7)
    close(var.value[1, 0], 2.0 - 0.05 * 2.0 - step, dtype)


# -- Adamax (Keras 3 adamax_test.py; TF's ApplyAdaMax) ----------------------------------------


@dtypes
def test_adamax_keras_single_step(graph, dtype):
    w = single_step(AdamaxOptimizer(learning_rate=0.5), dtype)
    np.testing.assert_allclose(w, [0.5, 1.5, 2.5, 3.5], rtol=1e-4, atol=1e-4)


ADAMAX_GOLDEN = [
    [0.8] * 10,
    [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
    [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
    [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
    [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126],
]


@dtypes
def test_adamax_keras_golden(graph, dtype):
    opt = AdamaxOptimizer(learning_rate=0.2, beta1=0.85, beta2=0.95, epsilon=1e-6)
    np.testing.assert_allclose(run_golden(opt, dtype), ADAMAX_GOLDEN, rtol=5e-4, atol=5e-4)


@dtypes
def test_adamax_state_and_lazy_sparse(graph, dtype):
    var = optim.Variable(np.array([[1.0], [2.0]], dtype), name="var")
    opt = AdamaxOptimizer(0.1)
    for _ in range(3):
        opt.apply_gradients([(optim.IndexedSlices(np.array([[0.5]], dtype), [0], (2, 1)), var)])
    close(opt._get_non_slot_variable("beta1_power"), 0.9**4, dtype)
    assert opt.get_slot_names() == ["m", "v"]
    assert var.value[1, 0] == 2.0
    assert opt.get_slot(var, "m")[1, 0] == 0.0 and opt.get_slot(var, "v")[1, 0] == 0.0
    # Row 0 sees |g| = 0.5 every step: v = 0.5 and m = 0.5 * (1 - 0.9**t).
    moved = sum(0.1 / (1 - 0.9**t) * 0.5 * (1 - 0.9**t) / (0.5 + 1e-7) for t in (1, 2, 3))
    close(var.value[0, 0], 1.0 - moved, dtype)


def test_adamax_note_epsilon_placement(graph):
    # TF/Keras: m / (max(beta2 * v, |g|) + eps); PyTorch: v = max(beta2 * v, |g| + eps), m / v.
    # They agree at step 1 (v starts at 0) and differ once beta2 * v wins the max.
    lr, b1, b2, eps = 1.0, 0.9, 0.5, 0.01
    w = optim.Variable([0.0], name="w")
    opt = AdamaxOptimizer(lr, b1, b2, eps)
    m = v_tf = v_torch = tf_w = torch_w = 0.0
    for t, g in enumerate((0.01, 0.0), start=1):
        opt.apply_gradients([(np.array([g]), w)])
        m = b1 * m + (1 - b1) * g
        v_tf = max(b2 * v_tf, abs(g))
        v_torch = max(b2 * v_torch, abs(g) + eps)
        tf_w -= lr / (1 - b1**t) * m / (v_tf + eps)
        torch_w -= lr / (1 - b1**t) * m / v_torch
        np.testing.assert_allclose(w.numpy()[0], tf_w, rtol=1e-12)
        if t == 1:
            assert tf_w == pytest.approx(torch_w, rel=1e-12)
    assert abs(tf_w - torch_w) > 0.1


# -- Nadam (Keras 3 nadam_test.py; Keras 2 / PyTorch schedule) --------------------------------


@dtypes
def test_nadam_keras3_single_step(graph, dtype):
    w = single_step(NadamOptimizer(learning_rate=0.5, schedule_decay=1.0), dtype)
    np.testing.assert_allclose(w, [0.4686, 1.4686, 2.4686, 3.4686], rtol=1e-4, atol=1e-4)


NADAM_GOLDEN = [
    [0.4281] * 10,
    [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
    [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
    [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
    [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454],
]


@dtypes
def test_nadam_keras3_golden(graph, dtype):
    opt = NadamOptimizer(learning_rate=0.5, beta1=0.5, beta2=0.67, epsilon=1e-5, schedule_decay=1.0)
    np.testing.assert_allclose(run_golden(opt, dtype), NADAM_GOLDEN, rtol=5e-4, atol=5e-4)


def _nadam_first_step(lr, g, k, beta1=0.9, eps=1e-7):
    """One step from zero state: m_bar = g + u_2 * (1 - beta1) * g / (1 - u_1 * u_2)."""
    u1 = beta1 * (1 - 0.5 * 0.96**k)
    u2 = beta1 * (1 - 0.5 * 0.96 ** (2 * k))
    m_bar = g + u2 * (1 - beta1) * g / (1 - u1 * u2)
    return lr * m_bar / (abs(g) + eps)


@dtypes
def test_nadam_note_schedules(graph, dtype):
    # Default (Keras 2 / PyTorch): 0.96**(0.004 t); schedule_decay=1.0 (Keras 3): 0.96**t.
    k2 = single_step(NadamOptimizer(learning_rate=0.5), dtype)
    k3 = single_step(NadamOptimizer(learning_rate=0.5, schedule_decay=1.0), dtype)
    w0 = np.array([1.0, 2.0, 3.0, 4.0])
    g = np.array([1.0, 6.0, 7.0, 2.0])
    tol = {"rtol": 2e-6, "atol": 2e-6} if dtype == np.float32 else {}
    close(w0 - k2, [_nadam_first_step(0.5, x, 0.004) for x in g], dtype, **tol)
    close(w0 - k3, [_nadam_first_step(0.5, x, 1.0) for x in g], dtype, **tol)
    np.testing.assert_allclose(w0 - k2, 0.5282, atol=1e-4)
    np.testing.assert_allclose(w0 - k3, 0.5314, atol=1e-4)


def test_nadam_matches_pytorch_nadam_form(graph):
    # torch.optim.NAdam's update, transcribed (momentum_decay = schedule_decay = 4e-3).
    lr, b1, b2, eps, psi = 0.002, 0.9, 0.999, 1e-8, 4e-3
    rng = np.random.default_rng(5)
    w = optim.Variable(rng.normal(size=4), name="w")
    p = w.numpy()
    opt = NadamOptimizer(lr, b1, b2, eps, schedule_decay=psi)
    exp_avg, exp_avg_sq, mu_product = np.zeros(4), np.zeros(4), 1.0
    for step in range(1, 11):
        grad = rng.normal(size=4)
        opt.apply_gradients([(grad, w)])
        mu = b1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        mu_product *= mu
        exp_avg = exp_avg + (grad - exp_avg) * (1 - b1)
        exp_avg_sq = exp_avg_sq * b2 + (1 - b2) * grad * grad
        denom = np.sqrt(exp_avg_sq / (1 - b2**step)) + eps
        p = p - lr * (1.0 - mu) / (1.0 - mu_product) * grad / denom
        p = p - lr * mu_next / (1.0 - mu_product * mu_next) * exp_avg / denom
        np.testing.assert_allclose(w.value, p, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(opt._get_non_slot_variable("momentum_cache"), mu_product, 1e-13)
    assert opt._get_non_slot_variable("steps") == 10
    assert opt.get_slot_names() == ["m", "v"] and len(opt.variables()) == 4


@dtypes
def test_nadam_sparse_is_dense_equivalent(graph, dtype):
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(4, 2)).astype(dtype)
    sparse, dense = optim.Variable(x0, name="sparse"), optim.Variable(x0, name="dense")
    opt_s, opt_d = NadamOptimizer(0.1), NadamOptimizer(0.1)
    rows_after = []
    for rows in ([1], [2, 0], [1]):
        values = rng.normal(size=(len(rows), 2)).astype(dtype)
        grad = optim.IndexedSlices(values, rows, (4, 2))
        opt_s.apply_gradients([(grad, sparse)])
        opt_d.apply_gradients([(grad.to_dense(), dense)])
        np.testing.assert_array_equal(sparse.value, dense.value)
        rows_after.append(sparse.numpy()[1])
    # Row 1 is untouched by the second step, yet moves (its m is non-zero): not lazy.
    assert not np.array_equal(rows_after[0], rows_after[1])
    np.testing.assert_array_equal(sparse.value[3], x0[3])  # m stays zero there
