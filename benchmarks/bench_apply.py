"""Per-step cost of ``Optimizer.apply_gradients`` against a hand-written numpy loop.

What is measured: one ``opt.apply_gradients(grads_and_vars)`` call with a pre-built
``grads_and_vars`` list (gradients fixed, built once from ``np.random.default_rng(0)``), for
one tensor of 1e3, 1e5 and 1e7 parameters and for 1000 tensors of 1e3, in float32 and float64.
Beside it, in the same run and interleaved block by block, a plain in-place numpy loop does the
same math over the same gradient arrays, e.g. ``for w, g in zip(params, grads): w -= lr * g``.

Timing: a few warm-up steps (which also check that both sides compute the same numbers), then a
block of steps sized to take about ``--block-seconds``, repeated ``--repeats`` times with
``time.perf_counter``; the median block time divided by its step count is reported in
microseconds per step.

Reading the ratio (optim / numpy): for large tensors both sides are memory-bound and the ratio
shows the cost of optim's kernels themselves (in-place ufuncs with ``out=`` and a reused scratch
buffer, against numpy expressions that allocate temporaries), ideally <= 1. For small or many
tensors it shows optim's fixed Python overhead per call and per variable (validation, hooks,
slot and hyperparameter lookups); ~1 means no overhead, 3 means a step costs 3x the bare loop.

Two tables (``--suite``):

* ``grid``: the table above, GD/Momentum/Nesterov over ``--sizes`` x ``--dtypes``.
* ``family``: every optimizer of ``optim.train`` (``FAMILY``: GradientDescent, Momentum,
  Nesterov, Adagrad, AdagradDA, Adadelta, RMSProp plain and centered with momentum, Adam, AdamW,
  Adamax, Nadam, Lion, Adafactor, RAdam, LAMB, Ftrl, ProximalGradientDescent, ProximalAdagrad)
  in float32 over ``--family-sizes`` (default one tensor of 1e6 and 100 tensors of 1e4; quick:
  one of 1e4), each beside a hand-written numpy step written from the update rule (not from
  optim's kernels) and, when torch is importable, the ``torch.optim`` counterpart in its
  for-loop (``foreach=False``), ``foreach=True`` and ``fused=True`` forms ('-' where torch has
  no counterpart, or the form raises, e.g. no fused CPU kernel). Before timing, optim and numpy
  must agree after the warm-up steps (3; RAdam 6, so its rectified branch is checked) within
  ``np.allclose(rtol=1e-5)``, or the run raises. torch keeps its default thread count (printed;
  ``--torch-threads N`` overrides it) and ``p.grad`` is set once, outside the timed loop.
  ``o/torch`` is optim's time over the fastest torch form. Hyperparameters follow torch where
  torch has the rule (e.g. RMSProp-centered uses decay 0.99, torch's ``alpha``), but the torch
  math is not checked: some rules differ (torch's RMSprop starts ``rms`` at 0, Adagrad adds eps).
* ``all`` (default): ``grid``, then ``family``.

Recent optimizers (issue 13), in the family table: Muon (on square matrices: each vector of
the layout reshaped, 1e6 -> 1000x1000; torch.optim.Muon, which has no foreach/fused forms, in
the for-loop column), ScheduleFreeSGD/AdamW and Prodigy (beside their reference packages,
``schedulefree`` and ``prodigyopt``, in the ``reference`` columns: torch optimizers, timed in
the same process), SAM around GradientDescent and Lookahead around Momentum (no counterpart in
torch.optim). SAM has no ``apply_gradients``: its row times ``minimize`` with a gradient source
returning the fixed gradients, so each step includes SAM's two gradient evaluations (of that
source, which costs nothing), the ascent, the restore and the wrapped GD update; its numpy twin
does the same. Prodigy runs with ``growth_rate=1`` on all sides (see ``_prodigy_step``).
Muon calls BLAS (matrix products): on a loaded machine run with ``OPENBLAS_NUM_THREADS=1`` and
``--torch-threads 1``, or threaded BLAS spins (measured: a 100x100 float32 product took 40 ms
at load 12 on 2 cores, 0.13 ms single-threaded).

The gradients are fixed, so a rule whose state degenerates under a constant gradient (centered
RMSProp's ``ms - mg**2`` decays to 0) is flagged on stderr if the parameters turn non-finite.

Usage::

    PYTHONPATH=. python benchmarks/bench_apply.py            # both tables (~100 s on 2 cores)
    PYTHONPATH=. python benchmarks/bench_apply.py --quick    # smoke test, under 10 s
    PYTHONPATH=. python benchmarks/bench_apply.py --sizes 1000x1e3 --dtypes float32
    PYTHONPATH=. python benchmarks/bench_apply.py --suite family --optimizers Adam Lion

Only Muon's rows call BLAS, so BLAS settings matter for them alone (see above); torch's
intra-op threads matter everywhere (the torch columns are noisy on a loaded machine).
To benchmark another optimizer, add a row to ``BENCHES`` (grid) or ``FAMILY`` (family).
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import optim

LEARNING_RATE = 0.01
MOMENTUM = 0.9


# -- numpy references: state init and one in-place step over lists of arrays --------------------
def _no_state(params: list[np.ndarray]) -> None:
    return None


def _zeros_like_each(params: list[np.ndarray]) -> list[np.ndarray]:
    return [np.zeros_like(w) for w in params]


def _gd_step(params: list[np.ndarray], grads: list[np.ndarray], state: None) -> None:
    lr = LEARNING_RATE
    for w, g in zip(params, grads):
        w -= lr * g


def _momentum_step(params: list[np.ndarray], grads: list[np.ndarray], accums: list) -> None:
    lr, mu = LEARNING_RATE, MOMENTUM
    for w, g, a in zip(params, grads, accums):
        a *= mu
        a += g
        w -= lr * a


def _nesterov_step(params: list[np.ndarray], grads: list[np.ndarray], accums: list) -> None:
    lr, mu = LEARNING_RATE, MOMENTUM
    for w, g, a in zip(params, grads, accums):
        a *= mu
        a += g
        w -= lr * g + lr * mu * a


@dataclass(frozen=True)
class Bench:
    """One row of the benchmark table: an optim optimizer and its numpy twin."""

    name: str
    make: Callable[[], optim.Optimizer]
    init: Callable[[list[np.ndarray]], Any]
    step: Callable[[list[np.ndarray], list[np.ndarray], Any], None]


BENCHES: list[Bench] = [
    Bench(
        "GradientDescent",
        lambda: optim.GradientDescentOptimizer(LEARNING_RATE),
        _no_state,
        _gd_step,
    ),
    Bench(
        "Momentum",
        lambda: optim.MomentumOptimizer(LEARNING_RATE, MOMENTUM),
        _zeros_like_each,
        _momentum_step,
    ),
    Bench(
        "Nesterov",
        lambda: optim.MomentumOptimizer(LEARNING_RATE, MOMENTUM, use_nesterov=True),
        _zeros_like_each,
        _nesterov_step,
    ),
]

FULL_SIZES = ("1x1e3", "1x1e5", "1x1e7", "1000x1e3")
QUICK_SIZES = ("1x1e3", "100x1e3")
DTYPES = ("float32", "float64")
FAMILY_SIZES = ("1x1e6", "100x1e4")
FAMILY_QUICK_SIZES = ("1x1e4",)
FAMILY_DTYPE = np.dtype("float32")
SUITES = ("all", "grid", "family")


# -- the family suite: every optimizer in optim.train at ~1e6 float32 parameters ------------------
# Each numpy step below is written from the update rule (the reference's section 2 and the class
# docstrings), not copied from optim's kernels: plain expressions with temporaries, in-place only
# where the state is stored. ``state`` is a dict of per-variable lists plus a step counter ``t``.
def _state(params: list[np.ndarray], **slots: float) -> dict[str, Any]:
    state: dict[str, Any] = {
        name: [np.full_like(w, v) for w in params] for name, v in slots.items()
    }
    state["t"] = 0
    return state


def _adagrad_step(params, grads, s, lr=0.01):
    for w, g, acc in zip(params, grads, s["acc"]):
        acc += g * g
        w -= lr * g / np.sqrt(acc)


def _adagrad_da_step(params, grads, s, lr=0.01, l1=1e-3, l2=1e-3, T=1):
    # global_step is not passed to apply_gradients, so T = global_step + 1 stays 1.
    for w, g, ga, gga in zip(params, grads, s["ga"], s["gga"]):
        ga += g
        gga += g * g
        w[...] = (
            -np.sign(ga) * lr * np.maximum(np.abs(ga) - l1 * T, 0) / (l2 * T * lr + np.sqrt(gga))
        )


def _adadelta_step(params, grads, s, lr=1.0, rho=0.95, eps=1e-6):
    for w, g, acc, acc_upd in zip(params, grads, s["acc"], s["acc_upd"]):
        acc *= rho
        acc += (1 - rho) * g * g
        upd = np.sqrt(acc_upd + eps) / np.sqrt(acc + eps) * g
        w -= lr * upd
        acc_upd *= rho
        acc_upd += (1 - rho) * upd * upd


def _rmsprop_step(params, grads, s, lr=0.01, decay=0.9, mu=0.0, eps=1e-10, centered=False):
    for i, (w, g, ms, mom) in enumerate(zip(params, grads, s["ms"], s["mom"])):
        ms *= decay
        ms += (1 - decay) * g * g
        if centered:
            mg = s["mg"][i]
            mg *= decay
            mg += (1 - decay) * g
            denom = np.sqrt(ms - mg * mg + eps)
        else:
            denom = np.sqrt(ms + eps)
        mom *= mu
        mom += lr * g / denom
        w -= mom


def _rmsprop_centered_step(params, grads, s):
    # decay 0.99 (torch's default alpha): with a fixed gradient ``ms - mg**2`` decays like
    # ``decay**t`` and goes negative by rounding (NaN) after a few hundred steps at 0.9.
    _rmsprop_step(params, grads, s, decay=0.99, mu=0.9, centered=True)


def _adam_step(params, grads, s, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    s["t"] += 1
    t = s["t"]
    alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    for w, g, m, v in zip(params, grads, s["m"], s["v"]):
        if wd:
            w -= lr * wd * w  # AdamW: decoupled decay before the Adam step
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        w -= alpha * m / (np.sqrt(v) + eps)


def _adamw_step(params, grads, s):
    _adam_step(params, grads, s, eps=1e-7, wd=0.01)


def _adamax_step(params, grads, s, lr=2e-3, b1=0.9, b2=0.999, eps=1e-7):
    s["t"] += 1
    lr_t = lr / (1 - b1 ** s["t"])
    for w, g, m, v in zip(params, grads, s["m"], s["v"]):
        m *= b1
        m += (1 - b1) * g
        np.maximum(b2 * v, np.abs(g), out=v)
        w -= lr_t * m / (v + eps)


def _nadam_step(params, grads, s, lr=2e-3, b1=0.9, b2=0.999, eps=1e-7, k=0.004):
    s["t"] += 1
    t = s["t"]
    u_t = b1 * (1 - 0.5 * 0.96 ** (k * t))
    u_t1 = b1 * (1 - 0.5 * 0.96 ** (k * (t + 1)))
    s["P"] = p_t = s.get("P", 1.0) * u_t
    p_t1 = p_t * u_t1
    for w, g, m, v in zip(params, grads, s["m"], s["v"]):
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        m_bar = (1 - u_t) * g / (1 - p_t) + u_t1 * m / (1 - p_t1)
        w -= lr * m_bar / (np.sqrt(v / (1 - b2**t)) + eps)


def _lion_step(params, grads, s, lr=1e-4, b1=0.9, b2=0.99):
    for w, g, m in zip(params, grads, s["m"]):
        w -= lr * np.sign(b1 * m + (1 - b1) * g)
        m *= b2
        m += (1 - b2) * g


def _adafactor_step(params, grads, s, lr=1e-3, decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0):
    # Every tensor here is a vector, so Adafactor keeps the unfactored second moment ``v``.
    s["t"] += 1
    t = s["t"]
    rho = min(lr, 1 / math.sqrt(t))
    b = 1 - t**decay
    for w, g, v in zip(params, grads, s["v"]):
        scale = max(eps2, float(np.sqrt(np.mean(w * w)))) * rho
        v *= b
        v += (1 - b) * (g * g + eps1)
        u = g / np.sqrt(v)
        u /= max(1.0, float(np.sqrt(np.mean(u * u))) / clip)
        w -= scale * u


def _radam_step(params, grads, s, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    s["t"] += 1
    t = s["t"]
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
    for w, g, m, v in zip(params, grads, s["m"], s["v"]):
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        if rho_t > 5:
            r_t = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            w -= lr * r_t * math.sqrt(1 - b2**t) * m_hat / (np.sqrt(v) + eps)
        else:
            w -= lr * m_hat


def _lamb_step(params, grads, s, lr=1e-3, b1=0.9, b2=0.999, eps=1e-6, wd=0.01):
    s["t"] += 1
    t = s["t"]
    for w, g, m, v in zip(params, grads, s["m"], s["v"]):
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        u = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * w
        w_norm, u_norm = float(np.linalg.norm(w)), float(np.linalg.norm(u))
        ratio = w_norm / u_norm if w_norm and u_norm else 1.0
        w -= lr * ratio * u


def _ftrl_step(params, grads, s, lr=0.1, power=-0.5, l1=1e-3, l2=1e-3):
    p = -power
    for w, g, n, z in zip(params, grads, s["n"], s["z"]):
        n_new = n + g * g
        z += g - (n_new**p - n**p) / lr * w
        quad = n_new**p / lr + 2 * l2
        w[...] = np.where(np.abs(z) > l1, (l1 * np.sign(z) - z) / quad, 0)
        n[...] = n_new


def _proximal_gd_step(params, grads, s, lr=0.01, l1=1e-3, l2=1e-3):
    for w, g in zip(params, grads):
        prox = w - lr * g
        w[...] = np.sign(prox) * np.maximum(np.abs(prox) - lr * l1, 0) / (1 + lr * l2)


def _proximal_adagrad_step(params, grads, s, lr=0.01, l1=1e-3, l2=1e-3):
    for w, g, acc in zip(params, grads, s["acc"]):
        acc += g * g
        eta = lr / np.sqrt(acc)
        prox = w - eta * g
        w[...] = np.sign(prox) * np.maximum(np.abs(prox) - eta * l1, 0) / (1 + eta * l2)


# The recent optimizers (issue 13), written from the rules of reference/modern_optimizers.md.
def _newton_schulz(g, coefficients=(3.4445, -4.7750, 2.0315), steps=5, eps=1e-7):
    a, b, c = coefficients
    x = g / max(float(np.linalg.norm(g)), eps)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def _muon_step(params, grads, s, lr=0.02, mu=0.95, wd=0.1):
    # torch.optim.Muon: decoupled decay, nesterov momentum, "original" lr adjustment
    for w, g, buf in zip(params, grads, s["buf"]):
        w *= 1 - lr * wd
        buf *= mu
        buf += (1 - mu) * g
        update = _newton_schulz((1 - mu) * g + mu * buf).astype(w.dtype)
        w -= lr * math.sqrt(max(1.0, w.shape[0] / w.shape[1])) * update


def _schedule_free_init(params):
    state = _state(params, v=0.0)
    state["z"] = [w.copy() for w in params]
    state["x"] = [w.copy() for w in params]
    return state


def _schedule_free_step(params, grads, s, lr, beta, b2=None, eps=1e-8):
    # constant lr, r = 0: every averaging weight is lr**2, so c = 1 / (k + 1)
    s["t"] += 1
    c = 1.0 / s["t"]
    for y, g, z, x, v in zip(params, grads, s["z"], s["x"], s["v"]):
        if b2 is not None:  # AdamW: RMS-preconditioned gradient, bias-corrected
            v *= b2
            v += (1 - b2) * g * g
            g = g / (np.sqrt(v / (1 - b2 ** s["t"])) + eps)
        z -= lr * g
        x *= 1 - c
        x += c * z
        y[...] = (1 - beta) * z + beta * x


def _schedule_free_sgd_step(params, grads, s):
    _schedule_free_step(params, grads, s, lr=0.1, beta=0.9)


def _schedule_free_adamw_step(params, grads, s):
    _schedule_free_step(params, grads, s, lr=0.0025, beta=0.9, b2=0.999)


def _prodigy_init(params):
    state = _state(params, m=0.0, v=0.0, acc=0.0)
    state["p0"] = [w.copy() for w in params]
    state.update(d=1e-6, d0=1e-6, d_max=1e-6, numerator=0.0)
    return state


def _prodigy_step(params, grads, s, lr=1.0, b1=0.9, b2=0.999, eps=1e-8):
    # prodigyopt defaults but growth_rate 1: no bias correction, no decay, d_coef 1. Under a
    # fixed gradient d grows until it overflows; growth_rate 1 fixes d after step 1 while every
    # statistic (the dot products, s, its norm) is still computed, so the cost is the same.
    b3 = math.sqrt(b2)
    d, d0 = s["d"], s["d0"]
    dlr = d * lr
    numerator, denominator = s["numerator"] * b3, 0.0
    for w, g, m, v, acc, p0 in zip(params, grads, s["m"], s["v"], s["acc"], s["p0"]):
        numerator += (d / d0) * dlr * float(np.dot(g.ravel(), (p0 - w).ravel()))
        m *= b1
        m += d * (1 - b1) * g
        v *= b2
        v += d * d * (1 - b2) * g * g
        acc *= b3
        acc += (d / d0) * dlr * g
        denominator += float(np.abs(acc).sum(dtype=np.float64))
    if denominator == 0:
        return
    d_hat = numerator / denominator
    if d == d0:
        d = max(d, d_hat)
    s["d_max"] = max(s["d_max"], d_hat)
    s["d"], s["numerator"] = min(s["d_max"], d), numerator
    for w, m, v in zip(params, s["m"], s["v"]):
        w -= dlr * m / (np.sqrt(v) + s["d"] * eps)


def _lookahead_init(params):
    state = _state(params, acc=0.0)
    state["slow"] = [w.copy() for w in params]
    return state


def _lookahead_step(params, grads, s, k=6, alpha=0.5):
    _momentum_step(params, grads, s["acc"])
    s["t"] += 1
    if s["t"] % k == 0:
        for w, slow in zip(params, s["slow"]):
            slow += alpha * (w - slow)
            w[...] = slow


def _sam_step(params, grads, s, lr=LEARNING_RATE, rho=0.05):
    # the ascent, the second (here: the same precomputed) gradient, the weights restored, GD
    norm = math.sqrt(sum(float(np.sum(g * g, dtype=np.float64)) for g in grads))
    saved = [w.copy() for w in params]
    for w, g in zip(params, grads):
        w += (rho / norm) * g
    for w, w0, g in zip(params, saved, grads):
        w[...] = w0
        w -= lr * g


def _adagrad_da(lr: float = 0.01) -> optim.Optimizer:
    step = optim.Variable(0, name="global_step", trainable=False, dtype=np.int64)
    return optim.train.AdagradDAOptimizer(
        lr, step, 0.1, l1_regularization_strength=1e-3, l2_regularization_strength=1e-3
    )


@dataclass(frozen=True)
class FamilyBench:
    """One row of the family table: optim, its numpy twin and (maybe) a torch.optim twin.

    ``torch`` is ``(class name, kwargs)`` or None where torch has no counterpart; the class is
    looked up in ``torch.optim`` at run time, so a torch without it prints '-'.
    """

    name: str
    make: Callable[[], optim.Optimizer]
    init: Callable[[list[np.ndarray]], Any]
    step: Callable[[list[np.ndarray], list[np.ndarray], Any], None]
    torch: tuple[str, dict[str, Any]] | None = None
    warmup: int = 3
    #: ``(package, factory(torch params) -> a torch optimizer)``: the reference implementation
    #: outside torch.optim (schedulefree, prodigyopt), timed in the same process; None if none.
    reference: tuple[str, Callable[[list[Any]], Any]] | None = None
    #: run on square matrices (each vector of the layout reshaped; Muon's Newton-Schulz step)
    square: bool = False
    #: time ``minimize`` with a gradient source returning the fixed gradients (SAM, which
    #: evaluates it twice a step and has no ``apply_gradients``)
    minimize: bool = False


_T = optim.train
FAMILY: list[FamilyBench] = [
    FamilyBench(
        "GradientDescent",
        lambda: _T.GradientDescentOptimizer(LEARNING_RATE),
        _no_state,
        _gd_step,
        ("SGD", {"lr": LEARNING_RATE}),
    ),
    FamilyBench(
        "Momentum",
        lambda: _T.MomentumOptimizer(LEARNING_RATE, MOMENTUM),
        _zeros_like_each,
        _momentum_step,
        ("SGD", {"lr": LEARNING_RATE, "momentum": MOMENTUM}),
    ),
    FamilyBench(
        "Nesterov",
        lambda: _T.MomentumOptimizer(LEARNING_RATE, MOMENTUM, use_nesterov=True),
        _zeros_like_each,
        _nesterov_step,
        ("SGD", {"lr": LEARNING_RATE, "momentum": MOMENTUM, "nesterov": True}),
    ),
    FamilyBench(
        "Adagrad",
        lambda: _T.AdagradOptimizer(0.01, initial_accumulator_value=0.1),
        lambda ps: _state(ps, acc=0.1),
        _adagrad_step,
        ("Adagrad", {"lr": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-10}),
    ),
    FamilyBench("AdagradDA", _adagrad_da, lambda ps: _state(ps, ga=0.0, gga=0.1), _adagrad_da_step),
    FamilyBench(
        "Adadelta",
        lambda: _T.AdadeltaOptimizer(1.0, rho=0.95, epsilon=1e-6),
        lambda ps: _state(ps, acc=0.0, acc_upd=0.0),
        _adadelta_step,
        ("Adadelta", {"lr": 1.0, "rho": 0.95, "eps": 1e-6}),
    ),
    FamilyBench(
        "RMSProp",
        lambda: _T.RMSPropOptimizer(0.01, decay=0.9),
        lambda ps: _state(ps, ms=1.0, mom=0.0),
        _rmsprop_step,
        ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-10}),
    ),
    FamilyBench(
        "RMSProp-centered",
        lambda: _T.RMSPropOptimizer(0.01, decay=0.99, momentum=0.9, centered=True),
        lambda ps: _state(ps, ms=1.0, mom=0.0, mg=0.0),
        _rmsprop_centered_step,
        ("RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-10, "momentum": 0.9, "centered": True}),
    ),
    FamilyBench(
        "Adam",
        lambda: _T.AdamOptimizer(1e-3),
        lambda ps: _state(ps, m=0.0, v=0.0),
        _adam_step,
        ("Adam", {"lr": 1e-3, "eps": 1e-8}),
    ),
    FamilyBench(
        "AdamW",
        lambda: _T.AdamWOptimizer(weight_decay=0.01, learning_rate=1e-3, epsilon=1e-7),
        lambda ps: _state(ps, m=0.0, v=0.0),
        _adamw_step,
        ("AdamW", {"lr": 1e-3, "eps": 1e-7, "weight_decay": 0.01}),
    ),
    FamilyBench(
        "Adamax",
        lambda: _T.AdamaxOptimizer(2e-3),
        lambda ps: _state(ps, m=0.0, v=0.0),
        _adamax_step,
        ("Adamax", {"lr": 2e-3, "eps": 1e-7}),
    ),
    FamilyBench(
        "Nadam",
        lambda: _T.NadamOptimizer(2e-3),
        lambda ps: _state(ps, m=0.0, v=0.0),
        _nadam_step,
        ("NAdam", {"lr": 2e-3, "eps": 1e-7, "momentum_decay": 0.004}),
    ),
    FamilyBench("Lion", lambda: _T.LionOptimizer(1e-4), lambda ps: _state(ps, m=0.0), _lion_step),
    FamilyBench(
        "Adafactor",
        lambda: _T.AdafactorOptimizer(1e-3),
        lambda ps: _state(ps, v=0.0),
        _adafactor_step,
        ("Adafactor", {"lr": 1e-3}),
    ),
    FamilyBench(  # 6 warm-up steps: RAdam's rectified branch starts at t = 6 (beta2 = 0.999)
        "RAdam",
        lambda: _T.RAdamOptimizer(1e-3),
        lambda ps: _state(ps, m=0.0, v=0.0),
        _radam_step,
        ("RAdam", {"lr": 1e-3, "eps": 1e-8}),
        warmup=6,
    ),
    FamilyBench(
        "LAMB",
        lambda: _T.LAMBOptimizer(1e-3, weight_decay=0.01),
        lambda ps: _state(ps, m=0.0, v=0.0),
        _lamb_step,
    ),
    FamilyBench(
        "Ftrl",
        lambda: _T.FtrlOptimizer(
            0.1, l1_regularization_strength=1e-3, l2_regularization_strength=1e-3
        ),
        lambda ps: _state(ps, n=0.1, z=0.0),
        _ftrl_step,
    ),
    FamilyBench(
        "ProximalGD",
        lambda: _T.ProximalGradientDescentOptimizer(
            0.01, l1_regularization_strength=1e-3, l2_regularization_strength=1e-3
        ),
        _no_state,
        _proximal_gd_step,
    ),
    FamilyBench(
        "ProximalAdagrad",
        lambda: _T.ProximalAdagradOptimizer(
            0.01, 0.1, l1_regularization_strength=1e-3, l2_regularization_strength=1e-3
        ),
        lambda ps: _state(ps, acc=0.1),
        _proximal_adagrad_step,
    ),
    FamilyBench(
        "Muon",
        lambda: _T.MuonOptimizer(0.02, momentum=0.95, weight_decay=0.1),
        lambda ps: _state(ps, buf=0.0),
        _muon_step,
        ("Muon", {"lr": 0.02, "momentum": 0.95, "weight_decay": 0.1}),
        square=True,
    ),
    FamilyBench(
        "ScheduleFreeSGD",
        lambda: _T.ScheduleFreeSGDOptimizer(0.1, momentum=0.9),
        _schedule_free_init,
        _schedule_free_sgd_step,
        reference=(
            "schedulefree",
            lambda ps: _import("schedulefree").SGDScheduleFree(ps, lr=0.1, momentum=0.9),
        ),
    ),
    FamilyBench(
        "ScheduleFreeAdamW",
        lambda: _T.ScheduleFreeAdamWOptimizer(0.0025),
        _schedule_free_init,
        _schedule_free_adamw_step,
        reference=(
            "schedulefree",
            lambda ps: _import("schedulefree").AdamWScheduleFree(ps, lr=0.0025),
        ),
    ),
    FamilyBench(
        "Prodigy",
        lambda: _T.ProdigyOptimizer(1.0, growth_rate=1.0),
        _prodigy_init,
        _prodigy_step,
        reference=(
            "prodigyopt",
            lambda ps: _import("prodigyopt").Prodigy(ps, lr=1.0, growth_rate=1.0),
        ),
    ),
    FamilyBench(
        "SAM",
        lambda: _T.SAMOptimizer(_T.GradientDescentOptimizer(LEARNING_RATE), rho=0.05),
        _no_state,
        _sam_step,
        minimize=True,
    ),
    FamilyBench(  # 6 warm-up steps: the slow weights sync (and are checked) at step 6
        "Lookahead",
        lambda: _T.LookaheadOptimizer(
            _T.MomentumOptimizer(LEARNING_RATE, MOMENTUM), sync_period=6, slow_step_size=0.5
        ),
        _lookahead_init,
        _lookahead_step,
        warmup=6,
    ),
]


def _import(module: str) -> Any:
    """``importlib.import_module``, for the reference packages (imported only when timed)."""
    import importlib

    return importlib.import_module(module)


# -- command line --------------------------------------------------------------------------------
def _parse_layout(text: str) -> tuple[int, int]:
    """``"1000x1e3"`` -> (1000, 1000); a bare size ``"1e5"`` means one tensor."""
    count_text, _, size_text = text.lower().rpartition("x")
    try:
        count = _parse_int(count_text) if count_text else 1
        size = _parse_int(size_text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a size must look like 1e5 or 1000x1e3, got {text!r}."
        ) from None
    return count, size


def _parse_int(text: str) -> int:
    value = float(text)
    if not value.is_integer() or value < 1:
        raise ValueError(text)
    return int(value)


def _layout_label(count: int, size: int) -> str:
    exponent = round(math.log10(size))
    size_text = f"1e{exponent}" if 10**exponent == size else str(size)
    return f"{count}x{size_text}"


def _split_commas(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [item for value in values for item in value.split(",") if item]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Per-step time of Optimizer.apply_gradients against a numpy loop."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes ({', '.join(QUICK_SIZES)}) and few repeats: a smoke test",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        metavar="COUNTxSIZE",
        help="tensor layouts of the grid table, e.g. 1e5 or 1000x1e3 "
        f"(default: {' '.join(FULL_SIZES)})",
    )
    parser.add_argument(
        "--suite",
        choices=SUITES,
        default="all",
        help="grid: GD/Momentum/Nesterov over sizes and dtypes; family: every optimizer of "
        "optim.train at float32 beside numpy and torch.optim; all (default): grid, then family",
    )
    parser.add_argument(
        "--family-sizes",
        nargs="+",
        metavar="COUNTxSIZE",
        help=f"tensor layouts of the family table (default: {' '.join(FAMILY_SIZES)}; "
        f"quick: {' '.join(FAMILY_QUICK_SIZES)})",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="family table without the torch.optim columns"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        metavar="N",
        help="torch.set_num_threads(N) before the family table (default: torch's own setting)",
    )
    parser.add_argument("--dtypes", nargs="+", metavar="DTYPE", help=f"default: {' '.join(DTYPES)}")
    parser.add_argument(
        "--optimizers",
        nargs="+",
        metavar="NAME",
        help=f"rows of the table to run (default: all of {', '.join(b.name for b in BENCHES)})",
    )
    parser.add_argument("--repeats", type=int, help="timed blocks per side (default 7; quick 3)")
    parser.add_argument(
        "--block-seconds",
        type=float,
        help="target duration of one timed block (default 0.03; quick 0.002)",
    )
    args = parser.parse_args(argv)

    sizes = _split_commas(args.sizes) or list(QUICK_SIZES if args.quick else FULL_SIZES)
    try:
        args.layouts = [_parse_layout(s) for s in sizes]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--sizes: {exc}")
    family_sizes = _split_commas(args.family_sizes) or list(
        FAMILY_QUICK_SIZES if args.quick else FAMILY_SIZES
    )
    try:
        args.family_layouts = [_parse_layout(s) for s in family_sizes]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--family-sizes: {exc}")
    dtypes = _split_commas(args.dtypes) or list(DTYPES)
    try:
        args.dtypes = [np.dtype(d) for d in dtypes]
    except TypeError:
        parser.error(f"--dtypes: unknown dtype in {dtypes!r}.")
    if any(d.kind != "f" for d in args.dtypes):
        parser.error(f"--dtypes: floating dtypes only, got {dtypes!r}.")
    names = _split_commas(args.optimizers)
    known = {b.name.lower(): b for b in BENCHES}
    known_family = {b.name.lower(): b for b in FAMILY}
    if names is None:
        args.benches = list(BENCHES)
        args.family = list(FAMILY)
    else:
        unknown = [n for n in names if n.lower() not in known and n.lower() not in known_family]
        if unknown:
            choices = list(dict.fromkeys([*known, *known_family]))
            parser.error(f"--optimizers: unknown {unknown!r}; choose from {choices}.")
        # A name selects its row in each table that has it (the family table has them all).
        args.benches = [known[n.lower()] for n in names if n.lower() in known]
        args.family = [known_family[n.lower()] for n in names if n.lower() in known_family]
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.block_seconds is None:
        args.block_seconds = 0.002 if args.quick else 0.03
    if args.repeats < 1 or args.block_seconds <= 0:
        parser.error("--repeats must be >= 1 and --block-seconds > 0.")
    return args


# -- timing --------------------------------------------------------------------------------------
def _time_block(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def _calibrate(step: Callable[[], None], block_seconds: float) -> int:
    """The number of steps that makes one block last about ``block_seconds``."""
    steps = 1
    while True:
        elapsed = _time_block(step, steps)
        if elapsed >= block_seconds / 8 or steps >= 1 << 20:
            return max(1, math.ceil(steps * block_seconds / max(elapsed, 1e-9)))
        steps *= 2


def _check_same_math(bench: Bench, variables: list, params: list[np.ndarray]) -> None:
    """After the warm-up, optim and the numpy loop must hold the same parameters."""
    tol = 100 * np.finfo(variables[0].dtype).eps
    for var, w in zip(variables, params):
        if not np.allclose(var._value, w, rtol=tol, atol=tol):
            raise RuntimeError(
                f"{bench.name}: optim and the numpy reference disagree on {var.name!r}; "
                "the benchmark would compare different math."
            )


def _run_case(
    bench: Bench,
    params: list[np.ndarray],
    grads: list[np.ndarray],
    repeats: int,
    block_seconds: float,
    warmup: int = 3,
) -> dict[str, Any]:
    with optim.Graph().as_default():
        variables = [optim.Variable(w, name=f"w{i}") for i, w in enumerate(params)]
    opt = bench.make()
    grads_and_vars = list(zip(grads, variables))
    state = bench.init(params)

    def optim_step() -> None:
        opt.apply_gradients(grads_and_vars)

    def numpy_step() -> None:
        bench.step(params, grads, state)

    for _ in range(warmup):
        optim_step()
        numpy_step()
    _check_same_math(bench, variables, params)

    optim_steps = _calibrate(optim_step, block_seconds)
    numpy_steps = _calibrate(numpy_step, block_seconds)
    optim_times, numpy_times = [], []
    for _ in range(repeats):  # interleaved, so drifting clocks affect both sides alike
        optim_times.append(_time_block(optim_step, optim_steps) / optim_steps)
        numpy_times.append(_time_block(numpy_step, numpy_steps) / numpy_steps)
    optim_us = statistics.median(optim_times) * 1e6
    numpy_us = statistics.median(numpy_times) * 1e6
    return {
        "optim_us": optim_us,
        "numpy_us": numpy_us,
        "ratio": optim_us / numpy_us,
        "optim_steps": optim_steps,
        "numpy_steps": numpy_steps,
        "repeats": repeats,
    }


# -- the family suite: timing -------------------------------------------------------------------
TORCH_FORMS = (
    ("torch_forloop_us", {"foreach": False}),
    ("torch_foreach_us", {"foreach": True}),
    ("torch_fused_us", {"fused": True}),
)


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:  # the torch columns print '-'
        return None
    return torch


def _torch_steps(
    torch: Any, bench: FamilyBench, initial: list[np.ndarray], grads: list[np.ndarray], warmup: int
) -> dict[str, Callable[[], None] | None]:
    """One zero-argument ``opt.step`` per torch form, or None where that form is unavailable.

    ``p.grad`` is set once, outside the timed loop, to a private copy of the gradient: some
    torch forms write into it (foreach SGD with nesterov adds ``momentum * buf`` in place),
    which must not reach the optim and numpy sides.
    """
    steps: dict[str, Callable[[], None] | None] = {key: None for key, _ in TORCH_FORMS}
    if torch is None or bench.torch is None:
        return steps
    cls_name, kwargs = bench.torch
    cls = getattr(torch.optim, cls_name, None)
    if cls is None:
        return steps
    for key, form in TORCH_FORMS:
        params = [torch.tensor(w, requires_grad=True) for w in initial]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        try:
            opt = cls(params, **kwargs, **form)
            for _ in range(warmup):
                opt.step()
        except (TypeError, ValueError, RuntimeError, NotImplementedError):
            continue  # e.g. fused=True on CPU for an optimizer without a fused CPU kernel
        steps[key] = opt.step
    if all(step is None for step in steps.values()):  # no foreach/fused options (Muon)
        params = [torch.tensor(w, requires_grad=True) for w in initial]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        try:
            opt = cls(params, **kwargs)
            for _ in range(warmup):
                opt.step()
            steps["torch_forloop_us"] = opt.step
        except (TypeError, ValueError, RuntimeError, NotImplementedError):
            pass
    return steps


def _reference_step(
    torch: Any, bench: FamilyBench, initial: list[np.ndarray], grads: list[np.ndarray], warmup: int
) -> Callable[[], None] | None:
    """The reference package's step (in train mode), or None (no package, or no torch).

    schedulefree divides ``p.grad`` in place every step, which would drive a fixed gradient
    into subnormals; so each timed step first copies the gradient back (``p.grad.copy_``,
    one pass over the parameters, included in the time).
    """
    if torch is None or bench.reference is None:
        return None
    try:
        params = [torch.tensor(w, requires_grad=True) for w in initial]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        opt = bench.reference[1](params)
    except ImportError:
        return None
    if hasattr(opt, "train"):
        opt.train()
    fixed = [torch.tensor(g) for g in grads]

    def step() -> None:
        for p, g in zip(params, fixed):
            p.grad.copy_(g)
        opt.step()

    for _ in range(warmup):
        step()
    return step


def _run_family_case(
    bench: FamilyBench,
    initial: list[np.ndarray],
    grads: list[np.ndarray],
    torch: Any,
    repeats: int,
    block_seconds: float,
) -> dict[str, Any]:
    if bench.square:
        side = math.isqrt(initial[0].size)
        if side * side != initial[0].size:
            raise ValueError(f"{bench.name} needs square layouts, got size {initial[0].size}.")
        initial = [w.reshape(side, side) for w in initial]
        grads = [g.reshape(side, side) for g in grads]
    params = [w.copy() for w in initial]
    with optim.Graph().as_default():
        variables = [optim.Variable(w, name=f"w{i}") for i, w in enumerate(params)]
        opt = bench.make()
    grads_and_vars = list(zip(grads, variables))
    state = bench.init(params)

    if bench.minimize:
        source = optim.gradients.UserGradient(lambda: grads)

        def optim_step() -> None:
            opt.minimize(lambda: 0.0, var_list=variables, gradient=source)

    else:

        def optim_step() -> None:
            opt.apply_gradients(grads_and_vars)

    def numpy_step() -> None:
        bench.step(params, grads, state)

    for _ in range(bench.warmup):
        optim_step()
        numpy_step()
    # Same math on both sides, or the ratio means nothing (float32: rtol 1e-5).
    rtol = 1e-5 if params[0].dtype == np.float32 else 1e-10
    for var, w in zip(variables, params):
        if not np.allclose(var._value, w, rtol=rtol, atol=rtol / 10):
            worst = float(np.max(np.abs(var._value - w)))
            raise RuntimeError(
                f"{bench.name}: optim and the numpy reference disagree on {var.name!r} after "
                f"{bench.warmup} steps (max abs difference {worst:.3g}); the benchmark would "
                "compare different math."
            )

    sides: dict[str, Callable[[], None] | None] = {"optim_us": optim_step, "numpy_us": numpy_step}
    sides.update(_torch_steps(torch, bench, initial, grads, bench.warmup))
    sides["reference_us"] = _reference_step(torch, bench, initial, grads, bench.warmup)
    counts = {k: _calibrate(f, block_seconds) for k, f in sides.items() if f is not None}
    times: dict[str, list[float]] = {k: [] for k in counts}
    for _ in range(repeats):  # interleaved, so drifting clocks affect every side alike
        for key, n in counts.items():
            times[key].append(_time_block(sides[key], n) / n)  # type: ignore[arg-type]
    if not all(np.isfinite(w).all() for w in params):
        print(
            f"warning: {bench.name}: the parameters are no longer finite after the timed steps "
            "(a fixed gradient drives this rule to a degenerate state); the times include "
            "NaN/inf arithmetic.",
            file=sys.stderr,
        )
    row: dict[str, Any] = {key: None for key in sides}
    for key, samples in times.items():
        row[key] = statistics.median(samples) * 1e6
    row["ratio"] = row["optim_us"] / row["numpy_us"]
    torch_times = [row[k] for k, _ in TORCH_FORMS if row[k] is not None]
    row["torch"] = bench.torch[0] if bench.torch is not None else None
    row["torch_ratio"] = row["optim_us"] / min(torch_times) if torch_times else None
    row["reference"] = bench.reference[0] if bench.reference is not None else None
    ref_us = row["reference_us"]
    row["reference_ratio"] = row["optim_us"] / ref_us if ref_us is not None else None
    return row


_FAMILY_COLUMNS = (
    ("optimizer", "<17", "optimizer", "{}"),
    ("layout", "<8", "layout", "{}"),
    ("optim_us", ">9", "optim µs", "{:.0f}"),
    ("numpy_us", ">9", "numpy µs", "{:.0f}"),
    ("ratio", ">6", "o/np", "{:.2f}"),
    ("torch", "<9", "torch", "{}"),
    ("torch_forloop_us", ">9", "for-loop", "{:.0f}"),
    ("torch_foreach_us", ">9", "foreach", "{:.0f}"),
    ("torch_fused_us", ">9", "fused", "{:.0f}"),
    ("torch_ratio", ">7", "o/torch", "{:.2f}"),
    ("reference", "<12", "reference", "{}"),
    ("reference_us", ">9", "ref µs", "{:.0f}"),
    ("reference_ratio", ">6", "o/ref", "{:.2f}"),
)


def _format_family_row(row: dict[str, Any] | None) -> str:
    cells = []
    for key, align, title, fmt in _FAMILY_COLUMNS:
        if row is None:
            text = title
        else:
            text = "-" if row[key] is None else fmt.format(row[key])
        cells.append(f"{text:{align}}")
    return "  ".join(cells).rstrip()


def _run_family(args: argparse.Namespace) -> list[dict[str, Any]]:
    torch = None if args.no_torch else _import_torch()
    if torch is not None and args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    torch_text = (
        "torch: not used"
        if torch is None
        else f"torch {torch.__version__}, torch.get_num_threads()={torch.get_num_threads()}"
    )
    print()
    print(f"Every optimizer of optim.train, {FAMILY_DTYPE.name}; {torch_text}")
    print(
        "µs per step; o/np = optim / numpy; o/torch = optim / fastest torch form; "
        "'-' = no torch counterpart or form"
    )
    header = _format_family_row(None)
    print(header)
    print("-" * len(header))
    rows = []
    rng = np.random.default_rng(0)
    for count, size in args.family_layouts:
        grads = [rng.standard_normal(size).astype(FAMILY_DTYPE) for _ in range(count)]
        initial = [rng.standard_normal(size).astype(FAMILY_DTYPE) for _ in range(count)]
        for bench in args.family:
            row = {
                "suite": "family",
                "optimizer": bench.name,
                "layout": _layout_label(count, size),
                "dtype": FAMILY_DTYPE.name,
                **_run_family_case(bench, initial, grads, torch, args.repeats, args.block_seconds),
            }
            rows.append(row)
            print(_format_family_row(row), flush=True)
            gc.collect()
        del grads, initial
    return rows


# -- output --------------------------------------------------------------------------------------
_COLUMNS = (
    ("optimizer", "<16", "optimizer", "{}"),
    ("layout", "<9", "layout", "{}"),
    ("dtype", "<8", "dtype", "{}"),
    ("optim_us", ">14", "optim µs/step", "{:.1f}"),
    ("numpy_us", ">14", "numpy µs/step", "{:.1f}"),
    ("ratio", ">6", "ratio", "{:.2f}"),
)


def _format_row(row: dict[str, Any] | None) -> str:
    cells = []
    for key, align, title, fmt in _COLUMNS:
        text = title if row is None else fmt.format(row[key])
        cells.append(f"{text:{align}}")
    return "  ".join(cells).rstrip()


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the table(s) and returns their rows (one dict per line)."""
    args = _parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, optim {optim.__version__}")
    rows = []
    if args.suite in ("all", "grid") and args.benches:
        rows += _run_grid(args)
    if args.suite in ("all", "family") and args.family:
        rows += _run_family(args)
    return rows


def _run_grid(args: argparse.Namespace) -> list[dict[str, Any]]:
    print(
        f"lr={LEARNING_RATE}, momentum={MOMENTUM}; median of {args.repeats} blocks of "
        f"~{args.block_seconds * 1e3:g} ms; ratio = optim / numpy"
    )
    header = _format_row(None)
    print(header)
    print("-" * len(header))
    rows = []
    rng = np.random.default_rng(0)
    for count, size in args.layouts:
        for dtype in args.dtypes:
            grads = [rng.standard_normal(size).astype(dtype) for _ in range(count)]
            initial = [rng.standard_normal(size).astype(dtype) for _ in range(count)]
            for bench in args.benches:
                params = [w.copy() for w in initial]
                row = {
                    "suite": "grid",
                    "optimizer": bench.name,
                    "layout": _layout_label(count, size),
                    "dtype": dtype.name,
                    **_run_case(bench, params, grads, args.repeats, args.block_seconds),
                }
                rows.append(row)
                print(_format_row(row), flush=True)
                del params
                gc.collect()
            del grads, initial
    return rows


if __name__ == "__main__":
    main()
