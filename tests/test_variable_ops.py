"""Variables as arrays: operators, conversions, errors inside a trace, copy and pickle."""

import operator

import autograd.numpy as anp
import numpy as np
import pytest

import optim

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 2))
W0 = RNG.normal(size=(3, 2))
B0 = RNG.normal(size=2)


def _gd():
    return optim.train.GradientDescentOptimizer(0.1)


def _grads(loss, var_list):
    return [g for g, _ in _gd().compute_gradients(loss, var_list)]


# -- 1. operators ------------------------------------------------------------------------------


BINARY = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
]


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
@pytest.mark.parametrize(
    "other",
    [2.5, 3, np.float32(1.5), np.array([0.5, 2.0, 4.0])],
    ids=["float", "int", "np.float32", "ndarray"],
)
def test_binary_operators_act_on_the_value(graph, op, other):
    data = np.array([1.0, 2.0, 3.0])
    v = optim.Variable(data)
    for got, want in [(op(v, other), op(data, other)), (op(other, v), op(other, data))]:
        assert type(got) is type(want)
        np.testing.assert_array_equal(got, want)
        assert np.asarray(got).dtype == np.asarray(want).dtype


def test_matmul_unary_indexing_and_two_variables(graph):
    w = optim.Variable(W0)
    b = optim.Variable(B0)
    np.testing.assert_array_equal(X @ w, X @ W0)
    np.testing.assert_array_equal(np.ones(2) @ optim.Variable(W0.T), np.ones(2) @ W0.T)
    np.testing.assert_array_equal(w @ np.ones(2), W0 @ np.ones(2))
    np.testing.assert_array_equal(X @ w + b, X @ W0 + B0)
    np.testing.assert_array_equal(b + b, 2 * B0)
    np.testing.assert_array_equal(-w, -W0)
    np.testing.assert_array_equal(+w, W0)
    np.testing.assert_array_equal(abs(w), np.abs(W0))
    np.testing.assert_array_equal(w[1], W0[1])
    np.testing.assert_array_equal(w[:, 0], W0[:, 0])
    assert w[0, 1] == W0[0, 1]


def test_float32_is_kept_by_operators(graph):
    v = optim.Variable(np.array([1.0, 2.0], np.float32))
    for result in (v + 1, 1 + v, v * 0.5, np.float32(2) * v, np.ones(2, np.float32) + v, v @ v):
        assert result.dtype == np.float32


def test_numpy_operand_on_the_left_defers_to_the_variable(graph):
    # Without the deferral ndarray.__add__ would make an object array of Variables.
    v = optim.Variable([1.0, 2.0])
    for result in (np.ones(2) + v, np.float32(2) * v, np.float64(2) - v, np.ones((3, 2)) @ v):
        assert isinstance(result, np.ndarray) and result.dtype != object


def test_equality_is_identity_and_variables_stay_hashable(graph):
    a = optim.Variable([1.0, 2.0])
    twin = optim.Variable([1.0, 2.0])
    assert a == a and not (a != a)
    assert a != twin and not (a == twin)
    assert (a == np.array([1.0, 2.0])) is False
    assert (np.array([1.0, 2.0]) == a) is False
    assert (np.array([1.0, 2.0]) != a) is True
    table = {a: "a", twin: "twin"}
    assert table[a] == "a" and table[twin] == "twin"
    assert a in [twin, a] and twin not in [a]
    # elementwise through the value
    np.testing.assert_array_equal(a.value == np.array([1.0, 0.0]), [True, False])


def test_in_place_operators_raise_and_change_nothing(graph):
    v = optim.Variable([1.0, 2.0], name="w")
    alias = v
    with pytest.raises(TypeError, match=r"Variable 'w' does not support `\+=`.*w\.assign_add"):
        v += 1
    with pytest.raises(TypeError, match="`@=`"):
        v @= np.eye(2)
    assert v is alias
    np.testing.assert_array_equal(v.value, [1.0, 2.0])


def _dense_loss_grads_by_hand(w, b):
    # loss = sum((x @ w + b - y)**2) + 0.5 * sum(w**2) / (1 + b[0]**2)
    r = X @ w + b - Y
    s = 1 + b[0] ** 2
    gw = 2 * X.T @ r + w / s
    gb = 2 * r.sum(axis=0)
    gb[0] += -0.5 * np.sum(w**2) * 2 * b[0] / s**2
    return gw, gb


def test_operators_trace_exactly_like_value(graph):
    w = optim.Variable(W0, name="w")
    b = optim.Variable(B0, name="b")

    def with_variables():
        return anp.sum((X @ w + b - Y) ** 2) + 0.5 * anp.sum(w**2) / (1 + b[0] ** 2)

    def with_values():
        wv, bv = w.value, b.value
        return anp.sum((X @ wv + bv - Y) ** 2) + 0.5 * anp.sum(wv**2) / (1 + bv[0] ** 2)

    g_ops = _grads(with_variables, [w, b])
    g_val = _grads(with_values, [w, b])
    for a, c in zip(g_ops, g_val):
        np.testing.assert_array_equal(a, c)  # bit for bit
    for a, c in zip(g_ops, _dense_loss_grads_by_hand(W0, B0)):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


PAIRS = {
    "sub_matmul": (
        lambda w, b: anp.sum(b - X @ w),
        lambda w, b: anp.sum(b.value - X @ w.value),
    ),
    "reflected": (
        lambda w, b: anp.sum(2.0 / (3.0 + w) + 2.0**w + (w - b[0]) ** 2),
        lambda w, b: anp.sum(2.0 / (3.0 + w.value) + 2.0**w.value + (w.value - b.value[0]) ** 2),
    ),
    "scalars_unary": (
        lambda w, b: anp.sum(np.float32(2) * w @ b) + anp.sum(abs(-w) * +b),
        lambda w, b: anp.sum(np.float32(2) * w.value @ b.value) + anp.sum(abs(-w.value) * b.value),
    ),
    "mixed_value_index": (
        lambda w, b: anp.sum(anp.exp(w.value) * w / b) + anp.sum(w[1:] * w[:-1]),
        lambda w, b: anp.sum(anp.exp(w.value) * w.value / b.value)
        + anp.sum(w.value[1:] * w.value[:-1]),
    ),
    "comparisons": (
        lambda w, b: anp.sum((X @ w > 0) * (X @ w)) + anp.sum(anp.where(w < b, w.value, 2 * w)),
        lambda w, b: anp.sum((X @ w.value > 0) * (X @ w.value))
        + anp.sum(anp.where(w.value < b.value, w.value, 2 * w.value)),
    ),
    "ndarray_left": (
        lambda w, b: anp.sum(np.ones((4, 3)) @ w + np.arange(2.0) * b - np.ones(2) / b),
        lambda w, b: anp.sum(
            np.ones((4, 3)) @ w.value + np.arange(2.0) * b.value - np.ones(2) / b.value
        ),
    ),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_operator_gradients_match_value_form(graph, name):
    with_variables, with_values = PAIRS[name]
    w = optim.Variable(W0 + 1.0, name="w")
    b = optim.Variable(B0 + 2.0, name="b")
    g_ops = _grads(lambda: with_variables(w, b), [w, b])
    g_val = _grads(lambda: with_values(w, b), [w, b])
    assert g_ops[0] is not None
    for a, c in zip(g_ops, g_val):
        assert (a is None) == (c is None)  # b only in a comparison: no path, as with .value
        if c is not None:
            np.testing.assert_array_equal(a, c)
