"""Side by side with the real frameworks, when they are installed.

The same seeded gradient sequence (100 steps, two variables of different shapes) goes to optim
and to ``tf.compat.v1.train`` / ``torch.optim``; parameters must agree. Against TF1 the float32
runs are compared bit for bit where the kernels are the same. TF1 turns Python-float
hyperparameters into float32 tensors, so for float64 the TF side gets float64 constants.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import optim

SHAPES = [(4, 3), (7,)]
STEPS = 100


def gradient_sequence(dtype, seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return inits, grads


def run_optim(make, dtype):
    inits, grads = gradient_sequence(dtype)
    variables = [optim.Variable(x) for x in inits]
    opt = make()
    for g in grads:
        opt.apply_gradients(zip(g, variables))
    return [v.numpy() for v in variables]


@dataclass
class TFCase:
    name: str
    ours: Callable[[], optim.Optimizer]
    theirs: Callable[[Any], Any]  # called with a function turning a float into a TF constant
    bit_exact_float32: bool = True


TF_CASES = [
    TFCase(
        "gd",
        lambda: optim.train.GradientDescentOptimizer(0.1),
        lambda c: tf1().GradientDescentOptimizer(c(0.1)),
    ),
    TFCase(
        "momentum",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9),
        lambda c: tf1().MomentumOptimizer(c(0.1), c(0.9)),
    ),
    TFCase(
        "nesterov",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        lambda c: tf1().MomentumOptimizer(c(0.1), c(0.9), use_nesterov=True),
    ),
]


def tf1():
    import tensorflow as tf

    return tf.compat.v1.train


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", TF_CASES, ids=lambda c: c.name)
def test_matches_tensorflow_v1(graph, tf, case, dtype):
    inits, grads = gradient_sequence(dtype)
    tf_vars = [tf.Variable(x) for x in inits]
    tf_opt = case.theirs(lambda x: tf.constant(x, dtype=tf.as_dtype(dtype)))
    for g in grads:
        tf_opt.apply_gradients([(tf.constant(gi), v) for gi, v in zip(g, tf_vars)])
    ours = run_optim(case.ours, dtype)
    for a, b in zip(ours, tf_vars):
        if case.bit_exact_float32 or dtype == np.float64:
            np.testing.assert_array_equal(a, b.numpy())
        else:
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-6)


def test_tensorflow_float64_with_python_floats_uses_float32_rounded_rates(graph, tf):
    """The documented difference: TF1 rounds a Python-float rate to float32 first."""
    inits, grads = gradient_sequence(np.float64)
    tf_var = tf.Variable(inits[1])
    tf1().GradientDescentOptimizer(0.1).apply_gradients([(tf.constant(grads[0][1]), tf_var)])
    ours = optim.Variable(inits[1])
    rounded = float(np.float32(0.1))
    optim.train.GradientDescentOptimizer(rounded).apply_gradients([(grads[0][1], ours)])
    np.testing.assert_array_equal(ours.value, tf_var.numpy())


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


TORCH_CASES = [
    ("sgd", lambda: optim.train.GradientDescentOptimizer(0.1), lambda t, p: t.optim.SGD(p, 0.1)),
    (
        "momentum",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9),
        lambda t, p: t.optim.SGD(p, 0.1, momentum=0.9),
    ),
    (
        "nesterov",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        lambda t, p: t.optim.SGD(p, 0.1, momentum=0.9, nesterov=True),
    ),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c[0] if isinstance(c, tuple) else c)
def test_matches_torch(graph, torch, case):
    _, ours_factory, theirs_factory = case
    dtype = np.float32
    inits, grads = gradient_sequence(dtype)
    params = [torch.tensor(x, requires_grad=True) for x in inits]
    opt = theirs_factory(torch, params)
    for g in grads:
        for p, gi in zip(params, g):
            p.grad = torch.tensor(gi)
        opt.step()
    ours = run_optim(ours_factory, dtype)
    for a, p in zip(ours, params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-6, atol=1e-6)
