"""The flat layout (optim.engine.arena) and the fused path of the optimizers built on it."""

from __future__ import annotations

import numpy as np
import pytest

import optim
from optim.engine.arena import Arena


@pytest.fixture
def graph():
    with optim.Graph().as_default() as g:
        yield g


def _variables(dtype=np.float32):
    rng = np.random.default_rng(0)
    return [
        optim.Variable(rng.normal(size=shape).astype(dtype), name=f"v{i}")
        for i, shape in enumerate([(3, 4), (5,), (), (2, 1, 3)])
    ]


def test_rehoming_keeps_values_and_makes_views(graph):
    variables = _variables()
    before = [v.numpy() for v in variables]
    slots = {"m": {v: np.full(v.shape, 2.0, v.dtype) for v in variables}}
    arena = Arena(variables, slots)
    assert arena.size == sum(v.size for v in variables)
    for v, b, seg in zip(variables, before, range(len(variables))):
        np.testing.assert_array_equal(v.value, b)
        assert np.shares_memory(v.array, arena.var_buffer)
        assert np.shares_memory(v.value, arena.var_buffer)
        assert not v.value.flags.writeable and v.array.flags.writeable
        np.testing.assert_array_equal(arena.var_buffer[arena.segment(seg)], b.ravel())
        assert np.shares_memory(slots["m"][v], arena.slot_buffers["m"])
    np.testing.assert_array_equal(arena.slot_buffers["m"], 2.0)
    assert arena.holds(variables, slots)


def test_assign_writes_through_the_view(graph):
    variables = _variables()
    arena = Arena(variables, {})
    variables[1].assign(np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(arena.var_buffer[arena.segment(1)], np.arange(5))
    variables[0].assign_add(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(arena.var_buffer[arena.segment(0)], variables[0].value.ravel())


def test_a_stale_reference_is_documented_behaviour(graph):
    (w,) = _variables()[:1]
    old = w.value
    Arena([w], {})
    w.assign(np.zeros(w.shape, np.float32))
    assert not np.array_equal(old, w.value)  # the reference taken before re-homing is stale


def test_holds_detects_every_change(graph):
    variables = _variables()
    slots = {"m": {v: np.zeros(v.shape, v.dtype) for v in variables}}
    arena = Arena(variables, slots)
    assert not arena.holds(variables[:-1], slots)  # a variable missing
    assert not arena.holds(variables[::-1], slots)  # another order
    slots["m"][variables[0]] = slots["m"][variables[0]].copy()  # a restored slot
    assert not arena.holds(variables, slots)
    other = {"m": {v: np.zeros(v.shape, v.dtype) for v in variables}}
    Arena(variables, other)  # re-homed into another arena
    assert not arena.holds(variables, other)


def test_gather_copies_gradients_in_order(graph):
    variables = _variables()
    arena = Arena(variables, {})
    grads = [np.full(v.shape, i, np.float32) for i, v in enumerate(variables)]
    flat = arena.gather(grads)
    for i in range(len(variables)):
        np.testing.assert_array_equal(flat[arena.segment(i)], i)
    single = Arena(variables[:1], {})
    np.testing.assert_array_equal(single.gather(grads[:1]), grads[0].ravel())


def test_bad_arenas_raise_and_rehome_nothing(graph):
    a = optim.Variable(np.zeros(2, np.float32), name="a")
    b = optim.Variable(np.zeros(2, np.float64), name="b")
    before = a.array
    with pytest.raises(ValueError, match="must share one dtype"):
        Arena([a, b], {})
    with pytest.raises(ValueError, match="slot 'm' of variable 'a'"):
        Arena([a], {"m": {a: np.zeros(3, np.float32)}})
    with pytest.raises(ValueError, match="at least one variable"):
        Arena([], {})
    assert a.array is before


def test_rehome_checks_its_argument(graph):
    w = optim.Variable(np.ones(3, np.float32), name="w")
    with pytest.raises(TypeError, match="`storage` for variable 'w' must have dtype float32"):
        w.rehome(np.zeros(3))
    with pytest.raises(ValueError, match="must have shape"):
        w.rehome(np.zeros(4, np.float32))
    frozen = np.zeros(3, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable and C-contiguous"):
        w.rehome(frozen)
    with pytest.raises(TypeError, match="must be a numpy array"):
        w.rehome([0.0, 0.0, 0.0])
    np.testing.assert_array_equal(w.value, 1.0)
