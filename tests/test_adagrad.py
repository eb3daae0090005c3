"""TF's own test vectors for Adagrad, AdagradDA, FTRL, ProximalAdagrad and ProximalGradientDescent.

Literal numbers come from TF's adagrad_test.py, adagrad_da_test.py, ftrl_test.py,
proximal_adagrad_test.py and proximal_gradient_descent_test.py (reference section 6). TF's
literals are float32 results printed to 6-8 digits, so they are asserted at TF's own tolerance
(``assertAllCloseAccordingToType``: 1e-6) in both dtypes; the float64 runs are in addition held
to 1e-12 against the independent oracle (tests/reference_adagrad.py), and exact literals to
1e-12 directly.
"""

import warnings

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim.algorithms.adagrad import AdagradOptimizer
from optim.algorithms.adagrad_da import AdagradDAOptimizer
from optim.algorithms.ftrl import FtrlOptimizer
from optim.algorithms.gradient_descent import GradientDescentOptimizer
from optim.algorithms.proximal import ProximalAdagradOptimizer, ProximalGradientDescentOptimizer
from tests import reference_adagrad as ref

DTYPES = [np.float32, np.float64]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
TF_TOL = 1e-6  # assertAllCloseAccordingToType for float32 and float64
EXACT = 1e-12

G0, G1 = [0.1, 0.2], [0.01, 0.02]  # the gradients of the FTRL/proximal/AdagradDA tests


def tf_close(actual, expected, tol=TF_TOL):
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def exact(actual, expected, dtype, tol=EXACT):
    """To the last digits in float64; to float32 rounding (TF's 1e-6) in float32."""
    tol = tol if dtype == np.float64 else TF_TOL
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def two_vars(dtype, v0, v1):
    return (
        optim.Variable(np.array(v0, dtype), name="var0"),
        optim.Variable(np.array(v1, dtype), name="var1"),
    )


def run_two(opt, dtype, v0, v1, g0, g1, steps, global_step=None):
    """TF's setup: two variables, constant gradients, ``steps`` applies of one update op."""
    var0, var1 = two_vars(dtype, v0, v1)
    grads = [np.array(g0, dtype), np.array(g1, dtype)]
    for _ in range(steps):
        opt.apply_gradients(zip(grads, [var0, var1]), global_step=global_step)
    return var0, var1


def run_sparse_two(opt, dtype, v0, v1, g0, g1, steps):
    """TF's sparse setup: [n, 1] variables, one gradient row each (row 0 for var0, 1 for var1)."""
    var0 = optim.Variable(np.array(v0, dtype).reshape(-1, 1), name="var0")
    var1 = optim.Variable(np.array(v1, dtype).reshape(-1, 1), name="var1")
    shape = var0.shape
    grads = [
        optim.IndexedSlices(np.array([[g0]], dtype), [0], shape),
        optim.IndexedSlices(np.array([[g1]], dtype), [1], shape),
    ]
    for _ in range(steps):
        opt.apply_gradients(zip(grads, [var0, var1]))
    return var0, var1


def oracle_run(oracle, w0, g, steps, **hyper):
    """The float64 oracle for one variable with a constant gradient."""
    w, state = np.array(w0, np.float64), {}
    for _ in range(steps):
        w, state = oracle(w, np.array(g, np.float64), state, **hyper)
    return w, state


def embedding_step(opt, dtype, sparse):
    """``testMinimizeSparseResourceVariable``: var0 = [[1, 2]], loss = (lookup(var0, [0]) @ x)²."""
    var0 = optim.Variable(np.array([[1.0, 2.0]], dtype), name="var0")
    x = np.array([[4.0], [5.0]], dtype)
    if sparse:
        pred = var0.value[0] @ x  # 14
        grad = optim.IndexedSlices((2 * pred * x.T).astype(dtype), [0], var0.shape)
        opt.apply_gradients([(grad, var0)])
    else:
        opt.minimize(lambda: anp.sum((var0.value[np.array([0])] @ x) ** 2), var_list=[var0])
    return var0


# == Adagrad (adagrad_test.py) ==================================================================


@dtypes
@pytest.mark.parametrize("schedule", [False, True], ids=["constant", "callable"])
def test_tf_adagrad_basic(graph, dtype, schedule):
    # testBasic / testTensorLearningRate / testSharing: lr 3.0, init 0.1, 3 steps.
    opt = AdagradOptimizer((lambda: 3.0) if schedule else 3.0, initial_accumulator_value=0.1)
    var0, var1 = run_two(opt, dtype, [1.0, 2.0], [3.0, 4.0], [0.1, 0.1], [0.01, 0.01], 3)
    tf_close(var0.value, [-1.6026098728179932, -0.6026098728179932])
    tf_close(var1.value, [2.715679168701172, 3.715679168701172])
    assert opt.get_slot_names() == ["accumulator"]
    assert opt.get_slot(var0, "accumulator").shape == var0.shape
    exact(opt.get_slot(var0, "accumulator"), [0.13, 0.13], dtype)
    exact(opt.get_slot(var1, "accumulator"), [0.1003, 0.1003], dtype)
    expected0 = oracle_run(ref.adagrad, [1.0, 2.0], [0.1, 0.1], 3, learning_rate=3.0)[0]
    exact(var0.value, expected0, dtype)
    moved1 = 3.0 * 0.01 * sum(1 / np.sqrt(0.1 + k * 1e-4) for k in (1, 2, 3))  # closed form
    exact(var1.value, [3.0 - moved1, 4.0 - moved1], dtype)


@dtypes
def test_tf_adagrad_sharing_two_applies_share_accumulators(graph, dtype):
    # testSharing: two update ops of one optimizer, mixed for 3 steps = one op for 3 steps.
    opt = AdagradOptimizer(3.0)
    var0, var1 = two_vars(dtype, [1.0, 2.0], [3.0, 4.0])
    grads = [np.array([0.1, 0.1], dtype), np.array([0.01, 0.01], dtype)]
    for name in ("update1", "update2", "update1"):
        opt.apply_gradients(zip(grads, [var0, var1]), name=name)
    tf_close(var0.value, [-1.6026098728179932, -0.6026098728179932])
    tf_close(var1.value, [2.715679168701172, 3.715679168701172])


@dtypes
def test_tf_adagrad_sparse_basic(graph, dtype):
    opt = AdagradOptimizer(3.0, initial_accumulator_value=0.1)
    var0, var1 = run_sparse_two(opt, dtype, [1.0, 2.0], [3.0, 4.0], 0.1, 0.01, 3)
    tf_close(var0.value, [[-1.6026098728179932], [2.0]])
    tf_close(var1.value, [[3.0], [3.715679168701172]])
    exact(opt.get_slot(var0, "accumulator"), [[0.13], [0.1]], dtype)
    exact(opt.get_slot(var1, "accumulator"), [[0.1], [0.1003]], dtype)


@dtypes
def test_tf_adagrad_sparse_repeated_indices(graph, dtype):
    # testSparseRepeatedIndices: [0.1, 0.1] at [1, 1] is [0.2] at [1], for 3 steps.
    repeated = optim.Variable(np.array([[1.0], [2.0]], dtype))
    aggregated = optim.Variable(np.array([[1.0], [2.0]], dtype))
    opt_r, opt_a = AdagradOptimizer(3.0), AdagradOptimizer(3.0)
    for _ in range(3):
        opt_r.apply_gradients(
            [(optim.IndexedSlices(np.array([[0.1], [0.1]], dtype), [1, 1], (2, 1)), repeated)]
        )
        opt_a.apply_gradients(
            [(optim.IndexedSlices(np.array([[0.2]], dtype), [1], (2, 1)), aggregated)]
        )
        np.testing.assert_array_equal(repeated.value, aggregated.value)
    np.testing.assert_array_equal(
        opt_r.get_slot(repeated, "accumulator"), opt_a.get_slot(aggregated, "accumulator")
    )


@dtypes
def test_tf_adagrad_sparse_repeated_indices_resource_variable(graph, dtype):
    # testSparseRepeatedIndicesResourceVariable: sum(lookup(v, [0, 0])) vs sum(2*lookup(v, [0])).
    var_repeated = optim.Variable(np.array([1.0, 2.0], dtype))
    var_aggregated = optim.Variable(np.array([1.0, 2.0], dtype))
    opt_r, opt_a = AdagradOptimizer(2.0), AdagradOptimizer(2.0)
    for _ in range(10):
        opt_r.apply_gradients(
            [(optim.IndexedSlices(np.ones(2, dtype), [0, 0], (2,)), var_repeated)]
        )
        opt_a.apply_gradients(
            [(optim.IndexedSlices(np.full(1, 2, dtype), [0], (2,)), var_aggregated)]
        )
    np.testing.assert_array_equal(var_repeated.value, var_aggregated.value)
    assert var_repeated.value[1] == 2.0


@dtypes
def test_tf_adagrad_sparse_stability(graph, dtype):
    # testSparseStability (TF runs it in float16): lr 1.0, init 0.1, one step on a [1, 6] var.
    w0 = [[0.00872496, -0.106952, 0.110467, 0.226505, -0.0147257, -0.0105945]]
    g = [[-5.91278e-05, 5.31673e-05, -2.5779e-06, 4.29153e-05, -8.4877e-05, -9.48906e-05]]
    var0 = optim.Variable(np.array(w0, dtype))
    opt = AdagradOptimizer(1.0, initial_accumulator_value=0.1)
    opt.apply_gradients([(optim.IndexedSlices(np.array(g, dtype), [0], (1, 6)), var0)])
    tf_close(opt.get_slot(var0, "accumulator"), [[0.1] * 6], tol=1e-7)
    tf_close(
        var0.value,
        [[0.00891194, -0.10712013, 0.11047515, 0.22636929, -0.0144573, -0.01029443]],
    )
    exact(var0.value, ref.adagrad(np.array(w0), np.array(g), {}, learning_rate=1.0)[0], dtype)


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_tf_adagrad_minimize_sparse_resource_variable(graph, dtype, sparse):
    var0 = embedding_step(AdagradOptimizer(1.0), dtype, sparse)
    np.testing.assert_allclose(var0.value, [[0.0, 1.0]], atol=0.01)
    exact(var0.value, [[1 - 112 / np.sqrt(0.1 + 112**2), 2 - 140 / np.sqrt(0.1 + 140**2)]], dtype)


def test_adagrad_validation():
    with pytest.raises(ValueError, match=r"`initial_accumulator_value` must be > 0, got 0.0\."):
        AdagradOptimizer(0.1, initial_accumulator_value=0.0)
    with pytest.raises(TypeError, match=r"`initial_accumulator_value` must be a float"):
        AdagradOptimizer(0.1, initial_accumulator_value=lambda: 0.1)  # not a schedule
    assert AdagradOptimizer(0.1).get_name() == "Adagrad"


@dtypes
def test_adagrad_epsilon_conventions(graph, dtype):
    """The note's epsilon conventions, one step from w = 1 with g = 0.1, lr = 3, init 0.1."""
    lr, g, acc = 3.0, 0.1, 0.1 + 0.1**2
    results = {}
    for eps in (None, 0.0, 0.1):
        var = optim.Variable(np.array([1.0], dtype))
        AdagradOptimizer(lr, epsilon=eps).apply_gradients([(np.array([g], dtype), var)])
        results[eps] = var.value[0]
    tf1 = 1 - lr * g / np.sqrt(acc)
    keras2 = 1 - lr * g / (np.sqrt(acc) + 0.1)  # TF2 ApplyAdagradV2, Keras 2
    keras3 = 1 - lr * g / np.sqrt(acc + 0.1)
    pytorch = 1 - lr * g / (np.sqrt(0.0 + g**2) + 1e-10)  # accumulator from 0, eps outside
    exact(results[None], tf1, dtype)
    exact(results[0.0], tf1, dtype)  # eps = 0 in the V2 kernel is TF1's rule
    exact(results[0.1], keras2, dtype)
    # After one step: TF1 0.095, Keras 2 (epsilon=0.1) 0.305, Keras 3 0.345.
    assert abs(keras2 - keras3) > 0.04 and abs(tf1 - keras2) > 0.1
    np.testing.assert_allclose(pytorch, 1 - lr, rtol=1e-8)  # PyTorch's first step is lr*sign(g)
    assert abs(tf1 - pytorch) > 2  # TF1's first step (0.9045) is a third of PyTorch's (3.0)


# == AdagradDA (adagrad_da_test.py) ============================================================

_DA_LITERALS = [
    # (l1, l2, var0, var1) after one step, T = 1
    (0.0, 0.0, [-0.904534, -1.603567], [-0.094821, -0.189358]),
    (0.001, 0.0, [-0.895489, -1.59555], [-0.085339, -0.17989]),
    (0.001, 2.0, [-0.046907, -0.093659], [-0.004275, -0.009023]),
]


@dtypes
@pytest.mark.parametrize("l1,l2,lit0,lit1", _DA_LITERALS, ids=["basic", "l1", "l1-l2"])
@pytest.mark.parametrize(
    "init", [([0.0, 0.0], [0.0, 0.0]), ([1.0, 2.0], [3.0, 4.0])], ids=["from-zeros", "from-1234"]
)
def test_tf_adagrad_da(graph, dtype, l1, l2, lit0, lit1, init):
    # doTestAdagradDAwithoutRegularizationBasic1 / testAdagradDAWithL1 / testAdagradDAWithL1_L2:
    # the initial var plays no part (dual averaging recomputes it).
    step = optim.train.get_or_create_global_step()
    opt = AdagradDAOptimizer(
        3.0,
        step,
        initial_gradient_squared_accumulator_value=0.1,
        l1_regularization_strength=l1,
        l2_regularization_strength=l2,
    )
    var0, var1 = run_two(opt, dtype, init[0], init[1], G0, G1, 1, global_step=step)
    assert int(step.value) == 1
    tf_close(var0.value, lit0)
    tf_close(var1.value, lit1)
    hyper = dict(learning_rate=3.0, l1_regularization_strength=l1, l2_regularization_strength=l2)
    exact(var0.value, oracle_run(ref.adagrad_da, init[0], G0, 1, **hyper)[0], dtype)
    assert opt.get_slot_names() == ["gradient_accumulator", "gradient_squared_accumulator"]
    exact(opt.get_slot(var0, "gradient_accumulator"), G0, dtype)
    exact(opt.get_slot(var0, "gradient_squared_accumulator"), [0.11, 0.14], dtype)


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_tf_adagrad_da_minimize_sparse_resource_variable(graph, dtype, sparse):
    step = optim.Variable(0, dtype=np.int64, trainable=False)
    var0 = embedding_step(AdagradDAOptimizer(1.0, step), dtype, sparse)
    np.testing.assert_allclose(var0.value, [[-1.0, -1.0]], rtol=0.01)
    exact(var0.value, [[-112 / np.sqrt(0.1 + 112**2), -140 / np.sqrt(0.1 + 140**2)]], dtype)


@dtypes
def test_adagrad_da_reads_global_step_once_per_apply(graph, dtype):
    """T = global_step + 1, read before the updates; T advances only if the step does."""
    hyper = dict(learning_rate=0.5, l1_regularization_strength=0.01, l2_regularization_strength=0.5)
    step = optim.Variable(0, dtype=np.int64, trainable=False)
    opt = AdagradDAOptimizer(global_step=step, **hyper)
    a = optim.Variable(np.zeros(3, dtype))
    b = optim.Variable(np.zeros(3, dtype))
    g = np.array([0.3, -0.2, 0.01], dtype)
    for _ in range(4):  # both variables of one apply see the same T
        opt.apply_gradients([(g, a), (g, b)], global_step=step)
        np.testing.assert_array_equal(a.value, b.value)
    exact(a.value, oracle_run(ref.adagrad_da, np.zeros(3), g, 4, **hyper)[0], dtype)
    # Without global_step the step (and T = 5) stays: the closed form with T = 5 after 5 sums.
    opt.apply_gradients([(g, a)])
    opt.apply_gradients([(g, a)])
    assert int(step.value) == 4
    ga, gga, T = 6 * g.astype(np.float64), 0.1 + 6 * g.astype(np.float64) ** 2, 5
    expected = (
        -np.sign(ga) * 0.5 * np.maximum(np.abs(ga) - 0.01 * T, 0) / (0.5 * T * 0.5 + np.sqrt(gga))
    )
    exact(a.value, expected, dtype)


@dtypes
def test_adagrad_da_sparse_untouched_rows_keep_older_t(graph, dtype):
    step = optim.Variable(0, dtype=np.int64, trainable=False)
    hyper = dict(learning_rate=1.0, l1_regularization_strength=0.02, l2_regularization_strength=1.0)
    opt = AdagradDAOptimizer(global_step=step, **hyper)
    var = optim.Variable(np.zeros((3, 2), dtype))
    g = np.array([[0.5, -0.25]], dtype)
    opt.apply_gradients([(optim.IndexedSlices(np.repeat(g, 2, 0), [0, 1], (3, 2)), var)], step)
    row1_at_t1 = var.numpy()[1]
    opt.apply_gradients([(optim.IndexedSlices(g, [0], (3, 2)), var)], step)  # T = 2
    np.testing.assert_array_equal(var.value[1], row1_at_t1)  # still the T = 1 value
    np.testing.assert_array_equal(var.value[2], [0.0, 0.0])
    two_steps = oracle_run(ref.adagrad_da, np.zeros(2), g[0], 2, **hyper)[0]
    exact(var.value[0], two_steps, dtype)
    assert not np.allclose(row1_at_t1, two_steps)


def test_adagrad_da_validation(graph):
    step = optim.train.get_or_create_global_step()
    with pytest.raises(TypeError, match=r"`global_step` must be an integer scalar optim.Variable"):
        AdagradDAOptimizer(0.1, 0)
    with pytest.raises(TypeError, match=r"`global_step` must be an integer scalar optim.Variable"):
        AdagradDAOptimizer(0.1, optim.Variable(0.0))
    with pytest.raises(TypeError, match=r"`global_step` must be an integer scalar optim.Variable"):
        AdagradDAOptimizer(0.1, optim.Variable([0, 1], trainable=False))
    with pytest.raises(TypeError, match="global_step"):
        AdagradDAOptimizer(0.1)  # required, as in TF1
    name = "initial_gradient_squared_accumulator_value"
    with pytest.raises(ValueError, match=rf"`{name}` must be > 0, got -1.0\."):
        AdagradDAOptimizer(0.1, step, initial_gradient_squared_accumulator_value=-1.0)
    assert AdagradDAOptimizer(0.1, step).get_name() == "AdagradDA"


# == FTRL (ftrl_test.py) =======================================================================

_FTRL_LITERALS = [
    # (id, var0 init, var1 init, l1, l2, shrinkage, steps, var0, var1)
    ("without-regularization", [0, 0], [0, 0], 0, 0, 0, 3,
     [-2.60260963, -4.29698515], [-0.28432083, -0.56694895]),
    ("without-regularization2", [1, 2], [4, 3], 0, 0, 0, 3,
     [-2.55607247, -3.98729396], [-0.28232238, -0.56096673]),
    ("l1", [1, 2], [4, 3], 0.001, 0, 0, 10,
     [-7.66718769, -10.91273689], [-0.93460727, -1.86147261]),
    ("l1-l2", [1, 2], [4, 3], 0.001, 2.0, 0, 10,
     [-0.24059935, -0.46829352], [-0.02406147, -0.04830509]),
    ("l1-l2-l2shrinkage", [1, 2], [4, 3], 0.001, 2.0, 0.1, 10,
     [-0.22578995, -0.44345796], [-0.14378493, -0.13229476]),
]  # fmt: skip


def _ftrl_hyper(l1, l2, shrinkage):
    return dict(
        learning_rate=3.0,
        initial_accumulator_value=0.1,
        l1_regularization_strength=l1,
        l2_regularization_strength=l2,
        l2_shrinkage_regularization_strength=shrinkage,
    )


@dtypes
@pytest.mark.parametrize(
    "init0,init1,l1,l2,shrinkage,steps,lit0,lit1",
    [case[1:] for case in _FTRL_LITERALS],
    ids=[case[0] for case in _FTRL_LITERALS],
)
def test_tf_ftrl(graph, dtype, init0, init1, l1, l2, shrinkage, steps, lit0, lit1):
    hyper = _ftrl_hyper(l1, l2, shrinkage)
    opt = FtrlOptimizer(**hyper)
    var0, var1 = run_two(opt, dtype, init0, init1, G0, G1, steps)
    tf_close(var0.value, lit0)
    tf_close(var1.value, lit1)
    w, state = oracle_run(ref.ftrl, init0, G0, steps, **hyper)
    exact(var0.value, w, dtype)
    exact(opt.get_slot(var0, "accum"), state["accum"], dtype)
    exact(opt.get_slot(var0, "linear"), state["linear"], dtype)
    exact(opt.get_slot(var0, "accum"), 0.1 + steps * np.square(G0), dtype)  # raw g², always
    assert opt.get_slot_names() == ["accum", "linear"]


@dtypes
def test_tf_ftrl_l1_l2_l2shrinkage_sparse(graph, dtype):
    # testFtrlWithL1_L2_L2ShrinkageSparse: var0 [[1],[2]] g 0.1 at row 0, var1 [[4],[3]] g 0.02
    # at row 1; untouched rows keep their value (shrinkage only on active rows).
    opt = FtrlOptimizer(**_ftrl_hyper(0.001, 2.0, 0.1))
    var0, var1 = run_sparse_two(opt, dtype, [1.0, 2.0], [4.0, 3.0], 0.1, 0.02, 10)
    tf_close(var0.value, [[-0.22578995], [2.0]])
    tf_close(var1.value, [[4.0], [-0.13229476]])
    np.testing.assert_array_equal(opt.get_slot(var0, "accum")[1], np.array([0.1], dtype))
    np.testing.assert_array_equal(opt.get_slot(var0, "linear")[1], [0.0])


@dtypes
def test_tf_ftrl_l2_shrinkage_does_not_change_lr_schedule(graph, dtype):
    var0, var1 = two_vars(dtype, [1.0, 2.0], [1.0, 2.0])
    g = np.array([0.1, 0.2], dtype)
    opt0 = FtrlOptimizer(**_ftrl_hyper(0.001, 2.0, 0.1))
    opt1 = FtrlOptimizer(**_ftrl_hyper(0.001, 2.0, 0.0))
    for _ in range(10):
        opt0.apply_gradients([(g, var0)])
        opt1.apply_gradients([(g, var1)])
    assert np.all(var0.value**2 < var1.value**2)  # var0 is shrunk
    np.testing.assert_array_equal(opt0.get_slot(var0, "accum"), opt1.get_slot(var1, "accum"))


def test_ftrl_old_accumulator_rule_differs_as_the_note_says(graph):
    """Older TF accumulated (g + 2*s*w)²; its literals are not the current ones."""
    hyper = _ftrl_hyper(0.001, 2.0, 0.1)
    old0 = oracle_run(ref.ftrl_accumulating_shrinkage, [1, 2], G0, 10, **hyper)[0]
    old1 = oracle_run(ref.ftrl_accumulating_shrinkage, [4, 3], G1, 10, **hyper)[0]
    tf_close(old0, [-0.21931979, -0.40642976])
    tf_close(old1, [-0.0282721, -0.07188385])
    var0, var1 = run_two(FtrlOptimizer(**hyper), np.float64, [1, 2], [4, 3], G0, G1, 10)
    assert np.all(np.abs(var0.value - old0) > 5e-3)
    assert np.all(np.abs(var1.value - old1) > 5e-2)


_EQUIV = [
    # (id, FTRL learning_rate_power, the equivalent optimizer)
    ("adagrad", -0.5, lambda: AdagradOptimizer(3.0, initial_accumulator_value=0.1)),
    ("gradient-descent", -0.0, lambda: GradientDescentOptimizer(3.0)),
]


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("power,make", [e[1:] for e in _EQUIV], ids=[e[0] for e in _EQUIV])
def test_tf_ftrl_equivalences(graph, dtype, sparse, power, make):
    # testEquivAdagradwithoutRegularization, testEquivGradientDescentwithoutRegularization and
    # their sparse variants: 5 steps from zeros (sparse: 0.1 at row 0, 0.02 at row 1).
    ftrl = FtrlOptimizer(3.0, learning_rate_power=power, initial_accumulator_value=0.1)
    if sparse:
        vals = [run_sparse_two(o, dtype, [0, 0], [0, 0], 0.1, 0.02, 5) for o in (ftrl, make())]
    else:
        vals = [run_two(o, dtype, [0, 0], [0, 0], G0, G1, 5) for o in (ftrl, make())]
    (f0, f1), (e0, e1) = vals
    exact(f0.value, e0.value, dtype)
    exact(f1.value, e1.value, dtype)


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_tf_ftrl_minimize_sparse_resource_variable(graph, dtype, sparse):
    var0 = embedding_step(FtrlOptimizer(1.0), dtype, sparse)
    np.testing.assert_allclose(var0.value, [[0.0, 1.0]], atol=0.01)
    g = np.array([112.0, 140.0])
    expected = ref.ftrl(np.array([1.0, 2.0]), g, {}, learning_rate=1.0)[0]
    exact(var0.value[0], expected, dtype)


@dtypes
def test_ftrl_beta_is_folded_into_l2(graph, dtype):
    hyper = dict(learning_rate=0.5, l1_regularization_strength=0.01)
    with_beta = FtrlOptimizer(beta=0.3, l2_regularization_strength=0.2, **hyper)
    folded = FtrlOptimizer(l2_regularization_strength=0.2 + 0.3 / (2 * 0.5), **hyper)
    a, b = run_two(with_beta, dtype, [1, 2], [4, 3], G0, G1, 5)
    c, d = run_two(folded, dtype, [1, 2], [4, 3], G0, G1, 5)
    exact(a.value, c.value, dtype)
    exact(b.value, d.value, dtype)
    plain = FtrlOptimizer(l2_regularization_strength=0.2, **hyper)
    plain, _ = run_two(plain, dtype, [1, 2], [4, 3], G0, G1, 5)
    assert np.all(np.abs(plain.value - a.value) > 1e-3)


def test_ftrl_slot_op_names_do_not_rename_get_slot(graph):
    var = optim.Variable(np.ones(2), name="w")
    opt = FtrlOptimizer(0.1, accum_name="my_accum", linear_name="my_linear")
    opt.apply_gradients([(np.ones(2), var)])
    assert opt.get_slot_names() == ["accum", "linear"]
    assert opt.get_slot(var, "accum") is not None and opt.get_slot(var, "linear") is not None
    assert opt.get_name() == "Ftrl"


def test_ftrl_zero_accumulator_and_zero_gradient_gives_zero_not_nan(graph):
    # initial_accumulator_value=0 is allowed; a zero first gradient leaves quadratic = 0, and
    # TF's select (|linear| > l1 ? x/y : 0) returns 0 without evaluating 0/0.
    var = optim.Variable(np.array([0.0, 1.0]))
    opt = FtrlOptimizer(0.1, initial_accumulator_value=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.apply_gradients([(np.array([0.0, 0.0]), var)])
    np.testing.assert_array_equal(var.value, [0.0, 0.0])


@dtypes
def test_ftrl_learning_rate_power_pow_path_matches_oracle(graph, dtype):
    hyper = dict(learning_rate=0.7, learning_rate_power=-0.25, l1_regularization_strength=0.002)
    var0, _ = run_two(FtrlOptimizer(**hyper), dtype, [1, 2], [4, 3], G0, G1, 7)
    exact(var0.value, oracle_run(ref.ftrl, [1, 2], G0, 7, **hyper)[0], dtype)


def test_ftrl_validation():
    with pytest.raises(ValueError, match=r"`learning_rate` must be > 0, got 0.0\."):
        FtrlOptimizer(0.0)
    with pytest.raises(ValueError, match=r"`learning_rate_power` must be <= 0, got 0.1\."):
        FtrlOptimizer(0.1, learning_rate_power=0.1)
    with pytest.raises(ValueError, match=r"`initial_accumulator_value` must be >= 0, got -0.1\."):
        FtrlOptimizer(0.1, initial_accumulator_value=-0.1)
    FtrlOptimizer(0.1, initial_accumulator_value=0.0, learning_rate_power=0.0)  # both allowed


def _run_equiv(opt, dtype, sparse):
    """The applyOptimizer of proximal_*_test.py: var0 = [1, 2], var1 = [3, 4], 5 steps."""
    if sparse:
        return run_sparse_two(opt, dtype, [1, 2], [3, 4], 0.1, 0.02, 5)
    return run_two(opt, dtype, [1, 2], [3, 4], G0, G1, 5)


# == ProximalAdagrad (proximal_adagrad_test.py) ================================================

_PROX_ADAGRAD_LITERALS = [
    # (id, var0 init, var1 init, l1, l2, steps, var0, var1)
    ("without-regularization", [0, 0], [0, 0], 0, 0, 3,
     [-2.60260963, -4.29698515], [-0.28432083, -0.56694895]),
    ("without-regularization2", [1, 2], [4, 3], 0, 0, 3,
     [-1.60261, -2.296985], [3.715679, 2.433051]),
    ("l1", [1, 2], [4, 3], 0.001, 0, 10, [-6.663634, -9.190331], [2.959304, 1.029232]),
    ("l1-l2", [1, 2], [4, 3], 0.001, 2.0, 10, [-0.0495, -0.0995], [-0.0045, -0.0095]),
]  # fmt: skip


@dtypes
@pytest.mark.parametrize(
    "init0,init1,l1,l2,steps,lit0,lit1",
    [case[1:] for case in _PROX_ADAGRAD_LITERALS],
    ids=[case[0] for case in _PROX_ADAGRAD_LITERALS],
)
def test_tf_proximal_adagrad(graph, dtype, init0, init1, l1, l2, steps, lit0, lit1):
    hyper = dict(
        learning_rate=3.0,
        initial_accumulator_value=0.1,
        l1_regularization_strength=l1,
        l2_regularization_strength=l2,
    )
    opt = ProximalAdagradOptimizer(**hyper)
    var0, var1 = run_two(opt, dtype, init0, init1, G0, G1, steps)
    tf_close(var0.value, lit0)
    tf_close(var1.value, lit1)
    w, state = oracle_run(ref.proximal_adagrad, init0, G0, steps, **hyper)
    exact(var0.value, w, dtype)
    exact(opt.get_slot(var0, "accumulator"), state["accumulator"], dtype)
    # TF checks the optimizer's variables: two accumulators, var0's first.
    state_arrays = opt.variables()
    assert len(state_arrays) == 2 and state_arrays[0] is opt.get_slot(var0, "accumulator")
    assert opt.get_slot_names() == ["accumulator"]


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_tf_proximal_adagrad_equivalent_to_adagrad(graph, dtype, sparse):
    # testEquivAdagradwithoutRegularization / testEquivSparseAdagradwithoutRegularization.
    prox = ProximalAdagradOptimizer(3.0, initial_accumulator_value=0.1)
    ada = AdagradOptimizer(3.0, initial_accumulator_value=0.1)
    (p0, p1), (a0, a1) = (_run_equiv(o, dtype, sparse) for o in (prox, ada))
    exact(p0.value, a0.value, dtype)
    exact(p1.value, a1.value, dtype)


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_tf_proximal_adagrad_minimize_sparse_resource_variable(graph, dtype, sparse):
    var0 = embedding_step(ProximalAdagradOptimizer(1.0), dtype, sparse)
    np.testing.assert_allclose(var0.value, [[0.0, 1.0]], atol=0.01)
    exact(var0.value, [[1 - 112 / np.sqrt(0.1 + 112**2), 2 - 140 / np.sqrt(0.1 + 140**2)]], dtype)


@dtypes
def test_proximal_adagrad_sparse_l1_l2_touches_only_active_rows(graph, dtype):
    hyper = dict(
        learning_rate=3.0, l1_regularization_strength=0.001, l2_regularization_strength=2.0
    )
    opt = ProximalAdagradOptimizer(**hyper)
    var0, var1 = run_sparse_two(opt, dtype, [1.0, 2.0], [4.0, 3.0], 0.1, 0.02, 10)
    tf_close(var0.value[0], [-0.0495])  # the dense literal for the touched row
    np.testing.assert_array_equal(var0.value[1], [2.0])
    np.testing.assert_array_equal(var1.value[0], [4.0])
    exact(var1.value[1], oracle_run(ref.proximal_adagrad, [3.0], [0.02], 10, **hyper)[0], dtype)


def test_proximal_adagrad_validation():
    with pytest.raises(ValueError, match=r"`learning_rate` must be > 0, got 0.0\."):
        ProximalAdagradOptimizer(0.0)
    with pytest.raises(ValueError, match=r"`initial_accumulator_value` must be > 0, got 0.0\."):
        ProximalAdagradOptimizer(0.1, initial_accumulator_value=0.0)
    assert ProximalAdagradOptimizer(0.1).get_name() == "ProximalAdagrad"


# == ProximalGradientDescent (proximal_gradient_descent_test.py) ================================


@dtypes
def test_tf_proximal_gd_without_regularization(graph, dtype):
    opt = ProximalGradientDescentOptimizer(3.0)
    var0, var1 = run_two(opt, dtype, [0, 0], [0, 0], G0, G1, 3)
    exact(var0.value, [-0.9, -1.8], dtype)
    exact(var1.value, [-0.09, -0.18], dtype)
    assert opt.get_slot_names() == [] and opt.variables() == []


@dtypes
def test_tf_proximal_gd_without_regularization2(graph, dtype):
    var0, var1 = run_two(ProximalGradientDescentOptimizer(3.0), dtype, [1, 2], [4, 3], G0, G1, 3)
    exact(var0.value, [0.1, 0.2], dtype)
    exact(var1.value, [3.91, 2.82], dtype)


@dtypes
def test_tf_proximal_gd_with_l1_l2(graph, dtype):
    hyper = dict(
        learning_rate=3.0, l1_regularization_strength=0.001, l2_regularization_strength=2.0
    )
    var0, var1 = run_two(
        ProximalGradientDescentOptimizer(**hyper), dtype, [1, 2], [4, 3], G0, G1, 10
    )
    tf_close(var0.value, [-0.0495, -0.0995])
    tf_close(var1.value, [-0.0045, -0.0095])
    exact(var0.value, oracle_run(ref.proximal_gradient_descent, [1, 2], G0, 10, **hyper)[0], dtype)
    exact(var1.value, oracle_run(ref.proximal_gradient_descent, [4, 3], G1, 10, **hyper)[0], dtype)


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_tf_proximal_gd_equivalent_to_gradient_descent(graph, dtype, sparse):
    # testEquivGradientDescentwithoutRegularization and its sparse variant: dividing by
    # 1 + lr*0 is exact, so the results are bit for bit GD's.
    prox, gd = ProximalGradientDescentOptimizer(3.0), GradientDescentOptimizer(3.0)
    (p0, p1), (g0, g1) = (_run_equiv(o, dtype, sparse) for o in (prox, gd))
    np.testing.assert_array_equal(p0.value, g0.value)
    np.testing.assert_array_equal(p1.value, g1.value)


@dtypes
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_tf_proximal_gd_minimize_sparse_resource_variable(graph, dtype, sparse):
    var0 = embedding_step(ProximalGradientDescentOptimizer(1.0), dtype, sparse)
    exact(var0.value, [[-111.0, -138.0]], dtype)


@dtypes
def test_proximal_gd_l2_is_a_proximal_shrink_not_weight_decay(graph, dtype):
    """The note: ``var / (1 + lr*l2)`` after the step, not PyTorch's ``grad + l2*var``."""
    var = optim.Variable(np.array([1.0, -2.0], dtype))
    lr, l2 = 0.5, 1.0
    ProximalGradientDescentOptimizer(lr, l2_regularization_strength=l2).apply_gradients(
        [(np.zeros(2, dtype), var)]
    )
    proximal = np.array([1.0, -2.0]) / (1 + lr * l2)
    weight_decay = np.array([1.0, -2.0]) - lr * l2 * np.array([1.0, -2.0])
    exact(var.value, proximal, dtype)
    assert np.all(np.abs(var.value - weight_decay) > 0.1)


@dtypes
def test_proximal_gd_l1_zeroes_small_coordinates(graph, dtype):
    var = optim.Variable(np.array([0.05, -0.02, 1.0], dtype))
    opt = ProximalGradientDescentOptimizer(1.0, l1_regularization_strength=0.1)
    opt.apply_gradients([(np.zeros(3, dtype), var)])
    exact(var.value, [0.0, 0.0, 0.9], dtype)
