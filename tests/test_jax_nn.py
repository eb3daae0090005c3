"""optim.nn's fused losses on the jax backend: the same values and gradients as on autograd.

Each loss is written once with :mod:`optim.numpy` and differentiated on both engines, in the TF
world (Variables, ``compute_gradients``) and in the scipy world (``minimize(backend=...)``'s
compiled path, through :func:`optim.gradients.value_and_gradients` with a key); float64 results
agree to 1e-12. Hessian-vector products (forward over reverse on jax, reverse over reverse on
autograd) agree too.
"""

from __future__ import annotations

import numpy as np
import pytest

import optim
from optim import nn
from optim.gradients import second_order, value_and_gradients

pytest.importorskip("jax")
pytestmark = pytest.mark.jax

RNG = np.random.default_rng(7)
LOGITS = RNG.normal(size=(5, 4)) * 3
DENSE = RNG.dirichlet(np.ones(4), size=5)
SPARSE = np.array([0, 3, 1, 2, 3])
BINARY = RNG.uniform(size=(5, 4))

LOSSES = {
    "softmax": lambda x: optim.numpy.sum(nn.softmax(x) * DENSE),
    "log_softmax": lambda x: optim.numpy.sum(nn.log_softmax(x, axis=0) * DENSE),
    "softmax_xent": lambda x: optim.numpy.mean(nn.softmax_cross_entropy_with_logits(DENSE, x)),
    "sparse_softmax_xent": lambda x: optim.numpy.mean(
        nn.sparse_softmax_cross_entropy_with_logits(SPARSE, x)
    ),
    "sigmoid_xent": lambda x: optim.numpy.sum(nn.sigmoid_cross_entropy_with_logits(BINARY, x)),
    "l2_loss": lambda x: nn.l2_loss(x) * 0.1,
}


def on(engine, fun):
    with optim.use_backend(engine):
        return fun()


@pytest.mark.parametrize("name", LOSSES)
def test_tf_world_values_and_gradients_match_autograd(name):
    def run():
        x = optim.Variable(LOGITS.copy(), name="x")
        loss = lambda: LOSSES[name](x.value)  # noqa: E731
        value = float(loss())
        ((grad, _),) = optim.GradientDescentOptimizer(0.1).compute_gradients(loss, var_list=[x])
        return value, grad

    value_a, grad_a = on("autograd", run)
    value_j, grad_j = on("jax", run)
    assert isinstance(grad_j, np.ndarray) and grad_j.dtype == np.float64
    np.testing.assert_allclose(value_j, value_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_j, grad_a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_compiled_values_gradients_and_hvp_match_autograd(name):
    fun = LOSSES[name]
    v = RNG.normal(size=LOGITS.shape)

    def run(key):
        value, (grad,) = value_and_gradients(fun, [LOGITS], key=key)
        point = second_order(fun, [LOGITS], key=key)
        (product,) = point.hvp([v])
        return float(value), np.asarray(grad), np.asarray(product)

    got = on("jax", lambda: run(("test_jax_nn", name)))
    want = on("autograd", lambda: run(None))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_float32_stays_float32_on_jax():
    x32 = LOGITS.astype(np.float32)
    fun = lambda x: optim.numpy.mean(nn.sparse_softmax_cross_entropy_with_logits(SPARSE, x))  # noqa: E731
    value, (grad,) = on("jax", lambda: value_and_gradients(fun, [x32], key="f32"))
    assert value.dtype == np.float32 and grad.dtype == np.float32


def test_large_logits_stay_finite_on_jax():
    big = np.array([[1e4, -1e4, 0.0]])
    fun = lambda x: optim.numpy.sum(nn.sparse_softmax_cross_entropy_with_logits(np.array([1]), x))  # noqa: E731
    value, (grad,) = on("jax", lambda: value_and_gradients(fun, [big], key="big"))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0]], atol=1e-12)


def test_bad_labels_still_raise_on_jax():
    with optim.use_backend("jax"), pytest.raises(ValueError, match="class indices"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 9, 1, 2, 3]), LOGITS)
