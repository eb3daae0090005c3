"""Gradient clipping (optim.clipping): TF's test vectors, formulas, dtypes, sparse, validation.

Literal numbers come from TF's clip_ops_test.py (reference section 6) and Keras 3's
optimizer tests; the formula checks are written here from the reference's section 5.2.
"""

import math
import re
import warnings

import numpy as np
import pytest

from optim.clipping import (
    check_clip_options,
    clip_by_global_norm,
    clip_by_norm,
    clip_by_value,
    clip_gradients,
    global_norm,
)
from optim.sparse import IndexedSlices

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-6, np.float64: 1e-12}


def close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.fixture(autouse=True)
def no_warnings():
    """Clipping zeros, infinities and NaNs must not emit numpy RuntimeWarnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- TF literals: clip_ops_test.py ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_clip_by_norm(dtype):
    x = np.array([[-3.0, 0, 0], [4.0, 0, 0]], dtype)
    clipped = clip_by_norm(x, 4.0)
    close(clipped, [[-2.4, 0, 0], [3.2, 0, 0]], dtype)
    assert clipped.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_clip_by_norm_not_needed(dtype):
    x = np.array([[-3.0, 0, 0], [4.0, 0, 0]], dtype)
    close(clip_by_norm(x, 6.0), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_clip_by_norm_zero(dtype):
    clipped = clip_by_norm(np.zeros((2, 3), dtype), 6.0)
    np.testing.assert_array_equal(clipped, np.zeros((2, 3)))
    assert clipped.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_clip_by_norm_axes(dtype):
    x = np.array([[-3.0, 0, 0], [4.0, 0, 3.0]], dtype)
    close(clip_by_norm(x, 4.0, axes=[1]), [[-3.0, 0, 0], [3.2, 0, 2.4]], dtype)
    close(clip_by_norm(x, 4.0, axes=1), [[-3.0, 0, 0], [3.2, 0, 2.4]], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_clip_by_global_norm(dtype):
    x0 = np.array([[-2.0, 0, 0], [4.0, 0, 0]], dtype)
    x1 = np.array([1.0, -2.0], dtype)
    (c0, c1), norm = clip_by_global_norm([x0, x1], 4.0)
    close(norm, 5.0, dtype)
    close(c0, [[-1.6, 0, 0], [3.2, 0, 0]], dtype)
    close(c1, [0.8, -1.6], dtype)
    assert c0.dtype == c1.dtype == norm.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_clip_by_global_norm_with_none(dtype):
    x0 = np.array([[-2.0, 0, 0], [4.0, 0, 0]], dtype)
    x1 = np.array([1.0, -2.0], dtype)
    clipped, norm = clip_by_global_norm([x0, None, x1, None], 4.0)
    assert clipped[1] is None and clipped[3] is None
    close(norm, 5.0, dtype)
    close(clipped[0], [[-1.6, 0, 0], [3.2, 0, 0]], dtype)
    close(clipped[2], [0.8, -1.6], dtype)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("dtype", DTYPES)
def test_tf_clip_by_global_norm_non_finite_makes_everything_nan(dtype, bad):
    x0 = np.array([[-2.0, 0, 0], [4.0, 0, 0]], dtype)
    x1 = np.array([1.0, bad], dtype)
    x2 = IndexedSlices(np.array([[0.0, 0.0]], dtype), np.array([1]), (3, 2))
    clipped, norm = clip_by_global_norm([x0, None, x1, x2], 4.0)
    assert not np.isfinite(norm)
    assert clipped[1] is None
    for c in (clipped[0], clipped[2], clipped[3].values):
        assert np.isnan(c).all()
        assert c.dtype == dtype


# -- Keras 3 goldens (optimizers/optimizer_test.py) ------------------------------------------------


def test_keras3_clipnorm():
    (clipped,) = clip_gradients([np.array([100.0, 100.0])], clipnorm=1)
    np.testing.assert_allclose(clipped, [2**0.5 / 2, 2**0.5 / 2], rtol=1e-12)


def test_keras3_clipvalue():
    (clipped,) = clip_gradients([np.array([100.0, 100.0])], clipvalue=1)
    np.testing.assert_array_equal(clipped, [1.0, 1.0])


# -- formulas -------------------------------------------------------------------------------------


def random_tensors(seed, dtype):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (), (2, 3, 2)]
    return [(rng.standard_normal(shape) * rng.uniform(0.1, 3)).astype(dtype) for shape in shapes]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("clip_norm", [0.01, 0.5, 2.0, 100.0])
def test_clip_by_norm_formula(dtype, seed, clip_norm):
    for t in random_tensors(seed, dtype):
        l2 = np.sqrt(np.sum(t.astype(np.float64) ** 2))
        expected = t.astype(np.float64) * clip_norm / max(l2, clip_norm)
        clipped = clip_by_norm(t, clip_norm)
        close(clipped, expected, dtype)
        assert clipped.dtype == dtype and clipped.shape == t.shape
        assert np.linalg.norm(clipped.astype(np.float64)) <= clip_norm * (1 + TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axes", [0, 1, 2, (0, 2), [1, 2], (0, 1, 2), -1])
def test_clip_by_norm_axes_formula(dtype, axes):
    t = np.random.default_rng(3).standard_normal((3, 4, 5)).astype(dtype)
    axes_tuple = axes if isinstance(axes, (tuple, list)) else (axes,)
    l2 = np.sqrt(np.sum(t.astype(np.float64) ** 2, axis=tuple(axes_tuple), keepdims=True))
    expected = t * 1.5 / np.maximum(l2, 1.5)
    close(clip_by_norm(t, 1.5, axes=axes), expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("clip_norm", [0.01, 1.0, 5.0, 1e3])
def test_clip_by_global_norm_formula(dtype, seed, clip_norm):
    ts = random_tensors(seed, dtype)
    norm = math.sqrt(sum(float(np.sum(t.astype(np.float64) ** 2)) for t in ts))
    clipped, got_norm = clip_by_global_norm(ts, clip_norm)
    close(got_norm, norm, dtype)
    for t, c in zip(ts, clipped):
        close(c, t.astype(np.float64) * clip_norm / max(norm, clip_norm), dtype)
        assert c.dtype == dtype and c.shape == t.shape
    close(global_norm(clipped), min(norm, clip_norm), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_global_norm_tf_scale_expression(dtype):
    # scale = clip_norm * min(1 / norm, 1 / clip_norm), computed in the tensors' dtype.
    t = np.array([0.3, -0.4, 0.1], dtype)
    for clip_norm in (0.2, 0.7, 49.0):
        norm = np.sqrt(np.sum(t * t))
        c = dtype(clip_norm)
        scale = c * np.minimum(dtype(1) / norm, dtype(1) / c)
        (clipped,), _ = clip_by_global_norm([t], clip_norm)
        np.testing.assert_array_equal(clipped, t * scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_global_norm_zero_norm_leaves_tensors_unchanged(dtype):
    ts = [np.zeros((2, 2), dtype), np.zeros(3, dtype)]
    clipped, norm = clip_by_global_norm(ts, 1.0)
    assert norm == 0 and norm.dtype == dtype
    for t, c in zip(ts, clipped):
        np.testing.assert_array_equal(c, t)
        assert c is not t


def test_clip_by_global_norm_use_norm():
    x = np.array([3.0, 4.0])
    (clipped,), norm = clip_by_global_norm([x], 1.0, use_norm=10.0)
    np.testing.assert_allclose(clipped, x / 10.0, rtol=1e-15)
    assert norm == 10.0
    (clipped,), _ = clip_by_global_norm([x], 1.0, use_norm=np.inf)
    assert np.isnan(clipped).all()
    (clipped,), _ = clip_by_global_norm([x], 1.0, use_norm=0.0)
    np.testing.assert_array_equal(clipped, x)


def test_clip_by_global_norm_all_none_and_empty():
    clipped, norm = clip_by_global_norm([None, None], 1.0)
    assert clipped == [None, None] and norm == 0.0
    assert clip_by_global_norm([], 1.0) == ([], 0.0)
    assert clip_by_global_norm((np.ones(1),), 2.0)[0][0].tolist() == [1.0]


def test_global_norm_values():
    assert global_norm([np.array([3.0]), None, np.array([4.0])]) == 5.0
    assert global_norm([]) == 0.0
    assert global_norm((np.ones((2, 2), np.float32),)).dtype == np.float32
    mixed = global_norm([np.ones(1, np.float32), np.ones(1, np.float64)])
    assert mixed.dtype == np.float64 and mixed == math.sqrt(2)


def test_global_norm_overflow_gives_inf_as_tf():
    big = np.array([1e20, 1.0], np.float32)  # its square overflows float32
    assert global_norm([big]) == np.inf
    (clipped,), _ = clip_by_global_norm([big], 1.0)
    assert np.isnan(clipped).all()


# -- clip_by_value ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_value(dtype):
    x = np.array([[1.0, 2, 3], [4, 5, 6]], dtype)
    clipped = clip_by_value(x, 2.0, 4.0)
    np.testing.assert_array_equal(clipped, [[2, 2, 3], [4, 4, 4]])
    assert clipped.dtype == dtype


def test_clip_by_value_float32_stays_float32_with_float64_bounds():
    x = np.array([0.1, 0.5, 0.9], np.float32)
    clipped = clip_by_value(x, np.float64(0.2), np.array([0.3, 0.4, 0.95]))
    assert clipped.dtype == np.float32
    np.testing.assert_array_equal(clipped, np.array([0.2, 0.4, 0.9], np.float32))


def test_clip_by_value_tensor_bounds_and_broadcasting():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(clip_by_value(x, [1.0, 0.0, 0.0], 3.0), [[1, 1, 2], [3, 3, 3]])
    np.testing.assert_array_equal(clip_by_value(x, 0.0, [[1.0], [4.0]]), [[0, 1, 1], [3, 4, 4]])


def test_clip_by_value_min_above_max_gives_min():
    np.testing.assert_array_equal(clip_by_value(np.array([-5.0, 0, 5]), 2.0, 1.0), [2, 2, 2])


def test_clip_by_value_integers():
    clipped = clip_by_value(np.array([-5, 0, 5], np.int32), -1, 1)
    np.testing.assert_array_equal(clipped, [-1, 0, 1])
    assert clipped.dtype == np.int32


def test_clip_by_value_scalar_and_list_inputs():
    clipped = clip_by_value(3.0, 0.0, 1.0)
    assert isinstance(clipped, np.ndarray) and clipped.shape == () and clipped == 1.0
    np.testing.assert_array_equal(clip_by_value([-2.0, 2.0], -1.0, 1.0), [-1.0, 1.0])


# -- IndexedSlices ---------------------------------------------------------------------------------


def sparse(dtype, values=((-3.0, 0.0), (4.0, 0.0)), indices=(2, 0)):
    return IndexedSlices(np.array(values, dtype), np.array(indices), (4, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_indexed_slices_keep_indices_and_shape(dtype):
    g = sparse(dtype)
    for clipped in (
        clip_by_value(g, -1.0, 1.0),
        clip_by_norm(g, 4.0),
        clip_by_global_norm([g], 4.0)[0][0],
    ):
        assert isinstance(clipped, IndexedSlices)
        assert clipped.indices.tolist() == [2, 0]
        assert clipped.dense_shape == (4, 2)
        assert clipped.values.dtype == dtype
    close(clip_by_value(g, -1.0, 1.0).values, [[-1, 0], [1, 0]], dtype)
    close(clip_by_norm(g, 4.0).values, [[-2.4, 0], [3.2, 0]], dtype)
    close(clip_by_global_norm([g], 4.0)[0][0].values, [[-2.4, 0], [3.2, 0]], dtype)
    close(global_norm([g, np.zeros(3, dtype)]), 5.0, dtype)


def test_indexed_slices_norm_is_that_of_the_values_as_tf():
    # Repeated indices are not summed by the public functions (TF's behaviour).
    g = IndexedSlices(np.array([[3.0], [4.0]]), np.array([1, 1]), (2, 1))
    assert global_norm([g]) == 5.0
    np.testing.assert_allclose(clip_by_norm(g, 1.0).values, [[0.6], [0.8]], rtol=1e-15)


# -- inputs are never changed ----------------------------------------------------------------------


def test_inputs_are_not_mutated():
    x0 = np.array([[-2.0, 0, 0], [4.0, 0, 0]])
    x1 = np.array([1.0, -2.0])
    g = sparse(np.float64)
    saved = [x0.copy(), x1.copy(), g.values.copy(), g.indices.copy()]
    for _ in range(2):
        clip_by_value(x0, -1.0, 1.0)
        clip_by_norm(x0, 1.0)
        clip_by_norm(g, 1.0)
        clip_by_global_norm([x0, x1, g], 1.0)
        clip_gradients([x0, x1, g], clipnorm=1.0)
        clip_gradients([x0, x1, g], global_clipnorm=1.0)
        clip_gradients([x0, x1, g], clipvalue=0.5)
    for before, after in zip(saved, [x0, x1, g.values, g.indices]):
        np.testing.assert_array_equal(before, after)


def test_results_are_new_arrays_even_when_unchanged():
    x = np.array([0.1, 0.2])
    assert clip_by_norm(x, 10.0) is not x
    assert clip_by_value(x, -1.0, 1.0) is not x
    assert clip_by_global_norm([x], 10.0)[0][0] is not x


# -- validation ------------------------------------------------------------------------------------

X = np.array([1.0, 2.0])

BAD = [
    (
        lambda: clip_by_norm(X, -1.0),
        ValueError,
        "`clip_norm` must be a finite number > 0, got -1.0.",
    ),
    (lambda: clip_by_norm(X, 0.0), ValueError, "`clip_norm` must be a finite number > 0, got 0.0."),
    (lambda: clip_by_norm(X, math.nan), ValueError, "`clip_norm` must be a finite number > 0"),
    (lambda: clip_by_norm(X, math.inf), ValueError, "`clip_norm` must be a finite number > 0"),
    (lambda: clip_by_norm(X, "1"), TypeError, "`clip_norm` must be a real number, got '1'."),
    (lambda: clip_by_norm(X, True), TypeError, "`clip_norm` must be a real number, got True."),
    (lambda: clip_by_norm(X, np.ones(2)), TypeError, "`clip_norm` must be a real number"),
    (
        lambda: clip_by_norm(np.array([1, 2]), 1.0),
        TypeError,
        "`t` must be a floating-point array or IndexedSlices, got dtype int64.",
    ),
    (
        lambda: clip_by_norm(X, 1.0, axes="0"),
        TypeError,
        "`axes` must be None, an int or a sequence of ints, got '0'.",
    ),
    (lambda: clip_by_norm(X, 1.0, axes=[0.5]), TypeError, "`axes` must be None, an int"),
    (lambda: clip_by_norm(X, 1.0, axes=3), ValueError, "axis 3 is out of bounds"),
    (
        lambda: clip_by_global_norm([X], -2.0),
        ValueError,
        "`clip_norm` must be a finite number > 0, got -2.0.",
    ),
    (lambda: clip_by_global_norm([X], math.nan), ValueError, "`clip_norm` must be a finite"),
    (lambda: clip_by_global_norm(X, 1.0), TypeError, "t_list should be a sequence"),
    (lambda: clip_by_global_norm("ab", 1.0), TypeError, "t_list should be a sequence"),
    (
        lambda: clip_by_global_norm([X], 1.0, use_norm=-1.0),
        ValueError,
        "`use_norm` must be >= 0, got -1.0.",
    ),
    (
        lambda: clip_by_global_norm([X], 1.0, use_norm="5"),
        TypeError,
        "`use_norm` must be a real number, got '5'.",
    ),
    (
        lambda: clip_by_global_norm([X, "a"], 1.0),
        TypeError,
        "`t_list[1]` must be a floating-point array or IndexedSlices, got dtype <U1.",
    ),
    (lambda: global_norm(X), TypeError, "t_list should be a sequence of arrays, got array("),
    (lambda: global_norm(x for x in [X]), TypeError, "t_list should be a sequence"),
    (lambda: global_norm(5.0), TypeError, "t_list should be a sequence of arrays, got 5.0."),
    (
        lambda: global_norm([X, np.array([1, 2])]),
        TypeError,
        "`t_list[1]` must be a floating-point array or IndexedSlices, got dtype int64.",
    ),
    (
        lambda: clip_by_value(X, 0.0, np.ones(3)),
        ValueError,
        "`clip_value_max` must be a scalar or an array broadcastable to shape (2,) without "
        "enlarging it, got shape (3,).",
    ),
    (
        lambda: clip_by_value(X, np.ones((2, 2)), 1.0),
        ValueError,
        "`clip_value_min` must be a scalar or an array broadcastable to shape (2,)",
    ),
    (
        lambda: clip_by_value(X, "a", 1.0),
        TypeError,
        "`clip_value_min` must be a real number or array castable to float64, got 'a'.",
    ),
    (
        lambda: clip_by_value(np.array([1, 2]), 0.5, 1),
        TypeError,
        "`clip_value_min` must be a real number or array castable to int64, got 0.5.",
    ),
    (
        lambda: clip_by_value(np.array(["a"]), 0, 1),
        TypeError,
        "`t` must be a real numeric array or IndexedSlices, got dtype <U1.",
    ),
    (
        lambda: clip_gradients([X], clipnorm=1.0, global_clipnorm=1.0),
        ValueError,
        "Only one of `clipnorm` and `global_clipnorm` can be set, got clipnorm=1.0 and "
        "global_clipnorm=1.0.",
    ),
    (
        lambda: clip_gradients([X], clipnorm=-1.0),
        ValueError,
        "`clipnorm` must be a finite number > 0, got -1.0.",
    ),
    (
        lambda: clip_gradients([X], clipvalue=0.0),
        ValueError,
        "`clipvalue` must be a finite number > 0, got 0.0.",
    ),
    (
        lambda: clip_gradients([X], global_clipnorm=math.nan),
        ValueError,
        "`global_clipnorm` must be a finite number > 0, got nan.",
    ),
    (
        lambda: clip_gradients([X], clipvalue="1"),
        TypeError,
        "`clipvalue` must be a real number, got '1'.",
    ),
]


@pytest.mark.parametrize("make, exc, message", BAD, ids=[b[2][:60] for b in BAD])
def test_bad_arguments(make, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        make()


# -- clip_gradients: Keras 3's rule ---------------------------------------------------------------


def grads(dtype):
    return [
        np.array([[-2.0, 0, 0], [4.0, 0, 0]], dtype),
        None,
        np.array([1.0, -2.0], dtype),
        IndexedSlices(np.array([[3.0, 0.0], [0.0, -1.5]], dtype), np.array([2, 0]), (3, 2)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_gradients_clipnorm_is_per_tensor(dtype):
    out = clip_gradients(grads(dtype), clipnorm=2.0)
    assert out[1] is None
    close(out[0], np.array([[-2.0, 0, 0], [4.0, 0, 0]]) * 2 / math.sqrt(20), dtype)
    close(out[2], np.array([1.0, -2.0]) * 2 / math.sqrt(5), dtype)
    close(out[3].values, np.array([[3.0, 0.0], [0.0, -1.5]]) * 2 / math.sqrt(11.25), dtype)
    assert out[3].indices.tolist() == [2, 0] and out[3].dense_shape == (3, 2)
    assert all(o.dtype == dtype for o in (out[0], out[2], out[3].values))


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_gradients_global_clipnorm(dtype):
    out = clip_gradients(grads(dtype), global_clipnorm=2.0)
    norm = math.sqrt(20 + 5 + 11.25)
    assert out[1] is None
    close(out[0], np.array([[-2.0, 0, 0], [4.0, 0, 0]]) * 2 / norm, dtype)
    close(out[2], np.array([1.0, -2.0]) * 2 / norm, dtype)
    close(out[3].values, np.array([[3.0, 0.0], [0.0, -1.5]]) * 2 / norm, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_gradients_clipvalue(dtype):
    out = clip_gradients(grads(dtype), clipvalue=1.5)
    assert out[1] is None
    close(out[0], [[-1.5, 0, 0], [1.5, 0, 0]], dtype)
    close(out[2], [1.0, -1.5], dtype)
    close(out[3].values, [[1.5, 0.0], [0.0, -1.5]], dtype)


def test_clip_gradients_priority_follows_keras3():
    g = [np.array([3.0, 4.0])]
    # clipnorm wins over clipvalue; global_clipnorm wins over clipvalue.
    np.testing.assert_allclose(
        clip_gradients(g, clipnorm=1.0, clipvalue=0.1)[0], [0.6, 0.8], rtol=1e-15
    )
    np.testing.assert_allclose(
        clip_gradients(g, global_clipnorm=1.0, clipvalue=0.1)[0], [0.6, 0.8], rtol=1e-15
    )


def test_clip_gradients_off_returns_the_same_gradients_in_a_new_list():
    g = grads(np.float64)
    out = clip_gradients(g)
    assert all(a is b for a, b in zip(out, g)) and len(out) == len(g)
    assert out is not g


def test_clip_gradients_non_finite_global_norm():
    out = clip_gradients([np.array([1.0, np.inf]), np.array([2.0]), None], global_clipnorm=1.0)
    assert np.isnan(out[0]).all() and np.isnan(out[1]).all() and out[2] is None


@pytest.mark.parametrize("mode", ["clipnorm", "global_clipnorm", "clipvalue"])
def test_clip_gradients_sparse_with_repeated_indices_matches_dense(mode):
    values = np.array([[0.6, -2.0], [0.6, 1.0], [0.3, 0.3]])
    g = IndexedSlices(values, np.array([1, 1, 3]), (4, 2))
    dense = g.to_dense()
    (sparse_out,) = clip_gradients([g], **{mode: 1.0})
    (dense_out,) = clip_gradients([dense], **{mode: 1.0})
    assert sparse_out.indices.tolist() == [1, 3]
    np.testing.assert_allclose(sparse_out.to_dense(), dense_out, rtol=1e-15, atol=1e-15)


def test_check_clip_options():
    assert check_clip_options() == (None, None, None)
    assert check_clip_options(1, 2, None) == (1.0, 2.0, None)
    assert check_clip_options(None, 0.5, np.float32(3.0)) == (None, 0.5, 3.0)
