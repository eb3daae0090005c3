"""Pickling and deep-copying optimizers: slots travel by variable name and resume bit for bit."""

from __future__ import annotations

import copy
import pickle

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim.accumulation import GradientAccumulationOptimizer
from tests.cases import CASES, Case

SHAPES = [(3, 4), (5,)]


def _grads(dtype, steps, seed=7):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _inits(dtype, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


def _straight(make, dtype, grads):
    """The uninterrupted run: every gradient applied by one optimizer, in a graph of its own."""
    with optim.Graph().as_default():
        variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(dtype))]
        opt = make()
        step = optim.train.get_or_create_global_step()
        for g in grads:
            opt.apply_gradients(zip(g, variables), global_step=step)
        slots = {
            (name, v.name): opt.get_slot(v, name).copy()
            for name in opt.get_slot_names()
            for v in variables
            if opt.get_slot(v, name) is not None
        }
        return [v.numpy() for v in variables], slots


def _momentum():
    return optim.train.MomentumOptimizer(0.1, momentum=0.9, use_nesterov=True)


def _adam():
    return optim.train.AdamOptimizer(0.01, beta1=0.8, beta2=0.95)


MAKERS = pytest.mark.parametrize("make", [_momentum, _adam], ids=["momentum", "adam"])
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])


@MAKERS
@DTYPES
def test_optimizer_alone_resumes_bit_identically(graph, make, dtype):
    """N steps, pickle the optimizer alone, unpickle, M more steps == N + M steps straight."""
    grads = _grads(dtype, 9)
    straight, straight_slots = _straight(make, dtype, grads)
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(dtype))]
    opt = make()
    for g in grads[:4]:
        opt.apply_gradients(zip(g, variables))
    names = opt.get_slot_names()
    data = pickle.dumps(opt)
    del opt
    opt = pickle.loads(data)
    assert opt.get_slot_names() == names
    assert opt.iterations == 4
    for g in grads[4:]:
        opt.apply_gradients(zip(g, variables))
    for expected, var in zip(straight, variables):
        assert np.array_equal(var.numpy(), expected)
    for (name, var_name), expected in straight_slots.items():
        var = next(v for v in variables if v.name == var_name)
        assert np.array_equal(opt.get_slot(var, name), expected)


@MAKERS
def test_optimizer_alone_resumes_in_a_new_graph_with_variables_of_the_same_names(graph, make):
    """As in another process: fresh variables named as before, holding the saved values."""
    grads = _grads(np.float64, 8)
    straight, _ = _straight(make, np.float64, grads)
    with optim.Graph().as_default():
        first = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float64))]
        opt = make()
        for g in grads[:3]:
            opt.apply_gradients(zip(g, first))
        values = [v.numpy() for v in first]
        data = pickle.dumps(opt)
    with optim.Graph().as_default():
        second = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(values)]
        opt2 = pickle.loads(data)
        for g in grads[3:]:
            opt2.minimize(
                lambda g=g: sum(anp.sum(gi * v.value) for gi, v in zip(g, second)),
                var_list=second,
            )
        for expected, var in zip(straight, second):
            assert np.array_equal(var.numpy(), expected)


@MAKERS
def test_optimizer_pickled_with_its_variables_is_a_working_pair(graph, make):
    grads = _grads(np.float64, 7)
    straight, _ = _straight(make, np.float64, grads)
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float64))]
    opt = make()
    for g in grads[:2]:
        opt.apply_gradients(zip(g, variables))
    data = pickle.dumps((opt, *variables))
    with optim.Graph().as_default():  # as in another process: the names are free
        opt2, *variables2 = pickle.loads(data)
    assert [v.name for v in variables2] == [v.name for v in variables]
    for name in opt.get_slot_names():
        for var, var2 in zip(variables, variables2):
            assert np.array_equal(opt2.get_slot(var2, name), opt.get_slot(var, name))
            assert opt2.get_slot(var2, name) is not opt.get_slot(var, name)
    for g in grads[2:]:
        opt2.apply_gradients(zip(g, variables2))
    for expected, var in zip(straight, variables2):
        assert np.array_equal(var.numpy(), expected)


def test_renamed_unpickled_variables_raise_instead_of_restarting_slots(graph):
    """Unpickled next to the live originals, the variables come back as v0_1, v1_1."""
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float64))]
    opt = _momentum()
    opt.apply_gradients(zip(_grads(np.float64, 1)[0], variables))
    for opt2, *variables2 in (
        pickle.loads(pickle.dumps((opt, *variables))),
        copy.deepcopy((opt, *variables)),
    ):
        assert [v.name for v in variables2] != ["v0", "v1"]  # v0_1, v1_1, then v0_2...
        before = [v.numpy() for v in variables2]
        with pytest.raises(ValueError, match=r"for variables \['v0', 'v1'\].*restart from zero"):
            opt2.apply_gradients(zip(_grads(np.float64, 1)[0], variables2))
        assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, variables2))
        assert opt2.iterations == 1
        opt2.apply_gradients(zip(_grads(np.float64, 1)[0], variables))  # the saved names
        assert opt2.iterations == 2


def test_unpickled_slots_show_before_any_step(graph):
    w = optim.Variable(np.arange(3.0), name="w")
    opt = _adam()
    opt.apply_gradients([(np.ones(3), w)])
    before = opt.state_dict()
    opt2 = pickle.loads(pickle.dumps(opt))
    after = opt2.state_dict()
    assert after["slots"].keys() == before["slots"].keys()
    for name in before["slots"]:
        assert np.array_equal(after["slots"][name]["w"], before["slots"][name]["w"])
    assert after["non_slot"].keys() == before["non_slot"].keys()
    for name, array in before["non_slot"].items():
        assert np.array_equal(after["non_slot"][name], array)
        assert after["non_slot"][name].dtype == array.dtype
    assert len(opt2.variables()) == len(opt.variables())
    assert np.array_equal(opt2.get_slot(w, "m"), opt.get_slot(w, "m"))


def test_unpickled_slot_of_another_shape_raises_naming_the_variable_and_changes_nothing(graph):
    with optim.Graph().as_default():
        w = optim.Variable(np.zeros(3), name="w")
        opt = _momentum()
        opt.apply_gradients([(np.ones(3), w)])
        data = pickle.dumps(opt)
    with optim.Graph().as_default():
        w = optim.Variable(np.zeros(4), name="w")
        opt = pickle.loads(data)
        with pytest.raises(ValueError, match=r"Slot 'momentum' of variable 'w'.*shape \(3,\)"):
            opt.apply_gradients([(np.ones(4), w)])
        assert np.array_equal(w.numpy(), np.zeros(4))
        assert opt.iterations == 1
        with pytest.raises(ValueError, match=r"variable 'w'"):
            opt.get_slot(w, "momentum")
        assert "w" in opt.state_dict()["slots"]["momentum"]  # still held, not dropped


def test_unpickled_slot_of_another_dtype_raises(graph):
    w = optim.Variable(np.zeros(3), name="w")
    opt = _momentum()
    opt.apply_gradients([(np.ones(3), w)])
    opt = pickle.loads(pickle.dumps(opt))
    with optim.Graph().as_default():
        w32 = optim.Variable(np.zeros(3, np.float32), name="w")
        with pytest.raises(ValueError, match=r"variable 'w'.*dtype float64"):
            opt.apply_gradients([(np.ones(3, np.float32), w32)])
        assert np.array_equal(w32.numpy(), np.zeros(3))


def test_two_variables_with_one_name_cannot_be_pickled(graph):
    w = optim.Variable(np.zeros(2), name="w")
    with optim.Graph().as_default():
        other = optim.Variable(np.zeros(2), name="w")
    opt = _momentum()
    opt.apply_gradients([(np.ones(2), w), (np.ones(2), other)])
    with pytest.raises(ValueError, match=r"Two different variables named 'w'"):
        pickle.dumps(opt)
    with pytest.raises(ValueError, match=r"Two different variables named 'w'"):
        opt.state_dict()


def test_deepcopy_is_independent_and_binds_by_name(graph):
    grads = _grads(np.float64, 6)
    straight, _ = _straight(_adam, np.float64, grads)
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float64))]
    opt = _adam()
    for g in grads[:3]:
        opt.apply_gradients(zip(g, variables))
    values = [v.numpy() for v in variables]
    twin = copy.deepcopy(opt)
    # The original goes on with other gradients; the copy's state must not move with it.
    for g in grads[:3]:
        opt.apply_gradients(zip(g, variables))
    with optim.Graph().as_default():
        fresh = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(values)]
        for g in grads[3:]:
            twin.apply_gradients(zip(g, fresh))
        for expected, var in zip(straight, fresh):
            assert np.array_equal(var.numpy(), expected)
    assert twin.iterations == 6 and opt.iterations == 6


def test_shallow_copy_shares_slots(graph):
    w = optim.Variable(np.zeros(2), name="w")
    opt = _momentum()
    opt.apply_gradients([(np.ones(2), w)])
    assert copy.copy(opt).get_slot(w, "momentum") is opt.get_slot(w, "momentum")


def lr_of_step(step):
    return 0.5 ** step


def test_one_argument_learning_rate_is_bound_to_the_unpickled_optimizer(graph):
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.GradientDescentOptimizer(lr_of_step)
    opt.apply_gradients([(np.ones(1), w)])  # lr 1
    opt2 = pickle.loads(pickle.dumps(opt))
    opt.apply_gradients([(np.ones(1), w)])  # the original: lr 0.5
    opt2.apply_gradients([(np.ones(1), w)])  # the copy counts its own steps: lr 0.5 too
    opt2.apply_gradients([(np.ones(1), w)])  # lr 0.25
    assert w.numpy()[0] == -(1 + 0.5 + 0.5 + 0.25)


# -- the wrappers ------------------------------------------------------------------------------
def test_accumulation_resumes_mid_cycle_bit_identically(graph):
    grads = _grads(np.float64, 10)

    def make():
        return GradientAccumulationOptimizer(_adam(), every_k_steps=3)

    straight, _ = _straight(make, np.float64, grads)
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float64))]
    opt = make()
    for g in grads[:5]:  # one update and two micro-steps into the second cycle
        opt.apply_gradients(zip(g, variables))
    assert opt.mini_step == 2
    opt2 = pickle.loads(pickle.dumps(opt))
    assert opt2.mini_step == 2
    assert np.array_equal(opt2.accumulator(variables[0]), opt.accumulator(variables[0]))
    for g in grads[5:]:
        opt2.apply_gradients(zip(g, variables))
    for expected, var in zip(straight, variables):
        assert np.array_equal(var.numpy(), expected)


def test_accumulation_keeps_an_accumulator_whose_variable_misses_the_next_calls(graph):
    """v1 had a gradient before pickling only; the cycle's update must still carry it."""
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float64))]
    with optim.Graph().as_default():
        twins = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float64))]
    g = _grads(np.float64, 2)
    straight = GradientAccumulationOptimizer(_momentum(), every_k_steps=2)
    straight.apply_gradients(zip(g[0], twins))
    straight.apply_gradients([(g[1][0], twins[0]), (None, twins[1])])
    opt = GradientAccumulationOptimizer(_momentum(), every_k_steps=2)
    opt.apply_gradients(zip(g[0], variables))
    opt = pickle.loads(pickle.dumps(opt))
    opt.apply_gradients([(g[1][0], variables[0]), (None, variables[1])])
    assert opt.iterations == 1
    for twin, var in zip(twins, variables):
        assert not np.array_equal(var.numpy(), _inits(np.float64)[int(var.name[1])])
        assert np.array_equal(var.numpy(), twin.numpy())


def test_accumulation_raises_when_an_accumulator_has_no_variable_and_changes_nothing(graph):
    with optim.Graph().as_default():
        gone = optim.Variable(np.zeros(2), name="gone")
        w = optim.Variable(np.zeros(2), name="w")
        opt = GradientAccumulationOptimizer(_momentum(), every_k_steps=2)
        opt.apply_gradients([(np.ones(2), gone), (np.ones(2), w)])
        data = pickle.dumps((opt, w))
    opt, w = pickle.loads(data)
    with pytest.raises(ValueError, match=r"accumulators of variables \['gone'\]"):
        opt.apply_gradients([(np.ones(2), w)])
    assert opt.mini_step == 1 and opt.iterations == 0
    assert np.array_equal(w.numpy(), np.zeros(2))
    assert np.array_equal(opt.state_dict()["accumulators"]["gone"], np.ones(2))


@pytest.mark.parametrize("zero_debias", [False, True])
def test_ema_pickles_its_averages_by_name(graph, zero_debias):
    rng = np.random.default_rng(1)
    w = optim.Variable(rng.normal(size=3), name="w")
    ema = optim.train.ExponentialMovingAverage(0.9, num_updates=4, zero_debias=zero_debias)
    twin = optim.train.ExponentialMovingAverage(0.9, num_updates=4, zero_debias=zero_debias)
    with optim.Graph().as_default():
        w_twin = optim.Variable(w.numpy(), name="w")
    updates = [rng.normal(size=3) for _ in range(5)]
    for i, u in enumerate(updates):
        for var, e in ((w, ema), (w_twin, twin)):
            var.assign_add(u)
            e.apply([var])
        if i == 1:
            ema = pickle.loads(pickle.dumps(ema))
            assert ema.state_dict()["averages"].keys() == {"w"}
    assert np.array_equal(ema.average(w), twin.average(w_twin))
    with ema.swapped():  # without var_list: the default graph's "w" is found by name
        assert np.array_equal(w.numpy(), twin.average(w_twin))


def test_ema_deepcopy_keeps_averages(graph):
    w = optim.Variable(np.ones(2), name="w")
    ema = optim.train.ExponentialMovingAverage(0.5)
    ema.apply([w])
    w.assign([3.0, 5.0])
    ema.apply([w])
    twin = copy.deepcopy(ema)
    assert np.array_equal(twin.average(w), [2.0, 3.0])
    assert twin.average(w) is not ema.average(w)
    assert twin.averaged_variables() == [w]


# -- every optimizer of the battery ----------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_case_resumes_bit_identically_after_pickling(graph, case: Case):
    """The optimizer and the global step pickled together (AdagradDA reads the step)."""
    grads = _grads(np.float32, 8)
    straight, straight_slots = _straight(case.make, np.float32, grads)
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(_inits(np.float32))]
    opt = case.make()
    step = optim.train.get_or_create_global_step()
    for g in grads[:3]:
        opt.apply_gradients(zip(g, variables), global_step=step)
    opt, step = pickle.loads(pickle.dumps((opt, step)))
    for g in grads[3:]:
        opt.apply_gradients(zip(g, variables), global_step=step)
    for expected, var in zip(straight, variables):
        assert np.array_equal(var.numpy(), expected), var.name
    for (name, var_name), expected in straight_slots.items():
        var = next(v for v in variables if v.name == var_name)
        assert np.array_equal(opt.get_slot(var, name), expected), (name, var_name)
