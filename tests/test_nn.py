"""Tests for optim.nn: values against numpy oracles written here, gradients against finite
differences, dtype preservation, stability at huge logits and argument errors."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from optim import nn

# ----------------------------------------------------------------------------------------------
# Independent oracles. Written in the textbook form (exp, then normalize, then log) on purpose:
# it is a different formulation from the library's, so only moderate logits are fed to them.


def oracle_softmax(x, axis=-1):
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    e = np.exp(x)
    out = e / e.sum(axis=-1, keepdims=True)
    return np.moveaxis(out, -1, axis)


def oracle_log_softmax(x, axis=-1):
    return np.log(oracle_softmax(x, axis))


def oracle_softmax_xent(z, x, axis=-1):
    p = oracle_softmax(x, axis)
    return -(np.asarray(z, dtype=np.float64) * np.log(p)).sum(axis=axis)


def oracle_sparse_xent(labels, x):
    x = np.asarray(x, dtype=np.float64)
    flat_x = x.reshape(-1, x.shape[-1])
    flat_y = np.asarray(labels).reshape(-1)
    out = np.empty(len(flat_y))
    for i, (row, k) in enumerate(zip(flat_x, flat_y)):
        out[i] = np.log(np.exp(row).sum()) - row[k]
    return out.reshape(np.shape(labels))


def oracle_sigmoid_xent(z, x):
    z = np.asarray(z, dtype=np.float64)
    p = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
    return -z * np.log(p) - (1 - z) * np.log(1 - p)


def oracle_l2_loss(t):
    t = np.asarray(t, dtype=np.float64).ravel()
    return 0.5 * float(t @ t)


def numeric_grad(f, x, eps=1e-5):
    """Central finite differences of the scalar function `f` at the float64 array `x`."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        grad[idx] = (f(plus) - f(minus)) / (2 * eps)
    return grad


# ----------------------------------------------------------------------------------------------
# Fixtures.

RNG = np.random.default_rng(1234)
LOGITS = RNG.normal(size=(4, 5)) * 2
PROBS = oracle_softmax(RNG.normal(size=(4, 5)))
UNNORMALIZED = RNG.uniform(0.1, 2.0, size=(4, 5))  # rows do not sum to one
SPARSE = np.array([0, 4, 2, 2])
BINARY_LOGITS = RNG.normal(size=(3, 4)) * 3
BINARY_LABELS = RNG.uniform(0, 1, size=(3, 4))
LOGITS_3D = RNG.normal(size=(3, 4, 2))


def weighted(values, seed=7):
    """Reduces a loss with fixed random weights so every cotangent entry differs."""
    w = np.random.default_rng(seed).uniform(0.5, 1.5, size=np.shape(values))
    return anp.sum(w * values)


# Each case: name -> (op, kwargs, oracle, arguments, index of the differentiable arguments).
CASES = {
    "softmax": (nn.softmax, {}, oracle_softmax, (LOGITS,), (0,)),
    "softmax_axis0": (nn.softmax, {"axis": 0}, lambda x: oracle_softmax(x, 0), (LOGITS_3D,), (0,)),
    "log_softmax": (nn.log_softmax, {}, oracle_log_softmax, (LOGITS,), (0,)),
    "log_softmax_axis1": (
        nn.log_softmax,
        {"axis": 1},
        lambda x: oracle_log_softmax(x, 1),
        (LOGITS_3D,),
        (0,),
    ),
    "softmax_xent": (
        nn.softmax_cross_entropy_with_logits,
        {},
        oracle_softmax_xent,
        (PROBS, LOGITS),
        (0, 1),
    ),
    "softmax_xent_unnormalized": (
        nn.softmax_cross_entropy_with_logits,
        {},
        oracle_softmax_xent,
        (UNNORMALIZED, LOGITS),
        (0, 1),
    ),
    "softmax_xent_axis0": (
        nn.softmax_cross_entropy_with_logits,
        {"axis": 0},
        lambda z, x: oracle_softmax_xent(z, x, 0),
        (oracle_softmax(LOGITS_3D[::-1], 0), LOGITS_3D),
        (0, 1),
    ),
    "sparse_softmax_xent": (
        nn.sparse_softmax_cross_entropy_with_logits,
        {},
        oracle_sparse_xent,
        (SPARSE, LOGITS),
        (1,),
    ),
    "sparse_softmax_xent_3d": (
        nn.sparse_softmax_cross_entropy_with_logits,
        {},
        oracle_sparse_xent,
        (np.array([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]]), LOGITS_3D),
        (1,),
    ),
    "sigmoid_xent": (
        nn.sigmoid_cross_entropy_with_logits,
        {},
        oracle_sigmoid_xent,
        (BINARY_LABELS, BINARY_LOGITS),
        (0, 1),
    ),
    "l2_loss": (nn.l2_loss, {}, oracle_l2_loss, (LOGITS,), (0,)),
}

GRAD_PARAMS = [
    pytest.param(name, argnum, id=f"{name}-arg{argnum}")
    for name, case in CASES.items()
    for argnum in case[4]
]


def call(name, args):
    op, kwargs = CASES[name][:2]
    return op(*args, **kwargs)


@pytest.mark.parametrize("name", CASES)
def test_value_matches_oracle(name):
    op, kwargs, oracle, args, _ = CASES[name]
    np.testing.assert_allclose(op(*args, **kwargs), oracle(*args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("name", "argnum"), GRAD_PARAMS)
def test_gradient_matches_finite_differences(name, argnum):
    args = CASES[name][3]

    def loss(x):
        new_args = list(args)
        new_args[argnum] = x
        return weighted(call(name, new_args))

    analytic = autograd.grad(loss)(args[argnum])
    numeric = numeric_grad(loss, args[argnum])
    assert analytic.dtype == np.float64
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("name", "argnum"), GRAD_PARAMS)
@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # losses linear in labels
def test_second_derivative_matches_finite_differences(name, argnum):
    args = CASES[name][3]

    def loss(x):
        new_args = list(args)
        new_args[argnum] = x
        return weighted(call(name, new_args))

    x0 = args[argnum]
    direction = np.random.default_rng(3).normal(size=np.shape(x0))
    gradient = autograd.grad(loss)

    def directional(x):
        return anp.sum(gradient(x) * direction)

    analytic = autograd.grad(directional)(x0)  # Hessian-vector product
    numeric = numeric_grad(directional, x0)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_softmax_xent_gradient_is_general_formula():
    # With labels that do not sum to one, the gradient is softmax * sum(labels) - labels,
    # not softmax - labels.
    g = autograd.grad(lambda x: anp.sum(nn.softmax_cross_entropy_with_logits(UNNORMALIZED, x)))
    expected = oracle_softmax(LOGITS) * UNNORMALIZED.sum(-1, keepdims=True) - UNNORMALIZED
    np.testing.assert_allclose(g(LOGITS), expected, rtol=1e-12, atol=1e-12)


def test_sigmoid_xent_gradients_closed_form():
    sigmoid = 1 / (1 + np.exp(-BINARY_LOGITS))
    g_logits = autograd.grad(
        lambda x: anp.sum(nn.sigmoid_cross_entropy_with_logits(BINARY_LABELS, x))
    )(BINARY_LOGITS)
    g_labels = autograd.grad(
        lambda z: anp.sum(nn.sigmoid_cross_entropy_with_logits(z, BINARY_LOGITS))
    )(BINARY_LABELS)
    np.testing.assert_allclose(g_logits, sigmoid - BINARY_LABELS, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g_labels, -BINARY_LOGITS, rtol=1e-15)


def test_l2_loss_is_half_sum_of_squares():
    assert nn.l2_loss(np.array([3.0, 4.0])) == 12.5
    g = autograd.grad(nn.l2_loss)(LOGITS)
    np.testing.assert_array_equal(g, LOGITS)


def test_softmax_rows_sum_to_one():
    np.testing.assert_allclose(nn.softmax(LOGITS_3D, axis=1).sum(axis=1), 1.0, rtol=1e-15)


# ----------------------------------------------------------------------------------------------
# dtype preservation.


@pytest.mark.parametrize(("name", "argnum"), GRAD_PARAMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
def test_low_precision_gives_same_dtype_values_and_gradients(name, argnum, dtype):
    args = [a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a for a in CASES[name][3]]
    value = call(name, args)
    assert value.dtype == dtype

    def loss(x):
        new_args = list(args)
        new_args[argnum] = x
        return anp.sum(call(name, new_args))

    g = autograd.grad(loss)(args[argnum])
    assert g.dtype == dtype
    assert g.shape == args[argnum].shape
    tol = 1e-5 if dtype == np.float32 else 2e-2
    reference = autograd.grad(
        lambda x: anp.sum(call(name, args[:argnum] + [x] + args[argnum + 1 :]))
    )(args[argnum].astype(np.float64))
    np.testing.assert_allclose(g, reference, rtol=tol, atol=tol)


@pytest.mark.parametrize(("name", "argnum"), GRAD_PARAMS)
def test_float32_gradient_stays_float32_when_downstream_upcasts(name, argnum):
    args = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in CASES[name][3]]

    def loss(x):
        new_args = list(args)
        new_args[argnum] = x
        return anp.sum(call(name, new_args)) * np.float64(2.0)  # float64 cotangent flows back

    g = autograd.grad(loss)(args[argnum])
    assert g.dtype == np.float32


@pytest.mark.parametrize(
    "op", [nn.softmax_cross_entropy_with_logits, nn.sigmoid_cross_entropy_with_logits]
)
def test_mixed_label_dtype_computes_in_logits_dtype(op):
    x32, z64 = PROBS.astype(np.float32) * 3, PROBS
    assert op(z64, x32).dtype == np.float32
    g_x = autograd.grad(lambda x: anp.sum(op(z64, x)))(x32)
    g_z = autograd.grad(lambda z: anp.sum(op(z, x32)))(z64)
    assert g_x.dtype == np.float32
    assert g_z.dtype == np.float64  # the labels' own dtype

    x64, z32 = LOGITS, PROBS.astype(np.float32)
    assert op(z32, x64).dtype == np.float64
    assert autograd.grad(lambda z: anp.sum(op(z, x64)))(z32).dtype == np.float32


def test_integer_one_hot_labels_are_accepted():
    one_hot = np.eye(5, dtype=np.int64)[SPARSE]
    x32 = LOGITS.astype(np.float32)
    dense = nn.softmax_cross_entropy_with_logits(one_hot, x32)
    sparse = nn.sparse_softmax_cross_entropy_with_logits(SPARSE, x32)
    assert dense.dtype == np.float32
    np.testing.assert_allclose(dense, sparse, rtol=1e-6)


def test_array_likes_are_accepted():
    value = nn.softmax_cross_entropy_with_logits([[0.0, 1.0]], [[0.0, 0.0]])
    np.testing.assert_allclose(value, [np.log(2.0)], rtol=1e-15)
    np.testing.assert_allclose(
        nn.sparse_softmax_cross_entropy_with_logits([1], [[0.0, 0.0]]), [np.log(2.0)], rtol=1e-15
    )


# ----------------------------------------------------------------------------------------------
# Stability.

HUGE = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_huge_logits_stay_finite(dtype):
    x = HUGE.astype(dtype)
    sparse = np.array([1, 0, 2])
    probs = np.full_like(x, 1 / 3)
    ops = {
        "softmax": lambda x: nn.softmax(x),
        "log_softmax": lambda x: nn.log_softmax(x),
        "softmax_xent": lambda x: nn.softmax_cross_entropy_with_logits(probs, x),
        "sparse": lambda x: nn.sparse_softmax_cross_entropy_with_logits(sparse, x),
        "sigmoid_xent": lambda x: nn.sigmoid_cross_entropy_with_logits(probs, x),
    }
    for name, op in ops.items():
        value = op(x)
        g = autograd.grad(lambda x, op=op: weighted(op(x)))(x)
        assert np.all(np.isfinite(value)), name
        assert np.all(np.isfinite(g)), name
        assert value.dtype == dtype and g.dtype == dtype, name

    np.testing.assert_allclose(nn.log_softmax(x)[0], [0.0, -2e4, -1e4])
    np.testing.assert_allclose(
        nn.sparse_softmax_cross_entropy_with_logits(sparse, x), [2e4, 2e4, 2e4 + np.log(2)]
    )
    np.testing.assert_allclose(
        nn.sigmoid_cross_entropy_with_logits(np.ones_like(x[0]), x[0]), [0.0, 1e4, np.log(2)]
    )
    g = autograd.grad(lambda x: anp.sum(nn.sparse_softmax_cross_entropy_with_logits(sparse, x)))(x)
    np.testing.assert_allclose(g, [[1, -1, 0], [-1, 0, 1], [0.5, 0.5, -1]], atol=1e-6)


def test_confident_correct_prediction_keeps_tiny_gradient():
    # p(label) = 1 - 2e-9 rounds to 1 in float32; the gradient must still balance the others.
    x = np.array([[20.0, 0.0, 0.0]], dtype=np.float32)
    g = autograd.grad(
        lambda x: anp.sum(nn.sparse_softmax_cross_entropy_with_logits(np.array([0]), x))
    )(x)
    expected = oracle_softmax(x.astype(np.float64)) - np.eye(3)[[0]]
    np.testing.assert_allclose(g, expected, rtol=1e-5)
    # The loss itself, -log(p), is about 4.1e-9 rather than rounding to zero.
    loss = nn.sparse_softmax_cross_entropy_with_logits(np.array([0]), x)
    np.testing.assert_allclose(loss, [2 * np.exp(-20.0)], rtol=1e-5)
    np.testing.assert_allclose(nn.log_softmax(x)[0, 0], -2 * np.exp(-20.0), rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# Errors.


@pytest.mark.parametrize(
    ("call_op", "error", "match"),
    [
        pytest.param(
            lambda: nn.softmax_cross_entropy_with_logits(np.ones((2, 3)), np.ones((2, 4))),
            ValueError,
            r"`labels` must have the same shape as `logits` \(2, 4\), got \(2, 3\)",
            id="dense-shape",
        ),
        pytest.param(
            lambda: nn.sigmoid_cross_entropy_with_logits(np.ones(3), np.ones((3, 1))),
            ValueError,
            "`labels` must have the same shape",
            id="sigmoid-shape",
        ),
        pytest.param(
            lambda: nn.softmax_cross_entropy_with_logits(np.array(["a", "b"]), np.ones(2)),
            TypeError,
            "`labels` must have a real numeric dtype",
            id="dense-label-dtype",
        ),
        pytest.param(
            lambda: nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 3]), np.ones((2, 3))),
            ValueError,
            r"`labels` must be class indices in \[0, 3\), got 3 at index \(1,\)",
            id="sparse-too-large",
        ),
        pytest.param(
            lambda: nn.sparse_softmax_cross_entropy_with_logits(np.array([-1, 0]), np.ones((2, 3))),
            ValueError,
            r"`labels` must be class indices in \[0, 3\), got -1",
            id="sparse-negative",
        ),
        pytest.param(
            lambda: nn.sparse_softmax_cross_entropy_with_logits(
                np.array([0.0, 1.0]), np.ones((2, 3))
            ),
            TypeError,
            "`labels` must have an integer dtype",
            id="sparse-float-labels",
        ),
        pytest.param(
            lambda: nn.sparse_softmax_cross_entropy_with_logits(np.array([True]), np.ones((1, 3))),
            TypeError,
            "`labels` must have an integer dtype",
            id="sparse-bool-labels",
        ),
        pytest.param(
            lambda: nn.sparse_softmax_cross_entropy_with_logits(
                np.zeros((2, 1), int), np.ones((2, 3))
            ),
            ValueError,
            r"`labels` must have shape \(2,\)",
            id="sparse-shape",
        ),
        pytest.param(
            lambda: nn.softmax(np.arange(3)),
            TypeError,
            "`logits` must have a floating-point dtype, got dtype",
            id="int-logits",
        ),
        pytest.param(
            lambda: nn.l2_loss(np.arange(3)),
            TypeError,
            "`t` must have a floating-point dtype",
            id="int-l2",
        ),
        pytest.param(
            lambda: nn.log_softmax(np.ones((2, 3)), axis=2),
            ValueError,
            r"`axis` must be in \[-2, 2\)",
            id="axis-range",
        ),
        pytest.param(
            lambda: nn.log_softmax(np.ones((2, 3)), axis=1.0),
            TypeError,
            "`axis` must be an int, got 1.0",
            id="axis-type",
        ),
        pytest.param(
            lambda: nn.softmax(np.float64(1.0)),
            ValueError,
            "`logits` must have at least one dimension",
            id="scalar-logits",
        ),
        pytest.param(
            lambda: nn.softmax_cross_entropy_with_logits(np.ones((2, 0)), np.ones((2, 0))),
            ValueError,
            "`logits` must have at least one class",
            id="no-classes",
        ),
    ],
)
def test_bad_arguments_raise(call_op, error, match):
    with pytest.raises(error, match=match):
        call_op()


def test_errors_raised_while_tracing():
    def loss(x):
        return anp.sum(nn.sparse_softmax_cross_entropy_with_logits(np.array([5]), x))

    with pytest.raises(ValueError, match="`labels` must be class indices"):
        autograd.grad(loss)(np.ones((1, 3)))
