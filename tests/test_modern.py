"""Lion, Adafactor, RAdam and LAMB: golden numbers, behaviours, and Adafactor's battery.

Keras 3's own test literals (shared/reference/tf1_optimizers.md, section 6; Keras' lamb_test.py
for LAMB) are checked at the tolerance Keras uses, and at 1e-12 in float64 where the test
derives the exact value from the formula. RAdam and LAMB get two-step examples worked out here
from the papers' equations, with no code shared with the oracle or the kernels.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import optim
from optim.algorithms.adafactor import AdafactorOptimizer
from optim.algorithms.lamb import LAMBOptimizer
from optim.algorithms.lion import LionOptimizer
from optim.algorithms.radam import RAdamOptimizer
from tests import test_battery as battery
from tests.cases import CASES

DTYPES = [np.float32, np.float64]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
# Values derived from the formula: float64 to 1e-12, float32 to its own rounding.
EXACT = {np.float32: {"rtol": 1e-6, "atol": 1e-7}, np.float64: {"rtol": 1e-12, "atol": 1e-14}}
KERAS_GOLDEN_ARGS = dict(  # Keras' golden run: ones(10), 0.01 first, then 0.1 .. 1.0
    first=np.full(10, 0.01), then=np.arange(0.1, 1.1, 0.1)
)


def _run(opt, x0, grads, dtype):
    """Applies each gradient of ``grads`` to one variable; returns the value after each call."""
    var = optim.Variable(np.array(x0, dtype), name="x")
    out = []
    for g in grads:
        opt.apply_gradients([(np.array(g, dtype), var)])
        out.append(var.numpy())
    return var, out


def _keras_golden_grads(calls=5):
    return [KERAS_GOLDEN_ARGS["first"]] + [KERAS_GOLDEN_ARGS["then"]] * (calls - 1)


# -- every class ---------------------------------------------------------------------------

SIGNATURES = [
    (LionOptimizer, "Lion", {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.99}),
    (
        AdafactorOptimizer,
        "Adafactor",
        {
            "learning_rate": 0.001,
            "beta_2_decay": -0.8,
            "epsilon_1": 1e-30,
            "epsilon_2": 1e-3,
            "clip_threshold": 1.0,
            "relative_step": True,
        },
    ),
    (
        RAdamOptimizer,
        "RAdam",
        {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    ),
    (
        LAMBOptimizer,
        "LAMB",
        {
            "learning_rate": 0.001,
            "beta1": 0.9,
            "beta2": 0.999,
            "epsilon": 1e-6,
            "weight_decay": 0.0,
        },
    ),
]


@pytest.mark.parametrize("cls,name,defaults", SIGNATURES, ids=[s[1] for s in SIGNATURES])
def test_signature_tf1_style(cls, name, defaults):
    params = inspect.signature(cls).parameters
    expected = list(defaults) + ["use_locking", "name", "kwargs"]
    assert list(params) == expected
    assert {k: params[k].default for k in defaults} == defaults
    assert params["use_locking"].default is False and params["name"].default == name
    assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    opt = cls(nonfinite="skip")  # base-class options pass through **kwargs
    assert opt.get_name() == name
    with pytest.raises(TypeError):
        cls(not_an_option=1)


# -- Lion ----------------------------------------------------------------------------------


@dtypes
def test_lion_keras_single_step(graph, dtype):
    var, _ = _run(LionOptimizer(0.5), [1.0, 2.0, 3.0, 4.0], [[1.0, 6.0, 7.0, 2.0]], dtype)
    np.testing.assert_array_equal(var.value, np.array([0.5, 1.5, 2.5, 3.5], dtype))


@dtypes
def test_lion_keras_golden(graph, dtype):
    opt = LionOptimizer()
    var, values = _run(opt, np.ones(10), _keras_golden_grads(6), dtype)
    for k, value in enumerate(values, start=1):  # Keras checks calls 1..5: 0.999 .. 0.995
        np.testing.assert_allclose(value, np.full(10, 1 - 0.001 * k), **EXACT[dtype])
    # m after the first call: (1 - 0.99) * 0.01; then m = 0.99 m + 0.01 g.
    m = 0.01 * 0.01
    for _ in range(5):
        m = 0.99 * m + 0.01 * KERAS_GOLDEN_ARGS["then"]
    np.testing.assert_allclose(opt.get_slot(var, "momentum"), m, **EXACT[dtype])
    assert opt.get_slot_names() == ["momentum"]


def test_lion_validation_messages():
    with pytest.raises(ValueError, match=r"^`beta1` must be in \(0, 1\], got 0\.0\.$"):
        LionOptimizer(beta1=0.0)
    with pytest.raises(ValueError, match=r"^`beta1` must be in \(0, 1\], got 1\.1\.$"):
        LionOptimizer(beta1=1.1)
    with pytest.raises(ValueError, match=r"^`beta2` must be in \[0, 1\], got -0\.1\.$"):
        LionOptimizer(beta2=-0.1)
    with pytest.raises(TypeError, match=r"^`learning_rate` must be a float or a zero-argument"):
        LionOptimizer(learning_rate=None)
    LionOptimizer(beta1=1.0, beta2=0.0)  # both ends allowed


def test_lion_sparse_is_lazy_unlike_keras(graph):
    """Row 1 only: rows 0 and 2 keep value and momentum (Keras, dense, moves them by lr)."""
    lion, dense = LionOptimizer(0.1), LionOptimizer(0.1)
    a, b = optim.Variable(np.ones((3, 2))), optim.Variable(np.ones((3, 2)))
    lion.apply_gradients([(np.ones((3, 2)), a)])  # w = 1 - 0.1 = 0.9, m = 0.01
    dense.apply_gradients([(np.ones((3, 2)), b)])
    g = optim.IndexedSlices(np.full((1, 2), -1.0), [1], (3, 2))
    lion.apply_gradients([(g, a)])
    dense.apply_gradients([(g.to_dense(), b)])
    # Row 1: sign(0.9 * 0.01 - 0.1) = -1, so 0.9 + 0.1; m = 0.99 * 0.01 - 0.01.
    np.testing.assert_allclose(a.value, [[0.9, 0.9], [1.0, 1.0], [0.9, 0.9]], rtol=1e-15)
    np.testing.assert_allclose(lion.get_slot(a, "momentum")[1], [-1e-4, -1e-4], rtol=1e-12)
    np.testing.assert_allclose(lion.get_slot(a, "momentum")[[0, 2]], 0.01, rtol=1e-15)
    # Dense with zero rows: sign(0.9 * 0.01) = 1 moves rows 0 and 2 to 0.8; m decays to 0.0099.
    np.testing.assert_allclose(b.value, [[0.8, 0.8], [1.0, 1.0], [0.8, 0.8]], rtol=1e-15)
    np.testing.assert_allclose(dense.get_slot(b, "momentum")[[0, 2]], 0.0099, rtol=1e-12)


# -- Adafactor -----------------------------------------------------------------------------


def _adafactor_by_hand(x, grads, rho_of_t, beta_2_decay, eps1, eps2, clip):
    """The paper's unfactored (1-D) Adafactor, written out; ``rho_of_t`` is the step size rule."""
    x, v, out = np.array(x, float), np.zeros(len(x)), []
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, float)
        beta = 1 - t**beta_2_decay
        v = beta * v + (1 - beta) * (g * g + eps1)
        u = g / np.sqrt(v)
        u = u / max(1.0, math.sqrt(np.mean(u * u)) / clip)
        x = x - max(eps2, math.sqrt(np.mean(x * x))) * rho_of_t(t) * u
        out.append(x)
    return out


@dtypes
def test_adafactor_keras_single_step_1d(graph, dtype):
    opt = AdafactorOptimizer(learning_rate=0.5)
    var, _ = _run(opt, [1.0, 2.0, 3.0, 4.0], [[1.0, 6.0, 7.0, 2.0]], dtype)
    np.testing.assert_allclose(var.value, [-0.3693, 0.6307, 1.6307, 2.6307], rtol=1e-4, atol=1e-4)
    # t = 1: v = g**2 + 1e-30, so u = sign(g), RMS(u) = 1 (no clipping), and the step is
    # RMS(w) * min(0.5, 1) = 0.5 * sqrt(7.5) on every coordinate.
    expected = np.array([1.0, 2.0, 3.0, 4.0]) - 0.5 * math.sqrt(7.5)
    np.testing.assert_allclose(var.value, expected, **EXACT[dtype])
    np.testing.assert_allclose(opt.get_slot(var, "v"), [1.0, 36.0, 49.0, 4.0], **EXACT[dtype])
    assert opt.get_slot_names() == ["v"]


@dtypes
def test_adafactor_keras_single_step_2d(graph, dtype):
    opt = AdafactorOptimizer(learning_rate=0.5)
    g = np.array([[1.0, 6.0], [7.0, 2.0]])
    var, _ = _run(opt, [[1.0, 2.0], [3.0, 4.0]], [g], dtype)
    np.testing.assert_allclose(
        var.value, [[0.7007, -0.0081], [1.2492, 3.4407]], rtol=1e-4, atol=1e-4
    )
    # t = 1: the factors are the row and column means of g**2: [18.5, 26.5] and [25, 20].
    vr, vc = np.array([18.5, 26.5]), np.array([25.0, 20.0])
    np.testing.assert_allclose(opt.get_slot(var, "vr"), vr, **EXACT[dtype])
    np.testing.assert_allclose(opt.get_slot(var, "vc"), vc, **EXACT[dtype])
    v_hat = np.outer(vr / 22.5, vc)
    u = g / np.sqrt(v_hat)
    u = u / max(1.0, math.sqrt(np.mean(u * u)))  # RMS(u) = 1.009: clipped
    expected = np.array([[1.0, 2.0], [3.0, 4.0]]) - 0.5 * math.sqrt(7.5) * u
    np.testing.assert_allclose(var.value, expected, **EXACT[dtype])
    assert opt.get_slot_names() == ["vc", "vr"] and opt.get_slot(var, "v") is None


GOLDEN_ADAFACTOR = dict(
    learning_rate=0.5,
    beta_2_decay=-0.65,
    epsilon_1=1e-15,
    epsilon_2=1e-4,
    clip_threshold=0.9,
    relative_step=False,
)
# fmt: off
ADAFACTOR_GOLDEN = np.array([
    [0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55, 0.55],
    [0.3031, 0.3026, 0.3025, 0.3024, 0.3024, 0.3024, 0.3024, 0.3024, 0.3024, 0.3024],
    [0.1671, 0.1665, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663, 0.1663],
    [0.0923, 0.0916, 0.0915, 0.0914, 0.0914, 0.0914, 0.0914, 0.0914, 0.0914, 0.0914],
    [0.0554, 0.0548, 0.0546, 0.0546, 0.0546, 0.0546, 0.0546, 0.0545, 0.0545, 0.0545],
])
# fmt: on


@dtypes
def test_adafactor_keras_golden(graph, dtype):
    opt = AdafactorOptimizer(**GOLDEN_ADAFACTOR)
    _, values = _run(opt, np.ones(10), _keras_golden_grads(), dtype)
    np.testing.assert_allclose(values, ADAFACTOR_GOLDEN, rtol=5e-4, atol=5e-4)
    # Call 1: u = 0.01 / sqrt(1e-4 + 1e-15) ~ 1 is clipped to 0.9, the step is 0.5 * 0.9.
    np.testing.assert_allclose(values[0], 0.55, **EXACT[dtype])
    by_hand = _adafactor_by_hand(
        np.ones(10), _keras_golden_grads(), lambda t: min(0.5, 1 / math.sqrt(t)),
        -0.65, 1e-15, 1e-4, 0.9,
    )  # fmt: skip
    np.testing.assert_allclose(values, by_hand, **EXACT[dtype])
    assert int(opt._get_non_slot_variable("step")) == 5


def test_adafactor_relative_step_changes_nothing_as_in_keras(graph):
    """Keras 3 caps rho at 1/sqrt(t) whatever relative_step says; an uncapped rho differs."""
    runs = []
    for relative_step in (True, False):
        opt = AdafactorOptimizer(**{**GOLDEN_ADAFACTOR, "relative_step": relative_step})
        runs.append(_run(opt, np.ones(10), _keras_golden_grads(), np.float64)[1])
    np.testing.assert_array_equal(runs[0], runs[1])
    uncapped = _adafactor_by_hand(
        np.ones(10), _keras_golden_grads(), lambda t: 0.5, -0.65, 1e-15, 1e-4, 0.9
    )
    np.testing.assert_allclose(uncapped[3], runs[0][3], rtol=1e-12)  # rho = 0.5 up to t = 4
    np.testing.assert_allclose(uncapped[4][0], 0.0511, atol=1e-4)  # Keras' literal is 0.0554
    assert abs(runs[0][4][0] - uncapped[4][0]) > 4e-3


@pytest.mark.parametrize("clip,scale", [(2.0, 1.0), (0.5, 0.5)], ids=["unclipped", "clipped"])
def test_adafactor_update_clipping(graph, clip, scale):
    """t = 1: u = sign(g) has RMS 1; it is scaled by min(1, clip_threshold)."""
    opt = AdafactorOptimizer(learning_rate=1.0, epsilon_2=0.0, clip_threshold=clip)
    var, _ = _run(opt, [3.0, -4.0], [[2.0, -0.5]], np.float64)
    rms_w = math.sqrt((9 + 16) / 2)
    np.testing.assert_allclose(var.value, [3 - rms_w * scale, -4 + rms_w * scale], rtol=1e-12)


def test_adafactor_slots_shapes_and_memory(graph):
    shapes = {"a_matrix": (30, 40), "b_tensor": (2, 3, 4), "c_vector": (5,), "d_scalar": ()}
    variables = {n: optim.Variable(np.ones(s, np.float32), name=n) for n, s in shapes.items()}
    opt = AdafactorOptimizer()
    for _ in range(3):
        opt.apply_gradients(
            [(np.full(s, 0.5, np.float32), variables[n]) for n, s in shapes.items()]
        )
    assert opt.get_slot_names() == ["v", "vc", "vr"]
    matrix, tensor = variables["a_matrix"], variables["b_tensor"]
    assert opt.get_slot(matrix, "vr").shape == (30,) and opt.get_slot(matrix, "vc").shape == (40,)
    assert opt.get_slot(tensor, "vr").shape == (2, 3) and opt.get_slot(tensor, "vc").shape == (2, 4)
    assert opt.get_slot(matrix, "v") is None and opt.get_slot(variables["c_vector"], "vr") is None
    assert opt.get_slot(variables["c_vector"], "v").shape == (5,)
    assert opt.get_slot(variables["d_scalar"], "v").shape == ()
    # The factors of the 30 x 40 matrix hold 70 numbers (Keras 3 also keeps a 1200-number v).
    state = opt.variables()
    assert sum(s.size for s in state) == 30 + 40 + 2 * 3 + 2 * 4 + 5 + 1 + 1
    assert all(s.dtype == np.float32 for s in state)
    step = opt._get_non_slot_variable("step")
    assert step.shape == () and step.dtype == np.float32 and step == 3


def test_adafactor_has_no_sparse_update(graph):
    var = optim.Variable(np.ones((3, 2)), name="emb")
    opt = AdafactorOptimizer()
    with pytest.raises(NotImplementedError, match="does not implement sparse updates.*'emb'"):
        opt.apply_gradients([(optim.IndexedSlices(np.ones((1, 2)), [1], (3, 2)), var)])
    np.testing.assert_array_equal(var.value, np.ones((3, 2)))
    assert opt.variables() == []


# Adafactor runs through the battery; this adds the oracle check on rank-3 and scalar variables.

factored = pytest.mark.parametrize(
    "case", [c for c in CASES if not c.slots_shaped_like_variable], ids=str
)
FACTORED_SHAPES = [(3, 4), (5,), (2, 3, 4), ()]


@factored
@dtypes
def test_factored_matches_oracle(graph, case, dtype):
    rng = np.random.default_rng(42)
    inits = [rng.normal(size=s).astype(dtype) for s in FACTORED_SHAPES]
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    opt = case.make()
    ref, states = [x.copy() for x in inits], [{} for _ in FACTORED_SHAPES]
    for t in range(1, 26):
        grads = [rng.normal(size=s).astype(dtype) for s in FACTORED_SHAPES]
        opt.apply_gradients(zip(grads, variables))
        for i, g in enumerate(grads):
            ref[i], states[i] = case.oracle(ref[i], g.copy(), states[i], **case.hyper)
        for var, expected, state in zip(variables, ref, states):
            tol = {"rtol": battery.RTOL[dtype], "atol": battery.ATOL[dtype]}
            np.testing.assert_allclose(var.value, expected, **tol, err_msg=f"{var.name} {t}")
            slots = sorted(k for k in state if not k.startswith("_"))
            assert [s for s in case.slots if opt.get_slot(var, s) is not None] == slots
            for slot in slots:
                np.testing.assert_allclose(
                    opt.get_slot(var, slot), state[slot], **tol, err_msg=f"{var.name}/{slot} {t}"
                )
    assert int(opt._get_non_slot_variable("step")) == 25


# -- RAdam ---------------------------------------------------------------------------------

W0, G1, G2 = [1.0, -2.0], [0.5, -1.0], [1.5, 0.25]


@dtypes
def test_radam_two_steps_by_hand(graph, dtype):
    """rho_1 = 1 and rho_2 = 1.9995 are <= 5: both steps are lr * m_hat, no adaptation."""
    opt = RAdamOptimizer(learning_rate=0.1)
    var, values = _run(opt, W0, [G1, G2], dtype)
    # Step 1: m = 0.1 g1, m_hat = m / (1 - 0.9) = g1.
    w1 = [1.0 - 0.1 * 0.5, -2.0 + 0.1 * 1.0]
    # Step 2: m = 0.9 * 0.1 g1 + 0.1 g2, m_hat = m / (1 - 0.81).
    m2 = [0.09 * 0.5 + 0.1 * 1.5, 0.09 * -1.0 + 0.1 * 0.25]
    w2 = [w1[0] - 0.1 * m2[0] / 0.19, w1[1] - 0.1 * m2[1] / 0.19]
    np.testing.assert_allclose(values[0], w1, **EXACT[dtype])
    np.testing.assert_allclose(values[1], w2, **EXACT[dtype])
    np.testing.assert_allclose(values[1], [0.8473684210526316, -1.8657894736842105], **EXACT[dtype])
    np.testing.assert_allclose(opt.get_slot(var, "m"), m2, **EXACT[dtype])
    v2 = [0.999 * 0.001 * 0.25 + 0.001 * 2.25, 0.999 * 0.001 * 1.0 + 0.001 * 0.0625]
    np.testing.assert_allclose(opt.get_slot(var, "v"), v2, **EXACT[dtype])
    assert opt.get_slot_names() == ["m", "v"] and int(opt._get_non_slot_variable("step")) == 2


@dtypes
def test_radam_rectified_steps_constant_gradient(graph, dtype):
    """With a constant g and epsilon 0, m_hat = g and sqrt(v_hat) = |g|, so the rectified step
    is lr * r_t * sign(g), and steps 1..5 are lr * g (rho_t <= 5 for t <= 5, beta2 = 0.999)."""
    g, lr = np.array([0.5, -2.0]), 0.01
    opt = RAdamOptimizer(learning_rate=lr, epsilon=0.0)
    _, values = _run(opt, [1.0, 1.0], [g] * 10, dtype)
    rho_inf = 2 / (1 - 0.999) - 1
    w = np.array([1.0, 1.0])
    for t in range(1, 11):
        rho = rho_inf - 2 * t * 0.999**t / (1 - 0.999**t)
        assert (rho > 5) == (t >= 6)
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            w = w - lr * r * np.sign(g)
        else:
            w = w - lr * g
        np.testing.assert_allclose(values[t - 1], w, **EXACT[dtype], err_msg=f"t={t}")


def test_radam_epsilon_on_sqrt_v_as_torch_not_on_v_hat(graph):
    """t = 6, constant g = 1e-8, epsilon = 1e-8: the step uses sqrt(v) + eps (torch), not
    sqrt(v_hat) + eps (optax, TF-Addons)."""
    g, lr, eps, b2, t = 1e-8, 1.0, 1e-8, 0.999, 6
    opt = RAdamOptimizer(learning_rate=lr, epsilon=eps)
    _, values = _run(opt, [0.0], [[g]] * t, np.float64)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    sqrt_v_hat = g  # constant g: v_hat = g**2
    sqrt_v = g * math.sqrt(1 - b2**t)
    torch_step = lr * r * g * math.sqrt(1 - b2**t) / (sqrt_v + eps)
    optax_step = lr * r * g / (sqrt_v_hat + eps)
    step = values[4][0] - values[5][0]
    np.testing.assert_allclose(step, torch_step, rtol=1e-12)
    assert abs(step - optax_step) > 0.1 * optax_step  # 0.072 r vs 0.5 r


def test_radam_sparse_equals_dense(graph):
    """As TF1 Adam's sparse rule: the moments of every row decay and every row moves."""
    a, b = optim.Variable(np.ones((4, 2)), name="a"), optim.Variable(np.ones((4, 2)), name="b")
    sparse_opt, dense_opt = RAdamOptimizer(0.1), RAdamOptimizer(0.1)
    for k in range(8):  # through the first rectified steps (t >= 6)
        g = optim.IndexedSlices(np.full((2, 2), 0.1 * (k + 1)), [1, 2] if k == 0 else [2, 0])
        sparse_opt.apply_gradients([(g, a)])
        dense_opt.apply_gradients([(g.to_dense((4, 2)), b)])
        if k == 0:
            row1 = a.numpy()[1]
    np.testing.assert_array_equal(a.value, b.value)
    assert np.all(a.value[1] < row1)  # untouched since step 1, moved by its momentum
    np.testing.assert_array_equal(a.value[3], [1.0, 1.0])  # never touched: zero moments


def test_radam_validation_messages():
    with pytest.raises(ValueError, match=r"^`beta1` must be in \[0, 1\), got 1\.0\.$"):
        RAdamOptimizer(beta1=1.0)
    with pytest.raises(ValueError, match=r"^`beta2` must be in \[0, 1\), got -0\.5\.$"):
        RAdamOptimizer(beta2=-0.5)
    with pytest.raises(ValueError, match=r"^`epsilon` must be >= 0, got -1e-08\.$"):
        RAdamOptimizer(epsilon=-1e-8)


@pytest.mark.parametrize(
    "hyper", [{}, {"beta1": 0.5, "beta2": 0.9, "epsilon": 0.1}], ids=["defaults", "beta2_0.9"]
)
@dtypes
def test_radam_matches_torch(graph, dtype, hyper):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x0 = rng.normal(size=(3, 4)).astype(dtype)
    var = optim.Variable(x0.copy())
    opt = RAdamOptimizer(0.01, **hyper)
    p = torch.tensor(x0.copy(), requires_grad=True)
    reference = torch.optim.RAdam(
        [p],
        lr=0.01,
        betas=(hyper.get("beta1", 0.9), hyper.get("beta2", 0.999)),
        eps=hyper.get("epsilon", 1e-8),
    )
    # Only rounding differs (torch's lerp uses a fused multiply-add): scale-relative tolerances.
    tol = {"rtol": {np.float32: 1e-6, np.float64: 1e-12}[dtype]}
    tol["atol"] = tol["rtol"] / 10
    for t in range(30):
        g = rng.normal(size=(3, 4)).astype(dtype)
        opt.apply_gradients([(g, var)])
        p.grad = torch.tensor(g)
        reference.step()
        np.testing.assert_allclose(var.value, p.detach().numpy(), **tol, err_msg=f"{t}")
    state = reference.state[p]
    np.testing.assert_allclose(opt.get_slot(var, "m"), state["exp_avg"].numpy(), **tol)
    np.testing.assert_allclose(opt.get_slot(var, "v"), state["exp_avg_sq"].numpy(), **tol)


# -- LAMB ----------------------------------------------------------------------------------


def _norm(x):
    return math.sqrt(sum(xi * xi for xi in x))


@dtypes
def test_lamb_two_steps_by_hand(graph, dtype):
    lr, wd, eps = 0.1, 0.1, 1e-6
    opt = LAMBOptimizer(learning_rate=lr, weight_decay=wd)
    var, values = _run(opt, W0, [G1, G2], dtype)
    # Step 1: m_hat = g1 and v_hat = g1**2, so the Adam direction is g1 / (|g1| + eps).
    u1 = [G1[i] / (abs(G1[i]) + eps) + wd * W0[i] for i in range(2)]
    ratio1 = _norm(W0) / _norm(u1)
    w1 = [W0[i] - lr * ratio1 * u1[i] for i in range(2)]
    # Step 2: m = 0.09 g1 + 0.1 g2 over 1 - 0.9**2; v = 0.999e-3 g1**2 + 1e-3 g2**2 over
    # 1 - 0.999**2.
    m_hat = [(0.09 * G1[i] + 0.1 * G2[i]) / 0.19 for i in range(2)]
    v_hat = [(0.000999 * G1[i] ** 2 + 0.001 * G2[i] ** 2) / 0.001999 for i in range(2)]
    u2 = [m_hat[i] / (math.sqrt(v_hat[i]) + eps) + wd * w1[i] for i in range(2)]
    ratio2 = _norm(w1) / _norm(u2)
    w2 = [w1[i] - lr * ratio2 * u2[i] for i in range(2)]
    np.testing.assert_allclose(values[0], w1, **EXACT[dtype])
    np.testing.assert_allclose(values[1], w2, **EXACT[dtype])
    np.testing.assert_allclose(values[1], [0.6794667856641696, -1.724822460451273], **EXACT[dtype])
    assert opt.get_slot_names() == ["m", "v"] and int(opt._get_non_slot_variable("step")) == 2


@dtypes
def test_lamb_keras_goldens(graph, dtype):
    """Keras 3 ``Lamb`` (lamb_test.py) is this rule with weight_decay 0 and epsilon 1e-7."""
    var, _ = _run(
        LAMBOptimizer(0.5, epsilon=1e-7), [1.0, 2.0, 3.0, 4.0], [[1.0, 6.0, 7.0, 2.0]], dtype
    )
    np.testing.assert_allclose(var.value, [-0.3693, 0.6306, 1.6306, 2.6306], rtol=1e-4, atol=1e-4)
    _, values = _run(LAMBOptimizer(epsilon=1e-7), np.ones(10), _keras_golden_grads(), dtype)
    golden = np.tile([[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))
    np.testing.assert_allclose(values, golden, rtol=5e-4, atol=5e-4)


def test_lamb_trust_ratio_is_one_for_zero_norms(graph):
    opt = LAMBOptimizer(learning_rate=0.1)
    zero = optim.Variable(np.zeros(3), name="zero")  # ||w|| = 0: the plain Adam direction
    still = optim.Variable(np.array([1.0, -2.0]), name="still")  # ||u|| = 0: no step, no NaN
    g = np.array([1.0, -2.0, 0.5])
    opt.apply_gradients([(g, zero), (np.zeros(2), still)])
    np.testing.assert_allclose(zero.value, -0.1 * g / (np.abs(g) + 1e-6), rtol=1e-15)
    np.testing.assert_array_equal(still.value, [1.0, -2.0])


def test_lamb_weight_decay_inside_trust_ratio_unlike_keras(graph):
    """Zero gradient: u = wd * w, ratio = 1 / wd, so w shrinks by (1 - lr) whatever wd is.
    Keras 3 decays outside the ratio, ``w -= lr * wd * w``: (1 - lr * wd)."""
    for wd in (0.01, 0.5):
        var = optim.Variable(np.array([3.0, 4.0]))
        LAMBOptimizer(learning_rate=0.1, weight_decay=wd).apply_gradients([(np.zeros(2), var)])
        np.testing.assert_allclose(var.value, [2.7, 3.6], rtol=1e-14)
        assert not np.allclose(var.value, (1 - 0.1 * wd) * np.array([3.0, 4.0]))


def test_lamb_has_no_sparse_update(graph):
    var = optim.Variable(np.ones((3, 2)), name="emb")
    with pytest.raises(NotImplementedError, match="LAMBOptimizer does not implement sparse"):
        LAMBOptimizer().apply_gradients([(optim.IndexedSlices(np.ones((1, 2)), [1], (3, 2)), var)])
    np.testing.assert_array_equal(var.value, np.ones((3, 2)))


def test_lamb_validation_messages():
    with pytest.raises(ValueError, match=r"^`weight_decay` must be >= 0, got -0\.1\.$"):
        LAMBOptimizer(weight_decay=-0.1)
    with pytest.raises(ValueError, match=r"^`beta2` must be in \[0, 1\), got 1\.0\.$"):
        LAMBOptimizer(beta2=1.0)


# -- state shared by all variables ---------------------------------------------------------


@pytest.mark.parametrize(
    "cls", [AdafactorOptimizer, RAdamOptimizer, LAMBOptimizer], ids=lambda c: c.__name__
)
def test_step_counter_once_per_apply_in_first_variable_dtype(graph, cls):
    a = optim.Variable(np.ones(3, np.float32), name="a")
    b = optim.Variable(np.ones((2, 2)), name="b")  # float64
    opt = cls()
    for _ in range(4):
        opt.apply_gradients([(np.ones((2, 2)), b), (np.ones(3, np.float32), a)])
    opt.apply_gradients([(np.ones((2, 2)), b)])  # one variable only: still one step
    step = opt._get_non_slot_variable("step")
    assert step.dtype == np.float32 and step == 5  # colocated with "a", first by name
    assert a.dtype == np.float32 and b.dtype == np.float64
