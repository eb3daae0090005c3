"""Pytrees: nested dicts, lists and tuples of arrays, flattened and rebuilt leaf by leaf.

A *pytree* is an array (or a scalar) or a ``dict``, ``list`` or ``tuple`` (named tuples included)
whose entries are pytrees. :func:`flatten` turns one into a list of leaves and a :class:`TreeDef`
that remembers the structure and each leaf's shape and dtype; :meth:`TreeDef.unflatten` rebuilds
the same structure from any leaves (arrays, or autograd tracers while a gradient is taken).

Conventions:

* Leaves are visited depth first; the entries of a dict in **sorted key order**, so that two
  dicts with the same keys give the same flat layout whatever order they were built in. The
  rebuilt dict is of the same type and keeps the original insertion order.
* A Python or numpy scalar leaf becomes a 0-d array: ``unflatten`` gives back ``array(1.5)``
  for ``1.5``.
* :func:`ravel` / :meth:`TreeDef.unravel` go through one flat vector (float64 by default, what
  scipy's own methods need) and cast each leaf back to its dtype, so float32 leaves stay float32.

Example:
    >>> leaves, tree = flatten({"w": np.ones((2, 2), np.float32), "b": 0.0})
    >>> [leaf.shape for leaf in leaves]      # "b" before "w"
    [(), (2, 2)]
    >>> tree.unflatten(leaves)["w"].dtype
    dtype('float32')
    >>> vector, tree = ravel([1.0, np.arange(3.0)])
    >>> vector
    array([1., 0., 1., 2.])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["TreeDef", "flatten", "unflatten", "ravel", "tree_map"]

# Node kinds of the structure description.
_LEAF = "leaf"
_DICT = "dict"
_LIST = "list"
_TUPLE = "tuple"
_NAMEDTUPLE = "namedtuple"


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _sorted_keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:  # keys of mixed, unorderable types
        return sorted(d, key=lambda k: (type(k).__name__, repr(k)))


def _key_path(path: str, key: Any) -> str:
    return f"{path}[{key!r}]"


class _Node:
    """One node of a structure: its kind, container type, dict keys and children."""

    __slots__ = ("kind", "type", "keys", "order", "children")

    def __init__(self, kind: str, type_: type | None = None, keys=(), order=(), children=()):
        self.kind = kind
        self.type = type_
        self.keys = tuple(keys)  # sorted: the flat order
        self.order = tuple(order)  # insertion order: the rebuilt dict's order
        self.children = tuple(children)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Node)
            and self.kind == other.kind
            and self.type is other.type
            and self.keys == other.keys
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.type, self.keys, self.children))

    def describe(self) -> str:
        if self.kind == _LEAF:
            return "*"
        inner = ", ".join(
            f"{k!r}: {c.describe()}" if self.kind == _DICT else c.describe()
            for k, c in zip(self.keys or [None] * len(self.children), self.children)
        )
        if self.kind == _DICT:
            return f"{{{inner}}}" if self.type is dict else f"{self.type.__name__}({{{inner}}})"
        if self.kind == _LIST:
            return f"[{inner}]"
        if self.kind == _NAMEDTUPLE:
            return f"{self.type.__name__}({inner})"
        return f"({inner}{',' if len(self.children) == 1 else ''})"


def _leaf_array(x: Any, path: str, what: str, as_float: bool) -> np.ndarray:
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{what}{path}` must be a numeric array, got {x!r}.") from exc
    if array.dtype.kind not in "biuf" or (array.dtype.kind == "c" and as_float):
        raise TypeError(f"`{what}{path}` must be a real numeric array, got {x!r}.")
    if as_float and array.dtype.kind != "f":
        array = array.astype(np.float64)
    return array


def _build(tree: Any, path: str, leaves: list, paths: list, what: str, as_float: bool) -> _Node:
    if isinstance(tree, dict):
        keys = _sorted_keys(tree)
        children = [
            _build(tree[k], _key_path(path, k), leaves, paths, what, as_float) for k in keys
        ]
        return _Node(_DICT, type(tree), keys, list(tree), children)
    if isinstance(tree, list):
        children = [
            _build(c, f"{path}[{i}]", leaves, paths, what, as_float) for i, c in enumerate(tree)
        ]
        return _Node(_LIST, list, children=children)
    if isinstance(tree, tuple):
        children = [
            _build(c, f"{path}[{i}]", leaves, paths, what, as_float) for i, c in enumerate(tree)
        ]
        kind = _NAMEDTUPLE if _is_namedtuple(tree) else _TUPLE
        return _Node(kind, type(tree), children=children)
    if tree is None:
        raise TypeError(f"`{what}{path}` must be a numeric array, got None.")
    leaves.append(_leaf_array(tree, path, what, as_float))
    paths.append(path)
    return _Node(_LEAF)


class TreeDef:
    """The structure of a pytree plus the shape and dtype of each of its leaves.

    Attributes:
        shapes: the leaves' shapes, in flat order.
        dtypes: the leaves' dtypes, in flat order.
        paths: each leaf's position as an indexing string (``""`` for a bare array,
            ``"['w']"``, ``"[0][1]"``), used in error messages.
        sizes: the leaves' element counts.
        size: the total element count (the length of :meth:`ravel`'s vector).
    """

    __slots__ = ("_root", "shapes", "dtypes", "paths", "sizes", "size", "_offsets")

    def __init__(self, root: _Node, shapes, dtypes, paths) -> None:
        self._root = root
        self.shapes: tuple[tuple[int, ...], ...] = tuple(tuple(s) for s in shapes)
        self.dtypes: tuple[np.dtype, ...] = tuple(np.dtype(d) for d in dtypes)
        self.paths: tuple[str, ...] = tuple(paths)
        self.sizes: tuple[int, ...] = tuple(int(math.prod(s)) for s in self.shapes)
        self.size: int = sum(self.sizes)
        self._offsets: tuple[int, ...] = (0, *itertools.accumulate(self.sizes))

    @property
    def num_leaves(self) -> int:
        return len(self.shapes)

    @property
    def is_leaf(self) -> bool:
        """Whether the tree is a single array (no container)."""
        return self._root.kind == _LEAF

    def with_dtypes(self, dtypes: Sequence[Any]) -> TreeDef:
        """The same structure and shapes with other leaf dtypes."""
        if len(dtypes) != self.num_leaves:
            raise ValueError(
                f"`dtypes` must hold one dtype per leaf ({self.num_leaves}), got {len(dtypes)}."
            )
        return TreeDef(self._root, self.shapes, dtypes, self.paths)

    # -- rebuilding ------------------------------------------------------------------------
    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Rebuilds the tree from leaves in flat order (arrays or tracers; not converted)."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(
                f"`leaves` must hold {self.num_leaves} leaves for the structure "
                f"{self._root.describe()}, got {len(leaves)}."
            )
        it = iter(leaves)
        return _rebuild(self._root, it)

    def split(self, vector: Any) -> list[Any]:
        """Cuts a flat vector (array or tracer) into leaves of the right shapes (no cast)."""
        o = self._offsets
        return [vector[o[i] : o[i + 1]].reshape(shape) for i, shape in enumerate(self.shapes)]

    def unravel(self, vector: Any, cast: bool = True) -> Any:
        """The tree whose leaves are the consecutive slices of ``vector``.

        Args:
            vector: a 1-D array of length :attr:`size`.
            cast: cast each leaf to its recorded dtype (a copy); False keeps the vector's dtype
                and returns views.
        """
        vector = np.asarray(vector)
        if vector.shape != (self.size,):
            raise ValueError(f"`vector` must have shape ({self.size},), got {vector.shape}.")
        leaves = self.split(vector)
        if cast:
            leaves = [leaf.astype(dtype) for leaf, dtype in zip(leaves, self.dtypes)]
        return self.unflatten(leaves)

    # -- reading a tree that must have this structure --------------------------------------
    def leaves_of(self, tree: Any, what: str, check_dtype_kind: bool = True) -> list[np.ndarray]:
        """The leaves of ``tree``, checked against this structure and these shapes.

        A leaf position accepts anything array-like of the right shape (a list of floats for
        a vector, say); a container position needs a container of the same kind and keys.

        Raises:
            TypeError: a different structure, or a non-numeric leaf.
            ValueError: a leaf of a different shape.
        """
        out: list[np.ndarray] = []
        _collect(self._root, tree, "", what, self, out, check_dtype_kind)
        for array, shape, path in zip(out, self.shapes, self.paths):
            if array.shape != shape:
                raise ValueError(
                    f"`{what}{path}` must have shape {shape}, got {array!r} of shape {array.shape}."
                )
        return out

    def prefix_leaves(self, tree: Any, what: str) -> list[Any]:
        """For each leaf, the part of ``tree`` at that leaf's position (``None`` if absent).

        ``tree`` follows this structure down to the leaves, where it may hold anything (a
        ``(low, high)`` pair, say). ``None`` in place of a subtree, or a missing dict key,
        gives ``None`` for every leaf below it.

        Raises:
            TypeError: a container of another kind, unknown dict keys or another length.
        """
        out: list[Any] = []
        _collect_prefix(self._root, tree, "", what, out)
        return out

    def ravel(self, tree: Any, what: str = "tree", dtype: Any = np.float64) -> np.ndarray:
        """Flattens a tree with this structure into one vector of ``dtype`` (checked)."""
        leaves = self.leaves_of(tree, what)
        if not leaves:
            return np.zeros(0, dtype=dtype)
        return np.concatenate([np.ravel(leaf).astype(dtype, copy=False) for leaf in leaves])

    def ravel_leaves(self, leaves: Sequence[Any], dtype: Any = np.float64) -> np.ndarray:
        """Concatenates leaves (already in flat order, right shapes) into one vector."""
        if not leaves:
            return np.zeros(0, dtype=dtype)
        return np.concatenate([np.ravel(leaf).astype(dtype, copy=False) for leaf in leaves])

    # -- comparison and display ------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TreeDef)
            and self._root == other._root
            and self.shapes == other.shapes
            and self.dtypes == other.dtypes
        )

    def __hash__(self) -> int:
        return hash((self._root, self.shapes, self.dtypes))

    def describe(self) -> str:
        """The structure with ``*`` for each leaf, e.g. ``{'b': *, 'w': *}``."""
        return self._root.describe()

    def __repr__(self) -> str:
        leaves = ", ".join(
            f"{p or 'x'}: {d.name}{list(s)}"
            for p, s, d in zip(self.paths, self.shapes, self.dtypes)
        )
        return f"TreeDef({self.describe()}; {leaves})"


def _rebuild(node: _Node, it) -> Any:
    if node.kind == _LEAF:
        return next(it)
    children = [_rebuild(c, it) for c in node.children]
    if node.kind == _DICT:
        by_key = dict(zip(node.keys, children))
        return node.type((k, by_key[k]) for k in node.order)
    if node.kind == _LIST:
        return children
    if node.kind == _NAMEDTUPLE:
        return node.type(*children)
    return node.type(children) if node.type is not tuple else tuple(children)


def _kind_name(x: Any) -> str:
    return type(x).__name__


def _collect(node: _Node, tree: Any, path: str, what: str, tdef: TreeDef, out, check) -> None:
    if node.kind == _LEAF:
        if isinstance(tree, dict) or tree is None:
            raise TypeError(f"`{what}{path}` must be an array like `x0{path}`, got {tree!r}.")
        try:
            array = np.asarray(tree)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"`{what}{path}` must be a numeric array, got {tree!r}.") from exc
        if check and array.dtype.kind not in "biuf":
            raise TypeError(f"`{what}{path}` must be a real numeric array, got {tree!r}.")
        out.append(array)
        return
    expected = node.describe()
    if node.kind == _DICT:
        if not isinstance(tree, dict) or set(tree) != set(node.keys):
            raise TypeError(
                f"`{what}{path}` must be a dict with keys {sorted(node.keys, key=repr)} "
                f"(the structure of x0: {expected}), got {_short(tree)}."
            )
        for k, child in zip(node.keys, node.children):
            _collect(child, tree[k], _key_path(path, k), what, tdef, out, check)
        return
    container_ok = isinstance(tree, (list, tuple)) and not isinstance(tree, np.ndarray)
    if node.kind == _LIST:
        container_ok = container_ok and isinstance(tree, list)
    else:
        container_ok = container_ok and isinstance(tree, tuple)
    if not container_ok or len(tree) != len(node.children):
        raise TypeError(
            f"`{what}{path}` must be a {node.type.__name__} of {len(node.children)} entries "
            f"(the structure of x0: {expected}), got {_short(tree)}."
        )
    for i, (child, sub) in enumerate(zip(node.children, tree)):
        _collect(child, sub, f"{path}[{i}]", what, tdef, out, check)


def _collect_prefix(node: _Node, tree: Any, path: str, what: str, out: list) -> None:
    if node.kind == _LEAF:
        out.append(tree)
        return
    if tree is None:
        out.extend([None] * _count_leaves(node))
        return
    expected = node.describe()
    if node.kind == _DICT:
        extra = set(tree) - set(node.keys) if isinstance(tree, dict) else None
        if not isinstance(tree, dict) or extra:
            raise TypeError(
                f"`{what}{path}` must be a dict with keys among {sorted(node.keys, key=repr)} "
                f"(the structure of x0: {expected}), got {_short(tree)}."
            )
        for k, child in zip(node.keys, node.children):
            _collect_prefix(child, tree.get(k), _key_path(path, k), what, out)
        return
    wanted = list if node.kind == _LIST else tuple
    if not isinstance(tree, wanted) or len(tree) != len(node.children):
        raise TypeError(
            f"`{what}{path}` must be a {node.type.__name__} of {len(node.children)} entries "
            f"(the structure of x0: {expected}), got {_short(tree)}."
        )
    for i, (child, sub) in enumerate(zip(node.children, tree)):
        _collect_prefix(child, sub, f"{path}[{i}]", what, out)


def _count_leaves(node: _Node) -> int:
    if node.kind == _LEAF:
        return 1
    return sum(_count_leaves(c) for c in node.children)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 200 else f"{text[:200]}... ({_kind_name(x)})"


def flatten(tree: Any, what: str = "tree", as_float: bool = False) -> tuple[list, TreeDef]:
    """Splits a pytree into its leaves (flat order) and a :class:`TreeDef`.

    Args:
        tree: an array, a scalar, or a dict / list / tuple (named tuples too) of pytrees.
        what: the argument name used in error messages (``"x0"``).
        as_float: turn integer and bool leaves into float64 (floating leaves keep their dtype;
            complex leaves raise). Used for optimization variables.

    Returns:
        ``(leaves, treedef)``: the leaves as numpy arrays (no copy where possible; scalars as
        0-d arrays), dict entries in sorted key order.

    Raises:
        TypeError: a leaf that is not numeric (``None``, a string, an object array).
    """
    leaves: list[np.ndarray] = []
    paths: list[str] = []
    root = _build(tree, "", leaves, paths, what, as_float)
    return leaves, TreeDef(root, [a.shape for a in leaves], [a.dtype for a in leaves], paths)


def unflatten(treedef: TreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuilds a pytree from :func:`flatten`'s leaves (same as ``treedef.unflatten(leaves)``)."""
    return treedef.unflatten(leaves)


def ravel(tree: Any, dtype: Any = np.float64, what: str = "tree") -> tuple[np.ndarray, TreeDef]:
    """One flat vector of ``dtype`` holding every leaf, and the :class:`TreeDef` to undo it.

    ``treedef.unravel(vector)`` casts each leaf back to its original dtype.
    """
    leaves, treedef = flatten(tree, what)
    return treedef.ravel_leaves(leaves, dtype), treedef


def tree_map(fn, tree: Any, *rest: Any) -> Any:
    """Applies ``fn`` leaf-wise to one tree (or several with the same structure)."""
    leaves, treedef = flatten(tree)
    others = [treedef.leaves_of(r, "rest", check_dtype_kind=False) for r in rest]
    return treedef.unflatten(fn(*args) for args in zip(leaves, *others))
