"""Property-based fuzzing of the boundaries: random pytrees and random hyperparameters."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import optim

# ---------------------------------------------------------------------------------------------
# Falsifying examples the fuzz found, kept as regular tests


@pytest.mark.parametrize("arg", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("value", [10**400, -(10**400)])
def test_a_clip_option_beyond_float_range_is_a_value_error(arg, value):
    # Found by the constructor fuzz: float(10**400) raised OverflowError.
    with pytest.raises(ValueError, match=rf"`{arg}` must be a finite number > 0, got -?1000"):
        optim.train.AdamOptimizer(0.1, **{arg: value})
    with pytest.raises(ValueError, match=r"`clip_norm` must be a finite number > 0, got -?1000"):
        optim.clip_by_norm(np.ones(2), value)


@pytest.mark.parametrize("dtype, clip_norm", [(np.float32, 1e39), (np.float16, 1e5)])
def test_a_clip_norm_beyond_the_dtype_range_clips_without_nan(graph, dtype, clip_norm):
    # Found by the constructor fuzz: AdamaxOptimizer(clipnorm=2.27e38) on a float32 variable
    # raised FloatingPointError for a finite gradient (clip_norm rounded to inf: inf / inf).
    grad = np.array([1.5, -2.0], dtype)
    np.testing.assert_array_equal(optim.clip_by_norm(grad, clip_norm), grad)
    (clipped,), norm = optim.clip_by_global_norm([grad], clip_norm)
    np.testing.assert_array_equal(clipped, grad)
    assert norm == dtype(2.5)
    # Beyond the dtype's largest value the norm is still honoured (computed in float64).
    big = np.full(100, np.finfo(dtype).max / 4, dtype)  # norm 2.5 x max, 100 entries
    true_norm = np.sqrt(100.0) * float(np.finfo(dtype).max) / 4
    scale = min(1.0, clip_norm / true_norm)  # float16: clipped; float32: inside the ball
    expected = (big.astype(np.float64) * scale).astype(dtype)
    np.testing.assert_allclose(optim.clip_by_norm(big, clip_norm), expected, rtol=1e-6)
    var = optim.Variable(np.zeros(2, dtype), name="w")
    opt = optim.train.AdamaxOptimizer(0.1, clipnorm=clip_norm)
    opt.apply_gradients([(grad, var)])
    assert np.all(np.isfinite(var.numpy())) and var.dtype == dtype


@pytest.mark.parametrize("value", [10**400, -(10**400), Fraction(10**400)])
def test_a_hyperparameter_beyond_float_range_is_a_value_error(graph, value):
    # Found by the constructor fuzz: GradientDescentOptimizer(10**400) raised OverflowError.
    finite = r"must be finite, got -?(Fraction\()?1000"
    with pytest.raises(ValueError, match=rf"`learning_rate` {finite}"):
        optim.train.GradientDescentOptimizer(value)
    with pytest.raises(ValueError, match=rf"`initial_accumulator_value` {finite}"):
        optim.train.AdagradOptimizer(0.1, initial_accumulator_value=value)
    var = optim.Variable(np.ones(2), name="w")
    opt = optim.train.AdamOptimizer(0.1)
    opt.apply_gradients([(np.ones(2), var)])
    state, before = opt.state_dict(), var.numpy().copy()
    with pytest.raises(ValueError, match=rf"`beta1` {finite}"):
        opt.set_hyper("beta1", value)
    assert opt.get_hyper("beta1") == 0.9
    opt.set_hyper("learning_rate", lambda: value)  # a schedule: checked at the step
    with pytest.raises(ValueError, match=rf"`learning_rate` {finite}"):
        opt.apply_gradients([(np.ones(2), var)])
    np.testing.assert_array_equal(var.numpy(), before)
    assert opt.iterations == state["iterations"] == 1
    for slot, by_var in opt.state_dict()["slots"].items():
        np.testing.assert_array_equal(by_var["w"], state["slots"][slot]["w"])


@pytest.mark.parametrize("value", [np.array([1.0, 2.0]), np.array([]), np.array(["a"])])
def test_an_array_as_name_or_nonfinite_is_rejected_naming_the_argument(value):
    # Found by the constructor fuzz: name=np.array([]) raised numpy's "truth value of an empty
    # array is ambiguous", which names no argument.
    with pytest.raises(TypeError, match=r"`name` must be a string, got array\("):
        optim.train.GradientDescentOptimizer(0.1, name=value)
    with pytest.raises(ValueError, match=r"`nonfinite` must be one of .*, got array\("):
        optim.train.GradientDescentOptimizer(0.1, nonfinite=value)
