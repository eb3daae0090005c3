"""torch's schedule family (optim.schedules.torch_family): parity, oracles, resume, bad input.

The parity tests build torch's schedulers over an SGD optimizer of one float64 parameter and read
``get_last_lr()`` after ``t`` calls to ``step()`` (the rate of the ``t``-th optimizer step), for
2000 steps; they skip when torch is missing. The WSD oracle is numpy written here from the
formula; optax's ``join_schedules`` is the second reference for it. Nothing here shares code
with optim/schedules.
"""

import math
import re
import warnings

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim.schedules import (
    Schedule,
    cosine_decay,
    cosine_decay_restarts,
    cyclic,
    cyclic_momentum,
    exponential_decay,
    linear_warmup,
    one_cycle,
    one_cycle_momentum,
    piecewise_constant,
    sequential,
    warmup_stable_decay,
)
from optim.training import Callback, ModelCheckpoint, Trainer

N = 2000
STEPS = range(N)


def at(schedule, steps=STEPS):
    return np.array([schedule(s) for s in steps])


def torch_rates(make, n=N, lr=0.1, closed_form=False):
    """torch's rate at steps 0..n-1: ``get_last_lr()`` (and ``_get_closed_form_lr()``)."""
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()" noise
        scheduler = make(torch.optim.lr_scheduler, opt)
        rates, closed = [], []
        for t in range(n):
            if t:
                opt.step()
                scheduler.step()
            rates.append(scheduler.get_last_lr()[0])
            if closed_form:
                closed.append(scheduler._get_closed_form_lr()[0])
    if closed_form:
        return np.array(rates), np.array(closed)
    return np.array(rates)


def relative_error(actual, expected, scale):
    return float(np.max(np.abs(np.asarray(actual) - np.asarray(expected))) / scale)


# -- one_cycle ---------------------------------------------------------------------------------
ONE_CYCLE = [
    dict(max_lr=0.1, total_steps=N),
    dict(max_lr=0.1, total_steps=N, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    dict(max_lr=2.0, total_steps=N, pct_start=0.45),
    dict(max_lr=1.0, total_steps=7, pct_start=0.4),
]


@pytest.mark.parametrize("three_phase", [False, True], ids=["two-phase", "three-phase"])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("kw", ONE_CYCLE, ids=["default", "div", "late-peak", "short"])
def test_one_cycle_is_torch_onecyclelr_float_for_float(kw, anneal, three_phase):
    total = kw["total_steps"]
    mine = at(one_cycle(global_step=0, anneal_strategy=anneal, three_phase=three_phase, **kw))
    theirs = torch_rates(
        lambda L, o: L.OneCycleLR(o, anneal_strategy=anneal, three_phase=three_phase, **kw),
        n=total,
    )
    np.testing.assert_array_equal(mine[:total], theirs)


def test_one_cycle_shape_and_ends():
    lr = one_cycle(1.0, 0, 100)
    values = at(lr, range(100))
    np.testing.assert_allclose(lr(0), 1.0 / 25, rtol=1e-15)
    assert int(np.argmax(values)) == 29 and lr(29) == 1.0  # torch's peak: pct * T - 1
    np.testing.assert_allclose(lr(99), 1.0 / 25 / 1e4, rtol=1e-15)
    assert np.all(np.diff(values[:30]) > 0) and np.all(np.diff(values[29:]) < 0)
    three = one_cycle(1.0, 0, 100, three_phase=True)
    assert three(29) == 1.0
    np.testing.assert_allclose(
        three(58), 1.0 / 25, rtol=1e-15
    )  # back at initial_lr at 2 * pct * T - 2


@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_holds_min_lr_after_the_cycle_where_torch_extrapolates(anneal):
    lr = one_cycle(1.0, 0, 100, anneal_strategy=anneal)
    min_lr = 1.0 / 25 / 1e4
    for s in (99, 100, 101, 10**6):
        assert lr(s) == lr(99)
    np.testing.assert_allclose(lr(99), min_lr, rtol=0, atol=1e-16)  # linear: 4e-6 - 1 + 1
    torch_at_100 = torch_rates(
        lambda L, o: L.OneCycleLR(o, 1.0, total_steps=100, anneal_strategy=anneal), n=101
    )[100]
    assert abs(torch_at_100 - min_lr) > 1e-4  # torch at step T: 5.07e-4 (cos), -0.0143 (linear)


# -- cyclic ------------------------------------------------------------------------------------
CYCLIC = [
    dict(base_lr=0.01, max_lr=0.1, step_size_up=150, step_size_down=70),
    dict(base_lr=0.001, max_lr=0.006),  # torch's defaults: 2000 up, 2000 down
    dict(base_lr=0.05, max_lr=0.1, step_size_up=1),
    dict(base_lr=0.1, max_lr=0.01, step_size_up=33, step_size_down=400),  # max below base
]


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("kw", CYCLIC, ids=["asymmetric", "defaults", "one-step", "inverted"])
def test_cyclic_is_torch_cycliclr_float_for_float(kw, mode):
    mine = at(cyclic(global_step=0, mode=mode, gamma=0.999, **kw))
    theirs = torch_rates(lambda L, o: L.CyclicLR(o, mode=mode, gamma=0.999, **kw))
    np.testing.assert_array_equal(mine, theirs)


def halving(x):
    return 0.5 ** int(x)


def decaying(x):
    return 1.0 / (1.0 + 0.001 * x)


@pytest.mark.parametrize("scale_fn, scale_mode", [(halving, "cycle"), (decaying, "iterations")])
def test_cyclic_custom_scale_fn_is_torch(scale_fn, scale_mode):
    kw = dict(base_lr=0.01, max_lr=0.1, step_size_up=90, scale_fn=scale_fn, scale_mode=scale_mode)
    mine = at(cyclic(global_step=0, **kw))
    theirs = torch_rates(lambda L, o: L.CyclicLR(o, **kw))
    np.testing.assert_array_equal(mine, theirs)
    assert not np.array_equal(mine, at(cyclic(0.01, 0, 0.1, step_size_up=90)))  # it did act


def test_cyclic_triangle_by_hand():
    lr = cyclic(1.0, 0, 3.0, step_size_up=4, step_size_down=2, mode="triangular2")
    expected = [1.0, 1.5, 2.0, 2.5, 3.0, 2.0, 1.0, 1.25, 1.5, 1.75, 2.0, 1.5, 1.0, 1.125]
    np.testing.assert_allclose(at(lr, range(14)), expected, rtol=1e-15)


# -- the momenta torch cycles (cycle_momentum=True) ------------------------------------------
def torch_momenta(make, n=N, adam=False):
    """The momentum (SGD) or betas[0] (Adam) torch's scheduler sets for steps 0..n-1."""
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    if adam:
        opt = torch.optim.Adam([param], lr=0.1)
    else:
        opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = make(torch.optim.lr_scheduler, opt)
        for t in range(n):
            if t:
                opt.step()
                scheduler.step()
            group = opt.param_groups[0]
            out.append(group["betas"][0] if adam else group["momentum"])
    return np.array(out)


@pytest.mark.parametrize("adam", [False, True], ids=["sgd-momentum", "adam-beta1"])
@pytest.mark.parametrize("three_phase", [False, True], ids=["two-phase", "three-phase"])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_momentum_is_torch_onecyclelr_momentum(anneal, three_phase, adam):
    kw = dict(total_steps=N, pct_start=0.25, anneal_strategy=anneal, three_phase=three_phase)
    mine = at(one_cycle_momentum(0, base_momentum=0.8, max_momentum=0.97, **kw))
    theirs = torch_momenta(
        lambda L, o: L.OneCycleLR(o, 0.1, base_momentum=0.8, max_momentum=0.97, **kw), adam=adam
    )
    np.testing.assert_array_equal(mine, theirs)
    assert mine[0] == 0.97 and mine[N - 1] == 0.97 and mine.min() == 0.8


@pytest.mark.parametrize("adam", [False, True], ids=["sgd-momentum", "adam-beta1"])
@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_momentum_is_torch_cycliclr_momentum(mode, adam):
    kw = dict(step_size_up=150, step_size_down=70, mode=mode, gamma=0.999)
    mine = at(cyclic_momentum(0, **kw))
    theirs = torch_momenta(lambda L, o: L.CyclicLR(o, 0.01, 0.1, **kw), adam=adam)
    np.testing.assert_array_equal(mine, theirs)
    assert mine[0] == 0.9  # lowest where the rate peaks (step 150)
    assert int(np.argmin(mine[:220])) == 150 and (mode != "triangular" or mine[150] == 0.8)


def test_cyclic_momentum_with_scale_fn_is_torch():
    kw = dict(step_size_up=40, scale_fn=decaying, scale_mode="iterations")
    mine = at(cyclic_momentum(0, base_momentum=0.5, max_momentum=0.99, **kw))
    theirs = torch_momenta(
        lambda L, o: L.CyclicLR(o, 0.01, 0.1, base_momentum=0.5, max_momentum=0.99, **kw)
    )
    np.testing.assert_array_equal(mine, theirs)


# -- cosine_decay_restarts with torch's T_0 / T_mult / eta_min ---------------------------------
@pytest.mark.parametrize("eta_min", [0.0, 0.001])
@pytest.mark.parametrize("t_mult", [1, 2, 3])
@pytest.mark.parametrize("t_0", [1, 2, 3, 5, 7, 10, 50])
def test_cosine_decay_restarts_maps_torch_cosineannealingwarmrestarts(t_0, t_mult, eta_min):
    """The documented mapping: first_decay_steps=T_0, t_mul=T_mult, alpha=eta_min / lr."""
    lr = 0.1
    mine = at(cosine_decay_restarts(lr, 0, t_0, t_mul=t_mult, m_mul=1.0, alpha=eta_min / lr))
    theirs = torch_rates(
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=t_0, T_mult=t_mult, eta_min=eta_min)
    )
    # TF's arithmetic: t / T_0 - floor(t / T_0) loses digits as t grows (T_mult=1).
    assert relative_error(mine, theirs, lr) < 1e-13


@pytest.mark.parametrize("t_0, epoch", [(1, 121), (2, 242), (3, 363), (5, 605)])
def test_cosine_decay_restarts_hits_the_restarts_torch_step_epoch_misses(t_0, epoch):
    """torch's step(epoch) finds the period with int(log(...)) and lands in the old one."""
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=1.0)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=t_0, T_mult=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler.step(epoch)
    assert scheduler.get_last_lr()[0] == 0.0  # eta_min: the end of the old period
    stepped = torch_rates(
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=t_0, T_mult=3), n=epoch + 1, lr=1.0
    )
    assert stepped[epoch] == 1.0  # step() counts in integers: the restart's peak
    assert cosine_decay_restarts(1.0, 0, t_0, t_mul=3.0)(epoch) == 1.0


# -- linear_warmup -----------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [1, 7, 100, 1999])
@pytest.mark.parametrize("start_factor", [0.1, 0.25, 1 / 3])
def test_linear_warmup_of_a_constant_is_torch_linearlr(start_factor, steps):
    mine = at(linear_warmup(0.1, steps, start_factor, global_step=0))
    recursive, closed = torch_rates(
        lambda L, o: L.LinearLR(o, start_factor, 1.0, total_iters=steps), closed_form=True
    )
    np.testing.assert_array_equal(mine, closed)  # torch's closed form, float for float
    # torch's get_lr multiplies the previous rate each step: it drifts from the closed form
    drift = relative_error(recursive, closed, 0.1)
    assert drift < 5e-14  # measured at most 1.7e-14 (1/3, 1999 steps)
    assert relative_error(mine, recursive, 0.1) == drift


def test_linear_warmup_multiplies_a_schedule_as_torch_chainedscheduler():
    mine = at(linear_warmup(exponential_decay(0.1, 0, 1, 0.999), 50, 0.1))
    theirs = torch_rates(
        lambda L, o: L.ChainedScheduler(
            [L.LinearLR(o, 0.1, total_iters=50), L.ExponentialLR(o, 0.999)]
        )
    )
    assert np.max(np.abs(mine - theirs) / mine) < 2e-14  # measured 4.9e-15 (recursions)
    mine = at(linear_warmup(cosine_decay(0.1, 0, N), 50, 0.1))
    theirs = torch_rates(
        lambda L, o: L.ChainedScheduler(
            [L.LinearLR(o, 0.1, total_iters=50), L.CosineAnnealingLR(o, N)]
        )
    )
    assert relative_error(mine, theirs, 0.1) < 1e-14  # measured 1.7e-15


def test_linear_warmup_ramp_by_hand_and_zero_steps():
    base = cosine_decay(1.0, 0, 100)
    lr = linear_warmup(base, 4)
    for s, factor in zip(range(8), (0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0)):
        assert lr(s) == base(s) * factor
    assert at(linear_warmup(base, 0), range(50)).tolist() == at(base, range(50)).tolist()
    assert linear_warmup(0.5, 10, 0.2, global_step=0)(5) == 0.5 * (0.2 + 0.8 * 5 / 10)


# -- sequential --------------------------------------------------------------------------------
def test_sequential_is_torch_sequentiallr_warmup_then_cosine():
    mine = at(
        sequential([linear_warmup(0.1, 40, 0.1, global_step=0), cosine_decay(0.1, 0, 1960)], [40])
    )
    theirs = torch_rates(
        lambda L, o: L.SequentialLR(
            o, [L.LinearLR(o, 0.1, total_iters=40), L.CosineAnnealingLR(o, 1960)], [40]
        )
    )
    # torch's children are recursions; the drift stays at rounding (measured 1.2e-15)
    assert relative_error(mine, theirs, 0.1) < 1e-14
    assert mine[40] == 0.1 and mine[39] < 0.1  # the boundary belongs to the schedule it starts


def test_sequential_three_schedules_is_torch():
    mine = at(
        sequential(
            [
                0.05,
                linear_warmup(0.1, 200, 0.2, global_step=0),
                exponential_decay(0.1, 0, 1, 0.999),
            ],
            [100, 300],
        )
    )
    theirs = torch_rates(
        lambda L, o: L.SequentialLR(
            o,
            [
                L.ConstantLR(o, 0.5, total_iters=100),
                L.LinearLR(o, 0.2, 1.0, total_iters=200),
                L.ExponentialLR(o, 0.999),
            ],
            [100, 300],
        )
    )
    # ExponentialLR compounds a rounding per step: measured 4.9e-15 relative after 1700 steps
    assert np.max(np.abs(mine - theirs) / mine) < 2e-14
    np.testing.assert_array_equal(mine[:101], theirs[:101])  # up to LinearLR's recursion


def test_sequential_boundary_zero_starts_with_the_second_schedule_as_torch():
    second = exponential_decay(0.1, 0, 1, 0.99)
    mine = at(sequential([0.05, second], [0]))
    np.testing.assert_array_equal(mine, at(second))
    theirs = torch_rates(
        lambda L, o: L.SequentialLR(
            o, [L.ConstantLR(o, 0.5, total_iters=100), L.ExponentialLR(o, 0.99)], [0]
        )
    )
    assert np.max(np.abs(mine - theirs) / mine) < 2e-14


def test_sequential_restarts_each_schedule_at_its_boundary():
    first, second, third = cosine_decay(1.0, 0, 10), cosine_decay(2.0, 0, 5), 0.25
    lr = sequential([first, second, third], [10, 15.5])
    for s in np.arange(0, 30, 0.5):
        if s < 10:
            assert lr(s) == first(s)
        elif s < 15.5:
            assert lr(s) == second(s - 10)
        else:
            assert lr(s) == 0.25
    assert sequential([0.3], [], global_step=0)(1234) == 0.3  # one schedule, no boundary


def test_compositions_nest_across_families(graph):
    step = optim.train.get_or_create_global_step()
    inner = sequential(
        [one_cycle(0.1, step, 100), piecewise_constant(step, [50], [0.01, 0.001])], [100]
    )
    lr = linear_warmup(inner, 10)
    assert lr.global_step is step
    for s in (0, 5, 10, 99, 100, 149, 150, 151):
        step.assign(s)
        factor = min(s, 10) / 10
        expected = one_cycle(0.1, 0, 100)(s) if s < 100 else (0.01 if s - 100 <= 50 else 0.001)
        assert lr() == expected * factor


# -- warmup_stable_decay -----------------------------------------------------------------------
def wsd_oracle(t, lr, w, s, d, r, decay_type, n_c):
    """WSD over an array of steps, from the formula (numpy, vectorised)."""
    t = np.asarray(t, dtype=np.float64)
    p = np.clip((t - w - s) / d, 0.0, 1.0)
    shapes = {
        "1-sqrt": 1.0 - np.sqrt(p),
        "linear": 1.0 - p,
        "1-square": 1.0 - p**2,
        "cosine": np.maximum(0.0, 0.5 * (1.0 + np.cos(2.0 * np.pi * n_c * p))),
    }
    decay = r + (1.0 - r) * shapes[decay_type]
    out = np.where(t < w + s, 1.0, decay)
    out = np.where(t >= w + s + d, r, out)
    out = np.where(t < w, t / max(w, 1.0), out)
    return lr * out


@pytest.mark.parametrize("decay_type", ["1-sqrt", "linear", "1-square", "cosine"])
@pytest.mark.parametrize(
    "w, s, d, r, n_c",
    [(100, 1400, 400, 0.0, 0.5), (0, 500, 1000, 0.1, 0.5), (37, 0, 1963, 0.05, 1.0)],
    ids=["default", "no-warmup", "no-stable"],
)
def test_warmup_stable_decay_matches_the_formula(decay_type, w, s, d, r, n_c):
    lr = warmup_stable_decay(
        3e-4, 0, w, s, d, min_lr_ratio=r, decay_type=decay_type, num_cycles=n_c
    )
    steps = np.arange(N + 100)
    np.testing.assert_allclose(
        at(lr, steps), wsd_oracle(steps, 3e-4, w, s, d, r, decay_type, n_c), rtol=1e-13, atol=0
    )


def test_warmup_stable_decay_phase_ends():
    lr = warmup_stable_decay(1.0, 0, 10, 20, 30, min_lr_ratio=0.1, decay_type="linear")
    assert lr(0) == 0.0 and lr(5) == 0.5 and lr(10) == 1.0 and lr(29) == 1.0
    assert lr(30) == 1.0  # the decay starts from the stable rate
    np.testing.assert_allclose(lr(45), 0.1 + 0.9 * 0.5, rtol=1e-15)
    assert lr(59) > 0.1 and lr(60) == 0.1 and lr(10**7) == 0.1


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_warmup_stable_decay_matches_optax_join_schedules(decay):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    peak, w, s, d, r = 0.1, 100, 1400, 400, 0.1
    with jax.enable_x64(True):
        if decay == "linear":
            tail = optax.linear_schedule(peak, r * peak, d)
        else:
            tail = optax.cosine_decay_schedule(peak, d, alpha=r)
        wsd = optax.join_schedules(
            [optax.linear_schedule(0.0, peak, w), optax.constant_schedule(peak), tail], [w, w + s]
        )
        theirs = np.asarray(wsd(jax.numpy.arange(N, dtype=jax.numpy.float64)))
    assert theirs.dtype == np.float64
    mine = at(warmup_stable_decay(peak, 0, w, s, d, min_lr_ratio=r, decay_type=decay))
    assert relative_error(mine, theirs, peak) < 1e-14


# -- one mechanism: optimizers, repr, config ---------------------------------------------------
MAKERS = {
    "one_cycle": lambda step: one_cycle(0.1, step, 60, pct_start=0.25),
    "cyclic": lambda step: cyclic(0.01, step, 0.1, step_size_up=7, mode="triangular2"),
    "warmup_stable_decay": lambda step: warmup_stable_decay(0.1, step, 5, 20, 30, 0.1),
    "linear_warmup": lambda step: linear_warmup(cosine_decay_restarts(0.1, step, 9), 6, 0.1),
    "sequential": lambda step: sequential(
        [linear_warmup(0.1, 8, global_step=step), cosine_decay_restarts(0.1, step, 10, 2.0)], [8]
    ),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_schedules_are_schedule_objects_driving_an_optimizer(graph, kind):
    step = optim.train.get_or_create_global_step()
    schedule = MAKERS[kind](step)
    assert isinstance(schedule, Schedule) and schedule.global_step is step
    assert repr(schedule).startswith(f"{kind}(") and "<optim.Variable 'global_step'>" in repr(
        schedule
    )
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.GradientDescentOptimizer(schedule)
    expected = np.zeros(1)
    for k in range(60):
        opt.minimize(lambda: anp.sum(w.value), global_step=step)  # gradient 1: w -= lr(k)
        expected = expected - schedule(k)
        np.testing.assert_array_equal(w.value, expected)


def test_config_and_train_exports():
    lr = one_cycle(0.1, 0, 100, three_phase=True)
    assert lr.config == {
        "max_lr": 0.1,
        "total_steps": 100,
        "pct_start": 0.3,
        "anneal_strategy": "cos",
        "div_factor": 25.0,
        "final_div_factor": 1e4,
        "three_phase": True,
    }
    assert lr.name == "OneCycle"
    names = ("one_cycle", "one_cycle_momentum", "cyclic", "cyclic_momentum", "linear_warmup")
    for name in (*names, "sequential", "warmup_stable_decay"):
        assert getattr(optim.train, name) is getattr(optim.schedules, name)
        assert name in optim.train.__all__ and name in optim.schedules.__all__


# -- resume: a run stopped at step k continues the schedule at step k --------------------------
class RecordW(Callback):
    def __init__(self, w):
        self.w, self.values = w, []

    def on_train_batch_end(self, step, logs=None):
        self.values.append(float(self.w.numpy()[0]))


def trainer_run(kind, steps, directory=None, resume=False):
    """A fresh graph: w with gradient 1 under GradientDescent(schedule of the global step), 4
    examples in batches of 1; checkpointed at its last step when ``directory`` is given."""
    with optim.Graph().as_default():
        w = optim.Variable(np.zeros(1), name="w")
        step = optim.train.get_or_create_global_step()
        schedule = MAKERS[kind](step)
        trainer = Trainer(
            lambda x, y: anp.sum(w.value) + 0.0 * anp.sum(x),
            np.zeros((4, 1)),
            optimizer=optim.train.GradientDescentOptimizer(schedule),
            batch_size=1,
            global_step=step,
        )
        record = RecordW(w)
        callbacks = [record]
        if directory is not None:
            callbacks.append(ModelCheckpoint(directory, save_freq=steps, resume=resume))
        trainer.fit(steps=steps, callbacks=callbacks, verbose=0)
        return record.values, int(step.numpy()), schedule


@pytest.mark.parametrize("k", [1, 13, 28], ids=["k=1", "mid-epoch", "epoch-end"])
@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_a_resumed_trainer_continues_the_schedule_at_the_restored_step(tmp_path, kind, k):
    """Trained k steps and checkpointed; a new graph resumed from it trains to 60: the path of
    w equals the uninterrupted run's, and step n (from 0) used the schedule's value at n."""
    total = 60
    whole, last, schedule = trainer_run(kind, total)
    assert last == total
    head, last, _ = trainer_run(kind, k, tmp_path)
    assert last == k
    tail, last, _ = trainer_run(kind, total, tmp_path, resume=True)
    assert last == total and len(head) + len(tail) == total
    assert head + tail == whole  # bit for bit, no step repeated or skipped
    applied = -np.diff(np.concatenate([[0.0], whole]))  # the rate each step used
    np.testing.assert_allclose(applied, at(schedule, range(total)), rtol=1e-12, atol=1e-15)
    shifted = at(schedule, range(1, total + 1))  # what an off-by-one resume would use
    assert np.max(np.abs(applied - shifted)) > 1e-4


TORCH_RESUME = {  # optim's (learning_rate, momentum) of the step, torch's scheduler
    "one_cycle": (
        lambda step: (one_cycle(0.1, step, 100), 0.9),
        lambda L, opt: L.OneCycleLR(opt, 0.1, total_steps=100, cycle_momentum=False),
    ),
    "one_cycle+momentum": (
        lambda step: (one_cycle(0.1, step, 100), one_cycle_momentum(step, 100)),
        lambda L, opt: L.OneCycleLR(opt, 0.1, total_steps=100),
    ),
    "cyclic": (
        lambda step: (cyclic(0.01, step, 0.1, step_size_up=9, mode="exp_range", gamma=0.99), 0.9),
        lambda L, opt: L.CyclicLR(
            opt, 0.01, 0.1, step_size_up=9, mode="exp_range", gamma=0.99, cycle_momentum=False
        ),
    ),
    "cyclic+momentum": (
        lambda step: (
            cyclic(0.01, step, 0.1, step_size_up=9, mode="triangular2"),
            cyclic_momentum(step, step_size_up=9, mode="triangular2"),
        ),
        lambda L, opt: L.CyclicLR(opt, 0.01, 0.1, step_size_up=9, mode="triangular2"),
    ),
}


def torch_resumed_path(make, k, total):
    """torch SGD(momentum) with a gradient of 1: stepped k times, its parameter, optimizer and
    scheduler saved with state_dict, all rebuilt and loaded, then run to ``total`` steps."""
    torch = pytest.importorskip("torch")

    def build():
        param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
        return param, opt, make(torch.optim.lr_scheduler, opt)

    param, opt, scheduler = build()
    path = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in range(total):
            if n == k:
                saved = (param.detach().clone(), opt.state_dict(), scheduler.state_dict())
                param, opt, scheduler = build()
                with torch.no_grad():
                    param.copy_(saved[0])
                opt.load_state_dict(saved[1])
                scheduler.load_state_dict(saved[2])
            param.grad = torch.ones(1, dtype=torch.float64)
            opt.step()
            scheduler.step()
            path.append(float(param.detach()[0]))
    return path


def optim_run(make, steps, save=None, restore=None):
    """optim Momentum(lr, momentum) with a gradient of 1 in a fresh graph; w after each step,
    optionally restored from / saved to a checkpoint first / last."""
    with optim.Graph().as_default():
        w = optim.Variable(np.zeros(1), name="w")
        step = optim.train.get_or_create_global_step()
        opt = optim.train.MomentumOptimizer(*make(step))
        if restore is not None:
            optim.restore_checkpoint(restore, optimizer=opt, global_step=step)
        path = []
        while int(step.numpy()) < steps:
            opt.minimize(lambda: anp.sum(w.value), global_step=step)
            path.append(float(w.numpy()[0]))
        if save is not None:
            optim.save_checkpoint(save, optimizer=opt, global_step=step)
        return path


@pytest.mark.parametrize("k", [0, 1, 37, 99])
@pytest.mark.parametrize("kind", sorted(TORCH_RESUME))
def test_resume_matches_torch_resumed_through_state_dict(tmp_path, kind, k):
    """Stopped at step k, saved, rebuilt and restored, run to 100 steps: optim (a checkpoint
    with the global step) and torch (state_dicts) follow the same parameter path; with the
    momentum cycled too (torch's default) when optim is given the matching momentum schedule."""
    make_mine, make_theirs = TORCH_RESUME[kind]
    total = 100
    theirs = torch_resumed_path(make_theirs, k, total)
    path = tmp_path / "ckpt.npz"
    head = optim_run(make_mine, k, save=path)
    tail = optim_run(make_mine, total, restore=path)
    assert len(head) == k and len(head) + len(tail) == total
    np.testing.assert_allclose(head + tail, theirs, rtol=1e-12, atol=1e-15)
    assert head + tail == optim_run(make_mine, total)  # and bit for bit the uninterrupted run


# -- bad input ---------------------------------------------------------------------------------
OC = dict(max_lr=0.1, global_step=0, total_steps=100)
CY = dict(base_lr=0.01, global_step=0, max_lr=0.1)
WSD = dict(learning_rate=0.1, global_step=0, warmup_steps=10, stable_steps=10, decay_steps=10)
COS = cosine_decay(0.1, 0, 10)

BAD = [
    # one_cycle
    (lambda: one_cycle(**{**OC, "max_lr": -1.0}), ValueError, "`max_lr` must be >= 0, got -1.0."),
    (lambda: one_cycle(**{**OC, "max_lr": "1"}), TypeError, "`max_lr` must be a real number"),
    (
        lambda: one_cycle(**{**OC, "global_step": None}),
        ValueError,
        "global_step is required for one_cycle.",
    ),
    (
        lambda: one_cycle(**{**OC, "global_step": "s"}),
        TypeError,
        "`global_step` of one_cycle must be",
    ),
    (
        lambda: one_cycle(**{**OC, "total_steps": 0}),
        ValueError,
        "`total_steps` must be a positive int, got 0.",
    ),
    (
        lambda: one_cycle(**{**OC, "total_steps": 10.0}),
        TypeError,
        "`total_steps` must be a positive int, got 10.0.",
    ),
    (
        lambda: one_cycle(**{**OC, "total_steps": True}),
        TypeError,
        "`total_steps` must be a positive int, got True.",
    ),
    (
        lambda: one_cycle(**{**OC, "pct_start": 1.5}),
        ValueError,
        "`pct_start` must be in [0, 1], got 1.5.",
    ),
    (
        lambda: one_cycle(**{**OC, "pct_start": 0.01}),
        ValueError,
        "`pct_start` must give every phase a length > 0 (phase 1 of 2",
    ),
    (
        lambda: one_cycle(**{**OC, "pct_start": 1.0}),
        ValueError,
        "`pct_start` must give every phase a length > 0 (phase 2 of 2",
    ),
    (
        lambda: one_cycle(**{**OC, "pct_start": 0.6, "three_phase": True}),
        ValueError,
        "(phase 3 of 3",
    ),
    (
        lambda: one_cycle(**{**OC, "anneal_strategy": "cosine"}),
        ValueError,
        "`anneal_strategy` must be one of 'cos', 'linear', got 'cosine'.",
    ),
    (
        lambda: one_cycle(**{**OC, "anneal_strategy": None}),
        TypeError,
        "`anneal_strategy` must be one of 'cos', 'linear', got None.",
    ),
    (
        lambda: one_cycle(**{**OC, "div_factor": 0.0}),
        ValueError,
        "`div_factor` must be > 0, got 0.0.",
    ),
    (
        lambda: one_cycle(**{**OC, "final_div_factor": math.inf}),
        ValueError,
        "`final_div_factor` must be finite, got inf.",
    ),
    (
        lambda: one_cycle(**{**OC, "three_phase": 1}),
        TypeError,
        "`three_phase` must be a bool, got 1.",
    ),
    # cyclic
    (lambda: cyclic(**{**CY, "base_lr": -0.1}), ValueError, "`base_lr` must be >= 0, got -0.1."),
    (lambda: cyclic(**{**CY, "max_lr": math.nan}), ValueError, "`max_lr` must be finite, got nan."),
    (
        lambda: cyclic(**{**CY, "global_step": None}),
        ValueError,
        "global_step is required for cyclic.",
    ),
    (lambda: cyclic(**{**CY, "step_size_up": 0}), ValueError, "`step_size_up` must be > 0, got 0."),
    (
        lambda: cyclic(**{**CY, "step_size_down": -3}),
        ValueError,
        "`step_size_down` must be > 0, got -3.",
    ),
    (
        lambda: cyclic(**{**CY, "step_size_down": "3"}),
        TypeError,
        "`step_size_down` must be a real number, got '3'.",
    ),
    (
        lambda: cyclic(**{**CY, "mode": "triangle"}),
        ValueError,
        "`mode` must be one of 'triangular', 'triangular2', 'exp_range', got 'triangle'.",
    ),
    (lambda: cyclic(**{**CY, "gamma": 1.5}), ValueError, "`gamma` must be in (0, 1], got 1.5."),
    (lambda: cyclic(**{**CY, "gamma": 0.0}), ValueError, "`gamma` must be in (0, 1], got 0.0."),
    (
        lambda: cyclic(**{**CY, "scale_fn": 2.0}),
        TypeError,
        "`scale_fn` must be None or a callable of one number, got 2.0.",
    ),
    (
        lambda: cyclic(**{**CY, "scale_mode": "iteration"}),
        ValueError,
        "`scale_mode` must be one of 'cycle', 'iterations', got 'iteration'.",
    ),
    # the momenta
    (
        lambda: one_cycle_momentum(0, 100, base_momentum=1.2),
        ValueError,
        "`base_momentum` must be in [0, 1], got 1.2.",
    ),
    (
        lambda: one_cycle_momentum(0, 100, max_momentum="0.9"),
        TypeError,
        "`max_momentum` must be a real number, got '0.9'.",
    ),
    (
        lambda: one_cycle_momentum(None, 100),
        ValueError,
        "global_step is required for one_cycle_momentum.",
    ),
    (
        lambda: one_cycle_momentum(0, 100, pct_start=0.001),
        ValueError,
        "`pct_start` must give every phase a length > 0",
    ),
    (
        lambda: one_cycle_momentum(0, -5),
        ValueError,
        "`total_steps` must be a positive int, got -5.",
    ),
    (
        lambda: cyclic_momentum(0, base_momentum=-0.1),
        ValueError,
        "`base_momentum` must be in [0, 1], got -0.1.",
    ),
    (
        lambda: cyclic_momentum(0, step_size_up=0),
        ValueError,
        "`step_size_up` must be > 0, got 0.",
    ),
    (
        lambda: cyclic_momentum(0, scale_fn="f"),
        TypeError,
        "`scale_fn` must be None or a callable of one number, got 'f'.",
    ),
    (
        lambda: cyclic_momentum(None),
        ValueError,
        "global_step is required for cyclic_momentum.",
    ),
    (
        lambda: one_cycle_momentum(0, 100, three_phase="yes"),
        TypeError,
        "`three_phase` must be a bool, got 'yes'.",
    ),
    (
        lambda: cyclic_momentum(0, mode="exp_range", gamma=2.0),
        ValueError,
        "`gamma` must be in (0, 1], got 2.0.",
    ),
    # linear_warmup
    (
        lambda: linear_warmup("0.1", 10, global_step=0),
        TypeError,
        "`schedule` must be an optim.schedules.Schedule or a number >= 0, got '0.1'",
    ),
    (
        lambda: linear_warmup(lambda s: 0.1, 10, global_step=0),
        TypeError,
        "wrap a plain step function as Schedule(fn, global_step)",
    ),
    (
        lambda: linear_warmup(-0.1, 10, global_step=0),
        ValueError,
        "`schedule` must be >= 0, got -0.1.",
    ),
    (lambda: linear_warmup(COS, -1), ValueError, "`steps` must be >= 0, got -1."),
    (lambda: linear_warmup(COS, math.inf), ValueError, "`steps` must be finite, got inf."),
    (
        lambda: linear_warmup(COS, 10, start_factor=1.5),
        ValueError,
        "`start_factor` must be in [0, 1], got 1.5.",
    ),
    (
        lambda: linear_warmup(COS, 10, global_step=[1]),
        TypeError,
        "`global_step` of linear_warmup must be",
    ),
    (
        lambda: linear_warmup(0.1, 10),
        ValueError,
        "global_step is required for linear_warmup when no composed schedule is a Schedule",
    ),
    # sequential
    (lambda: sequential(COS, []), TypeError, "`schedules` must be a sequence, got"),
    (lambda: sequential([COS], 5), TypeError, "`boundaries` must be a sequence, got 5."),
    (
        lambda: sequential([], []),
        ValueError,
        "`schedules` must hold at least one schedule, got [].",
    ),
    (
        lambda: sequential([COS, COS], []),
        ValueError,
        "`boundaries` must hold one fewer value than `schedules`, got 0 boundaries for 2 "
        "schedules.",
    ),
    (
        lambda: sequential([COS, "x"], [3]),
        TypeError,
        "`schedules[1]` must be an optim.schedules.Schedule or a number >= 0, got 'x'",
    ),
    (lambda: sequential([COS, COS], [-1]), ValueError, "`boundaries[0]` must be >= 0, got -1."),
    (
        lambda: sequential([COS, COS], [None]),
        TypeError,
        "`boundaries[0]` must be a real number, got None.",
    ),
    (
        lambda: sequential([COS, COS, COS], [5, 5]),
        ValueError,
        "`boundaries` must be strictly increasing, got [5, 5] (boundaries[1]=5.0).",
    ),
    (lambda: sequential([0.1, 0.2], [3]), ValueError, "global_step is required for sequential"),
    (
        lambda: sequential([COS, cosine_decay(0.1, 1, 10)], [3]),
        ValueError,
        "`global_step` must be given to sequential when the composed schedules read different "
        "step sources, got 0 and 1.",
    ),
    (
        lambda: sequential([COS], [], global_step=optim.Variable(np.zeros(2), trainable=False)),
        ValueError,
        "`global_step` must be a scalar Variable, got shape (2,).",
    ),
    # warmup_stable_decay
    (
        lambda: warmup_stable_decay(**{**WSD, "learning_rate": -1}),
        ValueError,
        "`learning_rate` must be >= 0, got -1.",
    ),
    (
        lambda: warmup_stable_decay(**{**WSD, "global_step": None}),
        ValueError,
        "global_step is required for warmup_stable_decay.",
    ),
    (
        lambda: warmup_stable_decay(**{**WSD, "warmup_steps": -1}),
        ValueError,
        "`warmup_steps` must be >= 0, got -1.",
    ),
    (
        lambda: warmup_stable_decay(**{**WSD, "stable_steps": math.nan}),
        ValueError,
        "`stable_steps` must be finite, got nan.",
    ),
    (
        lambda: warmup_stable_decay(**{**WSD, "decay_steps": 0}),
        ValueError,
        "`decay_steps` must be > 0, got 0.",
    ),
    (
        lambda: warmup_stable_decay(**WSD, min_lr_ratio=1.1),
        ValueError,
        "`min_lr_ratio` must be in [0, 1], got 1.1.",
    ),
    (
        lambda: warmup_stable_decay(**WSD, decay_type="exp"),
        ValueError,
        "`decay_type` must be one of '1-sqrt', 'linear', '1-square', 'cosine', got 'exp'.",
    ),
    (lambda: warmup_stable_decay(**WSD, decay_type=1), TypeError, "`decay_type` must be one of"),
    (
        lambda: warmup_stable_decay(**WSD, num_cycles=-0.5),
        ValueError,
        "`num_cycles` must be >= 0, got -0.5.",
    ),
    (
        lambda: warmup_stable_decay(**WSD, num_cycles="1"),
        TypeError,
        "`num_cycles` must be a real number, got '1'.",
    ),
]


@pytest.mark.parametrize("make, exc, message", BAD, ids=[b[2][:70] for b in BAD])
def test_bad_arguments(graph, make, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        make()


EVAL_BAD = [
    (
        lambda: one_cycle(0.1, -1, 100)(),
        ValueError,
        "`global_step` must be a finite number >= 0, got -1.",
    ),
    (lambda: cyclic(0.1, 0, 0.2)(math.nan), ValueError, "`step` must not be NaN, got nan."),
    (lambda: linear_warmup(COS, 5)(-3), ValueError, "`step` must be a finite number >= 0, got -3."),
    (
        lambda: sequential([COS], [], global_step=lambda: "2")(),
        TypeError,
        "`global_step` must be a real number, got '2'.",
    ),
    (
        lambda: cyclic(0.1, 0, 0.2, scale_fn=lambda x: "1")(3),
        TypeError,
        "`scale_fn` must return a real number, got '1'.",
    ),
    (
        lambda: cyclic(0.1, 0, 0.2, scale_fn=lambda x: math.inf)(3),
        ValueError,
        "`scale_fn` must return a finite number, got inf.",
    ),
]


@pytest.mark.parametrize("make, exc, message", EVAL_BAD, ids=[b[2][:60] for b in EVAL_BAD])
def test_bad_steps_at_evaluation(make, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        make()


def test_a_schedule_failing_at_a_step_leaves_variables_slots_and_step_unchanged(graph):
    step = optim.train.get_or_create_global_step()
    w = optim.Variable(np.ones(2), name="w")
    lr = cyclic(0.01, step, 0.1, step_size_up=2, scale_fn=lambda c: math.inf if c >= 2 else 1.0)
    opt = optim.train.MomentumOptimizer(lr, 0.9)
    for _ in range(4):  # cycle 1: steps 0..3
        opt.minimize(lambda: anp.sum(w.value), global_step=step)
    before = (w.numpy().copy(), opt.get_slot(w, "momentum").copy(), opt.iterations)
    with pytest.raises(ValueError, match=re.escape("`scale_fn` must return a finite number")):
        opt.minimize(lambda: anp.sum(w.value), global_step=step)  # step 4: cycle 2
    np.testing.assert_array_equal(w.numpy(), before[0])
    np.testing.assert_array_equal(opt.get_slot(w, "momentum"), before[1])
    assert opt.iterations == before[2] and int(step.numpy()) == 4


def test_composed_schedules_pickle_and_keep_their_values():
    import pickle

    lr = sequential(
        [
            linear_warmup(0.1, 10, global_step=0),
            one_cycle(0.1, 0, 100, three_phase=True),
            cyclic(0.01, 0, 0.1, 5, mode="exp_range", gamma=0.9),
            warmup_stable_decay(0.1, 0, 3, 4, 5, decay_type="cosine"),
        ],
        [10, 110, 150],
    )
    again = pickle.loads(pickle.dumps(lr))
    assert at(again, range(200)).tolist() == at(lr, range(200)).tolist()
    assert repr(again) == repr(lr)


def test_an_explicit_global_step_overrides_the_composed_schedules_sources(graph):
    step = optim.Variable(7, name="mine", trainable=False)
    child = cosine_decay(1.0, 3, 10)  # reads the fixed step 3 on its own
    for composed in (sequential([child], [], global_step=step), linear_warmup(child, 0, 0.0, step)):
        assert composed.global_step is step
        assert composed() == child(7) != child()
