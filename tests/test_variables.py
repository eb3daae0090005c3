import gc

import numpy as np
import pytest

import optim


def test_float_dtype_is_preserved(graph):
    assert optim.Variable(np.zeros(3, np.float32)).dtype == np.float32
    assert optim.Variable(np.zeros(3)).dtype == np.float64
    assert optim.Variable([1, 2], dtype=np.float32).dtype == np.float32
    assert optim.Variable(1.5).shape == ()


def test_variable_owns_a_copy(graph):
    data = np.ones(3)
    v = optim.Variable(data)
    data[0] = 7.0
    assert v.value[0] == 1.0


def test_callable_initial_value(graph):
    v = optim.Variable(lambda: np.arange(3.0))
    np.testing.assert_array_equal(v.value, [0.0, 1.0, 2.0])


def test_default_names_are_unique_and_tf_like(graph):
    a, b, c = optim.Variable(0.0), optim.Variable(0.0), optim.Variable(0.0)
    assert [a.name, b.name, c.name] == ["Variable", "Variable_1", "Variable_2"]
    w, w1 = optim.Variable(0.0, name="w"), optim.Variable(0.0, name="w")
    assert (w.name, w1.name) == ("w", "w_1")


def test_name_of_a_dropped_variable_is_free_again(graph):
    v = optim.Variable(0.0, name="tmp")
    del v
    gc.collect()
    assert optim.Variable(0.0, name="tmp").name == "tmp"


def test_value_is_a_read_only_view(graph):
    v = optim.Variable(np.zeros(2))
    with pytest.raises(ValueError, match="read-only"):
        v.value[0] = 1.0
    v.assign([1.0, 2.0])
    np.testing.assert_array_equal(v.value, [1.0, 2.0])
    copy = v.numpy()
    copy[0] = 9.0
    assert v.value[0] == 1.0


def test_assign_add_sub(graph):
    v = optim.Variable(np.zeros(2, np.float32))
    assert v.assign_add([1, 2]) is v
    v.assign_sub(np.array([0.5, 0.5]))
    np.testing.assert_array_equal(v.value, np.array([0.5, 1.5], np.float32))
    assert v.dtype == np.float32


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_assign_checks_shape_and_changes_nothing(graph, method):
    v = optim.Variable([1.0, 2.0], name="x")
    with pytest.raises(ValueError, match=r"variable 'x' must have shape \(2,\), got \(3,\)"):
        getattr(v, method)([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.value, [1.0, 2.0])


def test_assign_float_into_int_variable_raises(graph):
    step = optim.Variable(0, trainable=False, name="counter")
    with pytest.raises(TypeError, match="counter"):
        step.assign(1.5)
    assert step.value == 0


def test_trainable_integer_variable_raises(graph):
    with pytest.raises(TypeError, match="Trainable variable 'n' must have a floating dtype"):
        optim.Variable([1, 2], name="n")
    assert optim.Variable([1, 2], trainable=False).dtype.kind == "i"


def test_non_numeric_initial_value_raises(graph):
    with pytest.raises(TypeError, match="numeric real dtype, got <U3"):
        optim.Variable("abc")
    with pytest.raises(TypeError, match="initial_value"):
        optim.Variable([[1.0], [1.0, 2.0]])
    with pytest.raises(TypeError, match="complex"):
        optim.Variable(np.ones(2, complex))


def test_bad_name_raises(graph):
    with pytest.raises(TypeError, match="`name`"):
        optim.Variable(0.0, name="")


def test_trainable_registry_is_the_default_var_list(graph):
    a = optim.Variable(1.0, name="a")
    frozen = optim.Variable(2.0, name="frozen", trainable=False)
    b = optim.Variable(3.0, name="b")
    assert optim.trainable_variables() == [a, b]
    assert optim.global_variables() == [a, frozen, b]
    del b
    gc.collect()
    assert optim.trainable_variables() == [a]


def test_graphs_are_separate(graph):
    outer = optim.Variable(0.0)
    with optim.Graph().as_default():
        inner = optim.Variable(0.0)
        assert optim.trainable_variables() == [inner]
        assert inner.name == "Variable"
    assert optim.trainable_variables() == [outer]


def test_global_step(graph):
    assert optim.get_global_step() is None
    step = optim.train.get_or_create_global_step()
    assert optim.train.get_or_create_global_step() is step
    assert optim.get_global_step() is step
    assert step.name == "global_step"
    assert step.dtype == np.int64 and step.shape == () and not step.trainable
    assert step not in optim.trainable_variables()
    assert int(step.value) == 0


def test_constraint_must_be_callable(graph):
    with pytest.raises(TypeError, match="constraint"):
        optim.Variable(0.0, constraint=3)


def test_repr(graph):
    assert "optim.Variable 'w'" in repr(optim.Variable([1.0], name="w"))
