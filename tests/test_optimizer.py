"""The Optimizer base class: TF1's rules, and TF's own test vectors for GD and Momentum.

Literal numbers come from TF's optimizer_test.py and momentum_test.py (reference section 6).
"""

import numpy as np
import pytest

import optim
import optim.numpy as onp
from tests import reference

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-6, np.float64: 1e-12}


def close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype])


def two_vars(dtype, v0=(1.0, 2.0), v1=(3.0, 4.0)):
    return (
        optim.Variable(np.array(v0, dtype), name="var0"),
        optim.Variable(np.array(v1, dtype), name="var1"),
    )


# -- optimizer_test.py --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_basic(graph, dtype):
    var0, var1 = two_vars(dtype)
    step = optim.train.get_or_create_global_step()
    opt = optim.train.GradientDescentOptimizer(3.0)
    opt.minimize(lambda: onp.sum(5 * var0.value + 3 * var1.value), step, [var0, var1])
    close(var0.value, [-14.0, -13.0], dtype)
    close(var1.value, [-6.0, -5.0], dtype)
    assert int(step.value) == 1
    assert var0.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_precomputed_gradient(graph, dtype):
    var0, var1 = two_vars(dtype)
    opt = optim.train.GradientDescentOptimizer(3.0)
    grads_and_vars = opt.compute_gradients(
        lambda: 5 * var0.value + 3 * var1.value,
        [var0, var1],
        grad_loss=np.array([42.0, -42.0], dtype),
    )
    opt.apply_gradients(grads_and_vars)
    close(var0.value, [1 - 3 * 5 * 42, 2 + 3 * 5 * 42], dtype)
    close(var1.value, [3 - 3 * 3 * 42, 4 + 3 * 3 * 42], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_constraint(graph, dtype):
    var0 = optim.Variable(np.array([1.0, 2.0], dtype), constraint=lambda x: np.clip(x, -0.1, 0.0))
    var1 = optim.Variable(np.array([3.0, 4.0], dtype), constraint=lambda x: np.clip(x, 0.0, 1.0))
    opt = optim.train.GradientDescentOptimizer(3.0)
    opt.minimize(lambda: onp.sum(5 * var0.value + 3 * var1.value), var_list=[var0, var1])
    close(var0.value, [-0.1, -0.1], dtype)
    close(var1.value, [0.0, 0.0], dtype)


def test_tf_no_variables(graph):
    opt = optim.train.GradientDescentOptimizer(3.0)
    with pytest.raises(ValueError, match="No variables to optimize."):
        opt.minimize(lambda: onp.float64(5.0), var_list=[])
    with pytest.raises(ValueError, match="No variables to optimize."):
        opt.compute_gradients(lambda: onp.float64(5.0))  # the fresh graph has none


def test_tf_no_gradients(graph):
    var0, var1 = two_vars(np.float64)
    opt = optim.train.GradientDescentOptimizer(3.0)
    with pytest.raises(ValueError, match=r"No gradients provided for any variable, .*\['var1'\]"):
        opt.minimize(lambda: onp.sum(5 * var0.value), var_list=[var1])
    np.testing.assert_array_equal(var1.value, [3.0, 4.0])


def test_tf_no_gradients_for_any_variable_apply(graph):
    var0, var1 = two_vars(np.float64)
    opt = optim.train.GradientDescentOptimizer(3.0)
    with pytest.raises(
        ValueError, match=r"No gradients provided for any variable: \['var0', 'var1'\]\."
    ):
        opt.apply_gradients([(None, var0), (None, var1)])


def test_apply_no_pairs(graph):
    with pytest.raises(ValueError, match="No variables provided."):
        optim.train.GradientDescentOptimizer(1.0).apply_gradients([])


# -- TF1 rules ---------------------------------------------------------------------------


def test_compute_gradients_order_and_none(graph):
    a = optim.Variable([1.0, 2.0], name="a")
    unused = optim.Variable([5.0], name="unused")
    b = optim.Variable(3.0, name="b")
    opt = optim.train.GradientDescentOptimizer(1.0)
    gv = opt.compute_gradients(lambda: onp.sum(a.value**2) * b.value, [b, unused, a])
    assert [v for _, v in gv] == [b, unused, a]
    np.testing.assert_allclose(gv[0][0], 5.0)
    assert gv[1][0] is None
    np.testing.assert_allclose(gv[2][0], [6.0, 12.0])


def test_zero_gradient_is_not_none(graph):
    a = optim.Variable([1.0, 2.0])
    ((g, _),) = optim.train.GradientDescentOptimizer(1.0).compute_gradients(
        lambda: onp.sum(a.value * 0.0), [a]
    )
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_var_list_none_means_all_trainable(graph):
    a = optim.Variable(1.0, name="a")
    optim.Variable(2.0, name="frozen", trainable=False)
    b = optim.Variable(3.0, name="b")
    gv = optim.train.GradientDescentOptimizer(1.0).compute_gradients(lambda: a.value * b.value)
    assert [v for _, v in gv] == [a, b]


def test_nested_var_list_and_single_variable(graph):
    a, b, c = optim.Variable(1.0), optim.Variable(2.0), optim.Variable(3.0)
    opt = optim.train.GradientDescentOptimizer(1.0)
    gv = opt.compute_gradients(lambda: a.value + b.value + c.value, [a, (b, [c])])
    assert [v for _, v in gv] == [a, b, c]
    assert [v for _, v in opt.compute_gradients(lambda: a.value * 2, a)] == [a]


def test_apply_accepts_zip_and_skips_none(graph):
    a, b = optim.Variable([1.0]), optim.Variable([2.0])
    opt = optim.train.GradientDescentOptimizer(1.0)
    opt.apply_gradients(zip([np.array([0.5]), None], [a, b]))
    np.testing.assert_array_equal(a.value, [0.5])
    np.testing.assert_array_equal(b.value, [2.0])


def test_global_step_increments_once_after_every_update(graph):
    a, b = optim.Variable([1.0]), optim.Variable([2.0])
    step = optim.train.get_or_create_global_step()
    seen = []

    class Recording(optim.train.GradientDescentOptimizer):
        def _apply_dense(self, grad, var):
            seen.append(int(step.value))
            super()._apply_dense(grad, var)

        def _finish(self, update_ops, name_scope):
            seen.append(("finish", int(step.value)))

    opt = Recording(0.1)
    opt.apply_gradients([(np.ones(1), a), (np.ones(1), b)], global_step=step)
    opt.apply_gradients([(np.ones(1), a)], global_step=step)
    assert seen == [0, 0, ("finish", 0), 1, ("finish", 1)]
    assert int(step.value) == 2
    opt.apply_gradients([(np.ones(1), a)])  # without global_step it stays
    assert int(step.value) == 2


def test_minimize_returns_loss_of_the_same_forward_pass(graph):
    w = optim.Variable([1.0, 2.0])
    calls = []

    def loss():
        calls.append(1)
        return onp.sum(w.value**2)

    value = optim.train.GradientDescentOptimizer(0.1).minimize(loss)
    assert len(calls) == 1
    assert value == 5.0
    np.testing.assert_allclose(w.value, [0.8, 1.6])


@pytest.mark.parametrize("dtype", DTYPES)
def test_minimize_equals_compute_plus_apply(graph, dtype):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 4)).astype(dtype)
    y = rng.normal(size=5).astype(dtype)

    def make():
        return optim.Variable(rng_w.copy()), optim.Variable(rng_b.copy())

    rng_w, rng_b = rng.normal(size=4).astype(dtype), np.asarray(0.3, dtype)
    w1, b1 = make()
    w2, b2 = make()
    opt1 = optim.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True)
    opt2 = optim.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True)
    for _ in range(5):
        opt1.minimize(lambda: onp.sum(onp.tanh(A @ w1.value + b1.value - y) ** 2), None, [w1, b1])
        gv = opt2.compute_gradients(
            lambda: onp.sum(onp.tanh(A @ w2.value + b2.value - y) ** 2), [w2, b2]
        )
        opt2.apply_gradients(gv)
    assert np.array_equal(w1.value, w2.value) and np.array_equal(b1.value, b2.value)
    assert np.array_equal(opt1.get_slot(w1, "momentum"), opt2.get_slot(w2, "momentum"))


def test_hyperparameter_callable_evaluated_once_per_apply(graph):
    w = optim.Variable([1.0, 2.0])
    v = optim.Variable([3.0])
    calls = []

    def lr():
        calls.append(1)
        return 0.5

    opt = optim.train.GradientDescentOptimizer(lr)
    assert calls == []
    opt.apply_gradients([(np.ones(2), w), (np.ones(1), v)])
    assert len(calls) == 1
    np.testing.assert_array_equal(w.value, [0.5, 1.5])


def test_learning_rate_schedule_through_global_step(graph):
    w = optim.Variable([0.0])
    step = optim.train.get_or_create_global_step()
    opt = optim.train.GradientDescentOptimizer(lambda: 1.0 / (1 + int(step.value)))
    for _ in range(3):
        opt.apply_gradients([(np.ones(1), w)], global_step=step)
    np.testing.assert_allclose(w.value, [-(1 + 1 / 2 + 1 / 3)], rtol=1e-15)


def test_slots_api(graph):
    a = optim.Variable(np.zeros((2, 3), np.float32), name="a")
    b = optim.Variable(np.zeros(2), name="b")
    opt = optim.train.MomentumOptimizer(0.1, 0.9)
    assert opt.get_slot_names() == [] and opt.variables() == []
    assert opt.get_slot(a, "momentum") is None
    opt.apply_gradients([(np.ones((2, 3), np.float32), a), (np.ones(2), b)])
    slot = opt.get_slot(a, "momentum")
    assert slot.shape == (2, 3) and slot.dtype == np.float32
    assert opt.get_slot_names() == ["momentum"]
    assert opt.get_slot(a, "nonexistent") is None
    assert len(opt.variables()) == 2
    assert opt.variables()[0] is slot  # sorted by name: "a/momentum" < "b/momentum"
    opt.apply_gradients([(np.ones((2, 3), np.float32), a)])
    assert opt.get_slot(a, "momentum") is slot  # created once, updated in place


def test_optimizer_name_required():
    with pytest.raises(ValueError, match="Must specify the optimizer name"):
        optim.train.GradientDescentOptimizer(0.1, name="")
    assert optim.train.MomentumOptimizer(0.1, 0.9).get_name() == "Momentum"


def test_gate_gradients_validated(graph):
    w = optim.Variable(1.0)
    opt = optim.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="gate_gradients must be one of"):
        opt.compute_gradients(lambda: w.value, gate_gradients=5)
    opt.compute_gradients(lambda: w.value, gate_gradients=optim.Optimizer.GATE_GRAPH)


def test_gradients_not_mutated(graph):
    w = optim.Variable(np.ones(3))
    g = np.full(3, 0.5)
    opt = optim.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True)
    for _ in range(3):
        opt.apply_gradients([(g, w)])
    np.testing.assert_array_equal(g, np.full(3, 0.5))


# -- GD and Momentum: TF test vectors ------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_gradient_descent_basic(graph, dtype):
    var0, var1 = two_vars(dtype)
    opt = optim.train.GradientDescentOptimizer(3.0)
    opt.apply_gradients(
        zip([np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)], [var0, var1])
    )
    close(var0.value, [1.0 - 3.0 * 0.1, 2.0 - 3.0 * 0.1], dtype)
    close(var1.value, [3.0 - 3.0 * 0.01, 4.0 - 3.0 * 0.01], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_momentum_basic(graph, dtype):
    var0, var1 = two_vars(dtype)
    grads = [np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)]
    opt = optim.train.MomentumOptimizer(2.0, 0.9)
    opt.apply_gradients(zip(grads, [var0, var1]))
    close(opt.get_slot(var0, "momentum"), [0.1, 0.1], dtype)
    close(opt.get_slot(var1, "momentum"), [0.01, 0.01], dtype)
    close(var0.value, [0.8, 1.8], dtype)
    close(var1.value, [2.98, 3.98], dtype)
    opt.apply_gradients(zip(grads, [var0, var1]))
    close(opt.get_slot(var0, "momentum"), [0.19, 0.19], dtype)
    close(opt.get_slot(var1, "momentum"), [0.019, 0.019], dtype)
    close(var0.value, [0.42, 1.42], dtype)
    close(var1.value, [2.942, 3.942], dtype)


def _nesterov_reference(var, accum, g, lr, mu):
    # TF momentum_test.py's form: algebraically the kernel, written step by step.
    var = var + accum * lr * mu
    accum = accum * mu + g
    var = var - lr * accum
    var = var - accum * lr * mu
    return var, accum


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_nesterov_momentum(graph, dtype):
    var0, var1 = two_vars(dtype)
    ref0, ref1 = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    acc0, acc1 = np.zeros(2), np.zeros(2)
    opt = optim.train.MomentumOptimizer(2.0, 0.9, use_nesterov=True)
    for t in range(4):
        g0, g1 = 10 * ref0, np.full(2, 3.0)  # loss 5*var0^2 + 3*var1
        ref0, acc0 = _nesterov_reference(ref0, acc0, g0, 2.0, 0.9)
        ref1, acc1 = _nesterov_reference(ref1, acc1, g1, 2.0, 0.9)
        opt.minimize(lambda: onp.sum(5 * var0.value**2 + 3 * var1.value), var_list=[var0, var1])
        if t == 0:
            close(var0.value, [-37.0, -74.0], dtype)
            close(var1.value, [-8.4, -7.4], dtype)
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(var0.value, ref0, rtol=rtol)
        np.testing.assert_allclose(var1.value, ref1, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_like_dist_belief_momentum(graph, dtype):
    # testLikeDistBeliefMom01: lr 0.1, momentum 0.1; the first three entries of two steps.
    g1 = np.array([0.00096264342, 0.17914793, 0.93945462], dtype)
    g2 = np.array([0.17075552, 0.88821375, 0.20873757], dtype)
    var = optim.Variable(np.zeros(3, dtype))
    opt = optim.train.MomentumOptimizer(0.1, 0.1)
    opt.apply_gradients([(g1, var)])
    close(var.value, -0.1 * g1.astype(np.float64), dtype)
    opt.apply_gradients([(g2, var)])
    # TF asserts 8-digit literals at its default tolerance (1e-6) ...
    np.testing.assert_allclose(var.value, [-0.017181443, -0.10852765, -0.12421377], rtol=1e-6)
    # ... and the closed form -0.11*g1 - 0.1*g2 holds to the dtype's precision.
    close(var.value, -0.11 * g1.astype(np.float64) - 0.1 * g2.astype(np.float64), dtype)


# -- against the independent oracle, 25 seeded steps ----------------------------------------

CASES = [
    (
        "gd",
        lambda: optim.train.GradientDescentOptimizer(0.1),
        reference.gradient_descent,
        {"learning_rate": 0.1},
    ),
    (
        "momentum",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9),
        reference.momentum,
        {"learning_rate": 0.1, "momentum": 0.9},
    ),
    (
        "nesterov",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        reference.momentum,
        {"learning_rate": 0.1, "momentum": 0.9, "use_nesterov": True},
    ),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_oracle_for_25_steps(graph, case, dtype):
    _, make, oracle, hyper = case
    rng = np.random.default_rng(42)
    shapes = [(3, 4), (5,)]
    inits = [rng.normal(size=s).astype(dtype) for s in shapes]
    variables = [optim.Variable(x) for x in inits]
    ref = [x.copy() for x in inits]
    states = [{} for _ in shapes]
    opt = make()
    for _ in range(25):
        grads = [rng.normal(size=s).astype(dtype) for s in shapes]
        opt.apply_gradients(zip(grads, variables))
        for i, g in enumerate(grads):
            ref[i], states[i] = oracle(ref[i], g, states[i], **hyper)
    for var, expected, state in zip(variables, ref, states):
        assert var.dtype == dtype
        # Same operations in the same order: identical to the last bit.
        np.testing.assert_array_equal(var.value, expected)
        for slot_name, slot_value in state.items():
            np.testing.assert_array_equal(opt.get_slot(var, slot_name), slot_value)


def test_learning_rate_can_be_changed_between_steps(graph):
    w = optim.Variable([1.0])
    opt = optim.train.MomentumOptimizer(0.5, 0.0)
    assert opt.learning_rate == 0.5 and opt.get_hyper("momentum") == 0.0
    opt.apply_gradients([(np.ones(1), w)])
    opt.learning_rate = 0.25
    opt.apply_gradients([(np.ones(1), w)])
    np.testing.assert_array_equal(w.value, [0.25])
    with pytest.raises(ValueError, match="`learning_rate` must be >= 0, got -1"):
        opt.learning_rate = -1
    assert opt.learning_rate == 0.25
    with pytest.raises(ValueError, match="`name` must be one of"):
        opt.set_hyper("beta9", 0.1)
