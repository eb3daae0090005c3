"""The kernel contract of optim/optimizer.py's docstring, as a subclass and the engine see it.

- the step scalars are computed once per dtype per apply, not once per variable;
- one step count in the base: a skipped step advances ``iterations`` but no bias correction,
  and the ``step_state_name`` copy follows the count;
- the sparse strategies come from the base: ``lazy_rows`` and ``dense_equivalent`` for a class
  that only writes ``_kernel``; ``custom`` for one that writes ``_apply_sparse``; a bad value
  is refused when the class is made.
"""

from __future__ import annotations

import numpy as np
import pytest

import optim
from tests.cases import CASES


def _variables():
    return [
        optim.Variable(np.linspace(0.5, 1.5, 3, dtype=np.float32), name="a32"),
        optim.Variable(np.linspace(-1.0, 1.0, 4, dtype=np.float32).reshape(2, 2), name="b32"),
        optim.Variable(np.linspace(0.5, 2.0, 3), name="c64"),
        optim.Variable(np.linspace(-2.0, 1.0, 6).reshape(3, 2), name="d64"),
    ]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_step_scalars_once_per_dtype_per_apply(graph, case):
    variables = _variables()
    opt = case.make()
    calls = []
    hook = opt._step_scalars

    def counting(dtype):
        calls.append(np.dtype(dtype))
        return hook(dtype)

    opt._step_scalars = counting  # the instance attribute shadows the method
    grads = [np.full(v.shape, 0.25, v.dtype) for v in variables]
    for step in range(1, 4):
        opt.apply_gradients(zip(grads, variables))
        assert sorted(map(str, calls)) == ["float32"] * step + ["float64"] * step


_STEP_STATE_CASES = [case for case in CASES if case.cls.step_state_name is not None]


@pytest.mark.parametrize("case", _STEP_STATE_CASES, ids=str)
def test_skipped_step_advances_iterations_not_the_step_count(graph, case):
    x = optim.Variable(np.array([1.0, -2.0, 0.5]), name="x")
    y = optim.Variable(np.array([1.0, -2.0, 0.5]), name="y")
    skipping, plain = case.make(nonfinite="skip"), case.make()
    grads = [np.array([0.5, -1.0, 0.25]), np.array([1.5, 0.25, -0.75])]
    skipping.apply_gradients([(grads[0], x)])
    skipping.apply_gradients([(np.array([np.nan, 0.0, 0.0]), x)])
    skipping.apply_gradients([(grads[1], x)])
    for grad in grads:
        plain.apply_gradients([(grad, y)])
    np.testing.assert_array_equal(x.value, y.value)
    assert skipping.iterations == 3 and skipping.skipped_steps == 1
    assert skipping._step_number() == plain._step_number() == 3
    name = case.cls.step_state_name
    assert skipping._get_non_slot_variable(name) == plain._get_non_slot_variable(name) == 2


def _accumulating(strategy):
    """A user optimizer that writes only ``_kernel``: acc += grad; var -= lr * t * acc."""

    class Accumulating(optim.Optimizer):
        sparse_updates = strategy
        kernel_slots = ("acc",)
        kernel_scratch = 1

        def __init__(self, learning_rate):
            super().__init__(False, "Accumulating")
            self._set_hyper("learning_rate", learning_rate)

        def _create_slots(self, var_list):
            for var in var_list:
                self._zeros_slot(var, "acc", self._name)

        def _step_scalars(self, dtype):
            return self._get_hyper("learning_rate", dtype), dtype.type(self._step_number())

        def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False):
            (acc,) = slots
            lr, t = scalars
            np.add(acc, grad, out=acc)
            np.multiply(acc, lr * t, out=scratch[0])
            np.subtract(var, scratch[0], out=var)

    return Accumulating


def test_lazy_rows_come_from_the_base(graph):
    var = optim.Variable(np.arange(8.0).reshape(4, 2), name="emb")
    opt = _accumulating("lazy_rows")(0.5)
    rows = optim.IndexedSlices(np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.5]]), [2, 0, 2], (4, 2))
    opt.apply_gradients([(rows, var)])
    opt.apply_gradients([(rows, var)])
    acc1 = np.zeros((4, 2))
    acc1[0], acc1[2] = [3.0, 4.0], [1.5, 2.5]  # duplicates of row 2 summed first
    expected = np.arange(8.0).reshape(4, 2) - 0.5 * 1 * acc1 - 0.5 * 2 * (2 * acc1)
    expected[[1, 3]] = np.arange(8.0).reshape(4, 2)[[1, 3]]  # untouched rows do not move
    np.testing.assert_allclose(var.value, expected, rtol=1e-15)
    np.testing.assert_array_equal(opt.get_slot(var, "acc"), 2 * acc1)


def test_dense_equivalent_comes_from_the_base(graph):
    sparse_var = optim.Variable(np.arange(8.0).reshape(4, 2), name="s")
    dense_var = optim.Variable(np.arange(8.0).reshape(4, 2), name="d")
    sparse_opt = _accumulating("dense_equivalent")(0.5)
    dense_opt = _accumulating("dense_equivalent")(0.5)
    rows = optim.IndexedSlices(np.array([[1.0, 2.0], [3.0, 4.0]]), [3, 1], (4, 2))
    for _ in range(3):
        sparse_opt.apply_gradients([(rows, sparse_var)])
        dense_opt.apply_gradients([(rows.to_dense(), dense_var)])
    np.testing.assert_array_equal(sparse_var.value, dense_var.value)
    np.testing.assert_array_equal(sparse_opt.get_slot(sparse_var, "acc"), 3 * rows.to_dense())


def test_no_strategy_refuses_sparse_gradients_naming_the_variable(graph):
    var = optim.Variable(np.ones((3, 2)), name="emb")
    opt = _accumulating(None)(0.5)
    with pytest.raises(NotImplementedError, match="does not implement sparse updates.*'emb'"):
        opt.apply_gradients([(optim.IndexedSlices(np.ones((1, 2)), [1], (3, 2)), var)])
    np.testing.assert_array_equal(var.value, np.ones((3, 2)))


def test_a_bad_strategy_is_refused_when_the_class_is_made():
    with pytest.raises(ValueError, match=r"`Lazy.sparse_updates` must be one of .*got 'lazy'"):

        class Lazy(optim.train.GradientDescentOptimizer):
            sparse_updates = "lazy"


def test_own_apply_sparse_declares_custom(graph):
    seen = []

    class Own(optim.train.GradientDescentOptimizer):
        def _apply_sparse(self, grad, var):
            seen.append(grad.indices.tolist())

    assert Own.sparse_updates == "custom"
    assert optim.Optimizer.sparse_updates is None
    var = optim.Variable(np.ones((3, 2)), name="emb")
    Own(0.1).apply_gradients([(optim.IndexedSlices(np.ones((2, 2)), [2, 2], (3, 2)), var)])
    assert seen == []  # GD's own rule (scatter-subtract, duplicates unsummed) still runs
    np.testing.assert_allclose(var.value[2], [0.8, 0.8], rtol=1e-15)

    class OwnRule(optim.Optimizer):
        def __init__(self):
            super().__init__(False, "OwnRule")

        def _apply_sparse(self, grad, var):
            seen.append(grad.indices.tolist())

    assert OwnRule.sparse_updates == "custom"
    OwnRule().apply_gradients([(optim.IndexedSlices(np.ones((2, 2)), [2, 2], (3, 2)), var)])
    assert seen == [[2]]  # duplicates summed first, then the class's own rule


def test_an_override_calling_super_keeps_the_inherited_strategy(graph):
    class Logged(optim.train.MomentumOptimizer):
        def _apply_sparse(self, grad, var):
            super()._apply_sparse(grad, var)  # the base's lazy rows

    assert Logged.sparse_updates == "lazy_rows"
    var = optim.Variable(np.ones((3, 2)), name="emb")
    Logged(0.1, 0.9).apply_gradients([(optim.IndexedSlices(np.ones((1, 2)), [1], (3, 2)), var)])
    np.testing.assert_allclose(var.value, [[1.0, 1.0], [0.9, 0.9], [1.0, 1.0]], rtol=1e-15)
