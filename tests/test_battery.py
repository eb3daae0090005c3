"""One battery, every optimizer case of tests/cases.py, float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest

import optim
import optim.numpy as onp
from tests.cases import CASES, Case

DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["float32", "float64"]
SHAPES = [(3, 4), (5,)]
# float64: the oracle's operations may be ordered differently, so allow rounding, nothing more.
RTOL = {np.float32: 2e-5, np.float64: 1e-12}
ATOL = {np.float32: 1e-6, np.float64: 1e-14}

cases = pytest.mark.parametrize("case", CASES, ids=str)
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)


def _random_run(case: Case, dtype, steps=25, seed=42):
    rng = np.random.default_rng(seed)
    inits = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    variables = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    grads = [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return variables, inits, grads


@cases
@dtypes
def test_matches_oracle(graph, case, dtype):
    variables, inits, grads = _random_run(case, dtype)
    opt = case.make()
    step = optim.train.get_or_create_global_step()
    ref = [x.copy() for x in inits]
    states = [{} for _ in SHAPES]
    for t, step_grads in enumerate(grads):
        opt.apply_gradients(zip(step_grads, variables), global_step=step)
        if case.joint_oracle:
            ref, states = case.oracle(ref, [g.copy() for g in step_grads], states, **case.hyper)
        else:
            for i, g in enumerate(step_grads):
                ref[i], states[i] = case.oracle(ref[i], g.copy(), states[i], **case.hyper)
        for var, expected, state in zip(variables, ref, states):
            np.testing.assert_allclose(
                var.value,
                expected,
                rtol=RTOL[dtype],
                atol=ATOL[dtype],
                err_msg=f"{case} {var.name} step {t + 1}",
            )
            for slot in (s for s in case.slots if s in state):
                np.testing.assert_allclose(
                    opt.get_slot(var, slot),
                    state[slot],
                    rtol=RTOL[dtype],
                    atol=ATOL[dtype],
                    err_msg=f"{case} slot {slot!r} of {var.name} step {t + 1}",
                )
    made = set()
    for var, state in zip(variables, states):
        names = {n for n in opt.get_slot_names() if opt.get_slot(var, n) is not None}
        assert names == {s for s in case.slots if s in state}, var.name
        made |= names
    assert made == set(case.slots)


def _run(case: Case, dtype, loss_of, gradient_of, x0):
    """``converge_steps`` of ``minimize`` with the problem's hand-written gradient (the
    optimizer is under test here, not autodiff: this keeps the many steps cheap)."""
    x = optim.Variable(np.array(x0, dtype))
    opt = case.make(**case.converge_hyper)
    step = optim.train.get_or_create_global_step()
    loss = lambda: loss_of(x.value)  # noqa: E731
    gradient = lambda: [gradient_of(x.value)]  # noqa: E731
    for _ in range(case.converge_steps):
        opt.minimize(loss, global_step=step, var_list=[x], gradient=gradient)
    return x.numpy()


@cases
@dtypes
def test_converges_on_a_quadratic(graph, case, dtype):
    d = np.array([1.0, 3.0, 10.0])
    c = np.array([0.5, -1.0, 2.0])
    x = _run(
        case, dtype, lambda x: 0.5 * np.sum(d * (x - c) ** 2), lambda x: d * (x - c), [0.0] * 3
    )
    np.testing.assert_allclose(x, c, atol=2e-2)


@cases
@dtypes
def test_converges_on_rosenbrock(graph, case, dtype):
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    def gradient(x):
        inner = x[1] - x[0] ** 2
        return np.array([-2 * (1 - x[0]) - 400 * x[0] * inner, 200 * inner])

    x = _run(case, dtype, rosenbrock, gradient, [-1.2, 1.0])
    np.testing.assert_allclose(x, [1.0, 1.0], atol=5e-2)


@cases
@dtypes
def test_dtype_and_shape_preserved_gradients_untouched(graph, case, dtype):
    variables, _, grads = _random_run(case, dtype, steps=3)
    opt = case.make()
    for step_grads in grads:
        copies = [g.copy() for g in step_grads]
        opt.apply_gradients(zip(step_grads, variables))
        for g, c in zip(step_grads, copies):
            np.testing.assert_array_equal(g, c)
    for var, shape in zip(variables, SHAPES):
        assert var.dtype == dtype and var.shape == shape
        for slot in case.slots:
            array = opt.get_slot(var, slot)
            if array is None:
                continue
            assert array.dtype == dtype
            assert array.shape == shape or not case.slots_shaped_like_variable
    for state in opt.variables():
        assert state.dtype == dtype


@cases
def test_minimize_equals_compute_plus_apply(graph, case):
    rng = np.random.default_rng(7)
    A = rng.normal(size=(6, 4))
    x0 = rng.normal(size=4)
    x1, x2 = optim.Variable(x0.copy()), optim.Variable(x0.copy())
    opt1, opt2 = case.make(), case.make()
    step1, step2 = optim.Variable(0, trainable=False), optim.Variable(0, trainable=False)
    for _ in range(5):
        expected_loss = np.sum(np.tanh(A @ x1.numpy()) ** 2)
        v1 = opt1.minimize(lambda: onp.sum(onp.tanh(A @ x1.value) ** 2), step1, [x1])
        gv = opt2.compute_gradients(lambda: onp.sum(onp.tanh(A @ x2.value) ** 2), [x2])
        opt2.apply_gradients(gv, global_step=step2)
        np.testing.assert_allclose(v1, expected_loss, rtol=1e-14)
    assert np.array_equal(x1.value, x2.value)
    for slot in case.slots:
        assert np.array_equal(opt1.get_slot(x1, slot), opt2.get_slot(x2, slot))


@pytest.mark.parametrize(
    "case,bad",
    [(c, b) for c in CASES for b in c.bad],
    ids=[f"{c}-{next(iter(b[0]))}={b[0][next(iter(b[0]))]!r}" for c in CASES for b in c.bad],
)
def test_bad_hyperparameters_raise(case, bad):
    overrides, exc, match = bad
    with pytest.raises(exc, match=match):
        case.make(**overrides)


@cases
def test_callable_hyperparameters_match_constants(graph, case):
    floats = {k: v for k, v in case.hyper.items() if isinstance(v, float)}
    callables = {k: (lambda v=v: v) for k, v in floats.items()}
    variables1, _, grads = _random_run(case, np.float64, steps=5)
    variables2, _, _ = _random_run(case, np.float64, steps=5)
    opt1, opt2 = case.make(), case.make(**callables)
    step1, step2 = optim.Variable(0, trainable=False), optim.Variable(0, trainable=False)
    for g in grads:
        opt1.apply_gradients(zip(g, variables1), global_step=step1)
        opt2.apply_gradients(zip(g, variables2), global_step=step2)
    for a, b in zip(variables1, variables2):
        assert np.array_equal(a.value, b.value)


sparse_cases = pytest.mark.parametrize("case", [c for c in CASES if c.sparse], ids=str)


@sparse_cases
@dtypes
def test_sparse_rule(graph, case, dtype):
    """Rows 1 and 3 (index 3 repeated) of a (5, 3) variable get gradients for 4 steps."""
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(5, 3)).astype(dtype)
    sparse_var, dense_var = optim.Variable(x0.copy()), optim.Variable(x0.copy())
    sparse_opt, dense_opt = case.make(), case.make()
    s1, s2 = optim.Variable(0, trainable=False), optim.Variable(0, trainable=False)
    indices = np.array([3, 1, 3])
    for _ in range(4):
        values = rng.normal(size=(3, 3)).astype(dtype)
        sparse = optim.IndexedSlices(values, indices, (5, 3))
        sparse_opt.apply_gradients([(sparse, sparse_var)], global_step=s1)
        dense_opt.apply_gradients([(sparse.to_dense(), dense_var)], global_step=s2)
    touched = [1, 3]
    untouched = [0, 2, 4]
    tol = {"rtol": RTOL[dtype], "atol": ATOL[dtype]}
    np.testing.assert_allclose(sparse_var.value[touched], dense_var.value[touched], **tol)
    if case.sparse == "lazy":
        np.testing.assert_array_equal(sparse_var.value[untouched], x0[untouched])
        for slot in case.slots:
            initial = case.make()  # a slot's initial value, from a fresh optimizer
            probe = optim.Variable(x0.copy())
            initial._create_slots([probe])
            np.testing.assert_array_equal(
                sparse_opt.get_slot(sparse_var, slot)[untouched],
                initial.get_slot(probe, slot)[untouched],
            )
    else:
        np.testing.assert_allclose(sparse_var.value, dense_var.value, **tol)


@sparse_cases
def test_sparse_repeated_indices_equal_summed(graph, case):
    a, b = optim.Variable(np.ones((3, 2))), optim.Variable(np.ones((3, 2)))
    opt_a, opt_b = case.make(), case.make()
    s1, s2 = optim.Variable(0, trainable=False), optim.Variable(0, trainable=False)
    for _ in range(3):
        opt_a.apply_gradients(
            [(optim.IndexedSlices(np.full((2, 2), 0.1), [1, 1], (3, 2)), a)], global_step=s1
        )
        opt_b.apply_gradients(
            [(optim.IndexedSlices(np.full((1, 2), 0.2), [1], (3, 2)), b)], global_step=s2
        )
    np.testing.assert_allclose(a.value, b.value, rtol=1e-15)


@sparse_cases
@pytest.mark.parametrize("indices", [[0, 5], [-1], [[0]]], ids=["too-big", "negative", "2-D"])
def test_sparse_bad_indices_change_nothing(graph, case, indices):
    a = optim.Variable(np.ones((5, 2)), name="emb")
    other = optim.Variable(np.ones(3), name="other")
    opt = case.make()
    opt.apply_gradients([(np.ones((5, 2)), a), (np.ones(3), other)])
    before = [a.numpy(), other.numpy()] + [s.copy() for s in opt.variables()]
    values = np.ones((np.asarray(indices).shape[0], 2))
    with pytest.raises(ValueError, match="'emb'"):
        opt.apply_gradients(
            [(np.ones(3), other), (optim.IndexedSlices(values, indices, (5, 2)), a)]
        )
    after = [a.numpy(), other.numpy()] + [s.copy() for s in opt.variables()]
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def _state(opt, variables):
    return [v.numpy() for v in variables] + [s.copy() for s in opt.variables()]


def _nan_step(case, dtype, **options):
    """Two variables, one good step (slots exist), then gradients with a NaN in 'v1'."""
    variables, _, grads = _random_run(case, dtype, steps=2)
    opt = case.make(**options)
    step = optim.train.get_or_create_global_step()
    opt.apply_gradients(zip(grads[0], variables), global_step=step)
    bad = [g.copy() for g in grads[1]]
    bad[1][2] = np.nan
    return variables, opt, step, bad


@cases
@dtypes
def test_nonfinite_gradient_raises_and_changes_nothing(graph, case, dtype):
    variables, opt, step, bad = _nan_step(case, dtype)
    before = _state(opt, variables)
    with pytest.raises(
        FloatingPointError, match=r"step 2 \(global_step 1\) for variables \['v1'\]"
    ):
        opt.apply_gradients(zip(bad, variables), global_step=step)
    for x, y in zip(before, _state(opt, variables)):
        np.testing.assert_array_equal(x, y)
    assert int(step.value) == 1 and opt.iterations == 1


@cases
def test_nonfinite_loss_raises_and_changes_nothing(graph, case):
    x = optim.Variable(np.ones(3), name="x")
    opt = case.make()
    opt.minimize(lambda: onp.sum(x.value**2), var_list=[x])
    before = _state(opt, [x])
    with pytest.raises(FloatingPointError, match=r"Non-finite loss \(nan\) at step 2 .*\['x'\]"):
        opt.minimize(lambda: onp.sum(x.value**2) + np.nan, var_list=[x])
    for a, b in zip(before, _state(opt, [x])):
        np.testing.assert_array_equal(a, b)


@cases
def test_nonfinite_skip_counts_and_changes_nothing(graph, case):
    variables, opt, step, bad = _nan_step(
        case, np.float64, nonfinite="skip", max_consecutive_nonfinite=3
    )
    before = _state(opt, variables)
    opt.apply_gradients(zip(bad, variables), global_step=step)
    opt.apply_gradients(zip(bad, variables), global_step=step)
    for x, y in zip(before, _state(opt, variables)):
        np.testing.assert_array_equal(x, y)
    assert opt.skipped_steps == 2 and opt.iterations == 3 and int(step.value) == 3
    good = [np.ones(s) for s in SHAPES]
    opt.apply_gradients(zip(good, variables), global_step=step)  # resets the run of bad steps
    assert not np.array_equal(variables[0].value, before[0])
    opt.apply_gradients(zip(bad, variables), global_step=step)
    opt.apply_gradients(zip(bad, variables), global_step=step)
    with pytest.raises(FloatingPointError, match=r"3 non-finite steps in a row"):
        opt.apply_gradients(zip(bad, variables), global_step=step)


@cases
def test_nonfinite_propagate_applies_as_tensorflow(graph, case):
    variables, opt, step, bad = _nan_step(case, np.float64, nonfinite="propagate")
    opt.apply_gradients(zip(bad, variables), global_step=step)
    slots = [opt.get_slot(variables[1], s) for s in case.slots]
    state = [variables[1].numpy()] + [s for s in slots if s is not None]
    assert any(not np.isfinite(s).all() for s in state)
    assert opt.skipped_steps == 0 and int(step.value) == 2


def test_nonfinite_options_validated():
    with pytest.raises(ValueError, match="`nonfinite` must be one of"):
        optim.train.GradientDescentOptimizer(0.1, nonfinite="ignore")
    with pytest.raises(ValueError, match="`max_consecutive_nonfinite` must be a positive integer"):
        optim.train.GradientDescentOptimizer(0.1, nonfinite="skip", max_consecutive_nonfinite=0)


@cases
@dtypes
def test_state_round_trip_is_bit_identical(graph, case, dtype):
    """N steps straight equal k steps, state_dict, fresh objects, load, N-k steps."""
    variables, inits, grads = _random_run(case, dtype, steps=10)
    opt = case.make()
    step = optim.train.get_or_create_global_step()
    for g in grads:
        opt.apply_gradients(zip(g, variables), global_step=step)
    straight = [v.numpy() for v in variables]

    with optim.Graph().as_default():
        first = [optim.Variable(x.copy(), name=f"v{i}") for i, x in enumerate(inits)]
        opt1 = case.make()
        step1 = optim.train.get_or_create_global_step()
        for g in grads[:4]:
            opt1.apply_gradients(zip(g, first), global_step=step1)
        saved_vars = [v.numpy() for v in first]
        saved_state = opt1.state_dict()
        saved_step = int(step1.value)
    with optim.Graph().as_default():
        second = [optim.Variable(x, name=f"v{i}") for i, x in enumerate(saved_vars)]
        opt2 = case.make()
        step2 = optim.train.get_or_create_global_step()
        step2.assign(saved_step)
        opt2.load_state_dict(saved_state, second)
        for g in grads[4:]:
            opt2.apply_gradients(zip(g, second), global_step=step2)
        for a, b in zip(straight, second):
            assert np.array_equal(a, b.value)


@cases
def test_load_state_rejects_mismatches_and_changes_nothing(graph, case):
    variables, _, grads = _random_run(case, np.float64, steps=2)
    opt = case.make()
    opt.apply_gradients(zip(grads[0], variables))
    state = opt.state_dict()
    before = opt.state_dict()
    wrong_kind = dict(state, kind="NotAnOptimizer")
    with pytest.raises(ValueError, match="belongs to a 'NotAnOptimizer' optimizer"):
        opt.load_state_dict(wrong_kind, variables)
    if case.slots:
        with pytest.raises(ValueError, match="not among the variables"):
            opt.load_state_dict(state, variables[:1])
        with optim.Graph().as_default():
            other = [optim.Variable(np.zeros((2, 2)), name=v.name) for v in variables]
        with pytest.raises(
            ValueError, match=r"of variable 'v\d' has shape .* the variable has \(2, 2\)"
        ):
            opt.load_state_dict(state, other)
    after = opt.state_dict()
    assert after["iterations"] == before["iterations"]
    for slot, slots in before["slots"].items():
        for name, array in slots.items():
            np.testing.assert_array_equal(after["slots"][slot][name], array)
