"""The TF world on the jax backend: closures reading ``Variable.value``, run eagerly.

compute_gradients / minimize / apply_gradients and every optimizer run on jax as on autograd
(same gradients, same steps); a closure reading a mutable batch is never compiled (its gradient
follows the batch); ``None`` for a variable the loss does not reach, also through a branch not
taken; ``custom_gradient``, ``stop_gradient``, ``gradient_override_map``'s refusal; the explicit
opt-in :func:`optim.jit_closure`.
"""

from __future__ import annotations

import numpy as np
import pytest

import optim
import optim.numpy as onp

jax = pytest.importorskip("jax")
pytestmark = pytest.mark.jax


def variables():
    rng = np.random.default_rng(3)
    W = optim.Variable(rng.normal(size=(3, 2)), name="W")
    b = optim.Variable(np.zeros(2), name="b")
    return W, b


X = np.random.default_rng(4).normal(size=(8, 3))
Y = np.random.default_rng(5).normal(size=(8, 2))


def test_gradient_follows_a_mutable_batch_between_steps():
    """A closure over a batch dict is run eagerly every time: never a stale compiled constant."""
    W, b = variables()
    batch = {"x": X[:4], "y": Y[:4]}
    loss = lambda: onp.mean((batch["x"] @ W.value + b.value - batch["y"]) ** 2)  # noqa: E731
    opt = optim.GradientDescentOptimizer(0.1)
    with optim.use_backend("jax"):
        g1 = opt.compute_gradients(loss, var_list=[W, b])[0][0]
        batch["x"], batch["y"] = X[4:], Y[4:]  # same shapes, new values
        g2 = opt.compute_gradients(loss, var_list=[W, b])[0][0]
    want1 = 2 * X[:4].T @ (X[:4] @ W.array - Y[:4]) / 8
    want2 = 2 * X[4:].T @ (X[4:] @ W.array - Y[4:]) / 8
    np.testing.assert_allclose(g1, want1, rtol=1e-12)
    np.testing.assert_allclose(g2, want2, rtol=1e-12)
    assert not np.allclose(g1, g2)


def test_a_global_read_by_the_closure_is_seen_at_once():
    W, _ = variables()
    scale = {"s": 1.0}
    loss = lambda: scale["s"] * onp.sum(W.value)  # noqa: E731
    with optim.use_backend("jax"):
        (g1, _), = optim.GradientDescentOptimizer(0.1).compute_gradients(loss, var_list=[W])
        scale["s"] = 10.0
        (g2, _), = optim.GradientDescentOptimizer(0.1).compute_gradients(loss, var_list=[W])
    np.testing.assert_array_equal(g1, np.ones((3, 2)))
    np.testing.assert_array_equal(g2, np.full((3, 2), 10.0))


def test_unreached_variable_gets_none(graph):  # a fresh graph keeps the names as given
    W, b = variables()
    c = optim.Variable(np.ones(4), name="c")
    s = optim.Variable(np.ones(2), name="s")
    z = optim.Variable(np.ones(2), name="z")

    def loss():
        return (
            onp.sum(X @ W.value)
            + onp.sum(optim.stop_gradient(s.value))  # cut: None, as TF
            + 0.0 * onp.sum(z.value)  # a path (TF's structural rule): zeros
        )

    with optim.use_backend("jax"):
        opt = optim.GradientDescentOptimizer(0.1)
        pairs = opt.compute_gradients(loss, var_list=[W, b, c, s, z])
    grads = {v.name: g for g, v in pairs}
    np.testing.assert_allclose(grads["W"], np.tile(X.sum(0)[:, None], (1, 2)))
    assert grads["b"] is None and grads["c"] is None and grads["s"] is None
    np.testing.assert_array_equal(grads["z"], np.zeros(2))


@pytest.mark.parametrize("engine", ["autograd", "jax"])
def test_dependence_through_a_branch_not_taken(engine):
    """Only the branch that ran counts: the variable of the other branch gets None."""
    a = optim.Variable(np.array([2.0]), name="a")
    b = optim.Variable(np.array([3.0]), name="b")

    def loss():
        if a.value[0] > 0:  # Python control flow on a traced value: fine eagerly
            return onp.sum(a.value**2)
        return onp.sum(b.value**2)

    with optim.use_backend(engine):
        (ga, _), (gb, _) = optim.GradientDescentOptimizer(0.1).compute_gradients(
            loss, var_list=[a, b]
        )
        a.assign(np.array([-1.0]))
        (ga2, _), (gb2, _) = optim.GradientDescentOptimizer(0.1).compute_gradients(
            loss, var_list=[a, b]
        )
    np.testing.assert_array_equal(ga, [4.0])
    assert gb is None and ga2 is None
    np.testing.assert_array_equal(gb2, [6.0])


def test_minimize_with_only_unreached_variables_raises_as_on_autograd():
    W, b = variables()
    loss = lambda: onp.sum(W.value)  # noqa: E731
    errors = []
    for engine in ("autograd", "jax"):
        with optim.use_backend(engine), pytest.raises(ValueError) as info:
            optim.GradientDescentOptimizer(0.1).minimize(loss, var_list=[b])
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    np.testing.assert_array_equal(b.array, np.zeros(2))


OPTIMIZERS = [
    lambda: optim.GradientDescentOptimizer(0.1),
    lambda: optim.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
    lambda: optim.AdamOptimizer(0.05),
    lambda: optim.AdagradOptimizer(0.1),
    lambda: optim.RMSPropOptimizer(0.01, centered=True),
    lambda: optim.FtrlOptimizer(0.1, l1_regularization_strength=0.01),
    lambda: optim.AdadeltaOptimizer(1.0),
]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=lambda m: type(m()).__name__)
def test_every_optimizer_takes_the_same_steps_on_both_engines(make):
    def run(engine):
        W, b = variables()
        loss = lambda: onp.mean(  # noqa: E731
            optim.nn.softmax_cross_entropy_with_logits(optim.nn.softmax(Y), X @ W.value + b.value)
        )
        opt = make()
        with optim.use_backend(engine):
            for _ in range(5):
                opt.minimize(loss, var_list=[W, b])
            grads = opt.compute_gradients(loss, var_list=[W, b])
            opt.apply_gradients(grads)
        return W.array, b.array

    for got, want in zip(run("jax"), run("autograd")):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_hessian_vector_product_and_hessian_on_jax_match_autograd():
    W, b = variables()
    c = optim.Variable(np.ones(2), name="c")
    loss = lambda: onp.sum(onp.tanh(X @ W.value + b.value) ** 2)  # noqa: E731
    vectors = [np.ones((3, 2)), np.arange(2.0), np.ones(2)]
    out = {}
    for engine in ("autograd", "jax"):
        with optim.use_backend(engine):
            out[engine] = (
                optim.hessian_vector_product(loss, [W, b, c], vectors),
                optim.hessian(loss, [W, b]),
            )
    (hvp_a, H_a), (hvp_j, H_j) = out["autograd"], out["jax"]
    assert hvp_a[2] is None and hvp_j[2] is None
    for got, want in zip(hvp_j[:2], hvp_a[:2]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(H_j, H_a, rtol=1e-12, atol=1e-12)


def test_custom_gradient_on_jax_uses_the_users_gradient():
    @optim.custom_gradient
    def clipped_identity(x):
        return x * 1.0, lambda dy: np.clip(dy, -1.0, 1.0)  # numpy code: runs eagerly

    W, _ = variables()
    loss = lambda: onp.sum(5.0 * clipped_identity(W.value))  # noqa: E731
    out = {}
    for engine in ("autograd", "jax"):
        with optim.use_backend(engine):
            (out[engine], _), = optim.GradientDescentOptimizer(0.1).compute_gradients(
                loss, var_list=[W]
            )
    np.testing.assert_array_equal(out["jax"], np.ones((3, 2)))  # 5 clipped to 1
    np.testing.assert_array_equal(out["jax"], out["autograd"])


def test_custom_gradient_compiled_in_the_scipy_world():
    @optim.custom_gradient
    def double_grad(x):
        return onp.sum(x**2), lambda dy: (4.0 * dy * x,)  # twice the true gradient

    res = optim.minimize(double_grad, np.array([1.0, -2.0]), method="sgd",
                         options={"learning_rate": 0.1, "maxiter": 1}, backend="jax")
    np.testing.assert_allclose(res.x, [1.0 - 0.4, -2.0 + 0.8], rtol=1e-12)


def test_custom_gradient_reading_a_variable_inside_raises():
    W, _ = variables()

    @optim.custom_gradient
    def reads_w(x):
        return x * onp.sum(W.value), lambda dy: dy

    with optim.use_backend("jax"), pytest.raises(TypeError, match="not given"):
        optim.GradientDescentOptimizer(0.1).compute_gradients(
            lambda: onp.sum(reads_w(np.ones(2))), var_list=[W]
        )


def test_gradient_override_map_raises_clearly_on_jax_and_changes_nothing():
    W, _ = variables()
    before = W.array.copy()
    with optim.use_backend("jax"):
        with pytest.raises(NotImplementedError, match="not supported on the jax backend"):
            with optim.gradient_override_map({jax.numpy.round: "Identity"}):
                optim.GradientDescentOptimizer(0.1).minimize(
                    lambda: onp.sum(onp.round(W.value)), var_list=[W]
                )
    np.testing.assert_array_equal(W.array, before)


def test_jit_closure_compiles_once_and_takes_the_batch_as_argument():
    W, b = variables()
    traces = []

    def batch_loss(x, y):
        traces.append(1)  # a Python side effect: runs when jax traces, not per call
        return onp.mean((x @ W.value + b.value - y) ** 2)

    step = optim.jit_closure(batch_loss, [W, b])
    opt = optim.GradientDescentOptimizer(0.1)
    eager_W, eager_b = variables()
    eager = optim.GradientDescentOptimizer(0.1)
    with optim.use_backend("jax"):
        for i in range(4):
            x, y = X[2 * i : 2 * i + 2], Y[2 * i : 2 * i + 2]
            opt.minimize(lambda: step(x, y), var_list=[W, b])  # noqa: B023 - called at once
            eager.minimize(
                lambda: onp.mean((x @ eager_W.value + eager_b.value - y) ** 2),  # noqa: B023
                var_list=[eager_W, eager_b],
            )
            want = 2 * x.T @ (x @ eager_W.array + eager_b.array - y) / 4  # for the next step
            np.testing.assert_allclose(W.array, eager_W.array, rtol=1e-12)
    assert len(traces) == 1  # traced once for the shapes, not per step or per batch
    with optim.use_backend("jax"):
        (gw, _), _ = optim.GradientDescentOptimizer(0.1).compute_gradients(
            lambda: step(x, y), var_list=[W, b]
        )
    np.testing.assert_allclose(gw, want, rtol=1e-12)


def test_jit_closure_freezes_what_is_not_an_argument():
    """The documented contract: a value read from outside the arguments is compiled in."""
    W, _ = variables()
    scale = {"s": 1.0}
    step = optim.jit_closure(lambda x: scale["s"] * onp.sum(x @ W.value), [W])
    with optim.use_backend("jax"):
        first = float(step(X))
        scale["s"] = 10.0
        second = float(step(X))
        W.assign(2 * W.array)  # a variable is an argument: its new value is seen
        third = float(step(X))
    assert second == first
    np.testing.assert_allclose(third, 2 * first, rtol=1e-12)


def test_jit_closure_on_autograd_just_calls():
    W, _ = variables()
    step = optim.jit_closure(lambda x: onp.sum(x @ W.value), [W])
    (g, _), = optim.GradientDescentOptimizer(0.1).compute_gradients(lambda: step(X), var_list=[W])
    np.testing.assert_allclose(g, np.tile(X.sum(0)[:, None], (1, 2)))


def test_jit_closure_bad_arguments():
    W, _ = variables()
    with pytest.raises(TypeError, match="`fn` must be callable"):
        optim.jit_closure(3, [W])
    with pytest.raises(TypeError, match="`var_list` must hold Variables"):
        optim.jit_closure(lambda: 0.0, [W.array])


def test_optim_numpy_follows_the_active_backend():
    import autograd.numpy as anp

    assert optim.numpy.exp is anp.exp
    with optim.use_backend("jax"):
        assert optim.numpy.exp is jax.numpy.exp
    assert optim.numpy.exp is anp.exp


def test_jit_closure_unreached_variable_gets_none():
    W, b = variables()
    step = optim.jit_closure(lambda x: onp.sum(x @ W.value), [W, b])  # b listed, never read
    with optim.use_backend("jax"):
        (gw, _), (gb, _) = optim.GradientDescentOptimizer(0.1).compute_gradients(
            lambda: step(X), var_list=[W, b]
        )
    np.testing.assert_allclose(gw, np.tile(X.sum(0)[:, None], (1, 2)))
    assert gb is None


def test_reached_agrees_with_its_public_api_fallback():
    """The walk over jax's recorded linear program and the traced backward function agree."""
    from optim.backends.jax import reached

    def fun(leaves):
        a, b, c, d = leaves
        return jax.numpy.sum(2 * a) + 0 * jax.numpy.sum(c) + jax.numpy.sum(
            jax.lax.stop_gradient(b)
        ) + jax.jit(lambda u: jax.numpy.sum(u**2))(a)

    with jax.enable_x64(True):
        leaves = (np.ones(3), np.ones(2), np.ones(4), np.ones(1))
        value, vjp = jax.vjp(fun, leaves)
        direct = reached(vjp, 4, value)
        traced = reached(lambda ct: vjp(ct)[0], 4, value)  # no recorded program: traced
    assert direct == traced == [True, False, True, False]
