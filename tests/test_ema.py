"""ExponentialMovingAverage: TF's formula written out, TF itself when installed, swap, state."""

import numpy as np
import pytest

import optim
from optim.ema import ExponentialMovingAverage


def tf_formula(values, decay, num_updates=None):
    """TF's assign_moving_average: shadow starts at the first value, then
    shadow -= (1 - d) * (shadow - value), d = min(decay, (1 + n) / (10 + n))."""
    shadow = np.array(values[0], dtype=np.float64)
    out = []
    for i, value in enumerate(values):
        d = (
            decay
            if num_updates is None
            else min(decay, (1.0 + num_updates[i]) / (10.0 + num_updates[i]))
        )
        shadow = shadow - (1.0 - d) * (shadow - value)
        out.append(shadow.copy())
    return out


def run(ema, var, values, step=None):
    out = []
    for value in values:
        var.assign(value)
        if step is not None:
            step.assign_add(1)
        ema.apply([var])
        out.append(ema.average(var).copy())
    return out


VALUES = [np.array([1.0, -2.0, 3.0]) * (i + 1) + np.sin(i) for i in range(30)]


def test_constant_decay_matches_tf_formula(graph):
    var = optim.Variable(np.zeros(3), name="w")
    got = run(ExponentialMovingAverage(0.9), var, VALUES)
    np.testing.assert_allclose(got, tf_formula(VALUES, 0.9), rtol=1e-14, atol=0)


@pytest.mark.parametrize("kind", ["variable", "callable", "int"])
def test_num_updates_caps_the_decay(graph, kind):
    var = optim.Variable(np.zeros(3), name="w")
    step = optim.train.get_or_create_global_step()
    source = {"variable": step, "callable": lambda: int(step.numpy()), "int": None}[kind]
    if kind == "int":  # a fixed count: the same cap at every apply
        ema = ExponentialMovingAverage(0.999, num_updates=5)
        got = run(ema, var, VALUES)
        expected = tf_formula(VALUES, 0.999, [5] * len(VALUES))
    else:
        ema = ExponentialMovingAverage(0.999, num_updates=source)
        got = run(ema, var, VALUES, step=step)
        expected = tf_formula(VALUES, 0.999, list(range(1, len(VALUES) + 1)))
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)


def test_first_apply_initialises_shadow_to_the_value(graph):
    var = optim.Variable([1.0, 2.0], name="w")
    ema = ExponentialMovingAverage(0.5)
    assert ema.average(var) is None
    ema.apply([var])
    np.testing.assert_array_equal(ema.average(var), [1.0, 2.0])
    var.assign([3.0, 4.0])
    ema.apply([var])
    np.testing.assert_array_equal(ema.average(var), [2.0, 3.0])


def test_zero_debias_matches_tf_rule(graph):
    """TF's _zero_debias: biased = d*biased + (1-d)*v from zero; shadow = biased / (1 - d**t)."""
    var = optim.Variable(np.zeros(3), name="w")
    ema = ExponentialMovingAverage(0.9, zero_debias=True)
    got = run(ema, var, VALUES)
    biased = np.zeros(3)
    for t, (value, shadow) in enumerate(zip(VALUES, got), start=1):
        biased = biased - (biased - value) * (1 - 0.9)
        np.testing.assert_allclose(shadow, biased / (1 - 0.9**t), rtol=1e-13)
    np.testing.assert_allclose(got[0], VALUES[0], rtol=1e-14)  # debiased from the first step


def test_default_var_list_is_trainable_variables(graph):
    w = optim.Variable([1.0], name="w")
    optim.Variable(np.array(1), name="counter", trainable=False)
    ema = ExponentialMovingAverage(0.9)
    ema.apply()
    assert ema.averaged_variables() == [w]


def test_names_and_variables_to_restore(graph):
    w = optim.Variable([1.0], name="dense/kernel")
    step = optim.Variable(np.array(0), name="counter", trainable=False)
    ema = ExponentialMovingAverage(0.9, name="EMA")
    ema.apply([w])
    assert ema.average_name(w) == "dense/kernel/EMA"
    assert ema.variables_to_restore() == {"dense/kernel/EMA": w, "counter": step}
    assert ExponentialMovingAverage(0.9).average_name(w) == "dense/kernel/ExponentialMovingAverage"


def test_swapped_evaluates_with_averages_and_swaps_back(graph):
    w = optim.Variable([0.0, 0.0], name="w")
    ema = ExponentialMovingAverage(0.5)
    ema.apply([w])
    w.assign([2.0, 4.0])
    ema.apply([w])  # average [1, 2]
    with ema.swapped([w]):
        np.testing.assert_array_equal(w.value, [1.0, 2.0])
        w.assign([9.0, 9.0])  # writes inside the block do not reach the averages
    np.testing.assert_array_equal(w.value, [2.0, 4.0])
    np.testing.assert_array_equal(ema.average(w), [1.0, 2.0])


def test_swapped_swaps_back_on_exception(graph):
    w = optim.Variable([0.0], name="w")
    ema = ExponentialMovingAverage(0.5)
    ema.apply([w])
    w.assign([4.0])
    ema.apply([w])
    with pytest.raises(KeyboardInterrupt), ema.swapped():
        assert w.numpy()[0] == 2.0
        raise KeyboardInterrupt
    assert w.numpy()[0] == 4.0
    with ema.swapped():  # usable again
        pass


def test_swapped_misuse(graph):
    w = optim.Variable([0.0], name="w")
    v = optim.Variable([0.0], name="v")
    ema = ExponentialMovingAverage(0.5)
    ema.apply([w])
    with pytest.raises(ValueError, match=r"`var_list` must hold averaged variables only.*'v'"):
        with ema.swapped([w, v]):
            pass
    with ema.swapped():
        with pytest.raises(RuntimeError, match="cannot run inside"):
            ema.apply([w])
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with ema.swapped():
                pass
    assert w.numpy()[0] == 0.0


def test_state_dict_round_trip_by_name(graph):
    w = optim.Variable(np.arange(3.0), name="w")
    b = optim.Variable(np.float32(1.0), name="b")
    ema = ExponentialMovingAverage(0.9, zero_debias=True)
    for _ in range(3):
        w.assign_add(np.ones(3))
        ema.apply([w, b])
    state = ema.state_dict()
    assert set(state["averages"]) == {"w", "b"} and state["local_step"] == {"w": 3, "b": 3}
    with optim.Graph().as_default():  # new variables, same names, other creation order
        b2 = optim.Variable(np.float32(0.0), name="b")
        w2 = optim.Variable(np.zeros(3), name="w")
        fresh = ExponentialMovingAverage(0.9, zero_debias=True)
        fresh.load_state_dict(state)
        np.testing.assert_array_equal(fresh.average(w2), ema.average(w))
        np.testing.assert_array_equal(fresh.average(b2), ema.average(b))
        # both continue identically
        for avg, var in ((fresh, w2), (ema, w)):
            var.assign(np.full(3, 7.0))
            avg.apply([var])
        np.testing.assert_array_equal(fresh.average(w2), ema.average(w))


def test_load_state_dict_validates_before_changing(graph):
    w = optim.Variable(np.zeros(3), name="w")
    ema = ExponentialMovingAverage(0.9)
    ema.apply([w])
    before = ema.average(w).copy()
    bad = ema.state_dict()
    bad["averages"]["w"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"average of variable 'w' has shape \(4,\)"):
        ema.load_state_dict(bad)
    missing = ema.state_dict()
    missing["averages"]["nope"] = np.zeros(3)
    with pytest.raises(ValueError, match="'nope', which is not among"):
        ema.load_state_dict(missing)
    with pytest.raises(ValueError, match="must come from ExponentialMovingAverage"):
        ema.load_state_dict({"kind": "AdamOptimizer"})
    np.testing.assert_array_equal(ema.average(w), before)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"decay": 1.5}, ValueError, r"`decay` must be in \[0, 1\], got 1.5"),
        ({"decay": float("nan")}, ValueError, "`decay` must be finite, got nan"),
        ({"decay": "0.9"}, TypeError, "`decay` must be a float"),
        ({"decay": True}, TypeError, "`decay` must be a float"),
        ({"decay": 0.9, "num_updates": -1}, ValueError, "`num_updates` must be >= 0, got -1"),
        ({"decay": 0.9, "num_updates": 2.5}, TypeError, "`num_updates` must be an optim.Variable"),
        ({"decay": 0.9, "zero_debias": 1}, TypeError, "`zero_debias` must be a bool"),
        ({"decay": 0.9, "name": ""}, TypeError, "`name` must be a non-empty string"),
    ],
    ids=[
        "decay>1",
        "decay-nan",
        "decay-str",
        "decay-bool",
        "num-neg",
        "num-float",
        "debias",
        "name",
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ExponentialMovingAverage(**kwargs)


def test_apply_rejects_integer_variable_before_updating(graph):
    w = optim.Variable([1.0], name="w")
    n = optim.Variable(np.array([1]), name="n", trainable=False)
    ema = ExponentialMovingAverage(0.5)
    with pytest.raises(TypeError, match="variable 'n' must be half, float or double"):
        ema.apply([w, n])
    assert ema.average(w) is None


# -- against TensorFlow itself (bit for bit in float32) -----------------------------------------
@pytest.fixture(scope="module")
def tf():
    tf = pytest.importorskip("tensorflow")
    return tf


def test_float32_bit_identical_to_tensorflow_eager(graph, tf):
    values = [v.astype(np.float32) for v in VALUES]
    tf_var = tf.Variable(values[0])
    tf_step = tf.Variable(0, dtype=tf.int64)
    tf_ema = tf.compat.v1.train.ExponentialMovingAverage(0.99, num_updates=tf_step)
    var = optim.Variable(values[0], name="w")
    step = optim.train.get_or_create_global_step()
    ema = ExponentialMovingAverage(0.99, num_updates=step)
    for value in values:
        tf_var.assign(value)
        tf_step.assign_add(1)
        tf_ema.apply([tf_var])
        var.assign(value)
        step.assign_add(1)
        ema.apply([var])
        np.testing.assert_array_equal(ema.average(var), tf_ema.average(tf_var).numpy())
    assert ema.average(var).dtype == np.float32


def test_zero_debias_matches_tensorflow_graph_mode(graph, tf):
    values = [v.astype(np.float32) for v in VALUES[:10]]
    expected = []
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape=(3,))
        tf_ema = tf.compat.v1.train.ExponentialMovingAverage(0.9, zero_debias=True)
        update = tf_ema.apply([x])
        average = tf_ema.average(x)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for value in values:
                sess.run(update, feed_dict={x: value})
                expected.append(sess.run(average))
    var = optim.Variable(np.zeros(3, np.float32), name="w")
    got = run(ExponentialMovingAverage(0.9, zero_debias=True), var, values)
    np.testing.assert_array_equal(got, expected)
