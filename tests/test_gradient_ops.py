"""custom_gradient, gradient overrides, stop_gradient, gradient checking, second order."""

import threading

import numpy as np
import pytest

import optim
import optim.numpy as onp

# gradient_override_map works on autograd only; jax refuses it with a clear error
# (tests/test_jax_scipy.py checks the refusal).
AUTOGRAD_OVERRIDES = pytest.mark.autograd_only

GD = optim.train.GradientDescentOptimizer


def grads(loss, var_list, **kwargs):
    return [g for g, _ in GD(1.0).compute_gradients(loss, var_list, **kwargs)]


# -- custom_gradient ------------------------------------------------------------------------


@optim.custom_gradient
def log1pexp(x):
    e = np.exp(x)
    return np.log1p(e), lambda dy: dy * (1.0 - 1.0 / (1.0 + e))


@optim.custom_gradient
def scaled_product(x, y):
    return x * y, lambda dy: (dy * y, dy * x)


@optim.custom_gradient
def softplus_twice(x):
    # A custom-gradient function calling another inside its forward pass.
    inner = log1pexp(x)
    e = np.exp(x)
    return 2.0 * inner, lambda dy: 2.0 * dy * e / (1.0 + e)


def test_custom_gradient_matches_central_differences(graph):
    w = optim.Variable(np.array([-3.0, 0.2, 4.0]))
    check = optim.assert_gradients_close(lambda: onp.sum(log1pexp(w.value) ** 2), [w])
    assert check.max_rel_error < 1e-7


def test_custom_gradient_is_used_not_traced(graph):
    w = optim.Variable(np.array([1.0, 2.0]))

    @optim.custom_gradient
    def fake(x):
        return x * 1.0, lambda dy: dy * 10.0  # deliberately not the true gradient

    (g,) = grads(lambda: onp.sum(fake(w.value)), [w])
    np.testing.assert_array_equal(g, [10.0, 10.0])


def test_custom_gradient_two_inputs_and_composition(graph):
    a = optim.Variable(np.array([1.0, -2.0]))
    b = optim.Variable(np.array([0.5, 3.0]))
    loss = lambda: onp.sum(log1pexp(scaled_product(a.value, b.value)))
    optim.assert_gradients_close(loss, [a, b])
    optim.assert_gradients_close(lambda: onp.sum(softplus_twice(a.value) * b.value), [a, b])


def test_custom_gradient_only_one_input_traced(graph):
    a = optim.Variable(np.array([1.0, -2.0]))
    c = np.array([4.0, 5.0])
    (g,) = grads(lambda: onp.sum(scaled_product(a.value, c)), [a])
    np.testing.assert_array_equal(g, c)


def test_custom_gradient_outside_a_trace_is_plain_forward():
    np.testing.assert_allclose(log1pexp(np.array([0.0])), [np.log(2.0)])


def test_custom_gradient_in_a_minimize_step(graph):
    w = optim.Variable(np.array([2.0]))
    GD(0.5).minimize(lambda: onp.sum(log1pexp(w.value)))
    np.testing.assert_allclose(w.value, [2.0 - 0.5 / (1 + np.exp(-2.0))])


def test_custom_gradient_wrong_shape_names_the_function(graph):
    w = optim.Variable(np.array([1.0, 2.0]))

    @optim.custom_gradient
    def bad_shape(x):
        return x, lambda dy: np.ones(3)

    with pytest.raises(ValueError, match=r"bad_shape for input 0 must have the input's shape"):
        grads(lambda: onp.sum(bad_shape(w.value)), [w])


def test_custom_gradient_wrong_count(graph):
    w = optim.Variable(np.array([1.0, 2.0]))

    @optim.custom_gradient
    def bad_count(x, y):
        return x * y, lambda dy: (dy * y,)

    with pytest.raises(ValueError, match=r"bad_count must return one gradient per input \(2\)"):
        grads(lambda: onp.sum(bad_count(w.value, w.value)), [w])


def test_custom_gradient_must_return_pair(graph):
    w = optim.Variable(np.array([1.0]))

    @optim.custom_gradient
    def no_pair(x):
        return x

    with pytest.raises(TypeError, match="no_pair must return a \\(value, grad_fn\\) pair"):
        grads(lambda: onp.sum(no_pair(w.value)), [w])


def test_custom_gradient_reading_a_variable_inside_is_an_error(graph):
    w = optim.Variable(np.array([1.0]))

    @optim.custom_gradient
    def reads_w(x):
        return x * w.value, lambda dy: dy

    with pytest.raises(TypeError, match="pass the variable's value in as an argument"):
        grads(lambda: onp.sum(reads_w(np.ones(1))), [w])


# -- overrides ------------------------------------------------------------------------------


def test_round_has_no_gradient_without_override(graph):
    w = optim.Variable(np.array([0.3, 1.7]))
    assert grads(lambda: onp.sum(onp.round(w.value) ** 2), [w]) == [None]


@AUTOGRAD_OVERRIDES
def test_identity_override_is_straight_through(graph):
    w = optim.Variable(np.array([0.3, 1.7, -2.2]))
    loss = lambda: onp.sum(onp.round(w.value) ** 2)
    with optim.gradient_override_map({onp.round: "Identity"}):
        (g,) = grads(loss, [w])
    np.testing.assert_array_equal(g, 2 * np.round(w.numpy()))
    assert grads(loss, [w]) == [None]  # undone on exit


@AUTOGRAD_OVERRIDES
def test_override_restored_after_exception(graph):
    w = optim.Variable(np.array([0.3]))
    with pytest.raises(RuntimeError, match="inside"):
        with optim.gradient_override_map({onp.sign: "Identity"}):
            raise RuntimeError("inside")
    with pytest.raises(ValueError, match="No gradients provided"):
        GD(1.0).minimize(lambda: onp.sum(onp.sign(w.value)), var_list=[w])


@AUTOGRAD_OVERRIDES
def test_override_applies_to_operations_traced_inside_only(graph):
    w = optim.Variable(np.array([1.2, -0.4]))
    with optim.gradient_override_map({onp.sign: "Identity"}):
        inside = grads(lambda: onp.sum(onp.sign(w.value) * 3.0), [w])
    outside = grads(lambda: onp.sum(onp.sign(w.value) * 3.0), [w])
    np.testing.assert_array_equal(inside[0], [3.0, 3.0])
    assert outside == [None]


@AUTOGRAD_OVERRIDES
def test_overrides_nest_innermost_wins(graph):
    @optim.RegisterGradient("DoubleGrad")
    def _double(op, grad):
        return 2.0 * grad

    w = optim.Variable(np.array([0.6]))
    loss = lambda: onp.sum(onp.round(w.value))
    with optim.gradient_override_map({onp.round: "Identity"}):
        with optim.gradient_override_map({onp.round: "DoubleGrad"}):
            np.testing.assert_array_equal(grads(loss, [w])[0], [2.0])
        np.testing.assert_array_equal(grads(loss, [w])[0], [1.0])
    assert grads(loss, [w]) == [None]


@AUTOGRAD_OVERRIDES
def test_override_of_a_differentiable_function(graph):
    @optim.RegisterGradient("SquareAsLinear")
    def _linear(op, grad):
        return [grad, None]  # d/dx only, as if square were the identity; no grad to power

    w = optim.Variable(np.array([3.0]))
    with optim.gradient_override_map({onp.power: "SquareAsLinear"}):
        (g,) = grads(lambda: onp.sum(onp.power(w.value, 2)), [w])
    np.testing.assert_array_equal(g, [1.0])
    (g,) = grads(lambda: onp.sum(onp.power(w.value, 2)), [w])
    np.testing.assert_array_equal(g, [6.0])


@AUTOGRAD_OVERRIDES
def test_registered_rule_sees_the_op(graph):
    seen = {}

    @optim.RegisterGradient("Recorder")
    def _record(op, grad):
        seen["op"] = op
        return grad

    w = optim.Variable(np.array([0.4, 2.6]))
    with optim.gradient_override_map({onp.floor: "Recorder"}):
        grads(lambda: onp.sum(onp.floor(w.value)), [w])
    np.testing.assert_array_equal(seen["op"].inputs[0], [0.4, 2.6])
    np.testing.assert_array_equal(seen["op"].outputs[0], [0.0, 2.0])
    assert seen["op"].name == "Recorder"


@AUTOGRAD_OVERRIDES
def test_override_bad_arguments():
    with pytest.raises(LookupError, match="No gradient registered under the name 'Nope'"):
        with optim.gradient_override_map({onp.round: "Nope"}):
            pass
    with pytest.raises(TypeError, match="values must be strings"):
        with optim.gradient_override_map({onp.round: 3}):
            pass
    with pytest.raises(TypeError, match="keys must be autograd.numpy functions"):
        with optim.gradient_override_map({"Round": "Identity"}):
            pass
    with pytest.raises(TypeError, match="must be a dict"):
        with optim.gradient_override_map([(onp.round, "Identity")]):
            pass


def test_register_gradient_errors():
    with pytest.raises(TypeError, match="`name` must be a string"):
        optim.RegisterGradient(3)
    with pytest.raises(KeyError, match="Identity"):
        optim.RegisterGradient("Identity")(lambda op, grad: grad)


@AUTOGRAD_OVERRIDES
def test_override_blocks_in_two_threads_do_not_interleave(graph):
    w = optim.Variable(np.array([0.6]))
    inside = threading.Event()
    results = {}

    def other():
        inside.wait()
        with optim.gradient_override_map({onp.round: "Identity"}):
            results["other"] = True

    thread = threading.Thread(target=other)
    thread.start()
    with optim.gradient_override_map({onp.round: "Identity"}):
        inside.set()
        thread.join(timeout=0.2)
        assert thread.is_alive()  # waits for this block to end
        results["main"] = grads(lambda: onp.sum(onp.round(w.value)), [w])[0]
    thread.join()
    assert results["other"] and results["main"][0] == 1.0


# -- stop_gradient --------------------------------------------------------------------------


def test_stop_gradient_gives_none_when_only_path(graph):
    a = optim.Variable(np.array([1.0, 2.0]))
    b = optim.Variable(np.array([3.0]))
    gv = GD(1.0).compute_gradients(
        lambda: onp.sum(optim.stop_gradient(a.value) ** 2) + onp.sum(b.value), [a, b]
    )
    assert gv[0][0] is None
    np.testing.assert_array_equal(gv[1][0], [1.0])


def test_stop_gradient_blocks_one_of_two_paths(graph):
    a = optim.Variable(np.array([2.0]))
    (g,) = grads(lambda: onp.sum(a.value * optim.stop_gradient(a.value)), [a])
    np.testing.assert_array_equal(g, [2.0])  # d/da (a * const) with const = a


def test_stop_gradient_forward_is_identity():
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(optim.stop_gradient(x), x)


# -- gradient checking ----------------------------------------------------------------------


def test_check_gradients_catches_a_wrong_user_gradient(graph):
    w = optim.Variable(np.array([0.5, -1.5, 2.0]))
    b = optim.Variable(np.array(0.3))
    loss = lambda: onp.sum(onp.sin(w.value) * b.value)
    right = lambda: [np.cos(w.numpy()) * b.numpy(), np.sum(np.sin(w.numpy()))]
    wrong = lambda: [np.cos(w.numpy()), np.sum(np.sin(w.numpy()))]  # forgot the factor b
    good = optim.check_gradients(loss, [w, b], gradient=right)
    assert good.max_rel_error < 1e-8
    bad = optim.check_gradients(loss, [w, b], gradient=wrong)
    assert bad.rel_errors[0] > 1.0 and bad.rel_errors[1] < 1e-8
    with pytest.raises(AssertionError, match="Gradient of variable 'Variable' differs"):
        optim.assert_gradients_close(loss, [w, b], gradient=wrong)
    optim.assert_gradients_close(loss, [w, b], gradient=right)
    assert "abs" in str(bad)


def test_check_gradients_for_autodiff_and_loss_with_gradient(graph):
    w = optim.Variable(np.array([0.5, -1.5]))
    optim.assert_gradients_close(lambda: onp.sum(onp.exp(w.value)), [w])
    optim.assert_gradients_close(
        lambda: (np.sum(np.exp(w.value)), [np.exp(w.value)]), [w], gradient=True
    )


# -- second order ---------------------------------------------------------------------------


def test_hessian_vector_product_and_dense_hessian(graph):
    x = optim.Variable(np.array([1.0, 2.0]))
    y = optim.Variable(np.array(3.0))
    unused = optim.Variable(np.array([0.0]))

    def loss():
        return onp.sum(x.value**3) * y.value + onp.sum(onp.sin(x.value))

    xv, yv = x.numpy(), 3.0
    H = np.zeros((3, 3))  # written by hand
    H[:2, :2] = np.diag(6 * xv * yv - np.sin(xv))
    H[:2, 2] = H[2, :2] = 3 * xv**2
    np.testing.assert_allclose(optim.hessian(loss, [x, y]), H, rtol=1e-14)
    v = [np.array([1.0, 0.5]), np.array(2.0), np.array([1.0])]
    hv = optim.hessian_vector_product(loss, [x, y, unused], v)
    np.testing.assert_allclose(np.concatenate([hv[0], [hv[1]]]), H @ [1.0, 0.5, 2.0])
    assert hv[2] is None


def test_hessian_of_custom_ops_from_nn(graph):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5, 3))
    labels = np.eye(4)[rng.integers(0, 4, 5)]
    W = optim.Variable(rng.normal(size=(3, 4)) * 0.1)
    loss = lambda: onp.sum(
        optim.nn.softmax_cross_entropy_with_logits(labels=labels, logits=features @ W.value)
    )
    H = optim.hessian(loss, [W])
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    v = rng.normal(size=(3, 4))
    (hv,) = optim.hessian_vector_product(loss, [W], [v])
    np.testing.assert_allclose(hv.ravel(), H @ v.ravel(), rtol=1e-10)
    # Against differences of autodiff gradients.
    h = 1e-6
    base = W.numpy()
    W.assign(base + h * v)
    (g_plus,) = grads(loss, [W])
    W.assign(base - h * v)
    (g_minus,) = grads(loss, [W])
    W.assign(base)
    np.testing.assert_allclose(hv, (g_plus - g_minus) / (2 * h), rtol=1e-5, atol=1e-8)


@AUTOGRAD_OVERRIDES
def test_custom_gradient_and_override_in_the_scipy_world():
    # optim.minimize differentiates through a custom-gradient function with autodiff.
    def loss(x):
        return onp.sum(log1pexp(x) - 0.5 * x)  # minimum where sigmoid(x) = 0.5, at x = 0

    res = optim.minimize(loss, np.array([2.0, -1.0]), method="BFGS")
    assert res.success
    # BFGS stops at gradient norm 1e-5, and the gradient is sigmoid(x) - 0.5 ~ x/4 near 0.
    np.testing.assert_allclose(res.x, [0.0, 0.0], atol=4e-5 * 1.01)
    np.testing.assert_allclose(res.jac, 1 / (1 + np.exp(-res.x)) - 0.5, rtol=1e-12, atol=1e-15)
    # A wrong custom gradient is what the solver sees: proof that it is used.
    seen = []

    @optim.custom_gradient
    def traced(x):
        return x**2, lambda dy: seen.append(1) or 2 * x * dy

    res = optim.minimize(lambda x: onp.sum(traced(x - 1.0)), np.array([3.0]), method="L-BFGS-B")
    assert seen and abs(res.x[0] - 1.0) < 1e-6


def test_hessian_vector_product_needs_one_vector_per_variable(graph):
    x = optim.Variable(np.ones(2))
    with pytest.raises(ValueError, match=r"one array per variable \(1\), got 2"):
        optim.hessian_vector_product(lambda: onp.sum(x.value**2), [x], [np.ones(2), np.ones(2)])
