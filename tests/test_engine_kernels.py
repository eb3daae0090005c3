"""The flat-buffer update kernels of optim.engine: numpy (blocked) and numba.

(a) The blocked numpy kernels reproduce the real per-variable optimizers bit for bit: each
    case builds the ``optim.train`` optimizer, applies three gradients to one Variable, and
    runs the flat kernel on copies of the same data, with the per-step scalars computed here
    the way the optimizer computes them (hyperparameters cast to the dtype, beta powers
    multiplied once per step in the dtype, ...). Variables and every slot are compared after
    every step, NaN and infinity included (same NaN positions, all other bits equal).
(b) The numba kernels equal the numpy kernels bit for bit (skipped without numba).
Plus: results do not depend on the block size, the gradient is never written, bad input
raises before anything changes, and ``import optim`` does not import numba.
"""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import optim
from optim.engine import kernels, numpy_kernels

B = numpy_kernels.DEFAULT_BLOCK
SIZES = [0, 1, 17, B - 1, B, B + 1, 3 * B + 5, 100_003]
DTYPES = [np.float32, np.float64]
STEPS = 3


# -- per-step scalars, computed as the optimizers compute them -------------------------------
def power(dtype, beta, t):
    """``beta**t`` as the optimizers' non-slot state: ``beta`` cast, then one multiply a step."""
    p = dtype(beta)
    for _ in range(t - 1):
        p = p * dtype(beta)
    return p


def adam_alpha(dtype, lr, beta1, beta2, t):
    one = dtype(1)
    return dtype(lr) * np.sqrt(one - power(dtype, beta2, t)) / (one - power(dtype, beta1, t))


def nadam_scalars(dtype, lr, beta1, beta2, epsilon, decay, t):
    base, b1, k = dtype(0.96), dtype(beta1), dtype(decay)
    cache = dtype(1)
    for step in range(1, t + 1):
        tt = dtype(step - 1) + 1
        u_t = b1 * (1 - 0.5 * base ** (k * tt))
        u_t1 = b1 * (1 - 0.5 * base ** (k * (tt + 1)))
        product = cache * u_t
        cache = cache * u_t
    one = dtype(1)
    return (
        dtype(lr),
        b1,
        dtype(beta2),
        dtype(epsilon),
        u_t,
        u_t1,
        one - product,
        one - product * u_t1,
        one - dtype(beta2) ** tt,
    )


def ftrl_l2(dtype, lr, l2, beta):
    """FTRL's L2 with ``beta`` folded in, as TF1's ``_prepare`` (in the dtype)."""
    lr, l2, beta = dtype(lr), dtype(l2), dtype(beta)
    return l2 + beta / (2 * max(lr, dtype(1e-36))) if beta else l2


def radam_scalars(dtype, lr, beta1, beta2, epsilon, t):
    """RAdam's step scalars, computed in Python floats as PyTorch does, then cast."""
    bias_correction2 = 1 - beta2**t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
    rect = None
    if rho_t > 5:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        rect = rect**0.5
    values = (lr, 1 - beta1, beta2, 1 - beta2, epsilon, 1 - beta1**t, bias_correction2**0.5)
    return (*[dtype(x) for x in values], None if rect is None else dtype(rect))


def lamb_scalars(dtype, lr, beta1, beta2, epsilon, weight_decay, t):
    """LAMB's step scalars, in the dtype (``t`` cast, the powers in the dtype)."""
    b1, b2, tt = dtype(beta1), dtype(beta2), dtype(t)
    return (
        dtype(lr), b1, 1 - b1, b2, 1 - b2, dtype(epsilon), dtype(weight_decay),
        1 - b1**tt, 1 - b2**tt,
    )  # fmt: skip


def global_step_at(value):
    """An int64 global step Variable holding ``value`` (AdagradDA's ``T`` is value + 1)."""
    return optim.Variable(value, name="global_step", trainable=False, dtype=np.int64)


@dataclass
class Case:
    """One kernel configuration and the optimizer it must reproduce."""

    id: str
    kernel: str
    make: Callable[[], Any]  # the optim.train optimizer
    slots: tuple  # per kernel slot argument: None (unused) or (slot name, initial value)
    scalars: Callable[[Any, int], tuple]  # (dtype, step t from 1) -> trailing kernel args
    steps: int = STEPS  # how many gradients are applied
    scratch: int = 2  # the numpy kernel's temporaries per element of a block
    segments: bool = False  # the kernel takes segment offsets (one segment here) and
    # full-size temporaries (scratch per element of the buffer)


T = optim.train
P = {"nonfinite": "propagate"}
CASES = [
    Case(
        "gradient_descent",
        "gradient_descent",
        lambda: T.GradientDescentOptimizer(0.03, **P),
        (),
        lambda d, t: (d(0.03),),
    ),
    Case(
        "momentum",
        "momentum",
        lambda: T.MomentumOptimizer(0.02, 0.9, **P),
        (("momentum", 0.0),),
        lambda d, t: (d(0.02), d(0.9), False),
    ),
    Case(
        "nesterov",
        "momentum",
        lambda: T.MomentumOptimizer(0.02, 0.9, use_nesterov=True, **P),
        (("momentum", 0.0),),
        lambda d, t: (d(0.02), d(0.9), True),
    ),
    Case(
        "adagrad",
        "adagrad",
        lambda: T.AdagradOptimizer(0.1, initial_accumulator_value=0.1, **P),
        (("accumulator", 0.1),),
        lambda d, t: (d(0.1), None),
    ),
    Case(
        "adagrad_epsilon",
        "adagrad",
        lambda: T.AdagradOptimizer(0.1, initial_accumulator_value=0.2, epsilon=1e-7, **P),
        (("accumulator", 0.2),),
        lambda d, t: (d(0.1), d(1e-7)),
    ),
    Case(
        "rmsprop",
        "rmsprop",
        lambda: T.RMSPropOptimizer(0.01, decay=0.9, momentum=0.0, epsilon=1e-10, **P),
        (("rms", 1.0), None, ("momentum", 0.0)),
        lambda d, t: (d(0.01), d(0.9), d(0.0), d(1e-10)),
    ),
    Case(
        "rmsprop_momentum",
        "rmsprop",
        lambda: T.RMSPropOptimizer(0.01, decay=0.85, momentum=0.7, epsilon=1e-6, **P),
        (("rms", 1.0), None, ("momentum", 0.0)),
        lambda d, t: (d(0.01), d(0.85), d(0.7), d(1e-6)),
    ),
    Case(
        "rmsprop_centered",
        "rmsprop",
        lambda: T.RMSPropOptimizer(0.01, 0.9, 0.5, 1e-7, centered=True, **P),
        (("rms", 1.0), ("mg", 0.0), ("momentum", 0.0)),
        lambda d, t: (d(0.01), d(0.9), d(0.5), d(1e-7)),
    ),
    Case(
        "adam",
        "adam",
        lambda: T.AdamOptimizer(0.001, 0.9, 0.999, 1e-8, **P),
        (("m", 0.0), ("v", 0.0), None),
        lambda d, t: (adam_alpha(d, 0.001, 0.9, 0.999, t), d(0.9), d(0.999), d(1e-8)),
    ),
    Case(
        "amsgrad",
        "adam",
        lambda: T.AdamOptimizer(0.003, 0.8, 0.99, 1e-7, amsgrad=True, **P),
        (("m", 0.0), ("v", 0.0), ("vhat", 0.0)),
        lambda d, t: (adam_alpha(d, 0.003, 0.8, 0.99, t), d(0.8), d(0.99), d(1e-7)),
    ),
    Case(
        "adamw",
        "adamw",
        lambda: T.AdamWOptimizer(0.01, 0.002, 0.9, 0.999, 1e-7, **P),
        (("m", 0.0), ("v", 0.0), None),
        lambda d, t: (
            adam_alpha(d, 0.002, 0.9, 0.999, t), d(0.9), d(0.999), d(1e-7), d(0.01), d(0.002),
        ),  # fmt: skip
    ),
    Case(
        "adamw_amsgrad_unscaled",
        "adamw",
        lambda: T.AdamWOptimizer(
            0.003, 0.002, 0.9, 0.999, 1e-7, amsgrad=True, weight_decay_scale="none", **P
        ),
        (("m", 0.0), ("v", 0.0), ("vhat", 0.0)),
        lambda d, t: (
            adam_alpha(d, 0.002, 0.9, 0.999, t), d(0.9), d(0.999), d(1e-7), d(0.003), None,
        ),  # fmt: skip
    ),
    Case(
        "lion",
        "lion",
        lambda: T.LionOptimizer(0.0003, 0.9, 0.99, **P),
        (("momentum", 0.0),),
        lambda d, t: (d(0.0003), d(0.9), d(0.99)),
    ),
    Case(
        "lion_weight_decay",
        "lion_weight_decay",
        lambda: T.LionOptimizer(0.0003, 0.9, 0.99, weight_decay=0.05, **P),
        (("momentum", 0.0),),
        lambda d, t: (d(0.0003), d(0.9), d(0.99), d(0.05), d(0.0003)),
    ),
    Case(
        "adadelta",
        "adadelta",
        lambda: T.AdadeltaOptimizer(1.0, 0.95, 1e-6, **P),
        (("accum", 0.0), ("accum_update", 0.0)),
        lambda d, t: (d(1.0), d(0.95), d(1e-6)),
    ),
    Case(
        "adamax",
        "adamax",
        lambda: T.AdamaxOptimizer(0.002, 0.9, 0.999, 1e-7, **P),
        (("m", 0.0), ("v", 0.0)),
        lambda d, t: (d(0.002) / (d(1) - power(d, 0.9, t)), d(0.9), d(0.999), d(1e-7)),
    ),
    Case(
        "nadam",
        "nadam",
        lambda: T.NadamOptimizer(0.002, 0.9, 0.999, 1e-7, schedule_decay=0.004, **P),
        (("m", 0.0), ("v", 0.0)),
        lambda d, t: nadam_scalars(d, 0.002, 0.9, 0.999, 1e-7, 0.004, t),
    ),
    Case(
        "nadam_keras3",
        "nadam",
        lambda: T.NadamOptimizer(0.01, 0.9, 0.99, 1e-7, schedule_decay=1.0, **P),
        (("m", 0.0), ("v", 0.0)),
        lambda d, t: nadam_scalars(d, 0.01, 0.9, 0.99, 1e-7, 1.0, t),
    ),
    Case(
        "ftrl",
        "ftrl",
        lambda: T.FtrlOptimizer(
            0.1, l1_regularization_strength=0.001, l2_regularization_strength=0.01, **P
        ),
        (("accum", 0.1), ("linear", 0.0)),
        lambda d, t: (d(0.1), d(0.001), d(0.01), d(0.0), d(-0.5)),
        scratch=4,
    ),
    Case(
        "ftrl_power_shrinkage_beta",  # lr_power != -0.5: np.power against numba's **
        "ftrl",
        lambda: T.FtrlOptimizer(
            0.05, -0.3, 0.2, 0.002, 0.01, l2_shrinkage_regularization_strength=0.02, beta=0.1,
            **P,
        ),  # fmt: skip
        (("accum", 0.2), ("linear", 0.0)),
        lambda d, t: (d(0.05), d(0.002), ftrl_l2(d, 0.05, 0.01, 0.1), d(0.02), d(-0.3)),
        scratch=4,
    ),
    Case(
        "ftrl_power_zero",  # lr_power = 0: a fixed rate
        "ftrl",
        lambda: T.FtrlOptimizer(0.05, 0.0, 0.1, **P),
        (("accum", 0.1), ("linear", 0.0)),
        lambda d, t: (d(0.05), d(0.0), d(0.0), d(0.0), d(0.0)),
        scratch=4,
    ),
    Case(
        "adagrad_da",
        "adagrad_da",
        lambda: T.AdagradDAOptimizer(0.1, global_step_at(4), 0.1, 0.001, 0.01, **P),
        (("gradient_accumulator", 0.0), ("gradient_squared_accumulator", 0.1)),
        lambda d, t: (d(0.1), d(0.001), d(0.01), d(5)),
    ),
    Case(
        "adagrad_da_l2_only",
        "adagrad_da",
        lambda: T.AdagradDAOptimizer(0.2, global_step_at(0), 0.3, 0.0, 0.02, **P),
        (("gradient_accumulator", 0.0), ("gradient_squared_accumulator", 0.3)),
        lambda d, t: (d(0.2), d(0.0), d(0.02), d(1)),
    ),
    Case(
        "proximal_gradient_descent",
        "proximal_gradient_descent",
        lambda: T.ProximalGradientDescentOptimizer(0.1, 0.01, 0.02, **P),
        (),
        lambda d, t: (d(0.1), d(0.01), d(0.02)),
        scratch=1,
    ),
    Case(
        "proximal_gradient_descent_l2_only",
        "proximal_gradient_descent",
        lambda: T.ProximalGradientDescentOptimizer(0.1, 0.0, 0.05, **P),
        (),
        lambda d, t: (d(0.1), d(0.0), d(0.05)),
        scratch=1,
    ),
    Case(
        "proximal_adagrad",
        "proximal_adagrad",
        lambda: T.ProximalAdagradOptimizer(0.1, 0.1, 0.01, 0.02, **P),
        (("accumulator", 0.1),),
        lambda d, t: (d(0.1), d(0.01), d(0.02)),
        scratch=3,
    ),
    Case(
        "proximal_adagrad_plain",
        "proximal_adagrad",
        lambda: T.ProximalAdagradOptimizer(0.1, 0.2, **P),
        (("accumulator", 0.2),),
        lambda d, t: (d(0.1), d(0.0), d(0.0)),
        scratch=3,
    ),
    Case(
        "radam",  # 8 steps: t = 6, 7, 8 are rectified
        "radam",
        lambda: T.RAdamOptimizer(0.01, 0.9, 0.999, 1e-8, **P),
        (("m", 0.0), ("v", 0.0)),
        lambda d, t: radam_scalars(d, 0.01, 0.9, 0.999, 1e-8, t),
        steps=8,
    ),
    Case(
        "lamb",
        "lamb",
        lambda: T.LAMBOptimizer(0.01, 0.9, 0.999, 1e-6, weight_decay=0.01, **P),
        (("m", 0.0), ("v", 0.0)),
        lambda d, t: lamb_scalars(d, 0.01, 0.9, 0.999, 1e-6, 0.01, t),
        segments=True,
    ),
    Case(
        "lamb_no_decay",
        "lamb",
        lambda: T.LAMBOptimizer(0.02, 0.8, 0.99, 1e-7, **P),
        (("m", 0.0), ("v", 0.0)),
        lambda d, t: lamb_scalars(d, 0.02, 0.8, 0.99, 1e-7, 0.0, t),
        segments=True,
    ),
]
CASE_IDS = [case.id for case in CASES]


def test_every_kernel_has_a_case():
    assert {case.kernel for case in CASES} == set(kernels.KERNEL_NAMES)


# -- data -------------------------------------------------------------------------------------
def make_data(n, dtype, seed, steps=STEPS):
    """A variable and ``steps`` gradients: magnitudes 1e-6..1e2, both signs, ~0.4% NaN/±inf/±0."""
    rng = np.random.default_rng(seed)
    var = rng.standard_normal(n).astype(dtype)
    var[rng.random(n) < 0.002] = -0.0
    var[13:16] = -0.0  # meets -0.0 gradients (and -0.0 slots in the random state below)
    grads = []
    for step in range(steps):
        g = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-6, 2, n)
        g[rng.random(n) < 0.001] = 0.0
        g[rng.random(n) < 0.001] = -0.0
        g[rng.random(n) < 0.001] = np.nan
        g[rng.random(n) < 0.0005] = np.inf
        g[rng.random(n) < 0.0005] = -np.inf
        if n >= 17:  # a few sure hits, at different places each step
            g[(2 + step) % n] = np.nan
            g[(8 + step) % n] = np.inf
            g[(12 + step) % n] = 0.0
            g[(13 + step) % n] = -0.0
        grads.append(g.astype(dtype))
    return var, grads


def assert_bits(actual, expected, what):
    """Same dtype and shape, NaN at the same places, every other element bit-identical."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, what
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), f"{what}: NaN at {np.flatnonzero(nan_a != nan_e)[:5]}"
    uint = np.dtype(f"u{actual.dtype.itemsize}")
    differ = (actual.view(uint) != expected.view(uint)) & ~nan_a
    assert not differ.any(), (
        f"{what}: {differ.sum()} of {actual.size} elements differ, first at "
        f"{np.flatnonzero(differ)[:5]}: {actual[differ][:3]} vs {expected[differ][:3]}"
    )


def kernel_buffers(case, var, dtype, seed=None):
    """Flat copies of the variable and the case's slots at their initial values.

    With a ``seed``, the slots start from a random state instead (the initial value plus
    ``|noise|``, with some exact ``-0.0`` and ``+0.0``), as after a checkpoint restore.
    """
    slots = [
        None if slot is None else np.full(var.shape, slot[1], dtype=dtype) for slot in case.slots
    ]
    if seed is not None:
        rng = np.random.default_rng(seed)
        for slot in slots:
            if slot is not None:
                slot += np.abs(rng.standard_normal(slot.size)).astype(dtype)
                slot[rng.random(slot.size) < 0.01] = -0.0
                slot[rng.random(slot.size) < 0.01] = 0.0
                slot[13:16] = -0.0
    return var.copy(), slots


def run_kernel(kernel, case, var, slots, grad, dtype, t, **options):
    segments = ([0, grad.size],) if case.segments else ()  # the whole buffer: one variable
    with np.errstate(all="ignore"):
        kernel(var, *slots, grad, *segments, *case.scalars(dtype, t), **options)


# -- (a) blocked numpy == the per-variable optimizer ------------------------------------------
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numpy_kernel_matches_optimizer(case, dtype, n, graph, monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, "off")  # the optimizer updates variable by variable
    var0, grads = make_data(n, dtype, seed=n, steps=case.steps)
    opt = case.make()
    variable = optim.Variable(var0.copy(), name="w")
    flat, slots = kernel_buffers(case, var0, dtype)
    kernel = getattr(numpy_kernels, case.kernel)
    for t, grad in enumerate(grads, start=1):
        kept = grad.copy()
        with np.errstate(all="ignore"):
            opt.apply_gradients([(grad.copy(), variable)])
        run_kernel(kernel, case, flat, slots, grad, dtype, t)
        assert_bits(grad, kept, "gradient written")
        assert_bits(flat, variable.value, f"var after step {t}")
        for slot, spec in zip(slots, case.slots):
            if spec is not None:
                assert_bits(slot, opt.get_slot(variable, spec[0]), f"{spec[0]} after step {t}")
    if n > 0:  # the comparison saw real updates, not an untouched buffer
        assert not np.array_equal(flat, var0, equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numpy_kernel_independent_of_block_size(case):
    dtype = np.float32
    var0, grads = make_data(1000, dtype, seed=7, steps=case.steps)
    kernel = getattr(numpy_kernels, case.kernel)
    results = []
    for block, with_scratch in ((1, False), (7, True), (64, False), (B, True)):
        flat, slots = kernel_buffers(case, var0, dtype)
        width = 1000 if case.segments else min(block, 1000)
        scratch = np.empty(case.scratch * width, dtype) if with_scratch else None
        for t, grad in enumerate(grads, start=1):
            run_kernel(kernel, case, flat, slots, grad, dtype, t, block=block, scratch=scratch)
        results.append([flat, *[s for s in slots if s is not None]])
    for other in results[1:]:
        for a, b in zip(other, results[0]):
            assert_bits(a, b, case.id)


def lamb_implementations():
    yield numpy_kernels.lamb
    if kernels.available():
        yield kernels.load_numba().lamb


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_lamb_segments_match_the_per_variable_optimizer(dtype, monkeypatch):
    """One trust ratio per segment: the flat kernel over several variables' segments equals
    LAMB updating each variable on its own (norms over the whole variable), slots included."""
    monkeypatch.setenv(kernels.ENV_VAR, "off")
    shapes = [(B + 1,), (1,), (17, 3), (), (B - 1,), (4, 5)]
    sizes = [int(np.prod(shape)) for shape in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    var0, grads = make_data(offsets[-1], dtype, seed=11)
    grads[1][offsets[3] : offsets[4]] = 0.0  # a zero update norm: ratio 1 for that variable
    var0[offsets[1] : offsets[2]] = 0.0  # a zero variable norm
    for kernel in lamb_implementations():
        with optim.Graph().as_default():
            variables = [
                optim.Variable(var0[a:b].reshape(shape), name=f"w{i}")
                for i, (a, b, shape) in enumerate(zip(offsets, offsets[1:], shapes))
            ]
            opt = T.LAMBOptimizer(0.01, weight_decay=0.01, **P)
            flat, m, v = var0.copy(), np.zeros_like(var0), np.zeros_like(var0)
            for t, grad in enumerate(grads, start=1):
                bounds = zip(offsets, offsets[1:], shapes)
                pieces = [grad[a:b].reshape(shape) for a, b, shape in bounds]
                scalars = lamb_scalars(dtype, 0.01, 0.9, 0.999, 1e-6, 0.01, t)
                with np.errstate(all="ignore"):
                    opt.apply_gradients([(g.copy(), w) for g, w in zip(pieces, variables)])
                    kernel(flat, m, v, grad, offsets, *scalars)
                for i, w in enumerate(variables):
                    seg = slice(offsets[i], offsets[i + 1])
                    assert_bits(flat[seg], w.value.reshape(-1), f"{w.name} after step {t}")
                    assert_bits(m[seg], opt.get_slot(w, "m").reshape(-1), f"m of {w.name}")
                    assert_bits(v[seg], opt.get_slot(w, "v").reshape(-1), f"v of {w.name}")
            assert not np.array_equal(flat, var0, equal_nan=True)


@pytest.mark.parametrize(
    "offsets, exc, message",
    [
        ([0, 3, 5], ValueError, "`offsets` must rise from 0 to the buffers' size 8"),
        ([1, 8], ValueError, "`offsets` must rise"),
        ([0, 5, 3, 8], ValueError, "`offsets` must rise"),
        ([0, 2.5, 8], TypeError, "`offsets` must be a sequence of integers"),
    ],
)
def test_lamb_bad_offsets_raise_and_change_nothing(offsets, exc, message):
    for kernel in lamb_implementations():
        var, m, v, grad = adam_buffers()
        before = [a.copy() for a in (var, m, v)]
        with pytest.raises(exc, match=message):
            kernel(var, m, v, grad, offsets, *lamb_scalars(np.float32, 0.1, 0.9, 0.9, 0, 0, 1))
        for a, b in zip((var, m, v), before):
            assert_bits(a, b, "changed by a rejected call")


def test_every_elementwise_optimizer_names_a_fused_kernel():
    """The classes of optim.train either run through the flat engine or say why not."""
    classes = {
        name: cls
        for name, cls in vars(optim.train).items()
        if isinstance(cls, type)
        and issubclass(cls, optim.Optimizer)
        and cls.__module__.startswith("optim.algorithms.")
    }
    fused = {name for name, cls in classes.items() if cls.flat_kernel is not None}
    assert {cls.flat_kernel for name, cls in classes.items() if name in fused} <= set(
        kernels.KERNEL_NAMES
    )
    elementwise = [
        "GradientDescentOptimizer", "MomentumOptimizer", "AdagradOptimizer", "RMSPropOptimizer",
        "AdamOptimizer", "AdamWOptimizer", "LionOptimizer", "AdadeltaOptimizer",
        "AdamaxOptimizer", "NadamOptimizer", "FtrlOptimizer", "AdagradDAOptimizer",
        "ProximalGradientDescentOptimizer", "ProximalAdagradOptimizer", "RAdamOptimizer",
        "LAMBOptimizer",
    ]  # fmt: skip
    assert not set(elementwise) - fused
    # Adafactor opts out (factored slots), and its docstring says why.
    assert classes["AdafactorOptimizer"].flat_kernel is None
    assert "no fused kernel" in classes["AdafactorOptimizer"].__doc__


# -- (b) numba == blocked numpy ---------------------------------------------------------------
@pytest.fixture(scope="module")
def numba_kernels():
    pytest.importorskip("numba", reason="numba not installed (the optim[fast] extra)")
    return kernels.load_numba()


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numba_kernel_matches_numpy_kernel(case, dtype, n, numba_kernels):
    var0, grads = make_data(n, dtype, seed=n + 1, steps=case.steps)
    for start in (None, n + 2):  # slots from their initial values, then from a random state
        flat_np, slots_np = kernel_buffers(case, var0, dtype, seed=start)
        flat_nb, slots_nb = kernel_buffers(case, var0, dtype, seed=start)
        check_numba_against_numpy(case, dtype, grads, flat_np, slots_np, flat_nb, slots_nb)


def check_numba_against_numpy(case, dtype, grads, flat_np, slots_np, flat_nb, slots_nb):
    fast = getattr(kernels.load_numba(), case.kernel)
    for t, grad in enumerate(grads, start=1):
        kept = grad.copy()
        run_kernel(getattr(numpy_kernels, case.kernel), case, flat_np, slots_np, grad, dtype, t)
        run_kernel(fast, case, flat_nb, slots_nb, grad, dtype, t)
        assert_bits(grad, kept, "gradient written")
        assert_bits(flat_nb, flat_np, f"var after step {t}")
        for a, b in zip(slots_nb, slots_np):
            if a is not None:
                assert_bits(a, b, f"slot after step {t}")


def test_numba_rejects_dtypes_it_does_not_compile(numba_kernels):
    var, grad = np.zeros(4, np.float16), np.ones(4, np.float16)
    with pytest.raises(TypeError, match="float32 or float64"):
        numba_kernels.gradient_descent(var, grad, np.float16(0.1))
    assert not var.any()
    with pytest.raises(TypeError, match="`dtype`"):
        kernels.get_kernel("adam", dtype=np.float16, prefer="numba")
    assert kernels.get_kernel("adam", dtype=np.float16, prefer="auto") is numpy_kernels.adam


def test_get_kernel_prefers_numba_when_installed(numba_kernels, monkeypatch):
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    assert kernels.available()
    assert kernels.get_kernel("adam") is numba_kernels.adam
    assert kernels.get_kernel("adam", dtype=np.float64) is numba_kernels.adam
    monkeypatch.setenv(kernels.ENV_VAR, "numpy")
    assert kernels.get_kernel("adam") is numpy_kernels.adam
    assert kernels.get_kernel("adam", prefer="numba") is numba_kernels.adam


# -- dispatch and bad input -------------------------------------------------------------------
def test_get_kernel_numpy_and_bad_arguments(monkeypatch):
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    for name in kernels.KERNEL_NAMES:
        assert kernels.get_kernel(name, prefer="numpy") is getattr(numpy_kernels, name)
    with pytest.raises(ValueError, match="`name` must be one of"):
        kernels.get_kernel("adamm")
    with pytest.raises(ValueError, match="`prefer` must be one of"):
        kernels.get_kernel("adam", prefer="cuda")
    with pytest.raises(TypeError, match="`prefer` must be one of"):
        kernels.get_kernel("adam", prefer=1)
    monkeypatch.setenv(kernels.ENV_VAR, "fastest")
    with pytest.raises(ValueError, match=r"\$OPTIM_ENGINE must be one of .* got 'fastest'"):
        kernels.get_kernel("adam")


def implementations():
    yield "numpy", numpy_kernels
    if kernels.available():
        yield "numba", kernels.load_numba()


def adam_buffers(n=8, dtype=np.float32):
    rng = np.random.default_rng(3)
    var, m, v, grad = (rng.standard_normal(n).astype(dtype) for _ in range(4))
    return [var, m, np.abs(v), grad]


BAD_CALLS = [
    # (description, mutate the argument list, exception, message)
    ("m float64", lambda a: a.__setitem__(1, a[1].astype(np.float64)), TypeError, "`m` must"),
    ("v too short", lambda a: a.__setitem__(2, a[2][:5].copy()), ValueError, "`v` must be a 1-D"),
    ("var strided", lambda a: a.__setitem__(0, np.repeat(a[0], 2)[::2]), ValueError, "`var`"),
    ("grad 2-D", lambda a: a.__setitem__(4, a[4].reshape(2, 4)), ValueError, "`grad` must"),
    ("grad list", lambda a: a.__setitem__(4, list(a[4])), TypeError, "`grad` must be a numpy"),
    ("var is m", lambda a: a.__setitem__(1, a[0]), ValueError, "`m` must not overlap"),
    ("alpha f64", lambda a: a.__setitem__(5, np.float64(0.1)), TypeError, "`alpha` must be a f"),
    ("beta1 str", lambda a: a.__setitem__(6, "0.9"), TypeError, "`beta1` must be a float32"),
]


@pytest.mark.parametrize("bad", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_input_raises_and_changes_nothing(bad):
    _, mutate, exc, message = bad
    for _, module in implementations():
        var, m, v, grad = adam_buffers()
        args = [var, m, v, None, grad, np.float32(0.1), np.float32(0.9), np.float32(0.99), 1e-8]
        mutate(args)
        before = [a.copy() for a in args if isinstance(a, np.ndarray)]
        with pytest.raises(exc, match=message):
            module.adam(*args)
        after = [a for a in args if isinstance(a, np.ndarray)]
        for a, b in zip(after, before):
            assert_bits(a, b, "changed by a rejected call")


def test_read_only_buffer_and_bad_block_rejected():
    for _, module in implementations():
        var, m, v, grad = adam_buffers()
        m.flags.writeable = False
        with pytest.raises(ValueError, match="`m` must be writeable"):
            module.adam(var, m, v, None, grad, 0.1, 0.9, 0.99, 1e-8)
    var, m, v, grad = adam_buffers()
    kept = var.copy()
    with pytest.raises(ValueError, match="`block` must be a positive integer, got 0"):
        numpy_kernels.adam(var, m, v, None, grad, 0.1, 0.9, 0.99, 1e-8, block=0)
    with pytest.raises(ValueError, match="`scratch` must be a 1-D float32 array of at least 16"):
        numpy_kernels.adam(var, m, v, None, grad, 0.1, 0.9, 0.99, 1e-8, scratch=np.empty(3))
    assert_bits(var, kept, "var")


def test_python_numbers_are_cast_to_the_dtype():
    """A Python float scalar gives what its numpy scalar of the dtype gives (numpy's rule)."""
    for _, module in implementations():
        a, b = adam_buffers(), adam_buffers()
        module.adam(a[0], a[1], a[2], None, a[3], 0.1, 0.9, 0.99, 1e-8)
        f = np.float32
        module.adam(b[0], b[1], b[2], None, b[3], f(0.1), f(0.9), f(0.99), f(1e-8))
        for x, y in zip(a, b):
            assert_bits(x, y, "python scalars")


# -- imports ----------------------------------------------------------------------------------
def run_python(code, **env):
    environment = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_optim_does_not_import_numba():
    out = run_python(
        "import sys, optim, optim.engine, optim.engine.kernels as k, optim.engine.numpy_kernels\n"
        "k.get_kernel('adam', prefer='numpy')\n"
        "print('numba' in sys.modules)\n",
        OPTIM_ENGINE="auto",
    )
    assert out.strip() == "False"


def test_without_numba_the_numpy_path_is_used_and_numba_requests_say_how_to_install():
    code = (
        "import sys\n"
        "sys.modules['numba'] = None  # makes `import numba` fail as if it were not installed\n"
        "from optim.engine import kernels, numpy_kernels\n"
        "assert not kernels.available()\n"
        "assert kernels.get_kernel('adam') is numpy_kernels.adam\n"
        "for call in (lambda: kernels.get_kernel('adam', prefer='numba'), kernels.load_numba):\n"
        "    try:\n"
        "        call()\n"
        "    except ImportError as exc:\n"
        "        print(exc)\n"
    )
    out = run_python(code, OPTIM_ENGINE="auto").splitlines()
    assert len(out) == 2 and all('pip install "optim[fast]"' in line for line in out), out
    forced = code.replace("assert kernels.get_kernel('adam') is numpy_kernels.adam\n", "")
    forced += (
        "try:\n"
        "    kernels.get_kernel('adam')\n"
        "except ImportError as exc:\n"
        "    print('env', exc)\n"
    )
    out = run_python(forced, OPTIM_ENGINE="numba").splitlines()
    assert out[-1].startswith("env ") and 'pip install "optim[fast]"' in out[-1], out
