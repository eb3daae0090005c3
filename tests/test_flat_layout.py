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


# ---------------------------------------------------------------------------------------------
# The optimizers on the flat layout: bit-identical to the per-variable path, whatever happens

FLAT = {
    "GradientDescentOptimizer": dict(learning_rate=0.1),
    "MomentumOptimizer": dict(learning_rate=0.1, momentum=0.9),
    "MomentumOptimizer-nesterov": dict(learning_rate=0.1, momentum=0.9, use_nesterov=True),
    "AdagradOptimizer": dict(learning_rate=0.1),
    "RMSPropOptimizer": dict(learning_rate=0.01),
    "RMSPropOptimizer-centered": dict(learning_rate=0.01, momentum=0.5, centered=True),
    "AdamOptimizer": dict(learning_rate=0.01),
    "AdamOptimizer-amsgrad": dict(learning_rate=0.01, amsgrad=True),
    "AdamWOptimizer": dict(learning_rate=0.01, weight_decay=0.01),
    "LionOptimizer": dict(learning_rate=0.01),
    "AdadeltaOptimizer": dict(learning_rate=1.0),
    "AdamaxOptimizer": dict(learning_rate=0.01),
    "NadamOptimizer": dict(learning_rate=0.01),
    "FtrlOptimizer": dict(
        learning_rate=0.1, l1_regularization_strength=0.001, l2_regularization_strength=0.01
    ),
    "FtrlOptimizer-power": dict(
        learning_rate=0.1, learning_rate_power=-0.3, l2_shrinkage_regularization_strength=0.01,
        beta=0.1,
    ),  # fmt: skip
    "AdagradDAOptimizer": lambda: dict(
        learning_rate=0.1, global_step=optim.train.get_or_create_global_step(),
        l1_regularization_strength=0.001, l2_regularization_strength=0.01,
    ),  # fmt: skip (a callable: the global step belongs to the run's graph)
    "ProximalGradientDescentOptimizer": dict(
        learning_rate=0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02
    ),
    "ProximalAdagradOptimizer": dict(
        learning_rate=0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02
    ),
    "RAdamOptimizer": dict(learning_rate=0.01),
    "LAMBOptimizer": dict(learning_rate=0.01, weight_decay=0.01),
    "LAMBOptimizer-nodecay": dict(learning_rate=0.02, beta1=0.8),
}
ENGINES = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not __import__("optim.engine.kernels", fromlist=["available"]).available(),
    reason="numba is not installed"))]


def _kwargs(key):
    value = FLAT[key]
    return value() if callable(value) else dict(value)


def _make(key, **options):
    name = key.split("-")[0]
    return getattr(optim.train, name)(**_kwargs(key), **options)


def _state(variables, opt):
    slots = {
        f"{v.name}/{s}": opt.get_slot(v, s).copy()
        for v in variables for s in opt.get_slot_names() if opt.get_slot(v, s) is not None
    }
    return [v.numpy() for v in variables], slots


def _same(a, b):
    (va, sa), (vb, sb) = a, b
    assert sa.keys() == sb.keys()
    for x, y in zip(va, vb):
        np.testing.assert_array_equal(x, y, strict=True)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], strict=True)


def _run(scenario, key, engine, monkeypatch, dtype=np.float32):
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    with optim.Graph().as_default():
        return scenario(_make(key), np.random.default_rng(1), dtype)


def _plain_steps(opt, rng, dtype):
    variables = _variables(dtype)
    step = optim.train.get_or_create_global_step()  # AdagradDA's T grows
    for _ in range(7):  # RAdam's steps 6 and 7 are rectified
        grads = [rng.normal(size=v.shape).astype(dtype) for v in variables]
        opt.apply_gradients(zip(grads, variables), global_step=step)
    homes = {np.asarray(v.array).base is not None and id(np.asarray(v.array).base)
             for v in variables}
    return _state(variables, opt), homes


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("key", sorted(FLAT))
def test_flat_steps_equal_per_variable_steps(key, dtype, engine, monkeypatch):
    (expected, homes_off) = _run(_plain_steps, key, "off", monkeypatch, dtype)
    (got, homes) = _run(_plain_steps, key, engine, monkeypatch, dtype)
    _same(got, expected)
    assert len(homes) == 1 and False not in homes  # re-homed into one buffer
    assert False in homes_off or len(homes_off) > 1  # off: each variable keeps its own


def _joining_and_skipping(opt, rng, dtype):
    a, b, c, d = _variables(dtype)
    seen = []
    plan = [[a, b], [a, b], [a, b, c], [a, None, c], [a, b, c, d], [None, b, None, d],
            [a, b, c, d]]
    for step in plan:
        pairs = [(None if v is None else rng.normal(size=v.shape).astype(dtype),
                  w if v is None else v) for v, w in zip(step, [a, b, c, d])]
        opt.apply_gradients(pairs)
        seen.append(_state([a, b, c, d], opt))
    return seen


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "key",
    ["AdamOptimizer", "MomentumOptimizer", "RMSPropOptimizer-centered", "FtrlOptimizer",
     "LAMBOptimizer", "RAdamOptimizer", "AdagradDAOptimizer"],
)  # fmt: skip
def test_variables_joining_later_and_none_gradients(key, engine, monkeypatch):
    expected = _run(_joining_and_skipping, key, "off", monkeypatch)
    got = _run(_joining_and_skipping, key, engine, monkeypatch)
    for g, e in zip(got, expected):
        _same(g, e)


def _with_sparse(opt, rng, dtype):
    table = optim.Variable(rng.normal(size=(6, 3)).astype(dtype), name="table")
    dense = optim.Variable(rng.normal(size=(4,)).astype(dtype), name="dense")
    for _ in range(4):
        rows = optim.IndexedSlices(rng.normal(size=(2, 3)).astype(dtype), np.array([1, 4]),
                                   dense_shape=(6, 3))
        opt.apply_gradients([(rows, table), (rng.normal(size=4).astype(dtype), dense)])
    return _state([table, dense], opt)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "key",
    ["AdamOptimizer", "MomentumOptimizer", "AdagradOptimizer", "FtrlOptimizer",
     "ProximalAdagradOptimizer", "RAdamOptimizer"],
)  # fmt: skip
def test_sparse_gradients_beside_dense_ones(key, engine, monkeypatch):
    _same(_run(_with_sparse, key, engine, monkeypatch), _run(_with_sparse, key, "off",
                                                             monkeypatch))


def _assign_and_constraints(opt, rng, dtype):
    w = optim.Variable(rng.normal(size=(5,)).astype(dtype), name="w",
                       constraint=lambda x: np.clip(x, -0.5, 0.5))
    u = optim.Variable(rng.normal(size=(2, 2)).astype(dtype), name="u")
    for step in range(5):
        opt.apply_gradients([(rng.normal(size=5).astype(dtype), w),
                             (rng.normal(size=(2, 2)).astype(dtype), u)])
        if step == 2:
            u.assign(np.full((2, 2), 3.0, dtype))  # through the view
    return _state([w, u], opt)


@pytest.mark.parametrize("engine", ENGINES)
def test_assign_through_the_view_and_constraints(engine, monkeypatch):
    expected = _run(_assign_and_constraints, "AdamOptimizer", "off", monkeypatch)
    got = _run(_assign_and_constraints, "AdamOptimizer", engine, monkeypatch)
    _same(got, expected)
    assert np.all(np.abs(got[0][0]) <= 0.5)


@pytest.mark.parametrize("engine", ENGINES)
def test_load_state_dict_copies_into_the_views_and_resume_is_bit_identical(engine, monkeypatch):
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    rng = np.random.default_rng(3)
    grads = [[rng.normal(size=s).astype(np.float32) for s in [(3, 4), (5,), (), (2, 1, 3)]]
             for _ in range(8)]
    with optim.Graph().as_default():
        variables = _variables()
        opt = optim.train.AdamOptimizer(0.01)
        for g in grads:
            opt.apply_gradients(zip(g, variables))
        expected = _state(variables, opt)
    with optim.Graph().as_default():
        variables = _variables()
        opt = optim.train.AdamOptimizer(0.01)
        for g in grads[:4]:
            opt.apply_gradients(zip(g, variables))
        saved, values = opt.state_dict(), [v.numpy() for v in variables]
        live = opt.get_slot(variables[0], "m")
        for g in grads[4:6]:  # wander off, then come back to step 4
            opt.apply_gradients(zip(g, variables))
        opt.load_state_dict(saved, var_list=variables)
        for v, x in zip(variables, values):
            v.assign(x)
        assert opt.get_slot(variables[0], "m") is live  # copied into the slot's own array
        for g in grads[4:]:
            opt.apply_gradients(zip(g, variables))
        assert np.shares_memory(live, opt.get_slot(variables[0], "m"))
        _same(_state(variables, opt), expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_variable_shared_by_two_optimizers(engine, monkeypatch):
    def scenario(opt, rng, dtype):
        a, b, c, _ = _variables(dtype)
        other = optim.train.MomentumOptimizer(0.1, momentum=0.9)
        for _ in range(4):
            opt.apply_gradients([(rng.normal(size=a.shape).astype(dtype), a),
                                 (rng.normal(size=b.shape).astype(dtype), b)])
            other.apply_gradients([(rng.normal(size=b.shape).astype(dtype), b),
                                   (rng.normal(size=c.shape).astype(dtype), c)])
        return _state([a, b, c], opt), _state([a, b, c], other)

    expected = _run(scenario, "AdamOptimizer", "off", monkeypatch)
    got = _run(scenario, "AdamOptimizer", engine, monkeypatch)
    for g, e in zip(got, expected):
        _same(g, e)


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_dtypes_get_one_arena_each_and_pickling_works(engine, monkeypatch):
    import pickle

    def scenario(opt, rng, dtype):
        a = optim.Variable(rng.normal(size=4).astype(np.float32), name="a")
        b = optim.Variable(rng.normal(size=3), name="b")
        for i in range(6):
            opt.apply_gradients([(rng.normal(size=4).astype(np.float32), a),
                                 (rng.normal(size=3), b)])
            if i == 2:  # unpickled where the names are free: the slots find their variables
                blob = pickle.dumps((opt, a, b))
                with optim.Graph().as_default():
                    opt, a, b = pickle.loads(blob)
        return _state([a, b], opt)

    _same(_run(scenario, "AdamOptimizer", engine, monkeypatch),
          _run(scenario, "AdamOptimizer", "off", monkeypatch))


def test_adamw_with_exclusions_stays_per_variable(monkeypatch):
    def scenario(opt, rng, dtype):
        variables = _variables(dtype)
        for _ in range(4):
            grads = [rng.normal(size=v.shape).astype(dtype) for v in variables]
            opt.apply_gradients(zip(grads, variables))
        shared = any(np.shares_memory(variables[0].array, v.array) for v in variables[1:])
        return _state(variables, opt), shared

    monkeypatch.setenv("OPTIM_ENGINE", "numpy")
    with optim.Graph().as_default():
        opt = optim.train.AdamWOptimizer(learning_rate=0.01, weight_decay=0.1,
                                         exclude_from_weight_decay=["v1"])
        got, shared = scenario(opt, np.random.default_rng(1), np.float32)
    monkeypatch.setenv("OPTIM_ENGINE", "off")
    with optim.Graph().as_default():
        opt = optim.train.AdamWOptimizer(learning_rate=0.01, weight_decay=0.1,
                                         exclude_from_weight_decay=["v1"])
        expected, _ = scenario(opt, np.random.default_rng(1), np.float32)
    _same(got, expected)
    assert not shared  # not re-homed: the decay differs per variable


def test_a_subclass_with_its_own_update_is_never_fused(monkeypatch):
    class Halved(optim.train.GradientDescentOptimizer):
        def _apply_dense(self, grad, var):
            super()._apply_dense(grad * np.float32(0.5), var)

    assert Halved.flat_kernel is None
    assert optim.train.GradientDescentOptimizer.flat_kernel == "gradient_descent"
    monkeypatch.setenv("OPTIM_ENGINE", "numpy")
    with optim.Graph().as_default():
        w = optim.Variable(np.ones(3, np.float32), name="w")
        opt = Halved(0.1)
        opt.apply_gradients([(np.ones(3, np.float32), w)])
        np.testing.assert_array_equal(w.value, np.float32(1) - np.float32(0.1) * np.float32(0.5))


def test_engine_off_never_rehomes(monkeypatch):
    monkeypatch.setenv("OPTIM_ENGINE", "off")
    with optim.Graph().as_default():
        variables = _variables()
        arrays = [v.array for v in variables]
        opt = optim.train.AdamOptimizer(0.01)
        opt.apply_gradients((np.ones(v.shape, np.float32), v) for v in variables)
        assert all(v.array is a for v, a in zip(variables, arrays))


def test_bad_engine_setting_raises_before_any_change(monkeypatch):
    monkeypatch.setenv("OPTIM_ENGINE", "fastest")
    with optim.Graph().as_default():
        w = optim.Variable(np.ones(3, np.float32), name="w")
        opt = optim.train.AdamOptimizer(0.01)
        with pytest.raises(ValueError, match=r"\$OPTIM_ENGINE must be one of"):
            opt.apply_gradients([(np.ones(3, np.float32), w)])
        np.testing.assert_array_equal(w.value, 1.0)
        assert opt.get_slot_names() == [] and opt.iterations == 0


def _big_steps(opt, rng, dtype):
    """Variables adding up to more than PARALLEL_MIN_SIZE elements: the numba kernels run."""
    from optim.engine.fused import PARALLEL_MIN_SIZE

    shapes = [(200, 150), (7,), (), (PARALLEL_MIN_SIZE // 3,)]
    variables = [optim.Variable(rng.normal(size=s).astype(dtype), name=f"b{i}")
                 for i, s in enumerate(shapes)]
    assert sum(v.size for v in variables) >= PARALLEL_MIN_SIZE
    for _ in range(4):
        grads = [rng.normal(size=v.shape).astype(dtype) for v in variables]
        grads[0].flat[::97] = np.nan if dtype == np.float64 else grads[0].flat[::97]
        opt.apply_gradients(zip(grads, variables))
    return _state(variables, opt)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("key", sorted(FLAT))
def test_large_arenas_equal_per_variable_steps(key, dtype, engine, monkeypatch):
    def scenario(opt, rng, dtype):
        opt = _make(key, nonfinite="propagate")
        return _big_steps(opt, rng, dtype)

    _same(_run(scenario, key, engine, monkeypatch, dtype),
          _run(scenario, key, "off", monkeypatch, dtype))
