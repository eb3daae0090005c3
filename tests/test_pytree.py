"""optim.pytree: flat order, rebuilt types, shapes and dtypes per leaf, checked reading."""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

from optim.pytree import TreeDef, flatten, ravel, tree_map, unflatten

Point = namedtuple("Point", "x y")


def test_dict_leaves_come_in_sorted_key_order_and_the_dict_keeps_its_own_order():
    tree = {"w": np.ones((2, 3)), "b": np.zeros(3), "a": 1.5}
    leaves, treedef = flatten(tree)
    assert treedef.paths == ("['a']", "['b']", "['w']")
    assert [leaf.shape for leaf in leaves] == [(), (3,), (2, 3)]
    rebuilt = treedef.unflatten(leaves)
    assert list(rebuilt) == ["w", "b", "a"]
    assert type(rebuilt) is dict


def test_two_dicts_built_in_different_orders_share_one_layout():
    v1, t1 = ravel({"a": 1.0, "b": [2.0, 3.0]})
    v2, t2 = ravel({"b": [2.0, 3.0], "a": 1.0})
    np.testing.assert_array_equal(v1, v2)
    assert t1 == t2


def test_container_types_round_trip():
    tree = OrderedDict(
        z=[np.arange(2.0), (np.float32(1.0), Point(x=np.eye(2), y=[3.0]))], a=np.int64(4)
    )
    leaves, treedef = flatten(tree)
    back = unflatten(treedef, leaves)
    assert type(back) is OrderedDict and list(back) == ["z", "a"]
    assert type(back["z"]) is list and type(back["z"][1]) is tuple
    assert type(back["z"][1][1]) is Point and type(back["z"][1][1].y) is list
    np.testing.assert_array_equal(back["z"][1][1].x, np.eye(2))
    assert treedef.num_leaves == 5 and treedef.size == 2 + 1 + 4 + 1 + 1


def test_scalars_become_zero_d_arrays():
    leaves, treedef = flatten(2.5)
    assert treedef.is_leaf and leaves[0].shape == () and leaves[0].dtype == np.float64
    assert isinstance(treedef.unflatten(leaves), np.ndarray)
    assert treedef.unflatten(leaves) == 2.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ravel_is_float64_and_unravel_restores_each_dtype(dtype):
    tree = {"w": np.arange(6, dtype=dtype).reshape(2, 3), "b": np.array([0.5, -1.0], dtype)}
    vector, treedef = ravel(tree)
    assert vector.dtype == np.float64 and vector.shape == (8,)
    np.testing.assert_array_equal(vector, [0.5, -1.0, 0, 1, 2, 3, 4, 5])  # "w" after "b"
    back = treedef.unravel(vector)
    assert back["w"].dtype == dtype and back["w"].shape == (2, 3)
    np.testing.assert_array_equal(back["w"], tree["w"])
    assert treedef.dtypes == (np.dtype(dtype), np.dtype(dtype))


def test_as_float_turns_integers_into_float64_and_keeps_float32():
    leaves, treedef = flatten([np.arange(3), np.float32(1.0), True], as_float=True)
    assert [leaf.dtype for leaf in leaves] == [np.float64, np.float32, np.float64]


@pytest.mark.parametrize("bad", [None, "text", {"a": object()}])
def test_non_numeric_leaves_are_type_errors(bad):
    with pytest.raises(TypeError, match=r"`x0.*` must be"):
        flatten(bad, "x0")


def test_complex_leaves_are_refused_for_optimization_variables():
    with pytest.raises(TypeError, match=r"`x0` must be a real numeric array"):
        flatten(np.ones(2, complex), "x0", as_float=True)


def test_leaves_of_accepts_array_likes_at_leaf_positions():
    _, treedef = flatten({"a": np.zeros(2), "b": 0.0})
    leaves = treedef.leaves_of({"a": [1.0, 2.0], "b": 3}, "jac")
    np.testing.assert_array_equal(leaves[0], [1.0, 2.0])
    assert leaves[1].shape == ()


def test_leaves_of_structure_mismatch_is_a_type_error_naming_the_position():
    _, treedef = flatten({"a": np.zeros(2), "b": [0.0, 1.0]})
    with pytest.raises(TypeError, match=r"`jac` must be a dict with keys \['a', 'b'\]"):
        treedef.leaves_of(np.zeros(4), "jac")
    with pytest.raises(TypeError, match=r"`jac\['b'\]` must be a list of 2 entries"):
        treedef.leaves_of({"a": np.zeros(2), "b": (0.0, 1.0)}, "jac")


def test_leaves_of_shape_mismatch_is_a_value_error_naming_the_leaf():
    _, treedef = flatten({"a": np.zeros(2), "b": 0.0})
    with pytest.raises(ValueError, match=r"`jac\['a'\]` must have shape \(2,\), got"):
        treedef.leaves_of({"a": np.zeros(3), "b": 0.0}, "jac")


def test_prefix_leaves_fills_missing_keys_and_none_subtrees():
    _, treedef = flatten({"a": np.zeros(2), "b": [0.0, np.zeros(3)], "c": 1.0})
    per_leaf = treedef.prefix_leaves({"a": (0, 1), "b": None}, "bounds")
    assert per_leaf == [(0, 1), None, None, None]
    with pytest.raises(TypeError, match=r"`bounds` must be a dict with keys among"):
        treedef.prefix_leaves({"zzz": (0, 1)}, "bounds")


def test_unravel_and_unflatten_check_their_input_sizes():
    vector, treedef = ravel([1.0, 2.0])
    with pytest.raises(ValueError, match=r"`vector` must have shape \(2,\), got \(3,\)"):
        treedef.unravel(np.zeros(3))
    with pytest.raises(ValueError, match=r"`leaves` must hold 2 leaves"):
        treedef.unflatten([1.0])


def test_unflatten_does_not_convert_leaves():
    _, treedef = flatten({"a": 0.0, "b": 0.0})
    marker = object()
    assert treedef.unflatten([marker, 1])["a"] is marker


def test_tree_map_and_with_dtypes():
    tree = {"a": np.ones(2), "b": [np.zeros(1)]}
    doubled = tree_map(lambda x, y: x + 2 * y, tree, tree)
    np.testing.assert_array_equal(doubled["a"], [3.0, 3.0])
    _, treedef = flatten(tree)
    assert isinstance(treedef.with_dtypes([np.float32, np.float32]), TreeDef)
    assert "['a']: float64[2]" in repr(treedef)
