"""Side by side with the real frameworks, when they are installed.

The same seeded gradient sequence (100 steps, two variables of different shapes) goes to optim
and to ``tf.compat.v1.train`` / ``keras.optimizers`` (Keras 3) / ``torch.optim``; parameters must
agree. Against TF1 the float32 runs are compared bit for bit where the kernels are the same (at
rtol 1e-6 where TF's Eigen kernels use rsqrt or pow). TF1 turns Python-float
hyperparameters into float32 tensors, so for float64 the TF side gets float64 constants.
Documented convention differences (epsilon placement, RMSProp's accumulator start, Nadam's
schedule) are asserted as differences, or mapped away (torch's eps set per step to TF's epsilon
hat).
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


def run_optim(make, dtype, with_global_step=False):
    """Runs optim; ``make`` gets the global step when ``with_global_step`` (AdagradDA)."""
    inits, grads = gradient_sequence(dtype)
    variables = [optim.Variable(x) for x in inits]
    step = optim.train.get_or_create_global_step() if with_global_step else None
    opt = make(step) if with_global_step else make()
    for g in grads:
        opt.apply_gradients(zip(g, variables), global_step=step)
    return [v.numpy() for v in variables]


@dataclass
class TFCase:
    name: str
    ours: Callable[[], optim.Optimizer]
    theirs: Callable[..., Any]  # called with a function turning a float into a TF constant
    bit_exact_float32: bool = True
    bit_exact_float64: bool = True
    # AdagradDA: both factories also get a global step, which apply_gradients increments.
    with_global_step: bool = False


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
    TFCase(
        "adagrad",
        lambda: optim.train.AdagradOptimizer(0.1, initial_accumulator_value=0.1),
        lambda c: tf1().AdagradOptimizer(c(0.1), initial_accumulator_value=0.1),
        # TF's Eigen kernel computes g * rsqrt(acc): one ulp off numpy's g / sqrt(acc).
        bit_exact_float32=False,
    ),
    TFCase(
        "adagrad_da",
        lambda step: optim.train.AdagradDAOptimizer(
            0.1, step, 0.1, l1_regularization_strength=0.05, l2_regularization_strength=0.02
        ),
        lambda c, step: tf1().AdagradDAOptimizer(
            c(0.1),
            step,
            0.1,
            l1_regularization_strength=c(0.05),
            l2_regularization_strength=c(0.02),
        ),
        with_global_step=True,
    ),
    TFCase(
        "adadelta",
        lambda: optim.train.AdadeltaOptimizer(1.0, rho=0.95, epsilon=1e-6),
        lambda c: tf1().AdadeltaOptimizer(c(1.0), rho=c(0.95), epsilon=c(1e-6)),
        # Eigen fuses sqrt(acc_upd + eps) * rsqrt(acc + eps): float32 differs by ulps.
        bit_exact_float32=False,
    ),
    TFCase(
        "rmsprop",
        lambda: optim.train.RMSPropOptimizer(0.01, decay=0.9, epsilon=1e-10),
        lambda c: tf1().RMSPropOptimizer(c(0.01), decay=c(0.9), epsilon=c(1e-10)),
    ),
    TFCase(
        "rmsprop_momentum",
        lambda: optim.train.RMSPropOptimizer(0.01, decay=0.9, momentum=0.9, epsilon=1e-10),
        lambda c: tf1().RMSPropOptimizer(c(0.01), decay=c(0.9), momentum=c(0.9), epsilon=c(1e-10)),
    ),
    TFCase(
        "rmsprop_centered",
        lambda: optim.train.RMSPropOptimizer(
            0.01, decay=0.9, momentum=0.9, epsilon=1e-10, centered=True
        ),
        lambda c: tf1().RMSPropOptimizer(
            c(0.01), decay=c(0.9), momentum=c(0.9), epsilon=c(1e-10), centered=True
        ),
    ),
    TFCase(
        "adam",
        lambda: optim.train.AdamOptimizer(0.01, 0.9, 0.999, 1e-8),
        lambda c: tf1().AdamOptimizer(c(0.01), c(0.9), c(0.999), c(1e-8)),
    ),
    TFCase(
        "ftrl",
        lambda: optim.train.FtrlOptimizer(
            0.1,
            initial_accumulator_value=0.1,
            l1_regularization_strength=0.05,
            l2_regularization_strength=0.02,
            l2_shrinkage_regularization_strength=0.01,
        ),
        lambda c: tf1().FtrlOptimizer(
            c(0.1),
            initial_accumulator_value=0.1,
            l1_regularization_strength=c(0.05),
            l2_regularization_strength=c(0.02),
            l2_shrinkage_regularization_strength=c(0.01),
        ),
    ),
    TFCase(
        "ftrl_power",
        lambda: optim.train.FtrlOptimizer(
            0.1, learning_rate_power=-0.3, l1_regularization_strength=0.05, beta=0.1
        ),
        lambda c: tf1().FtrlOptimizer(
            c(0.1), learning_rate_power=c(-0.3), l1_regularization_strength=c(0.05), beta=c(0.1)
        ),
        # p != 0.5 goes through pow(): Eigen's pow and numpy's differ by an ulp, float64 too.
        bit_exact_float32=False,
        bit_exact_float64=False,
    ),
    TFCase(
        "proximal_gd",
        lambda: optim.train.ProximalGradientDescentOptimizer(
            0.1, l1_regularization_strength=0.05, l2_regularization_strength=0.02
        ),
        lambda c: tf1().ProximalGradientDescentOptimizer(
            c(0.1), l1_regularization_strength=c(0.05), l2_regularization_strength=c(0.02)
        ),
    ),
    TFCase(
        "proximal_adagrad",
        lambda: optim.train.ProximalAdagradOptimizer(
            0.1, 0.1, l1_regularization_strength=0.05, l2_regularization_strength=0.02
        ),
        lambda c: tf1().ProximalAdagradOptimizer(
            c(0.1), 0.1, l1_regularization_strength=c(0.05), l2_regularization_strength=c(0.02)
        ),
        # eta = lr * rsqrt(acc) in the Eigen kernel: float32 differs by ulps.
        bit_exact_float32=False,
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
    const = lambda x: tf.constant(x, dtype=tf.as_dtype(dtype))  # noqa: E731
    step = tf.Variable(0, dtype=tf.int64) if case.with_global_step else None
    tf_opt = case.theirs(const, step) if case.with_global_step else case.theirs(const)
    for g in grads:
        tf_opt.apply_gradients(
            [(tf.constant(gi), v) for gi, v in zip(g, tf_vars)], global_step=step
        )
    ours = run_optim(case.ours, dtype, with_global_step=case.with_global_step)
    for a, b in zip(ours, tf_vars):
        bit_exact = case.bit_exact_float32 if dtype == np.float32 else case.bit_exact_float64
        if bit_exact:
            np.testing.assert_array_equal(a, b.numpy())
        elif dtype == np.float32:
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-6, atol=1e-6)
        else:
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-13, atol=1e-13)


def test_tensorflow_float64_with_python_floats_uses_float32_rounded_rates(graph, tf):
    """The documented difference: TF1 rounds a Python-float rate to float32 first."""
    inits, grads = gradient_sequence(np.float64)
    tf_var = tf.Variable(inits[1])
    tf1().GradientDescentOptimizer(0.1).apply_gradients([(tf.constant(grads[0][1]), tf_var)])
    ours = optim.Variable(inits[1])
    rounded = float(np.float32(0.1))
    optim.train.GradientDescentOptimizer(rounded).apply_gradients([(grads[0][1], ours)])
    np.testing.assert_array_equal(ours.value, tf_var.numpy())


@dataclass
class KerasCase:
    name: str
    ours: Callable[[], optim.Optimizer]
    theirs: Callable[[Any], Any]  # called with the ``keras`` module
    tol: float = 1e-6
    # True: a documented convention difference; assert the results are far apart instead.
    differs: bool = False


# Keras 3 defaults mapped onto optim's arguments (epsilon 1e-7, AdamW weight_decay 0.004, ...);
# learning_rate 0.01 rather than Keras' 0.001 so that 100 steps move the variables visibly.
KERAS_CASES = [
    KerasCase(
        "adam_amsgrad",
        lambda: optim.train.AdamOptimizer(0.01, 0.9, 0.999, epsilon=1e-7, amsgrad=True),
        lambda k: k.optimizers.Adam(0.01, amsgrad=True),
        # Keras takes beta**t from pow(beta, iterations + 1); optim keeps TF1's running
        # product of float32 beta powers (bit-exact with TF1 above). 1 - beta2**t magnifies
        # their ulp differences: ~2e-6 apart after 100 steps in float32.
        tol=1e-5,
    ),
    KerasCase(
        "adamw",
        lambda: optim.train.AdamWOptimizer(0.004, 0.01, 0.9, 0.999, epsilon=1e-7),
        lambda k: k.optimizers.AdamW(0.01, weight_decay=0.004),
        tol=1e-5,  # the beta powers, as for adam_amsgrad
    ),
    KerasCase(
        "adamax",
        lambda: optim.train.AdamaxOptimizer(0.01, 0.9, 0.999, epsilon=1e-7),
        lambda k: k.optimizers.Adamax(0.01),
    ),
    KerasCase(
        "nadam_keras3_schedule",
        lambda: optim.train.NadamOptimizer(0.01, 0.9, 0.999, epsilon=1e-7, schedule_decay=1.0),
        lambda k: k.optimizers.Nadam(0.01),
    ),
    KerasCase(
        # optim's default schedule 0.96**(0.004 t) is Keras 2 / PyTorch, not Keras 3 (0.96**t).
        "nadam_default_schedule_differs",
        lambda: optim.train.NadamOptimizer(0.01, 0.9, 0.999, epsilon=1e-7),
        lambda k: k.optimizers.Nadam(0.01),
        differs=True,
    ),
    KerasCase(
        "lion",
        lambda: optim.train.LionOptimizer(0.01, 0.9, 0.99),
        lambda k: k.optimizers.Lion(0.01),
    ),
    KerasCase(
        "adafactor",
        lambda: optim.train.AdafactorOptimizer(0.01),
        lambda k: k.optimizers.Adafactor(0.01),
    ),
    KerasCase(
        # Keras 3 RMSprop starts rms at 0 (TF1 and optim: 1.0).
        "rmsprop_rms_start_differs",
        lambda: optim.train.RMSPropOptimizer(0.01, decay=0.9, epsilon=1e-7),
        lambda k: k.optimizers.RMSprop(0.01, rho=0.9),
        differs=True,
    ),
]


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: c.name)
def test_matches_keras3(graph, keras, case):
    """float32 only: Keras casts Python-float hyperparameters through float32 even for float64
    variables (its float64 Adam is ~7e-6 relative off the exact betas)."""
    dtype = np.float32
    inits, grads = gradient_sequence(dtype)
    k_vars = [keras.Variable(x) for x in inits]
    k_opt = case.theirs(keras)
    for g in grads:
        k_opt.apply_gradients(zip([keras.ops.convert_to_tensor(gi) for gi in g], k_vars))
    ours = run_optim(case.ours, dtype)
    for a, v in zip(ours, k_vars):
        b = v.numpy()
        if case.differs:
            assert np.max(np.abs(a - b)) > 1e-3
        else:
            np.testing.assert_allclose(a, b, rtol=case.tol, atol=case.tol)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@dataclass
class TorchCase:
    name: str
    ours: Callable[[], optim.Optimizer]
    theirs: Callable[[Any, list], Any]  # called with the ``torch`` module and the parameters
    dtype: type = np.float32
    tol: float = 1e-6
    # True: a documented convention difference; assert the results differ by more than ``tol``.
    differs: bool = False
    # Called as ``before_step(torch_optimizer, t)`` with t = 1, 2, ... before each torch step.
    before_step: Callable[[Any, int], None] | None = None


def adam_eps_hat(eps, beta2=0.999):
    """Sets torch's eps so that its ``sqrt(v_hat) + eps`` equals TF's ``sqrt(v) + eps``."""

    def hook(opt, t):
        for group in opt.param_groups:
            group["eps"] = eps / np.sqrt(1.0 - beta2**t)

    return hook


TORCH_CASES = [
    TorchCase(
        "sgd", lambda: optim.train.GradientDescentOptimizer(0.1), lambda t, p: t.optim.SGD(p, 0.1)
    ),
    TorchCase(
        "momentum",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9),
        lambda t, p: t.optim.SGD(p, 0.1, momentum=0.9),
    ),
    TorchCase(
        "nesterov",
        lambda: optim.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        lambda t, p: t.optim.SGD(p, 0.1, momentum=0.9, nesterov=True),
    ),
    # Adam: TF's epsilon hat sits on the uncorrected sqrt(v), torch's eps on sqrt(v_hat).
    TorchCase(
        "adam_eps0",
        lambda: optim.train.AdamOptimizer(0.01, 0.9, 0.999, epsilon=0.0),
        lambda t, p: t.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=0.0),
    ),
    TorchCase(
        "adam_eps_hat_per_step_float64",
        lambda: optim.train.AdamOptimizer(0.01, 0.9, 0.999, epsilon=1e-8),
        lambda t, p: t.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
        dtype=np.float64,
        tol=1e-12,
        before_step=adam_eps_hat(1e-8),
    ),
    TorchCase(
        "adam_eps_placement_differs_float64",
        lambda: optim.train.AdamOptimizer(0.01, 0.9, 0.999, epsilon=1e-8),
        lambda t, p: t.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
        dtype=np.float64,
        tol=1e-12,  # float64 rounding here is ~1e-15; the placement moves results by ~1e-8
        differs=True,
    ),
    # torch AdamW: param *= 1 - lr*wd, optim's default weight_decay_scale="learning_rate".
    TorchCase(
        "adamw_eps0",
        lambda: optim.train.AdamWOptimizer(0.01, 0.01, 0.9, 0.999, epsilon=0.0),
        lambda t, p: t.optim.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=0.0, weight_decay=0.01),
        # torch multiplies by (1 - lr*wd) rounded to float32 (0.9999 -> 0.99989998): a 1.7e-8
        # relative bias per step, ~2.5e-6 after 100 steps (optim computes var - var*wd*lr and
        # stays within 6e-7 of the float64 run). The float64 case below agrees to 1e-12.
        tol=5e-6,
    ),
    TorchCase(
        "adamw_eps_hat_per_step_float64",
        lambda: optim.train.AdamWOptimizer(0.01, 0.01, 0.9, 0.999, epsilon=1e-8),
        lambda t, p: t.optim.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
        dtype=np.float64,
        tol=1e-12,
        before_step=adam_eps_hat(1e-8),
    ),
    # torch Adagrad: lr*g/(sqrt(acc)+eps), optim's epsilon= option (Keras 2 / TF2 kernel).
    TorchCase(
        "adagrad_epsilon",
        lambda: optim.train.AdagradOptimizer(0.1, initial_accumulator_value=0.1, epsilon=1e-10),
        lambda t, p: t.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-10),
    ),
    TorchCase(
        "rmsprop_differs",  # TF1: rms starts at 1, eps inside sqrt; torch: 0, eps outside
        lambda: optim.train.RMSPropOptimizer(0.01, decay=0.99, epsilon=1e-8),
        lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8),
        tol=1e-3,
        differs=True,
    ),
    TorchCase(
        "rmsprop_centered_momentum_differs",
        lambda: optim.train.RMSPropOptimizer(0.01, 0.99, 0.9, 1e-8, centered=True),
        lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.9, centered=True),
        tol=1e-3,
        differs=True,
    ),
    TorchCase(
        "adadelta",  # torch's lr 1.0; eps inside both roots in both
        lambda: optim.train.AdadeltaOptimizer(1.0, rho=0.9, epsilon=1e-6),
        lambda t, p: t.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6),
    ),
    TorchCase(
        "adamax_eps0",  # torch adds eps inside the max, TF to the denominator
        lambda: optim.train.AdamaxOptimizer(0.01, 0.9, 0.999, epsilon=0.0),
        lambda t, p: t.optim.Adamax(p, lr=0.01, betas=(0.9, 0.999), eps=0.0),
    ),
    TorchCase(
        "nadam",  # momentum_decay=4e-3 is optim's default schedule_decay=0.004
        lambda: optim.train.NadamOptimizer(0.01, 0.9, 0.999, epsilon=1e-8),
        lambda t, p: t.optim.NAdam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, momentum_decay=4e-3),
    ),
    TorchCase(
        "radam",
        lambda: optim.train.RAdamOptimizer(0.01, 0.9, 0.999, epsilon=1e-8),
        lambda t, p: t.optim.RAdam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
    ),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.name)
def test_matches_torch(graph, torch, case):
    inits, grads = gradient_sequence(case.dtype)
    params = [torch.tensor(x, requires_grad=True) for x in inits]
    opt = case.theirs(torch, params)
    for t, g in enumerate(grads, start=1):
        for p, gi in zip(params, g):
            p.grad = torch.tensor(gi)
        if case.before_step is not None:
            case.before_step(opt, t)
        opt.step()
    ours = run_optim(case.ours, case.dtype)
    theirs = [p.detach().numpy() for p in params]
    if case.differs:
        assert max(np.max(np.abs(a - b)) for a, b in zip(ours, theirs)) > case.tol
    else:
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=case.tol, atol=case.tol)
