"""Gradient sources: autodiff, a user's function, (value, gradients) losses, finite differences."""

import autograd.numpy as anp
import numpy as np
import pytest

import optim

SEEDS = [0, 1, 2]


def problem(seed, dtype=np.float64):
    """A seeded random nonlinear least-squares problem over a matrix and a vector."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(7, 4)).astype(dtype)
    y = rng.normal(size=(7, 3)).astype(dtype)
    W = optim.Variable(rng.normal(size=(4, 3)).astype(dtype), name="W")
    b = optim.Variable(rng.normal(size=3).astype(dtype), name="b")

    def loss():
        z = anp.tanh(A @ W.value + b.value)
        return anp.sum((z - y) ** 2) + 0.1 * anp.sum(anp.exp(0.3 * W.value))

    def hand_gradient():
        # Written out by hand, independently of autograd.
        pre = A @ W.value + b.value
        z = np.tanh(pre)
        dpre = 2 * (z - y) * (1 - z**2)
        return [A.T @ dpre + 0.03 * np.exp(0.3 * W.value), dpre.sum(axis=0)]

    return loss, hand_gradient, [W, b]


def rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.mark.parametrize("seed", SEEDS)
def test_autodiff_equals_user_gradient_and_finite_differences(graph, seed):
    loss, hand, var_list = problem(seed)
    opt = optim.train.GradientDescentOptimizer(0.1)
    auto = opt.compute_gradients(loss, var_list)
    user = opt.compute_gradients(loss, var_list, gradient=hand)
    central = opt.compute_gradients(loss, var_list, gradient="3-point")
    for (ga, _), (gu, _), (gc, _) in zip(auto, user, central):
        assert rel_err(ga, gu) <= 1e-12
        assert rel_err(gc, ga) <= 1e-6


@pytest.mark.parametrize("method,tol", [("2-point", 1e-6), ("3-point", 1e-8), ("cs", 1e-13)])
def test_finite_difference_methods(graph, method, tol):
    x = optim.Variable(np.array([0.3, -1.2, 2.0]))
    loss = lambda: anp.sum(anp.sin(x.value) * x.value**2)  # noqa: E731
    exact = np.cos(x.numpy()) * x.numpy() ** 2 + 2 * x.numpy() * np.sin(x.numpy())
    ((g, _),) = optim.train.GradientDescentOptimizer(0.1).compute_gradients(
        loss, [x], gradient=method
    )
    assert rel_err(g, exact) <= tol


def test_finite_differences_leave_variables_untouched(graph):
    x = optim.Variable(np.array([0.3, -1.2]))
    before = x.numpy()
    optim.FiniteDifferences("3-point").value_and_gradients(lambda: anp.sum(x.value**3), [x])
    np.testing.assert_array_equal(x.value, before)


def test_loss_returning_value_and_gradients(graph):
    loss, hand, var_list = problem(3)
    opt = optim.train.GradientDescentOptimizer(0.1)
    gv = opt.compute_gradients(lambda: (loss(), hand()), var_list, gradient=True)
    auto = opt.compute_gradients(loss, var_list)
    for (g1, _), (g2, _) in zip(gv, auto):
        assert rel_err(g1, g2) <= 1e-12


def test_gradient_source_set_on_the_optimizer(graph):
    w = optim.Variable([1.0, 2.0])
    calls = []

    def grad():
        calls.append(1)
        return [2 * w.numpy()]

    opt = optim.train.GradientDescentOptimizer(0.25, gradient=grad)
    value = opt.minimize(lambda: anp.sum(w.value**2))
    assert value == 5.0 and len(calls) == 1
    np.testing.assert_allclose(w.value, [0.5, 1.0])
    # A per-call choice overrides the optimizer's default.
    opt.minimize(lambda: anp.sum(w.value**2), gradient="autodiff")
    assert len(calls) == 1
    np.testing.assert_allclose(w.value, [0.25, 0.5])


def test_user_gradient_single_array_for_one_variable(graph):
    w = optim.Variable([1.0, 2.0])
    opt = optim.train.GradientDescentOptimizer(1.0)
    opt.minimize(lambda: anp.sum(w.value), gradient=lambda: np.ones(2))
    np.testing.assert_array_equal(w.value, [0.0, 1.0])


def test_user_gradient_none_entry_skips_variable(graph):
    a, b = optim.Variable([1.0]), optim.Variable([2.0])
    opt = optim.train.GradientDescentOptimizer(1.0)
    opt.minimize(lambda: anp.sum(a.value), var_list=[a, b], gradient=lambda: [np.ones(1), None])
    np.testing.assert_array_equal(a.value, [0.0])
    np.testing.assert_array_equal(b.value, [2.0])


def test_user_gradient_scaled_by_grad_loss(graph):
    a = optim.Variable([1.0, 2.0])
    opt = optim.train.GradientDescentOptimizer(1.0)
    ((g, _),) = opt.compute_gradients(
        lambda: anp.sum(a.value), [a], grad_loss=3.0, gradient=lambda: [np.ones(2)]
    )
    np.testing.assert_array_equal(g, [3.0, 3.0])


@pytest.mark.parametrize(
    "bad,match",
    [
        (lambda: [np.ones(2)], r"returned 1 gradients for 2 variables \['a', 'b'\]"),
        (lambda: [np.ones(2), np.ones(4)], r"variable 'b' must have shape \(3,\), got \(4,\)"),
        (lambda: [np.ones(2), np.ones(3, dtype=int)], r"variable 'b' must be floating-point"),
        (lambda: [np.ones(2), np.ones(3, dtype=complex)], r"variable 'b' must be floating-point"),
        (lambda: {"a": np.ones(2)}, r"must return a list or tuple"),
    ],
    ids=["count", "shape", "int-dtype", "complex-dtype", "dict"],
)
def test_bad_user_gradient_raises_and_updates_nothing(graph, bad, match):
    a = optim.Variable([1.0, 2.0], name="a")
    b = optim.Variable([3.0, 4.0, 5.0], name="b")
    opt = optim.train.MomentumOptimizer(0.1, 0.9)
    loss = lambda: anp.sum(a.value) + anp.sum(b.value)  # noqa: E731
    opt.minimize(loss)  # creates slots, so "unchanged" covers them too
    before = [a.numpy(), b.numpy(), opt.get_slot(a, "momentum").copy()]
    with pytest.raises(ValueError, match=match):
        opt.minimize(loss, gradient=bad)
    np.testing.assert_array_equal(a.value, before[0])
    np.testing.assert_array_equal(b.value, before[1])
    np.testing.assert_array_equal(opt.get_slot(a, "momentum"), before[2])


def test_loss_with_gradient_must_return_pair(graph):
    a = optim.Variable([1.0])
    with pytest.raises(ValueError, match=r"\(value, gradients\) pair"):
        optim.train.GradientDescentOptimizer(1.0).minimize(lambda: anp.sum(a.value), gradient=True)


@pytest.mark.parametrize("spec,exc", [("4-point", ValueError), (3, TypeError)])
def test_unknown_gradient_source(graph, spec, exc):
    with pytest.raises(exc, match="`gradient` must be"):
        optim.train.GradientDescentOptimizer(1.0, gradient=spec)


def test_float32_model_gets_float32_gradients(graph):
    loss, _, var_list = problem(4, dtype=np.float32)
    gv = optim.train.GradientDescentOptimizer(0.1).compute_gradients(loss, var_list)
    assert [g.dtype for g, _ in gv] == [np.float32, np.float32]
    value = optim.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=var_list)
    assert value.dtype == np.float32


def test_variable_reached_only_through_constant_gets_none(graph):
    a = optim.Variable([1.0])
    b = optim.Variable([2.0])
    gv = optim.train.GradientDescentOptimizer(1.0).compute_gradients(
        lambda: anp.sum(a.value) + float(b.numpy()[0]), [a, b]
    )
    assert gv[1][0] is None


def test_backend_interface_reports_unreached_arguments():
    trace = optim.get_backend().trace(lambda x, y: anp.sum(x**2), [np.array([1.0, 2.0]), 3.0])
    assert trace.value == 5.0
    gx, gy = trace.gradients(1.0)
    np.testing.assert_array_equal(gx, [2.0, 4.0])
    assert gy is None


def test_trace_failure_leaves_autograd_usable(graph):
    a = optim.Variable([1.0, 2.0])

    def broken():
        raise RuntimeError("boom")

    opt = optim.train.GradientDescentOptimizer(1.0)
    with pytest.raises(RuntimeError, match="boom"):
        opt.compute_gradients(broken, [a])
    ((g, _),) = opt.compute_gradients(lambda: anp.sum(a.value**2), [a])
    np.testing.assert_array_equal(g, [2.0, 4.0])
    assert a.value is not None and not hasattr(a.value, "_node")


def test_float32_softmax_model_keeps_float32_gradients(graph):
    """The tutorial's model: a float64 cotangent here would send matmul down numpy's slow
    mixed-precision path, so every gradient must stay float32 end to end."""
    rng = np.random.default_rng(0)
    x = rng.random((100, 64), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 100)]
    W = optim.Variable(np.zeros((64, 10), np.float32))
    b = optim.Variable(np.zeros(10, np.float32))

    def loss():
        logits = x @ W.value + b.value
        return anp.mean(optim.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))

    opt = optim.train.GradientDescentOptimizer(0.5)
    gv = opt.compute_gradients(loss, [W, b])
    assert [g.dtype for g, _ in gv] == [np.float32, np.float32]
    trace = optim.get_backend().trace(
        lambda w, bb: anp.mean(
            optim.nn.softmax_cross_entropy_with_logits(labels=y, logits=x @ w + bb)
        ),
        [W.numpy(), b.numpy()],
    )
    raw = trace.gradients(np.ones((), np.float32))  # before any cast by the gradient source
    assert [g.dtype for g in raw] == [np.float32, np.float32]
    assert opt.minimize(loss).dtype == np.float32
    assert W.dtype == np.float32
