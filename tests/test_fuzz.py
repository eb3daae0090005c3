"""Property-based fuzzing of the boundaries: random pytrees and random hyperparameters.

Two families of properties, each drawn by hypothesis with a fixed seed and a bounded example
count (``derandomize=True``, no example database), so a run is reproducible and cheap:

* random pytrees (nested dicts, lists, tuples and a named tuple; float32 and float64 leaves;
  0-d, empty and 1e5-element leaves) go through ``optim.pytree`` and ``optim.minimize``
  (L-BFGS-B and Adam) and come back with the same containers, keys, key order, shapes and
  dtypes; the minimiser of a separable quadratic is found to the tolerance implied by
  ``gtol``; a tree without a single number is rejected as ``optim.minimize`` documents;
* random values for every constructor argument of every optimizer, and for ``set_hyper`` on
  a live optimizer: only ``TypeError`` / ``ValueError`` naming the argument, and a rejected
  value changes nothing (variables, slots, hyperparameters, and the next step, which must be
  bit-identical to that of a twin that never saw the bad value).

The oracles here (leaf order, structure comparison, the quadratic's minimiser) are written
from the documented conventions, without optim's own helpers.
"""

from __future__ import annotations

import collections
import inspect
import math
from fractions import Fraction

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import optim
from tests.cases import CASES

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------------------------------------
# Random pytrees

Pair = collections.namedtuple("Pair", ["first", "second"])

BIG = 100_000  # the large leaf: one in twenty leaves
_small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


@st.composite
def _leaf(draw, empty: bool = False) -> np.ndarray:
    """A float32 or float64 array; values from a drawn seed so big leaves stay cheap."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    if empty:
        shape = draw(_small_shapes.filter(lambda s: 0 in s))
    elif draw(st.integers(0, 19)) == 19:
        shape = (BIG,)
    else:
        shape = draw(_small_shapes)
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).uniform(-2.0, 2.0, shape).astype(dtype)


_keys = st.text(alphabet="abcxyz", min_size=1, max_size=3)


def _containers(children):
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(_keys, children, max_size=3),  # insertion order as drawn, not sorted
        st.builds(Pair, children, children),
    )


trees = st.recursive(_leaf(), _containers, max_leaves=6)
trees_without_numbers = st.recursive(_leaf(empty=True), _containers, max_leaves=4)


def leaves_in_documented_order(tree) -> list[np.ndarray]:
    """Depth first; a dict's entries in sorted key order (optim.pytree's documented rule)."""
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in leaves_in_documented_order(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for child in tree for leaf in leaves_in_documented_order(child)]
    return [tree]


def assert_same_tree(got, want, values: bool = True, path: str = "x") -> None:
    """Same container types, dict keys in the same order, leaf shapes and dtypes (and values)."""
    assert type(got) is type(want), f"{path}: {type(got)} is not {type(want)}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same_tree(got[k], want[k], values, f"{path}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_tree(g, w, values, f"{path}[{i}]")
    else:
        assert got.shape == want.shape, f"{path}: shape {got.shape} != {want.shape}"
        assert got.dtype == want.dtype, f"{path}: dtype {got.dtype} != {want.dtype}"
        if values:
            np.testing.assert_array_equal(got, want, err_msg=path)


def map_leaves(fn, tree):
    if isinstance(tree, dict):
        return type(tree)((k, map_leaves(fn, v)) for k, v in tree.items())
    if isinstance(tree, Pair):
        return Pair(*(map_leaves(fn, c) for c in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(map_leaves(fn, c) for c in tree)
    return fn(tree)


def reversed_insertion(tree):
    """The same tree with every dict built in the reverse order."""
    if isinstance(tree, dict):
        return {k: reversed_insertion(tree[k]) for k in reversed(list(tree))}
    if isinstance(tree, Pair):
        return Pair(*(reversed_insertion(c) for c in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(reversed_insertion(c) for c in tree)
    return tree


def squared_distance(x, target):
    """``sum(sum((leaf - target_leaf) ** 2))`` over paired leaves, in autograd.numpy."""
    if isinstance(target, dict):
        return sum((squared_distance(x[k], target[k]) for k in target), 0.0)
    if isinstance(target, (list, tuple)):
        return sum((squared_distance(a, b) for a, b in zip(x, target)), 0.0)
    return anp.sum((x - target) ** 2)


def size_of(tree) -> int:
    return sum(leaf.size for leaf in leaves_in_documented_order(tree))


def minimize_case(tree) -> bool:
    """A non-empty x0 other than a bare 0-d array.

    A bare scalar x0 is where optim.minimize follows scipy's own reading (being settled as a
    vector of one entry, as scipy does); 0-d leaves inside containers are fuzzed here.
    """
    return size_of(tree) > 0 and not (isinstance(tree, np.ndarray) and tree.ndim == 0)


@settings(FUZZ, max_examples=120)
@given(tree=trees)
def test_flatten_unflatten_ravel_round_trip(tree):
    leaves, treedef = optim.pytree.flatten(tree)
    expected = leaves_in_documented_order(tree)
    assert len(leaves) == treedef.num_leaves == len(expected)
    for got, want in zip(leaves, expected):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert treedef.shapes == tuple(leaf.shape for leaf in expected)
    assert treedef.dtypes == tuple(leaf.dtype for leaf in expected)
    assert treedef.size == size_of(tree)
    assert_same_tree(optim.pytree.unflatten(treedef, leaves), tree)

    vector, raveled = optim.pytree.ravel(tree)
    assert raveled == treedef
    assert vector.dtype == np.float64 and vector.shape == (treedef.size,)
    flat = [leaf.ravel().astype(np.float64) for leaf in expected]
    np.testing.assert_array_equal(vector, np.concatenate(flat) if flat else np.zeros(0))
    assert_same_tree(treedef.unravel(vector), tree)  # float32 -> float64 -> float32 is exact

    # Dicts built in another order: the same flat layout, and each keeps its own order.
    other = reversed_insertion(tree)
    other_leaves, other_def = optim.pytree.flatten(other)
    assert other_def == treedef
    for got, want in zip(other_leaves, leaves):
        np.testing.assert_array_equal(got, want)
    assert_same_tree(other_def.unflatten(other_leaves), other)


# A point with max|grad| <= gtol of sum((x - t)**2) is within gtol / 2 of t; the slack covers
# the rounding of x - t in the leaf's dtype (a few ulps of |t| <= 2).
def _within_gtol(res, target, gtol: float) -> None:
    for x, t in zip(leaves_in_documented_order(res.x), leaves_in_documented_order(target)):
        if x.size:
            slack = 8 * np.finfo(x.dtype).eps
            error = np.max(np.abs(x.astype(np.float64) - t.astype(np.float64)))
            assert error <= gtol / 2 + slack, (error, gtol, x.dtype)


def _target_like(tree, seed: int):
    rng = np.random.default_rng(seed)
    return map_leaves(lambda leaf: rng.uniform(-2.0, 2.0, leaf.shape).astype(leaf.dtype), tree)


@settings(FUZZ, max_examples=30)
@given(tree=trees, seed=st.integers(0, 2**32 - 1))
def test_minimize_lbfgsb_keeps_the_tree_and_finds_the_minimiser(tree, seed):
    assume(minimize_case(tree))
    target = _target_like(tree, seed)
    x0_copy = map_leaves(np.copy, tree)
    gtol = 1e-5
    res = optim.minimize(
        squared_distance,
        tree,
        args=(target,),
        method="L-BFGS-B",
        options={"gtol": gtol, "ftol": 0.0, "maxiter": 200},
    )
    assert res.success, res.message
    assert_same_tree(res.x, tree, values=False)
    assert_same_tree(res.jac, tree, values=False)
    _within_gtol(res, target, gtol)
    assert_same_tree(tree, x0_copy)  # x0 itself is not changed


@settings(FUZZ, max_examples=12)
@given(tree=trees, seed=st.integers(0, 2**32 - 1))
def test_minimize_adam_keeps_the_tree_and_finds_the_minimiser(tree, seed):
    assume(minimize_case(tree))
    target = _target_like(tree, seed)
    x0_copy = map_leaves(np.copy, tree)
    gtol = 1e-3
    res = optim.minimize(
        squared_distance,
        tree,
        args=(target,),
        method="adam",
        options={"learning_rate": 0.1, "gtol": gtol, "ftol": 0.0, "maxiter": 2000},
    )
    assert res.success and res.status == 0, res.message  # ftol is off: gtol stopped it
    assert_same_tree(res.x, tree, values=False)
    assert_same_tree(res.jac, tree, values=False)
    _within_gtol(res, target, gtol)
    assert_same_tree(tree, x0_copy)


@settings(FUZZ, max_examples=12)
@given(tree=trees, seed=st.integers(0, 2**32 - 1))
def test_minimize_adam_small_maxiter_keeps_the_tree(tree, seed):
    assume(minimize_case(tree))
    target = _target_like(tree, seed)
    res = optim.minimize(
        squared_distance,
        tree,
        args=(target,),
        method="adam",
        options={"learning_rate": 0.1, "maxiter": 3},
    )
    assert res.status in (0, 1) and res.nit <= 3
    assert_same_tree(res.x, tree, values=False)
    assert_same_tree(res.jac, tree, values=False)
    # res.jac belongs to res.x: the quadratic's gradient there is 2 (x - t).
    for x, g, t in zip(
        leaves_in_documented_order(res.x),
        leaves_in_documented_order(res.jac),
        leaves_in_documented_order(target),
    ):
        np.testing.assert_allclose(g, 2 * (x - t), rtol=0, atol=4 * np.finfo(x.dtype).eps)


@settings(FUZZ, max_examples=30)
@given(tree=trees_without_numbers, method=st.sampled_from(["L-BFGS-B", "adam"]))
def test_minimize_rejects_a_tree_without_numbers(tree, method):
    # optim.minimize documents: "`x0` must hold at least one number" (ValueError).
    assert size_of(tree) == 0
    with pytest.raises(ValueError, match=r"`x0` must hold at least one number"):
        optim.minimize(squared_distance, tree, args=(tree,), method=method)


# ---------------------------------------------------------------------------------------------
# Random hyperparameters


def _optimizer_classes() -> list[type]:
    classes = []
    for name in optim.train.__all__:
        obj = getattr(optim.train, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, optim.Optimizer)
            and obj is not optim.Optimizer
            and obj is not optim.train.GradientAccumulationOptimizer  # wraps an optimizer
            and not issubclass(obj, optim.train.WrapperOptimizer)  # SAM, Lookahead: likewise
            and obj is not optim.MultiOptimizer  # holds optimizers (tests/test_multi_optimizer.py)
        ):
            classes.append(obj)
    return classes


CLASSES = _optimizer_classes()
# The battery's first configuration of each class: valid arguments to start from.
BASE = {}
for _case in CASES:
    BASE.setdefault(_case.cls, _case)

_BASE_OPTIONS = [
    p
    for p in inspect.signature(optim.Optimizer.__init__).parameters.values()
    if p.kind is p.KEYWORD_ONLY
]


def constructor_parameters(cls) -> list[str]:
    """The named constructor arguments, plus the base class's options taken by ``**kwargs``."""
    params = [
        p
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()):
        params += [p for p in _BASE_OPTIONS if p.name not in {q.name for q in params}]
    return [p.name for p in params]


def test_every_named_optimizer_is_fuzzed():
    aliases = {"gd", "sgd"}  # documented aliases of "gradient_descent"
    assert len(set(optim.optimizer_names()) - aliases) == len(CLASSES)
    assert all(cls in BASE for cls in CLASSES)


class Const:
    """A zero-argument callable (a schedule) returning a fixed value, with a readable repr."""

    def __init__(self, value):
        self.value = value

    def __call__(self):
        return self.value

    def __repr__(self):
        return f"Const({self.value!r})"


class MakeVariable:
    """A placeholder for an optim.Variable, made inside the example's graph."""

    def __init__(self, dtype, shape):
        self.dtype, self.shape = dtype, shape

    def make(self):
        floating = np.dtype(self.dtype).kind == "f"
        return optim.Variable(
            np.zeros(self.shape, self.dtype), name="fuzzed", trainable=floating
        )

    def __repr__(self):
        return f"Variable({np.dtype(self.dtype).name}{list(self.shape)})"


def _resolve(value):
    if isinstance(value, MakeVariable):
        return value.make()
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


_numbers = st.one_of(
    st.floats(),  # nan, +-inf, +-0.0, subnormal and huge values included
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**1024, 2**63, 0, 1, -1, 0.0, 1.0, 0.5, 1e-300, 1e308]),
    st.fractions(max_denominator=7),
    st.sampled_from([Fraction(10**400), Fraction(1, 10**400)]),
    st.complex_numbers(max_magnitude=10),
    st.builds(
        lambda t, x: t(x),
        st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.bool_]),
        st.integers(-100, 100),
    ),
    st.sampled_from([np.float16(np.inf), np.float32(np.nan), np.longdouble("1e4000")]),
)
_scalars = st.one_of(
    _numbers,
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.sampled_from(
        ["raise", "skip", "propagate", "autodiff", "2-point", "cs", "learning_rate", "none"]
    ),
    st.sampled_from(["w", ".*", "(", "fuzzed", b"x", Ellipsis, object()]),
)
_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128]),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
)
_odd_arrays = st.sampled_from([np.array("a"), np.array(1.0, dtype=object), np.array([])])
_variables = st.builds(
    MakeVariable,
    st.sampled_from([np.float32, np.float64, np.int64]),
    st.sampled_from([(), (3,)]),
)
# Values the ranges may accept: so that accepted constructors and steps are exercised too.
_plausible = st.one_of(
    st.floats(0.0, 2.0),
    st.sampled_from([0.0, 1.0, 0.5, 1e-8, 0.999, -0.5]),
    st.builds(Const, st.floats(0.0, 2.0)),
    st.booleans(),
)
values = st.one_of(
    _plausible,
    _scalars,
    _arrays,
    _odd_arrays,
    st.builds(Const, _scalars),
    _variables,
    st.lists(st.one_of(_scalars, _variables), max_size=2),
    st.lists(_scalars, max_size=2).map(tuple),
    st.dictionaries(st.text(max_size=2), _scalars, max_size=2),
)

_DOCUMENTED = (TypeError, ValueError)


def _make(cls, overrides: dict):
    case = BASE[cls]
    kwargs = {**case.hyper, **{k: _resolve(v) for k, v in overrides.items()}}
    if case.needs_global_step and "global_step" not in kwargs:
        kwargs["global_step"] = optim.train.get_or_create_global_step()
    return cls(**kwargs)


def _names_an_argument(exc: Exception, names) -> bool:
    return any(name in str(exc) for name in names)


def _is_moderate(value) -> bool:
    """A plain number in [-2, 2] (or a schedule of one): a finite gradient must stay finite."""
    if isinstance(value, Const):
        value = value.value
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= 2


def _construct_and_step(cls, overrides: dict) -> None:
    with optim.Graph().as_default():
        try:
            opt = _make(cls, overrides)
        except _DOCUMENTED as exc:
            event("constructor rejected")
            assert _names_an_argument(exc, overrides), f"{type(exc).__name__}: {exc}"
            return
        event("constructor accepted")
        for dtype in (np.float32, np.float64):
            var = optim.Variable(np.array([0.5, -1.0, 2.0], dtype), name=f"w_{dtype.__name__}")
            before = var.numpy().copy()
            grad = np.array([0.3, -0.2, 1.5], dtype)
            try:
                with np.errstate(all="ignore"):  # huge accepted values may overflow: allowed
                    opt.apply_gradients([(grad, var)])
            except _DOCUMENTED as exc:
                # A schedule returning a bad value is rejected at the step, changing nothing.
                assert _names_an_argument(exc, overrides), f"{type(exc).__name__}: {exc}"
                np.testing.assert_array_equal(var.numpy(), before)
                assert opt.iterations == 0
                assert all(not slots for slots in opt.state_dict()["slots"].values())
                return
            assert var.dtype == dtype and var.shape == (3,)
            if all(_is_moderate(v) for v in overrides.values()):
                assert np.all(np.isfinite(var.numpy())), (overrides, var.numpy())
            np.testing.assert_array_equal(grad, np.array([0.3, -0.2, 1.5], dtype))


_ids = [cls.__name__.removesuffix("Optimizer") for cls in CLASSES]


@pytest.mark.parametrize("cls", CLASSES, ids=_ids)
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_one_random_constructor_argument(cls, data):
    name = data.draw(st.sampled_from(constructor_parameters(cls)), label="argument")
    value = data.draw(values, label="value")
    _construct_and_step(cls, {name: value})


@pytest.mark.parametrize("cls", CLASSES, ids=_ids)
@settings(FUZZ, max_examples=20)
@given(data=st.data())
def test_several_random_constructor_arguments(cls, data):
    names = data.draw(
        st.lists(st.sampled_from(constructor_parameters(cls)), min_size=2, max_size=4, unique=True),
        label="arguments",
    )
    overrides = {name: data.draw(values, label=name) for name in names}
    _construct_and_step(cls, overrides)


def _hyper_names(opt, cls) -> list[str]:
    names = []
    for name in constructor_parameters(cls):
        try:
            opt.get_hyper(name)
        except ValueError:
            continue
        names.append(name)
    return names


class Rig:
    """An optimizer and two variables (float32 and float64) in a graph of their own."""

    def __init__(self, cls):
        self.graph = optim.Graph()
        with self.graph.as_default():
            self.opt = _make(cls, {})
            a = np.linspace(-1.0, 1.0, 6).reshape(2, 3).astype(np.float32)
            self.vars = [
                optim.Variable(a, name="a"),
                optim.Variable(np.linspace(0.5, 2.0, 4), name="b"),
            ]
            self.global_step = optim.train.get_or_create_global_step()

    def step(self, grads) -> None:
        with self.graph.as_default():
            self.opt.apply_gradients(zip(grads, self.vars), global_step=self.global_step)

    def snapshot(self):
        return (
            [v.numpy().copy() for v in self.vars],
            self.opt.state_dict(),
            int(self.global_step.value),
        )


def _same_hyper(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a is b


def assert_same_snapshot(got, want) -> None:
    (gv, gs, gstep), (wv, ws, wstep) = got, want
    for a, b in zip(gv, wv):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert gstep == wstep
    assert {k: gs[k] for k in gs if k not in ("slots", "non_slot")} == {
        k: ws[k] for k in ws if k not in ("slots", "non_slot")
    }
    for part in ("slots", "non_slot"):
        assert gs[part].keys() == ws[part].keys()
    for slot in ws["slots"]:
        assert gs["slots"][slot].keys() == ws["slots"][slot].keys()
        for var in ws["slots"][slot]:
            a, b = gs["slots"][slot][var], ws["slots"][slot][var]
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    for name in ws["non_slot"]:
        a, b = gs["non_slot"][name], ws["non_slot"][name]
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", CLASSES, ids=_ids)
@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_a_rejected_set_hyper_changes_nothing(cls, data):
    rig, twin = Rig(cls), Rig(cls)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    grads = [
        [rng.normal(size=v.shape).astype(v.dtype) for v in rig.vars]
        for _ in range(data.draw(st.integers(1, 3), label="steps") + 1)
    ]
    for g in grads[:-1]:
        rig.step(g)
        twin.step(g)
    hypers = _hyper_names(rig.opt, cls)
    assert "learning_rate" in hypers
    name = data.draw(st.sampled_from(hypers) | st.text(max_size=6), label="name")
    value = data.draw(values, label="value")
    via_property = name == "learning_rate" and data.draw(st.booleans(), label="via_property")
    configured = {n: rig.opt.get_hyper(n) for n in hypers}
    before = rig.snapshot()
    with rig.graph.as_default():
        resolved = _resolve(value)
    try:
        if via_property:
            rig.opt.learning_rate = resolved
        else:
            rig.opt.set_hyper(name, resolved)
    except _DOCUMENTED as exc:
        event("set_hyper rejected")
        assert f"`{name}`" in str(exc) or repr(name) in str(exc), f"{type(exc).__name__}: {exc}"
        assert_same_snapshot(rig.snapshot(), before)
        assert all(_same_hyper(rig.opt.get_hyper(n), configured[n]) for n in hypers)
        # The next step is the one the untouched twin takes, bit for bit.
        rig.step(grads[-1])
        twin.step(grads[-1])
        assert_same_snapshot(rig.snapshot(), twin.snapshot())
        return
    event("set_hyper accepted")
    assert name in hypers
    stored = rig.opt.get_hyper(name)
    assert stored is resolved if callable(resolved) else stored == float(resolved)
    try:
        with np.errstate(all="ignore"):
            rig.step(grads[-1])
    except _DOCUMENTED as exc:  # a schedule whose value the range rejects
        assert callable(resolved) and f"`{name}`" in str(exc), f"{type(exc).__name__}: {exc}"
        assert_same_snapshot(rig.snapshot(), before)


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
