"""The flat engine's steady state: clipping and the non-finite check over the flat gradient.

Once an optimizer's arena holds a step's variables, ``apply_gradients`` recognises the call
without a per-pair loop, gathers the gradients into one buffer, clips them there and checks
them with one reduction. Each test runs the same steps with the engine off (the per-variable
path) and compares every variable and slot bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import optim
from optim.engine import reductions
from optim.engine.fused import PARALLEL_MIN_SIZE, FusedEngine
from optim.engine.kernels import available

ENGINES = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not available(), reason="numba is not installed"))]
CLIPPING = {
    "none": {},
    "global_clipnorm": {"global_clipnorm": 0.5},  # clips: the gradients' norm is larger
    "global_clipnorm-loose": {"global_clipnorm": 1e6},  # scale 1
    "clipvalue": {"clipvalue": 0.3},
    "clipnorm": {"clipnorm": 0.7},
}
SHAPES = {
    "small": [(3, 4), (5,), (), (2, 1, 3)],
    "one": [(40,)],
    "large": [(200, 150), (7,), (), (PARALLEL_MIN_SIZE // 3,)],  # numba's threads run
    "large-one": [(PARALLEL_MIN_SIZE + 5,)],
}


def _variables(shapes, dtype, rng):
    return [optim.Variable(rng.normal(size=s).astype(dtype), name=f"v{i}")
            for i, s in enumerate(shapes)]


def _state(variables, opt):
    slots = {f"{v.name}/{s}": opt.get_slot(v, s).copy()
             for v in variables for s in opt.get_slot_names()}
    return [v.numpy() for v in variables], slots


def _same(a, b):
    (va, sa), (vb, sb) = a, b
    assert sa.keys() == sb.keys()
    for x, y in zip(va, vb):
        np.testing.assert_array_equal(x, y, strict=True)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], strict=True)


def _run(engine, monkeypatch, make, shapes, dtype, steps=5, gradients=None):
    """``steps`` applies of random gradients; returns the state, the optimizer and, per step,
    whether the caller's gradients came back unchanged. Records in ``STEADY`` how many
    applies took the steady state."""
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    STEADY.clear()
    rng = np.random.default_rng(3)
    with optim.Graph().as_default():
        variables = _variables(shapes, dtype, rng)
        opt = make()
        given = []
        for step in range(steps):
            grads = [np.asarray(rng.normal(size=v.shape) * 2, dtype) for v in variables]
            if gradients is not None:
                gradients(step, grads)
            kept = [g.copy() for g in grads]
            opt.apply_gradients(zip(grads, variables))
            given.append(all(np.array_equal(g, k, equal_nan=True) for g, k in zip(grads, kept)))
        return _state(variables, opt), opt, given


STEADY: list[bool] = []


@pytest.fixture(autouse=True)
def _spy_on_the_steady_state(monkeypatch):
    original = FusedEngine.steady

    def steady(self, pairs, slots):
        found = original(self, pairs, slots)
        STEADY.append(found is not None)
        return found

    monkeypatch.setattr(FusedEngine, "steady", steady)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", sorted(SHAPES))
@pytest.mark.parametrize("clipping", sorted(CLIPPING))
def test_clipped_steady_steps_equal_per_variable_steps(clipping, shapes, dtype, engine,
                                                       monkeypatch):
    def make():
        return optim.train.AdamOptimizer(0.01, **CLIPPING[clipping])

    expected, _, _ = _run("off", monkeypatch, make, SHAPES[shapes], dtype)
    got, opt, untouched = _run(engine, monkeypatch, make, SHAPES[shapes], dtype)
    assert STEADY == [True] * 4  # every step after the first (the engine exists from then on)
    _same(got, expected)
    assert all(untouched)  # the caller's gradients are never written, clipped or not


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shapes", ["small", "large"])
@pytest.mark.parametrize("clipping", ["none", "global_clipnorm", "clipvalue"])
def test_nonfinite_steady_step_raises_and_changes_nothing(clipping, shapes, engine,
                                                          monkeypatch):
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    rng = np.random.default_rng(0)
    with optim.Graph().as_default():
        variables = _variables(SHAPES[shapes], np.float32, rng)
        opt = optim.train.MomentumOptimizer(0.1, 0.9, **CLIPPING[clipping])
        for _ in range(2):
            opt.apply_gradients([(rng.normal(size=v.shape).astype(np.float32), v)
                                 for v in variables])
        before = _state(variables, opt)
        grads = [np.asarray(rng.normal(size=v.shape), np.float32) for v in variables]
        grads[-1].flat[-1] = np.inf  # the last entry of the last variable
        bad = variables[-1].name
        # clipvalue turns an infinity into a finite bound: the step goes ahead, as per variable
        if clipping == "clipvalue":
            opt.apply_gradients(zip(grads, variables))
            assert opt.iterations == 3
            return
        with pytest.raises(FloatingPointError) as info:
            opt.apply_gradients(zip(grads, variables))
        assert STEADY[-1]  # raised from the steady state's one reduction
        _same(_state(variables, opt), before)
        assert opt.iterations == 2
        names = [v.name for v in variables]
        if clipping == "global_clipnorm":  # every gradient became NaN: all are named
            assert all(repr(n) in str(info.value) or n in str(info.value) for n in names)
        else:
            assert bad in str(info.value)
            assert all(n not in str(info.value) for n in names if n != bad)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("policy", ["skip", "propagate"])
def test_nonfinite_policies_in_the_steady_state_equal_per_variable(policy, engine,
                                                                   monkeypatch):
    def make():
        return optim.train.AdamOptimizer(0.01, nonfinite=policy, global_clipnorm=1.0)

    def poison(step, grads):
        if step == 2:
            grads[0].flat[0] = np.nan

    expected, ref, _ = _run("off", monkeypatch, make, SHAPES["large"], np.float32,
                            gradients=poison)
    got, opt, _ = _run(engine, monkeypatch, make, SHAPES["large"], np.float32,
                       gradients=poison)
    _same(got, expected)
    assert (opt.iterations, opt.skipped_steps) == (ref.iterations, ref.skipped_steps)


@pytest.mark.parametrize("engine", ENGINES)
def test_malformed_calls_after_the_first_step_still_raise_clearly(engine, monkeypatch):
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    rng = np.random.default_rng(0)
    with optim.Graph().as_default():
        variables = _variables(SHAPES["small"], np.float32, rng)
        opt = optim.train.AdamOptimizer(0.01)
        grads = [np.ones(v.shape, np.float32) for v in variables]
        opt.apply_gradients(zip(grads, variables))
        before = _state(variables, opt)
        with pytest.raises(TypeError, match=r"grads_and_vars\[1\].*pair"):
            opt.apply_gradients([(grads[0], variables[0]), (grads[1], variables[1], 0)])
        with pytest.raises(ValueError, match="v2"):
            opt.apply_gradients([(g if i != 2 else np.ones(3, np.float32), v)
                                 for i, (g, v) in enumerate(zip(grads, variables))])
        with pytest.raises(TypeError, match="global_step"):
            opt.apply_gradients(zip(grads, variables), global_step=3)
        _same(_state(variables, opt), before)
        # A float64 gradient for float32 variables is converted, as on the first step.
        opt.apply_gradients([(g.astype(np.float64), v) for g, v in zip(grads, variables)])
        assert opt.iterations == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("size", [0, 1, 17, 16384, 16385, PARALLEL_MIN_SIZE * 3 + 1, (1 << 19) + 7])
@pytest.mark.parametrize("engine", ENGINES)
def test_all_finite_agrees_with_isfinite_on_every_kind_of_entry(size, dtype, engine,
                                                                monkeypatch):
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    rng = np.random.default_rng(size)
    info = np.finfo(dtype)
    special = np.array([np.nan, -np.nan, np.inf, -np.inf, info.max, -info.max, info.tiny,
                        info.smallest_subnormal, -0.0, 0.0], dtype)
    x = (rng.normal(size=size) * 1e3).astype(dtype)
    assert reductions.all_finite(x, parallel=True) is True
    for value in special:
        for where in {0, size // 2, size - 1} if size else ():
            y = x.copy()
            y[where] = value
            expected = bool(np.isfinite(y).all())
            assert reductions.all_finite(y, parallel=True) is expected
            assert reductions.all_finite(y) is expected
    if size and dtype != np.float16:  # a NaN with another payload is still not finite
        y = x.copy()
        y.view(np.uint32 if dtype == np.float32 else np.uint64)[size - 1] |= (
            np.uint32(0x7FC00001) if dtype == np.float32 else np.uint64(0x7FF8000000000001))
        assert reductions.all_finite(y, parallel=True) is False


def test_numba_count_of_nonfinite_entries():
    pytest.importorskip("numba")
    from optim.engine import numba_reductions
    x = np.zeros(100_003, np.float32)
    x[[0, 5, 70_000, -1]] = [np.nan, np.inf, -np.inf, np.nan]
    assert numba_reductions.count_nonfinite(x) == 4
    assert numba_reductions.count_nonfinite(x.astype(np.float64)) == 4
    with pytest.raises(TypeError, match="`buffer` must be float32 or float64"):
        numba_reductions.count_nonfinite(x.astype(np.float16))
    with pytest.raises(ValueError, match="`buffer` must be 1-D and C-contiguous"):
        numba_reductions.count_nonfinite(x[::2])


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 33, 1000, 100_003])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_count_at_every_segment_edge_and_in_the_tail(size, dtype):
    # Each thread reads four segments of size // (threads * 4) entries, the rest is a tail:
    # an entry at any of their edges, and many at random places, are all counted.
    numba = pytest.importorskip("numba")
    from optim.engine import numba_reductions
    q = size // (numba.get_num_threads() * 4)
    edges = {i for k in range(numba.get_num_threads() * 4 + 1) for i in (k * q - 1, k * q)}
    edges |= {size - 1, size - 2}
    rng = np.random.default_rng(size)
    for where in sorted(i for i in edges if 0 <= i < size):
        x = rng.normal(size=size).astype(dtype)
        x[where] = [np.nan, np.inf, -np.inf][where % 3]
        assert numba_reductions.count_nonfinite(x) == 1
    x = rng.normal(size=size).astype(dtype)
    x[rng.random(size) < 0.05] = np.inf
    assert numba_reductions.count_nonfinite(x) == np.count_nonzero(~np.isfinite(x))


@pytest.mark.parametrize("engine", ENGINES)
def test_pairs_of_every_form_after_the_first_step(engine, monkeypatch):
    """Lists, iterators and mixed lengths are told apart from the steady state's pairs."""
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    rng = np.random.default_rng(0)
    with optim.Graph().as_default():
        variables = _variables(SHAPES["small"], np.float32, rng)
        opt = optim.train.MomentumOptimizer(0.1, 0.9)
        grads = [np.ones(v.shape, np.float32) for v in variables]
        opt.apply_gradients(zip(grads, variables))
        opt.apply_gradients([[g, v] for g, v in zip(grads, variables)])  # lists: steady
        assert STEADY[-1]
        opt.apply_gradients([iter((g, v)) for g, v in zip(grads, variables)])  # iterators
        assert not STEADY[-1] and opt.iterations == 3
        mixed = [(grads[0], variables[0], None), (grads[1],)] + list(zip(grads, variables))[2:]
        before = _state(variables, opt)
        with pytest.raises(TypeError, match=r"grads_and_vars\[0\].*pair"):
            opt.apply_gradients(mixed)
        _same(_state(variables, opt), before)


DECAYING = {
    "adamw": lambda: optim.train.AdamWOptimizer(0.01, 0.05),
    "adamw-scale-none": lambda: optim.train.AdamWOptimizer(0.01, 0.05,
                                                           weight_decay_scale="none"),
    "adamw-amsgrad": lambda: optim.train.AdamWOptimizer(0.01, 0.05, amsgrad=True),
    "adam-weight_decay": lambda: optim.train.AdamOptimizer(0.05, weight_decay=0.01),
    "adamw-clipped": lambda: optim.train.AdamWOptimizer(0.01, 0.05, global_clipnorm=0.5),
    "lion": lambda: optim.train.LionOptimizer(0.001, weight_decay=0.1),
}
DECAY_KERNELS = {"lion": "lion_weight_decay"}


@pytest.fixture
def kernel_names(monkeypatch):
    """The name each ``FusedEngine.kernel`` call asks for (None: the optimizer's own kernel)."""
    names = []
    original = FusedEngine.kernel

    def kernel(self, dtype, size, name=None):
        names.append(name)
        return original(self, dtype, size, name)

    monkeypatch.setattr(FusedEngine, "kernel", kernel)
    return names


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", ["small", "large"])
@pytest.mark.parametrize("case", sorted(DECAYING))
def test_decay_runs_inside_the_fused_kernel_with_the_same_bits(case, shapes, dtype, engine,
                                                               kernel_names, monkeypatch):
    """Every variable decays: one pass of the decaying kernel ("adamw", "lion_weight_decay")
    does the decay and the step, bit-identical to the per-variable path (the base's decay,
    then the class's kernel)."""
    expected, _, _ = _run("off", monkeypatch, DECAYING[case], SHAPES[shapes], dtype)
    assert kernel_names == []
    got, _, _ = _run(engine, monkeypatch, DECAYING[case], SHAPES[shapes], dtype)
    assert STEADY == [True] * 4
    assert kernel_names.count(DECAY_KERNELS.get(case, "adamw")) == 5  # every step, the first too
    _same(got, expected)


def test_an_excluded_variable_keeps_the_decay_out_of_the_kernel(kernel_names, monkeypatch):
    """With a variable excluded, the decay runs segment by segment before Adam's kernel."""

    def make():
        opt = optim.train.AdamOptimizer(0.05, weight_decay=0.01)
        opt.exclude_from_weight_decay(var_names=["v1"])
        return opt

    expected, _, _ = _run("off", monkeypatch, make, SHAPES["small"], np.float32)
    got, _, _ = _run("numpy", monkeypatch, make, SHAPES["small"], np.float32)
    assert "adamw" not in kernel_names
    _same(got, expected)


# -- the hand-off: a producer writes the gradients into the flat gradient buffer ------------
def _hand_off_run(engine, monkeypatch, make, shapes, dtype, hand_off, steps=5):
    """``steps`` applies of random gradients; with ``hand_off``, from the second step on the
    gradients are written into ``gradient_arena``'s buffer and its segment views applied.
    Returns the state and, per step, whether the arena was there and ``gather`` copied."""
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    rng = np.random.default_rng(3)
    seen = []
    with optim.Graph().as_default():
        variables = _variables(shapes, dtype, rng)
        opt = make()
        for _ in range(steps):
            grads = [np.asarray(rng.normal(size=v.shape) * 2, dtype) for v in variables]
            arena = opt.gradient_arena(variables) if hand_off else None
            if arena is not None:
                np.concatenate(grads, axis=None, out=arena.grad_buffer)
                grads = arena.grad_views()
            copies = []
            original = np.concatenate

            def concatenate(arrays, *args, copies=copies, original=original, **kwargs):
                copies.append(kwargs.get("out") is not None)
                return original(arrays, *args, **kwargs)

            monkeypatch.setattr(np, "concatenate", concatenate)
            try:
                opt.apply_gradients(zip(grads, variables))
            finally:
                monkeypatch.setattr(np, "concatenate", original)
            seen.append((arena is not None, any(copies)))
        return _state(variables, opt), seen


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", ["small", "large"])
@pytest.mark.parametrize("clipping", ["none", "global_clipnorm", "clipvalue", "clipnorm"])
def test_gradients_handed_off_in_the_flat_buffer_equal_plain_steps(clipping, shapes, dtype,
                                                                   engine, monkeypatch):
    def make():
        return optim.train.AdamOptimizer(0.01, **CLIPPING[clipping])

    expected, plain = _hand_off_run(engine, monkeypatch, make, SHAPES[shapes], dtype, False)
    got, handed = _hand_off_run(engine, monkeypatch, make, SHAPES[shapes], dtype, True)
    _same(got, expected)
    assert [arena for arena, _ in handed] == [False] + [True] * 4  # from the second step on
    assert all(copied for _, copied in plain[1:])  # a plain steady step gathers (a copy)
    if clipping != "clipnorm":  # clipnorm makes new arrays, which are gathered again
        assert not any(copied for _, copied in handed[1:])  # the handed-off buffer is read


def test_gradient_arena_is_none_where_there_is_no_flat_layout_to_reuse(monkeypatch):
    monkeypatch.setenv("OPTIM_ENGINE", "numpy")
    rng = np.random.default_rng(0)
    with optim.Graph().as_default():
        a, b, c = _variables([(3,), (2, 2), ()], np.float64, rng)
        opt = optim.train.MomentumOptimizer(0.1, 0.9)
        assert opt.gradient_arena([a, b, c]) is None  # before the first fused step
        opt.apply_gradients([(np.ones(v.shape), v) for v in (a, b, c)])
        arena = opt.gradient_arena([a, b, c])
        assert arena is not None and arena.variables == [a, b, c]
        assert [v.shape for v in arena.grad_views()] == [(3,), (2, 2), ()]
        assert all(np.shares_memory(v, arena.grad_buffer) for v in arena.grad_views())
        assert arena.grad_views() is arena.grad_views()  # made once
        assert opt.gradient_arena([a, b]) is None  # not the arena's variables
        assert opt.gradient_arena([b, a, c]) is None  # nor its order
        assert opt.gradient_arena([]) is None
        monkeypatch.setenv("OPTIM_ENGINE", "off")
        assert opt.gradient_arena([a, b, c]) is None  # the engine is off: no fused apply
        monkeypatch.setenv("OPTIM_ENGINE", "numpy")
        (d,) = _variables([(4,)], np.float64, rng)
        opt.apply_gradients([(np.ones(v.shape), v) for v in (a, b, c, d)])  # d joins
        assert opt.gradient_arena([a, b, c]) is None  # the arena was rebuilt for four
        assert opt.gradient_arena([a, b, c, d]).variables == [a, b, c, d]
        d.rehome(np.zeros(4))  # a variable moved out of its segment: the arena is stale
        assert opt.gradient_arena([a, b, c, d]) is None
        adafactor = optim.train.AdafactorOptimizer(0.1)  # no fused kernel
        adafactor.apply_gradients([(np.ones(v.shape), v) for v in (a, b, c)])
        adafactor.apply_gradients([(np.ones(v.shape), v) for v in (a, b, c)])
        assert adafactor.gradient_arena([a, b, c]) is None


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(DECAYING))
def test_gradients_handed_off_to_a_decaying_kernel_equal_plain_steps(case, engine,
                                                                    monkeypatch):
    expected, _ = _hand_off_run(engine, monkeypatch, DECAYING[case], SHAPES["small"],
                                np.float64, False)
    got, handed = _hand_off_run(engine, monkeypatch, DECAYING[case], SHAPES["small"],
                                np.float64, True)
    _same(got, expected)
    assert [arena for arena, _ in handed] == [False] + [True] * 4


def test_a_subclass_with_its_own_kernel_inherits_no_decaying_variant():
    """The variant belongs to the kernel: a subclass that replaces the update (and so loses
    the fused kernel) or names another kernel does not keep the parent's decaying one."""

    class OwnUpdate(optim.train.AdamOptimizer):
        def _apply_dense(self, grad, var):
            super()._apply_dense(grad, var)

    class OtherKernel(optim.train.AdamOptimizer):
        flat_kernel = "gradient_descent"

    class Same(optim.train.AdamWOptimizer):
        pass

    assert optim.train.AdamOptimizer.flat_decay_kernel == "adamw"
    assert (OwnUpdate.flat_kernel, OwnUpdate.flat_decay_kernel) == (None, None)
    assert OtherKernel.flat_decay_kernel is None
    assert Same.flat_decay_kernel == "adamw"
    assert optim.train.MomentumOptimizer.flat_decay_kernel is None
