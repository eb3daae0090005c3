"""Variables as arrays: operators, conversions, errors inside a trace, copy and pickle."""

import copy
import operator
import pickle
import warnings

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


# -- 2. conversions outside a trace ----------------------------------------------------------


def test_asarray_gives_the_value_with_its_dtype(graph):
    v = optim.Variable(np.array([1.0, 2.0], np.float32))
    a = np.asarray(v)
    assert type(a) is np.ndarray and a.dtype == np.float32
    np.testing.assert_array_equal(a, [1.0, 2.0])
    assert np.shares_memory(a, v.value) and not a.flags.writeable  # the read-only value
    assert np.asarray(v, dtype=np.float64).dtype == np.float64
    c = np.array(v)  # np.array copies: independent and writable
    c[0] = 9.0
    assert v.value[0] == 1.0
    assert not np.shares_memory(np.array(v, copy=True), v.value)


def test_array_copy_keyword(graph):
    v = optim.Variable(np.array([1.0, 2.0], np.float32), name="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning about a missing copy= keyword
        assert np.shares_memory(np.asarray(v, copy=False), v.value)
        assert not np.shares_memory(v.__array__(copy=True), v.value)
        with pytest.raises(ValueError, match="'w'.*copy=False"):
            np.asarray(v, dtype=np.float64, copy=False)


def test_numpy_functions_give_arrays(graph):
    v = optim.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    data = v.numpy()
    for f in (np.sum, np.exp, np.mean, np.max, np.linalg.norm, lambda a: np.stack([a, a])):
        got, want = f(v), f(data)
        assert not isinstance(got, optim.Variable)
        np.testing.assert_array_equal(got, want)
    assert np.sum(v) == 10.0 and isinstance(np.sum(v), np.float64)
    np.testing.assert_array_equal(anp.exp(v), np.exp(data))  # autograd.numpy too


def test_python_number_conversions(graph):
    step = optim.train.get_or_create_global_step()
    step.assign(3)
    assert int(step) == 3 and type(int(step)) is int
    assert [10, 20, 30, 40][step] == 40  # operator.index
    assert list(range(step)) == [0, 1, 2]
    x = optim.Variable(2.5)
    assert float(x) == 2.5 and type(float(x)) is float
    assert complex(x) == 2.5 + 0j
    with pytest.raises(TypeError):
        operator.index(x)  # a float variable is no index, as a float array
    with pytest.raises(TypeError):
        float(optim.Variable([1.0, 2.0]))


def test_len_iter_bool_mirror_numpy(graph):
    v = optim.Variable(np.arange(6.0).reshape(3, 2))
    assert len(v) == 3
    rows = list(v)
    assert len(rows) == 3
    np.testing.assert_array_equal(rows[2], [4.0, 5.0])
    scalar = optim.Variable(0.0)
    with pytest.raises(TypeError):
        len(scalar)
    with pytest.raises(TypeError):
        iter(scalar)
    assert bool(scalar) is False and bool(optim.Variable(1.0)) is True
    assert bool(optim.Variable([0.0])) is False
    with pytest.raises(ValueError, match="ambiguous"):
        bool(v)
    assert optim.Variable(np.array([[1.0]])).numpy().shape == (1, 1)


# -- 3. numpy on a Variable inside a trace raises ---------------------------------------------


MESSAGE = r"Variable 'W' is being differentiated.*`W\.value`"


@pytest.mark.parametrize(
    "loss",
    [
        lambda W: np.sum(np.exp(W)),
        lambda W: anp.sum(anp.exp(W)),
        lambda W: anp.sum(np.asarray(W)),
        lambda W: anp.sum(W.value) * float(W),
        lambda W: anp.sum(W.value) * int(W),
        lambda W: anp.sum(anp.dot(np.ones(1), W)),
        lambda W: anp.sum(anp.add(W.value * 2, W)),  # a traced value and W in one numpy call
        lambda W: anp.sum(np.add(np.ones(1), W)),
    ],
    ids=[
        "np.exp",
        "anp.exp",
        "np.asarray",
        "float",
        "int",
        "anp.dot",
        "anp.add_traced",
        "np.add_explicit",
    ],
)
def test_numpy_on_the_variable_inside_a_trace_raises(graph, loss):
    W = optim.Variable([0.5], name="W")
    opt = optim.train.GradientDescentOptimizer(0.1)
    with pytest.raises(TypeError, match=MESSAGE):
        opt.minimize(lambda: loss(W), var_list=[W])
    np.testing.assert_array_equal(W.value, [0.5])
    with pytest.raises(TypeError, match=MESSAGE):
        opt.compute_gradients(lambda: loss(W), [W])


def test_minimize_of_np_exp_raises_and_changes_nothing(graph):
    W = optim.Variable(np.array([[0.1, -0.2], [0.3, 0.4]]), name="W")
    step = optim.train.get_or_create_global_step()
    opt = optim.train.AdamOptimizer(0.1)
    with pytest.raises(TypeError, match=MESSAGE + r".*np\.exp\(W\.value\)") as info:
        opt.minimize(lambda: np.sum(np.exp(W)), var_list=[W], global_step=step)
    # what the user sees is this message itself: the trace-failure explainer leaves it alone
    assert optim.gradients.explain_trace_error(info.value) is None
    np.testing.assert_array_equal(W.value, [[0.1, -0.2], [0.3, 0.4]])
    assert int(step) == 0
    assert opt.get_slot(W, "m") is None
    # the advice works
    opt.minimize(lambda: np.sum(np.exp(W.value)), var_list=[W], global_step=step)
    assert int(step) == 1 and opt.get_slot(W, "m") is not None


def test_finite_differences_substitute_arrays_that_convert(graph):
    # A finite-difference "trace" puts plain perturbed arrays in place: numpy on W is then
    # fine and sees the perturbation.
    W = optim.Variable(np.array([0.3, -0.7]), name="W")
    opt = optim.train.GradientDescentOptimizer(0.1, gradient="3-point")
    (g, _), = opt.compute_gradients(lambda: np.sum(np.exp(W)), [W])
    np.testing.assert_allclose(g, np.exp([0.3, -0.7]), rtol=1e-8)


def test_hessian_through_operators(graph):
    # second order: nested traces through the operators
    w = optim.Variable(np.array([0.5, -1.5]), name="w")
    H = optim.hessian(lambda: anp.sum(w**3) + w[0] * w[1], [w])
    np.testing.assert_allclose(H, [[6 * 0.5, 1.0], [1.0, 6 * -1.5]], rtol=1e-12)


# -- 4. copy, deepcopy and pickle --------------------------------------------------------------


def _clip(a):
    return np.clip(a, -1.0, 1.0)


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_copy_makes_an_independent_registered_variable(graph, copier):
    v = optim.Variable(np.array([1.0, 2.0], np.float32), name="w", constraint=_clip)
    c = copier(v)
    assert isinstance(c, optim.Variable) and c is not v
    assert c.name == "w_1"
    assert c.dtype == np.float32 and c.trainable and c.constraint is _clip
    np.testing.assert_array_equal(c.value, v.value)
    assert not np.shares_memory(c.value, v.value)
    c.assign([5.0, 6.0])
    np.testing.assert_array_equal(v.value, [1.0, 2.0])
    assert optim.trainable_variables() == [v, c]
    frozen = copier(optim.Variable(3, name="n", trainable=False))
    assert not frozen.trainable and frozen.dtype.kind == "i" and frozen.name == "n_1"


def test_deepcopy_keeps_sharing(graph):
    v = optim.Variable([1.0], name="w")
    other = optim.Variable([2.0], name="u")
    a, b, c = copy.deepcopy([v, v, other])
    assert a is b and a is not v and c is not other
    assert (a.name, c.name) == ("w_1", "u_1")


def test_pickle_keeps_the_name_when_free_else_suffixes(graph):
    v = optim.Variable(np.array([1.0, 2.0], np.float32), name="w", constraint=_clip)
    blob = pickle.dumps(v)
    same_graph = pickle.loads(blob)
    assert same_graph.name == "w_1"  # "w" is taken by v
    with optim.Graph().as_default():
        fresh = pickle.loads(blob)
        assert fresh.name == "w"
        assert optim.trainable_variables() == [fresh]
    assert fresh.dtype == np.float32 and fresh.constraint is _clip and fresh.trainable
    np.testing.assert_array_equal(fresh.value, [1.0, 2.0])
    assert not np.shares_memory(fresh.value, v.value)
    # a structure keeps its sharing through pickle too
    x, y = pickle.loads(pickle.dumps([v, v]))
    assert x is y and x.name == "w_2"
