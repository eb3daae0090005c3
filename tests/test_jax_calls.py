"""What one compiled call of the jax backend costs and gives back (issue 11's fixed costs).

The fixed cost per compiled call is kept small by running CPU computations inline (no thread
hand-over), by bringing the value and the gradients to the host as one buffer, and by reusing
the last call's compiled function and constant split. These tests pin what those shortcuts
must not change: results equal to autograd's, writable arrays of the leaves' shapes and dtypes,
new constant values always seen, float64 kept.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import optim
from optim.gradients import second_order, value_and_gradients

jax = pytest.importorskip("jax")
pytestmark = pytest.mark.jax
jnp = jax.numpy


def _loss(w, b, s, scale):
    xp = optim.get_backend().numpy
    return scale * (xp.sum(xp.tanh(w) ** 2) + xp.sum((b - 1.0) ** 3) + s**2)


def _leaves(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=5).astype(dtype),
            np.asarray(0.5, dtype)]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_value_and_gradients_match_autograd_and_are_writable(dtype):
    leaves = _leaves(dtype)
    want_value, want = value_and_gradients(_loss, leaves, (np.asarray(2.0, dtype),))
    with optim.use_backend("jax"):
        value, grads = value_and_gradients(
            _loss, leaves, (np.asarray(2.0, dtype),), key="test_calls_loss"
        )
    assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == dtype
    np.testing.assert_allclose(value, want_value, rtol=1e-6 if dtype == np.float32 else 1e-14)
    for g, w, leaf in zip(grads, want, leaves):
        assert isinstance(g, np.ndarray) and g.shape == leaf.shape and g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == np.float32 else 1e-13)
        assert g.flags.writeable
    before = [g.copy() for g in grads]
    grads[0][...] = 7.0  # each gradient is its own array: writing one leaves the others
    for g, b in zip(grads[1:], before[1:]):
        np.testing.assert_array_equal(g, b)


def test_mixed_dtypes_come_back_in_their_own_dtypes():
    leaves = [np.ones(3, np.float32), np.ones(2, np.float64)]

    def fun(a, b):
        return jnp.sum(a * 2.0) + jnp.sum(b**2)

    with optim.use_backend("jax"):
        value, (ga, gb) = value_and_gradients(fun, leaves, key="test_calls_mixed")
    assert value.dtype == np.float64 and ga.dtype == np.float32 and gb.dtype == np.float64
    np.testing.assert_array_equal(ga, 2.0)
    np.testing.assert_array_equal(gb, 2.0)


def test_the_same_constant_objects_with_new_values_are_seen():
    leaves = [np.ones(3)]
    target = np.zeros(3)

    def fun(x, t):
        return jnp.sum((x - t) ** 2)

    with optim.use_backend("jax"):
        _, (g1,) = value_and_gradients(fun, leaves, (target,), key="test_calls_target")
        target[:] = 3.0  # the same array object, changed in place
        _, (g2,) = value_and_gradients(fun, leaves, (target,), key="test_calls_target")
        _, (g3,) = value_and_gradients(fun, leaves, (np.full(3, -1.0),), key="test_calls_target")
        _, (g4,) = value_and_gradients(fun, leaves, (target,), key="test_calls_target")
    np.testing.assert_array_equal(g1, 2.0)
    np.testing.assert_array_equal(g2, -4.0)
    np.testing.assert_array_equal(g3, 4.0)
    np.testing.assert_array_equal(g4, -4.0)


def test_a_static_constant_changing_between_calls_is_respected():
    def fun(x, power):
        return jnp.sum(x**power)

    x = [np.full(2, 2.0)]
    with optim.use_backend("jax"):
        _, (g2,) = value_and_gradients(fun, x, (2,), key="test_calls_power")
        _, (g3,) = value_and_gradients(fun, x, (3,), key="test_calls_power")
        _, (g2_again,) = value_and_gradients(fun, x, (2,), key="test_calls_power")
    np.testing.assert_array_equal(g2, 4.0)
    np.testing.assert_array_equal(g3, 12.0)
    np.testing.assert_array_equal(g2_again, 4.0)


def test_compiled_hessian_products_match_autograd_between_value_calls():
    leaves = _leaves()
    vectors = [np.ones_like(leaf) for leaf in leaves]
    want = second_order(_loss, leaves, (2.0,)).hvp(vectors)
    with optim.use_backend("jax"):
        point = second_order(_loss, leaves, (2.0,), key="test_calls_hvp")
        value_and_gradients(_loss, _leaves(), (3.0,), key="test_calls_hvp")  # another call between
        got = point.hvp(vectors)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_float64_without_any_scope_stays_float64():  # x64 entered by the call itself
    backend = optim.get_backend("jax")
    value, (g,) = backend.value_and_gradients(
        lambda x: jnp.sum((x - (1.0 + 1e-12)) ** 2), [np.zeros(2)], key="test_calls_x64"
    )
    assert value.dtype == np.float64 and g.dtype == np.float64
    np.testing.assert_array_equal(g, -2.0 * (1.0 + 1e-12))


def _run(code: str, env: dict) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(
    "jax_cpu_enable_async_dispatch" not in jax.config.values, reason="a jax without the flag"
)
def test_loading_the_engine_runs_cpu_calls_inline_unless_the_environment_says():
    code = (
        "import jax, optim; before = jax.config.read('jax_cpu_enable_async_dispatch'); "
        "optim.get_backend('jax'); "
        "print(before, jax.config.read('jax_cpu_enable_async_dispatch'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAX_CPU_ENABLE_ASYNC_DISPATCH"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    assert _run(code, env) == "True False"
    env["JAX_CPU_ENABLE_ASYNC_DISPATCH"] = "true"
    assert _run(code, env) == "True True"  # the user's choice stands



def test_a_bound_jit_closure_follows_new_batches_and_other_inputs():
    """Each step's batch and the untrained variables' new values are seen (the reused plan)."""
    W = optim.Variable(np.arange(4.0), name="W")
    b = optim.Variable(np.zeros(()), name="b")  # read, but not trained: a constant input
    step = optim.jit_closure(lambda x, s: jnp.sum((W.value * x * s + b.value) ** 2), [W])
    opt = optim.GradientDescentOptimizer(0.0)  # gradients only: nothing moves
    x = np.array([1.0, -2.0, 3.0, 0.5])
    with optim.use_backend("jax"):
        for shift in (0.0, 1.0, -2.0):
            b.assign(shift)
            for scale in (1.0, -1.0, 2.0, np.float64(3.0)):
                (g, _), = opt.compute_gradients(step.bind(scale * x, scale), var_list=[W])
                xs = scale * x
                want = 2 * (W.array * xs * scale + shift) * xs * scale
                np.testing.assert_allclose(g, want, rtol=1e-12)
