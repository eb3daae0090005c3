"""GradientAccumulationOptimizer: k micro-batches == one concatenated batch, counting, state."""

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim.accumulation import GradientAccumulationOptimizer
from optim.checkpoint import restore_checkpoint, save_checkpoint

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 5))
Y = X @ RNG.normal(size=(5, 2)) + 0.1 * RNG.normal(size=(48, 2))


def make_model():
    W = optim.Variable(np.zeros((5, 2)), name="W")
    b = optim.Variable(np.zeros(2), name="b")

    def loss(x, y):  # a mean over the batch
        return anp.mean((x @ W.value + b.value - y) ** 2)

    return W, b, loss


def micro_batches(k, size):
    return [(X[i * size : (i + 1) * size], Y[i * size : (i + 1) * size]) for i in range(k)]


@pytest.mark.parametrize("k", [1, 2, 4])
def test_mean_of_k_micro_batches_equals_one_concatenated_batch(graph, k):
    size = 48 // (3 * k)
    W, b, loss = make_model()
    acc_opt = GradientAccumulationOptimizer(optim.train.GradientDescentOptimizer(0.1), k)
    with optim.Graph().as_default():
        W2, b2, loss2 = make_model()
        big_opt = optim.train.GradientDescentOptimizer(0.1)
    for cycle in range(3):
        batches = micro_batches(3 * k, size)[cycle * k : (cycle + 1) * k]
        for x, y in batches:
            acc_opt.minimize(lambda x=x, y=y: loss(x, y), var_list=[W, b])
        x_all = np.concatenate([x for x, _ in batches])
        y_all = np.concatenate([y for _, y in batches])
        big_opt.minimize(lambda x=x_all, y=y_all: loss2(x, y), var_list=[W2, b2])
        assert np.allclose(W.numpy(), W2.numpy(), rtol=0, atol=1e-12)
        assert np.allclose(b.numpy(), b2.numpy(), rtol=0, atol=1e-12)
    assert W.dtype == np.float64 and np.abs(W.numpy()).max() > 0.1


def _grads(loss, var_list, x, y):
    return [
        g
        for g, _ in optim.train.GradientDescentOptimizer(1.0).compute_gradients(
            lambda: loss(x, y), var_list=var_list
        )
    ]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_keras_and_optax_rule_with_momentum(graph, reduction):
    """optax MultiSteps(use_grad_mean=True/False), Keras gradient_accumulation_steps: the inner
    optimizer sees the mean (or the sum) of the k gradients, once every k calls."""
    k = 3
    W, b, loss = make_model()
    opt = GradientAccumulationOptimizer(optim.train.MomentumOptimizer(0.05, 0.9), k, reduction)
    with optim.Graph().as_default():
        W2, b2, loss2 = make_model()
        oracle = optim.train.MomentumOptimizer(0.05, 0.9)
    batches = micro_batches(12, 4)
    for i in range(0, 12, k):
        grads = [_grads(loss2, [W2, b2], x, y) for x, y in batches[i : i + k]]
        total = [sum(g[j] for g in grads) for j in range(2)]
        if reduction == "mean":
            total = [t / k for t in total]
        for x, y in batches[i : i + k]:
            opt.minimize(lambda x=x, y=y: loss(x, y), var_list=[W, b])
        oracle.apply_gradients(zip(total, [W2, b2]))
        np.testing.assert_allclose(W.numpy(), W2.numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(
            opt.get_slot(W, "momentum"), oracle.get_slot(W2, "momentum"), rtol=1e-13, atol=1e-15
        )


def test_sum_with_rate_equals_mean_with_k_times_rate(graph):
    k = 4
    W, b, loss = make_model()
    sum_opt = GradientAccumulationOptimizer(optim.train.GradientDescentOptimizer(0.01), k, "sum")
    with optim.Graph().as_default():
        W2, b2, loss2 = make_model()
        mean_opt = GradientAccumulationOptimizer(
            optim.train.GradientDescentOptimizer(0.04), k, "mean"
        )
    for x, y in micro_batches(8, 6):
        sum_opt.minimize(lambda x=x, y=y: loss(x, y), var_list=[W, b])
        mean_opt.minimize(lambda x=x, y=y: loss2(x, y), var_list=[W2, b2])
    assert np.allclose(W.numpy(), W2.numpy(), rtol=0, atol=1e-12)


def test_global_step_counts_real_updates_only(graph):
    W, b, loss = make_model()
    step = optim.train.get_or_create_global_step()
    opt = GradientAccumulationOptimizer(optim.train.GradientDescentOptimizer(0.1), 3)
    seen = []
    for i, (x, y) in enumerate(micro_batches(7, 4)):
        before = W.numpy()
        opt.minimize(lambda x=x, y=y: loss(x, y), global_step=step, var_list=[W, b])
        seen.append((int(step.numpy()), opt.iterations, opt.mini_step))
        assert np.array_equal(W.numpy(), before) == ((i + 1) % 3 != 0)
    assert seen == [(0, 0, 1), (0, 0, 2), (1, 1, 0), (1, 1, 1), (1, 1, 2), (2, 2, 0), (2, 2, 1)]


def test_none_gradients_count_zero_and_all_none_is_skipped(graph):
    a = optim.Variable([1.0], name="a")
    c = optim.Variable([1.0], name="c")
    never = optim.Variable([1.0], name="never")
    inner = optim.train.MomentumOptimizer(1.0, 0.0)
    opt = GradientAccumulationOptimizer(inner, 2)
    opt.apply_gradients([(np.array([2.0]), a), (None, c), (None, never)])
    opt.apply_gradients([(np.array([4.0]), a), (np.array([6.0]), c), (None, never)])
    np.testing.assert_array_equal(a.numpy(), [1.0 - 3.0])  # mean of 2 and 4
    np.testing.assert_array_equal(c.numpy(), [1.0 - 3.0])  # (0 + 6) / 2
    np.testing.assert_array_equal(never.numpy(), [1.0])
    assert inner.get_slot(never, "momentum") is None  # TF rule: a None gradient is skipped


def test_compute_gradients_uses_the_wrapped_gradient_source(graph):
    w = optim.Variable([1.0, 2.0], name="w")

    def loss():
        return anp.sum(w.value**3)

    inner = optim.train.GradientDescentOptimizer(0.1, gradient=lambda: [np.array([7.0, 7.0])])
    opt = GradientAccumulationOptimizer(inner, 2)
    ((g, v),) = opt.compute_gradients(loss, var_list=[w])
    assert v is w and np.array_equal(g, [7.0, 7.0])
    assert opt.minimize(loss, var_list=[w]) == 9.0  # the loss value of the micro-batch
    np.testing.assert_array_equal(opt.accumulator(w), [7.0, 7.0])


def test_sparse_gradients_accumulate_densely(graph):
    emb = optim.Variable(np.zeros((4, 2)), name="emb")
    opt = GradientAccumulationOptimizer(optim.train.GradientDescentOptimizer(1.0), 2, "sum")
    opt.apply_gradients([(optim.IndexedSlices(np.ones((2, 2)), np.array([1, 1])), emb)])
    opt.apply_gradients([(optim.IndexedSlices(np.ones((1, 2)), np.array([3])), emb)])
    np.testing.assert_array_equal(emb.numpy(), [[0, 0], [-2, -2], [0, 0], [-1, -1]])


def test_state_dict_mid_cycle_resumes_bit_identically(graph, tmp_path):
    k = 3
    batches = micro_batches(12, 4)

    def build():
        W, b, loss = make_model()
        opt = GradientAccumulationOptimizer(optim.train.MomentumOptimizer(0.05, 0.9), k)
        return W, b, loss, opt

    W, b, loss, opt = build()
    for x, y in batches[:5]:  # one real update, then 2 accumulated micro-steps
        opt.minimize(lambda x=x, y=y: loss(x, y), var_list=[W, b])
    state = opt.state_dict()
    assert state["mini_step"] == 2 and set(state["accumulators"]) == {"W", "b"}
    path = save_checkpoint(tmp_path / "acc.npz", [W, b], opt)
    for x, y in batches[5:]:
        opt.minimize(lambda x=x, y=y: loss(x, y), var_list=[W, b])

    with optim.Graph().as_default():
        W2, b2, loss2, opt2 = build()
        restore_checkpoint(path, [W2, b2], opt2)
        assert opt2.mini_step == 2 and opt2.iterations == 1
        for x, y in batches[5:]:
            opt2.minimize(lambda x=x, y=y: loss2(x, y), var_list=[W2, b2])
        np.testing.assert_array_equal(W2.numpy(), W.numpy())
        np.testing.assert_array_equal(opt2.get_slot(W2, "momentum"), opt.get_slot(W, "momentum"))


def test_load_state_dict_validates_before_changing(graph):
    W, b, loss = make_model()
    opt = GradientAccumulationOptimizer(optim.train.GradientDescentOptimizer(0.1), 3)
    opt.minimize(lambda: loss(X, Y), var_list=[W, b])
    good = opt.state_dict()
    other_k = dict(good, every_k_steps=4)
    with pytest.raises(ValueError, match="every_k_steps=4"):
        opt.load_state_dict(other_k)
    bad = opt.state_dict()
    bad["accumulators"]["W"] = np.zeros(3)
    with pytest.raises(ValueError, match="accumulator of variable 'W' has shape"):
        opt.load_state_dict(bad)
    np.testing.assert_array_equal(opt.accumulator(W), good["accumulators"]["W"])
    assert opt.mini_step == 1


def test_nonfinite_policies_act_per_micro_step(graph):
    w = optim.Variable([1.0], name="w")
    nan = np.array([np.nan])
    raising = GradientAccumulationOptimizer(optim.train.GradientDescentOptimizer(1.0), 2)
    raising.apply_gradients([(np.array([2.0]), w)])
    with pytest.raises(FloatingPointError, match="micro-step 2 of 2.*Nothing was accumulated"):
        raising.apply_gradients([(nan, w)])
    assert raising.mini_step == 1 and raising.accumulator(w)[0] == 2.0

    skip_inner = optim.train.GradientDescentOptimizer(1.0, nonfinite="skip")
    skipping = GradientAccumulationOptimizer(skip_inner, 2)
    skipping.apply_gradients([(np.array([2.0]), w)])
    skipping.apply_gradients([(nan, w)])  # dropped: does not count towards k
    assert skipping.mini_step == 1 and skipping.skipped_steps == 1
    skipping.apply_gradients([(np.array([4.0]), w)])
    np.testing.assert_array_equal(w.numpy(), [1.0 - 3.0])

    limited = GradientAccumulationOptimizer(
        optim.train.GradientDescentOptimizer(1.0, nonfinite="skip", max_consecutive_nonfinite=2), 2
    )
    limited.apply_gradients([(nan, w)])
    with pytest.raises(FloatingPointError, match="2 non-finite micro-steps in a row"):
        limited.apply_gradients([(nan, w)])

    propagating = GradientAccumulationOptimizer(
        optim.train.GradientDescentOptimizer(1.0, nonfinite="propagate"), 2
    )
    propagating.apply_gradients([(nan, w)])
    propagating.apply_gradients([(np.array([1.0]), w)])
    assert np.isnan(w.numpy()[0])


def test_bad_gradient_raises_before_accumulating(graph):
    w = optim.Variable([1.0, 2.0], name="w")
    opt = GradientAccumulationOptimizer(optim.train.GradientDescentOptimizer(1.0), 2)
    with pytest.raises(ValueError, match="gradient for variable 'w' must have shape"):
        opt.apply_gradients([(np.ones(3), w)])
    assert opt.mini_step == 0 and opt.accumulator(w) is None


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((None, 2), TypeError, "`optimizer` must be an optim.Optimizer, got None"),
        (("gd", 0), ValueError, "`every_k_steps` must be a positive integer, got 0"),
        (("gd", -1), ValueError, "`every_k_steps` must be a positive integer, got -1"),
        (("gd", 2.0), TypeError, "`every_k_steps` must be a positive integer, got 2.0"),
        (("gd", True), TypeError, "`every_k_steps` must be a positive integer, got True"),
        (("gd", 2, "max"), ValueError, r"`reduction` must be one of \('mean', 'sum'\)"),
    ],
    ids=["optimizer", "k=0", "k<0", "k-float", "k-bool", "reduction"],
)
def test_bad_arguments(args, error, match):
    args = tuple(optim.train.GradientDescentOptimizer(0.1) if a == "gd" else a for a in args)
    with pytest.raises(error, match=match):
        GradientAccumulationOptimizer(*args)
