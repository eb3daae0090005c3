"""Property-based fuzzing of the boundaries: random pytrees and random hyperparameters."""

from __future__ import annotations

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
