"""Weight decay in the base class: one ``weight_decay=`` and one ``exclude_from_weight_decay``.

Checked against Keras 3 side by side (SGD, Adam, Adagrad, RMSprop), against a numpy decay
written here (``w - w * wd * lr`` before an undecayed optimizer's step, for every optimizer whose
decay is the base's), against the same optimizer with ``weight_decay=0`` for the variables
excluded from a kernel-owned decay, and on the flat engine against the per-variable path.
"""

from __future__ import annotations

import copy
import os
import pickle

import numpy as np
import pytest

import optim
from optim import Optimizer

SHAPES = [(4, 3), (5,)]
STEPS = 6
WD = 0.05

# Constructor arguments of every optimizer whose decay is the base's (decay_in_kernel False).
BASE_DECAY = {
    "GradientDescentOptimizer": dict(learning_rate=0.1),
    "MomentumOptimizer": dict(learning_rate=0.1, momentum=0.9, use_nesterov=True),
    "AdagradOptimizer": dict(learning_rate=0.1),
    "AdadeltaOptimizer": dict(learning_rate=1.0),
    "RMSPropOptimizer": dict(learning_rate=0.01, momentum=0.5, centered=True),
    "AdamOptimizer": dict(learning_rate=0.01),
    "FtrlOptimizer": dict(learning_rate=0.1, l1_regularization_strength=0.001),
    "ProximalGradientDescentOptimizer": dict(learning_rate=0.1, l1_regularization_strength=0.01),
    "ProximalAdagradOptimizer": dict(learning_rate=0.1, l2_regularization_strength=0.02),
    "AdamWOptimizer": dict(learning_rate=0.01),
    "AdamaxOptimizer": dict(learning_rate=0.01),
    "NadamOptimizer": dict(learning_rate=0.01),
    "LionOptimizer": dict(learning_rate=0.01),
    "AdafactorOptimizer": dict(learning_rate=0.01),
    "RAdamOptimizer": dict(learning_rate=0.01),
}
KERNEL_DECAY = {
    "LAMBOptimizer": dict(learning_rate=0.01),
    "MuonOptimizer": dict(learning_rate=0.02, adam_weight_decay=0.03),
    "ScheduleFreeSGDOptimizer": dict(learning_rate=0.1, warmup_steps=2),
    "ScheduleFreeAdamWOptimizer": dict(learning_rate=0.01),
    "ProdigyOptimizer": dict(learning_rate=1.0),
}


def _optimizer_classes():
    for name in optim.train.__all__:
        cls = getattr(optim.train, name)
        if isinstance(cls, type) and issubclass(cls, Optimizer) and cls.implements_dense_updates():
            yield name, cls


def _kwargs(table, name):
    value = table[name]
    return value() if callable(value) else dict(value)


def _data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    inits = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return inits, grads


def _variables(inits):
    return [optim.Variable(x.copy(), name=n) for x, n in zip(inits, ("dense/kernel", "dense/bias"))]


# Optimizers whose update overwrites the variable from their accumulators: a decay before it
# would do nothing, so they refuse weight_decay.
REFUSING = {"AdagradDAOptimizer"}


def test_the_tables_cover_every_optimizer():
    """A new optimizer must join one of the tables (and so these tests)."""
    for name, cls in _optimizer_classes():
        table = KERNEL_DECAY if cls.decay_in_kernel else BASE_DECAY
        assert name in table or name in REFUSING, f"{name} is in no table"


def test_adagrad_da_refuses_a_decay_it_would_overwrite(graph):
    step = optim.train.get_or_create_global_step()
    with pytest.raises(ValueError, match=r"`weight_decay` must be None or 0 for AdagradDA"):
        optim.train.AdagradDAOptimizer(0.1, step, weight_decay=0.1)
    optim.train.AdagradDAOptimizer(0.1, step, weight_decay=0.0)


# ---------------------------------------------------------------------------------------------
# The base's decay: w - w * wd * lr before the step, for every optimizer that does not own it


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BASE_DECAY))
def test_base_decay_is_decay_then_the_undecayed_step(graph, name, dtype):
    """Bit for bit: optimizer(weight_decay=wd) with the bias excluded by name equals the same
    optimizer without decay, after a numpy decay of the kernel alone before each step."""
    cls = getattr(optim.train, name)
    inits, grads = _data(dtype)
    with optim.Graph().as_default():
        ours = _variables(inits)
        opt = cls(**_kwargs(BASE_DECAY, name), weight_decay=WD)
        opt.exclude_from_weight_decay(var_names=["bias"])
        step = optim.train.get_or_create_global_step()
        for g in grads:
            opt.apply_gradients(zip(g, ours), global_step=step)
        got = [v.numpy() for v in ours]
    with optim.Graph().as_default():
        theirs = _variables(inits)
        plain = cls(**_kwargs(BASE_DECAY, name), weight_decay=None)
        step = optim.train.get_or_create_global_step()
        lr = dtype(plain.get_hyper("learning_rate"))
        for g in grads:
            w = theirs[0].numpy()
            theirs[0].assign(w - w * dtype(WD) * lr)  # Keras 3's order of operations
            plain.apply_gradients(zip(g, theirs), global_step=step)
        expected = [v.numpy() for v in theirs]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b, strict=True)
    assert not np.array_equal(got[0], _undecayed_run(cls, name, inits, grads)[0])


def _undecayed_run(cls, name, inits, grads):
    with optim.Graph().as_default():
        variables = _variables(inits)
        opt = cls(**_kwargs(BASE_DECAY, name), weight_decay=0.0)
        step = optim.train.get_or_create_global_step()
        for g in grads:
            opt.apply_gradients(zip(g, variables), global_step=step)
        return [v.numpy() for v in variables]


def test_zero_gradient_isolation(graph):
    """With g = 0 an AdamW step moves a variable only by its decay: the excluded one stays
    bit-identical, the other is w - w * wd * lr (Keras' rounding) exactly."""
    w = optim.Variable(np.linspace(-1, 1, 6, dtype=np.float32), name="w")
    b = optim.Variable(np.linspace(1, 2, 3, dtype=np.float32), name="b")
    w0, b0 = w.numpy(), b.numpy()
    opt = optim.train.AdamWOptimizer(0.1, 0.01, exclude_from_weight_decay=[b])
    opt.apply_gradients([(np.zeros(6, np.float32), w), (np.zeros(3, np.float32), b)])
    np.testing.assert_array_equal(b.numpy(), b0)
    np.testing.assert_array_equal(w.numpy(), w0 - w0 * np.float32(0.1) * np.float32(0.01))


def test_decay_reads_this_steps_learning_rate_and_weight_decay_schedules(graph):
    w = optim.Variable(np.ones(3), name="w")
    opt = optim.train.GradientDescentOptimizer(
        lambda step: 0.1 / (step + 1), weight_decay=lambda step: 0.01 * (step + 1)
    )
    expected = w.numpy()
    for step in range(4):
        g = np.full(3, 0.5)
        lr, wd = 0.1 / (step + 1), 0.01 * (step + 1)
        expected = expected - expected * wd * lr
        expected = expected - lr * g
        opt.apply_gradients([(g, w)])
    np.testing.assert_array_equal(w.numpy(), expected)


def test_none_and_zero_are_off_and_the_default_is_kept(graph):
    assert optim.train.AdamOptimizer().weight_decay is None
    assert optim.train.AdamWOptimizer().weight_decay == 0.004
    assert optim.train.MuonOptimizer().weight_decay == 0.1
    assert optim.train.LAMBOptimizer().weight_decay == 0.0
    w = optim.Variable(np.ones(2), name="w")
    for opt in (optim.train.AdamOptimizer(0.1, weight_decay=0.0),
                optim.train.AdamWOptimizer(None, 0.1)):  # fmt: skip
        before = w.numpy()
        opt.apply_gradients([(np.zeros(2), w)])
        np.testing.assert_array_equal(w.numpy(), before)


def test_a_skipped_step_decays_nothing(graph):
    w = optim.Variable(np.ones(2), name="w")
    opt = optim.train.GradientDescentOptimizer(0.1, weight_decay=0.5, nonfinite="skip")
    opt.apply_gradients([(np.array([np.nan, 0.0]), w)])
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])
    assert opt.skipped_steps == 1


def test_sparse_gradients_decay_the_whole_variable(graph):
    w = optim.Variable(np.ones((3, 2)), name="w")
    opt = optim.train.MomentumOptimizer(0.1, 0.9, weight_decay=0.5)
    opt.apply_gradients([(optim.IndexedSlices(np.ones((1, 2)), np.array([1]), (3, 2)), w)])
    decayed = 1.0 - 1.0 * 0.5 * 0.1
    np.testing.assert_array_equal(w.numpy()[[0, 2]], decayed)
    np.testing.assert_array_equal(w.numpy()[1], decayed - 0.1 * 1.0)


# ---------------------------------------------------------------------------------------------
# Side by side with Keras 3

KERAS_CASES = {
    "sgd": (lambda wd: optim.train.GradientDescentOptimizer(0.01, weight_decay=wd),
            lambda k, wd: k.optimizers.SGD(0.01, weight_decay=wd), 0.0),
    "sgd_schedule": (
        lambda wd: optim.train.GradientDescentOptimizer(lambda t: 0.05 * 0.9**t, weight_decay=wd),
        lambda k, wd: k.optimizers.SGD(
            k.optimizers.schedules.ExponentialDecay(0.05, 1, 0.9), weight_decay=wd),
        1e-6,  # Keras computes 0.9**t in float32
    ),
    "adam": (lambda wd: optim.train.AdamOptimizer(0.01, epsilon=1e-7, weight_decay=wd),
             lambda k, wd: k.optimizers.Adam(0.01, weight_decay=wd),
             1e-5),  # the beta powers (tests/test_frameworks.py)
    "adagrad": (lambda wd: optim.train.AdagradOptimizer(0.01, weight_decay=wd),
                lambda k, wd: k.optimizers.Adagrad(0.01, epsilon=0.0, weight_decay=wd), 1e-6),
}  # fmt: skip


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras")


def _keras_run(keras, make, inits, grads, wd, exclude=None):
    variables = [keras.Variable(x, name=n) for x, n in zip(inits, ("kernel", "bias"))]
    opt = make(keras, wd)
    if exclude:
        opt.exclude_from_weight_decay(var_names=exclude)
    for g in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(x) for x in g], variables))
    return [v.numpy() for v in variables]


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_matches_keras3_step_by_step(graph, keras, case):
    ours_make, theirs_make, tol = KERAS_CASES[case]
    inits, grads = _data(np.float32, seed=3)
    grads = grads * 5  # 30 steps
    variables = [optim.Variable(x.copy(), name=n) for x, n in zip(inits, ("kernel", "bias"))]
    opt = ours_make(0.2)
    opt.exclude_from_weight_decay(var_names=["bias"])
    k_vars = [keras.Variable(x, name=n) for x, n in zip(inits, ("kernel", "bias"))]
    k_opt = theirs_make(keras, 0.2)
    k_opt.exclude_from_weight_decay(var_names=["bias"])
    for g in grads:
        opt.apply_gradients(zip(g, variables))
        k_opt.apply_gradients(zip([keras.ops.convert_to_tensor(x) for x in g], k_vars))
        for ours, theirs in zip(variables, k_vars):  # every step
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol)
    # The decay is visible: Keras without it is far from both.
    undecayed = _keras_run(keras, theirs_make, inits, grads, None)
    assert np.max(np.abs(undecayed[0] - variables[0].numpy())) > 1e-3
    np.testing.assert_allclose(undecayed[1], variables[1].numpy(), rtol=tol, atol=tol)


def test_rmsprop_decay_matches_keras3_bit_for_bit_on_zero_gradients(graph, keras):
    """Keras 3's RMSprop starts its accumulator at 0 and optim's at 1 (TF1), so their steps
    differ; with zero gradients both steps are zero and only the decay moves, bit for bit."""
    inits, _ = _data(np.float32, seed=4)
    zeros = [[np.zeros_like(x) for x in inits]] * 5
    variables = [optim.Variable(x.copy(), name=n) for x, n in zip(inits, ("kernel", "bias"))]
    opt = optim.train.RMSPropOptimizer(0.01, decay=0.9, epsilon=1e-7, weight_decay=0.3)
    opt.exclude_from_weight_decay(var_list=[variables[1]])
    for g in zeros:
        opt.apply_gradients(zip(g, variables))
    theirs = _keras_run(keras, lambda k, wd: k.optimizers.RMSprop(0.01, rho=0.9, weight_decay=wd),
                        inits, zeros, 0.3, exclude=["bias"])  # fmt: skip
    for a, b in zip(variables, theirs):
        np.testing.assert_array_equal(a.numpy(), b)
    assert not np.array_equal(variables[0].numpy(), inits[0])


def test_keras3_matches_names_the_same_way(keras):
    """Keras 3 searches each var_names entry in the variable's (short) name as a regular
    expression: "ias" excludes "bias", "^b" and "b.a" (a regex, not a substring) too, "^ias"
    and "b.s" do not. Here the same rule, on the whole name."""
    results = {}
    for pattern in ("ias", "^b", "^ias", "b.a", "b.s"):
        k_vars = [keras.Variable(np.ones(2, np.float32), name=n) for n in ("kernel", "bias")]
        k_opt = keras.optimizers.SGD(0.1, weight_decay=0.5)
        k_opt.exclude_from_weight_decay(var_names=[pattern])
        k_opt.apply_gradients(zip([keras.ops.zeros(2), keras.ops.zeros(2)], k_vars))
        keras_excluded = bool(k_vars[1].numpy()[0] == 1.0)
        with optim.Graph().as_default():
            ours = [optim.Variable(np.ones(2, np.float32), name=n) for n in ("kernel", "bias")]
            opt = optim.train.GradientDescentOptimizer(0.1, weight_decay=0.5)
            opt.exclude_from_weight_decay(var_names=[pattern])
            opt.apply_gradients([(np.zeros(2, np.float32), v) for v in ours])
            results[pattern] = (keras_excluded, bool(ours[1].numpy()[0] == 1.0))
        assert k_vars[0].numpy()[0] != 1.0 and ours[0].numpy()[0] != 1.0
    assert results == {"ias": (True, True), "^b": (True, True), "^ias": (False, False),
                       "b.a": (True, True), "b.s": (False, False)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The exclusion method: by Variable, by name, replacing, documented edge cases


def test_exclusion_by_variable_and_by_name_and_replacement(graph):
    a = optim.Variable(np.ones(2), name="layer/kernel")
    b = optim.Variable(np.ones(2), name="layer/bias")
    c = optim.Variable(np.ones(2), name="LayerNorm/gamma")

    def decayed(configure):
        opt = optim.train.GradientDescentOptimizer(0.1, weight_decay=0.5)
        configure(opt)
        for v in (a, b, c):
            v.assign(np.ones(2))
        opt.apply_gradients([(np.zeros(2), v) for v in (a, b, c)])
        return [v.name for v in (a, b, c) if v.numpy()[0] != 1.0]

    assert decayed(lambda o: None) == ["layer/kernel", "layer/bias", "LayerNorm/gamma"]
    assert decayed(lambda o: o.exclude_from_weight_decay(var_list=[a])) == [
        "layer/bias", "LayerNorm/gamma"]  # fmt: skip
    assert decayed(lambda o: o.exclude_from_weight_decay(var_list=a)) == [
        "layer/bias", "LayerNorm/gamma"]  # fmt: skip
    assert decayed(lambda o: o.exclude_from_weight_decay(var_names="bias")) == [
        "layer/kernel", "LayerNorm/gamma"]  # fmt: skip
    # Case-sensitive (the transformers#4360 pitfall): "layer_norm" does not match "LayerNorm".
    assert decayed(lambda o: o.exclude_from_weight_decay(var_names=["layer_norm"])) == [
        "layer/kernel", "layer/bias", "LayerNorm/gamma"]  # fmt: skip
    assert decayed(lambda o: o.exclude_from_weight_decay([a], ["Norm", "bias"])) == []

    def replaced(o):
        o.exclude_from_weight_decay(var_list=[a], var_names=["bias"])
        o.exclude_from_weight_decay(var_names=["gamma"])  # replaces, as Keras 3

    assert decayed(replaced) == ["layer/kernel", "layer/bias"]

    def cleared(o):
        o.exclude_from_weight_decay(var_list=[a], var_names=["bias"])
        o.exclude_from_weight_decay()

    assert decayed(cleared) == ["layer/kernel", "layer/bias", "LayerNorm/gamma"]


def test_adamw_constructor_shortcut_is_the_method(graph):
    inits, grads = _data(np.float32, seed=5)
    runs = []
    for configure in ("constructor", "method"):
        with optim.Graph().as_default():
            variables = _variables(inits)
            if configure == "constructor":
                opt = optim.train.AdamWOptimizer(
                    0.1, 0.01, exclude_from_weight_decay=["bias", variables[0]]
                )
            else:
                opt = optim.train.AdamWOptimizer(0.1, 0.01)
                opt.exclude_from_weight_decay(var_list=[variables[0]], var_names=["bias"])
            for g in grads:
                opt.apply_gradients(zip(g, variables))
            runs.append([v.numpy() for v in variables])
    with optim.Graph().as_default():  # nothing decays: plain Adam with AdamW's epsilon
        variables = _variables(inits)
        opt = optim.train.AdamOptimizer(0.01, epsilon=1e-7)
        for g in grads:
            opt.apply_gradients(zip(g, variables))
        runs.append([v.numpy() for v in variables])
    for run in runs[1:]:
        for x, y in zip(runs[0], run):
            np.testing.assert_array_equal(x, y)


def test_decay_var_list_restricts_within_the_same_mechanism(graph):
    w = optim.Variable(np.ones(2), name="w")
    b = optim.Variable(np.ones(2), name="b")
    opt = optim.train.AdamWOptimizer(0.5, 0.1, exclude_from_weight_decay=["w"])
    opt.apply_gradients([(np.zeros(2), w), (np.zeros(2), b)], decay_var_list=[w])
    np.testing.assert_array_equal(w.numpy(), 1.0)  # listed, but excluded
    np.testing.assert_array_equal(b.numpy(), 1.0)  # not listed
    opt.apply_gradients([(np.zeros(2), w), (np.zeros(2), b)])
    np.testing.assert_array_equal(b.numpy(), 1.0 - 0.5 * 0.1)


def test_exclusions_survive_pickle_by_name_not_state_dict(graph):
    """Pickled together with its variables, or alone and unpickled where variables of the
    same names live (as slots are), the optimizer still excludes ``b``."""
    w = optim.Variable(np.ones(2), name="w")
    b = optim.Variable(np.ones(2), name="b")
    opt = optim.train.GradientDescentOptimizer(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[b])
    together, alone = pickle.dumps((opt, w, b)), pickle.dumps(opt)
    with optim.Graph().as_default():
        opt2, w2, b2 = pickle.loads(together)
        assert (w2.name, b2.name) == ("w", "b")
        opt2.apply_gradients([(np.zeros(2), w2), (np.zeros(2), b2)])
        np.testing.assert_array_equal(b2.numpy(), 1.0)
        np.testing.assert_array_equal(w2.numpy(), 0.95)
    with optim.Graph().as_default():
        w3 = optim.Variable(np.ones(2), name="w")
        b3 = optim.Variable(np.ones(2), name="b")
        opt3 = pickle.loads(alone)
        opt3.apply_gradients([(np.zeros(2), w3), (np.zeros(2), b3)])
        np.testing.assert_array_equal(b3.numpy(), 1.0)
        np.testing.assert_array_equal(w3.numpy(), 0.95)
    opt4 = copy.deepcopy(opt)  # the same graph: its variables keep their names
    opt4.apply_gradients([(np.zeros(2), w), (np.zeros(2), b)])
    np.testing.assert_array_equal(b.numpy(), 1.0)
    state = opt.state_dict()
    assert "b" not in repr(state) and set(state) == {
        "kind", "version", "iterations", "skipped_steps", "consecutive_nonfinite", "slots",
        "non_slot"}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Bad input: a clear error, nothing changed


def _snapshot(opt, variables):
    return [v.numpy() for v in variables], copy.deepcopy(opt.state_dict())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(weight_decay=-0.1), ValueError, r"`weight_decay` must be >= 0, got -0.1"),
        (dict(weight_decay=float("nan")), ValueError, r"`weight_decay` must be finite"),
        (dict(weight_decay="0.1"), TypeError, r"`weight_decay` must be a float or a zero-arg"),
    ],
)
@pytest.mark.parametrize("name", ["GradientDescentOptimizer", "LAMBOptimizer", "MuonOptimizer"])
def test_bad_weight_decay_raises(graph, name, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(optim.train, name)(learning_rate=0.1, **kwargs)


def test_bad_scheduled_weight_decay_raises_and_changes_nothing(graph):
    w = optim.Variable(np.ones(2), name="w")
    opt = optim.train.MomentumOptimizer(0.1, 0.9, weight_decay=lambda step: 0.1 - 0.2 * step)
    opt.apply_gradients([(np.ones(2), w)])
    before = _snapshot(opt, [w])
    with pytest.raises(ValueError, match=r"`weight_decay` must be >= 0, got -0.1"):
        opt.apply_gradients([(np.ones(2), w)])
    after = _snapshot(opt, [w])
    np.testing.assert_array_equal(before[0][0], after[0][0])
    np.testing.assert_array_equal(before[1]["slots"]["momentum"]["w"],
                                  after[1]["slots"]["momentum"]["w"])  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(var_list=[np.ones(2)]), TypeError, r"`var_list\[0\]` must be an optim.Variable"),
        (dict(var_list="w"), TypeError, r"`var_list` must be a list of optim.Variable"),
        (dict(var_names=[3]), TypeError, r"`var_names\[0\]` must be a string"),
        (dict(var_names=3), TypeError, r"`var_names` must be a list of strings"),
        (dict(var_names=["ok", "("]), ValueError, r"`var_names\[1\]` must be a valid regular"),
    ],
)
def test_bad_exclusions_raise_and_change_nothing(graph, kwargs, error, message):
    w = optim.Variable(np.ones(2), name="w")
    b = optim.Variable(np.ones(2), name="b")
    opt = optim.train.GradientDescentOptimizer(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[b])
    with pytest.raises(error, match=message):
        opt.exclude_from_weight_decay(**kwargs)
    opt.apply_gradients([(np.zeros(2), w), (np.zeros(2), b)])  # the old exclusion holds
    np.testing.assert_array_equal(b.numpy(), 1.0)
    np.testing.assert_array_equal(w.numpy(), 0.95)


def test_exclusion_after_the_first_apply_raises_and_changes_nothing(graph):
    w = optim.Variable(np.ones(2), name="w")
    opt = optim.train.AdamWOptimizer(0.5, 0.1)
    opt.apply_gradients([(np.zeros(2), w)])
    with pytest.raises(ValueError, match=r"must be called before the first apply.*1 steps"):
        opt.exclude_from_weight_decay(var_list=[w])
    opt.apply_gradients([(np.zeros(2), w)])
    np.testing.assert_allclose(w.numpy(), 0.95**2, rtol=1e-15)  # still decays


def test_wrappers_refuse_weight_decay(graph):
    with pytest.raises(TypeError, match=r"`weight_decay` must be set on the wrapped optimizer"):
        optim.train.LookaheadOptimizer(optim.train.AdamOptimizer(), weight_decay=0.1)


# ---------------------------------------------------------------------------------------------
# Kernel-owned decay: exclusion runs the kernel with weight_decay 0


def _run_kernel_owned(name, inits, grads, **options):
    exclude = options.pop("exclude", None)
    with optim.Graph().as_default():
        variables = _variables(inits)
        opt = getattr(optim.train, name)(**{**_kwargs(KERNEL_DECAY, name), **options})
        if exclude is not None:
            opt.exclude_from_weight_decay(var_names=exclude)
        for g in grads:
            opt.apply_gradients(zip(g, variables))
        return [v.numpy() for v in variables]


@pytest.mark.parametrize("name", sorted(set(KERNEL_DECAY) - {"ProdigyOptimizer"}))
def test_kernel_owned_exclusion_is_the_kernel_without_decay(graph, name):
    """These kernels update each variable on its own: the excluded bias equals a run with no
    decay at all, the kernel equals a run with decay and no exclusion, bit for bit."""
    inits, grads = _data(np.float64, seed=6)
    wd = {"weight_decay": 0.1}
    off = {"weight_decay": 0.0, "adam_weight_decay": 0.0} if name == "MuonOptimizer" else {
        "weight_decay": 0.0}  # fmt: skip
    got = _run_kernel_owned(name, inits, grads, exclude=["bias"], **wd)
    decayed = _run_kernel_owned(name, inits, grads, **wd)
    undecayed = _run_kernel_owned(name, inits, grads, **off)
    np.testing.assert_array_equal(got[0], decayed[0])
    np.testing.assert_array_equal(got[1], undecayed[1])
    assert not np.array_equal(decayed[1], undecayed[1])


def test_prodigy_exclusion_is_the_kernel_without_decay(graph):
    """Prodigy's d couples the variables: excluding all equals weight_decay=0, none equals the
    decayed run, one differs from both (decoupled and coupled)."""
    inits, grads = _data(np.float64, seed=7)
    for decouple in (True, False):
        opt = {"weight_decay": 0.1, "decouple": decouple}
        both = _run_kernel_owned("ProdigyOptimizer", inits, grads, exclude=["dense"], **opt)
        none = _run_kernel_owned("ProdigyOptimizer", inits, grads, exclude=[], **opt)
        bias = _run_kernel_owned("ProdigyOptimizer", inits, grads, exclude=["bias"], **opt)
        undecayed = _run_kernel_owned("ProdigyOptimizer", inits, grads, weight_decay=0.0,
                                      decouple=decouple)  # fmt: skip
        decayed = _run_kernel_owned("ProdigyOptimizer", inits, grads, **opt)
        for x, y in zip(both, undecayed):
            np.testing.assert_array_equal(x, y)
        for x, y in zip(none, decayed):
            np.testing.assert_array_equal(x, y)
        assert not np.array_equal(bias[1], decayed[1]) and not np.array_equal(bias[0],
                                                                              undecayed[0])


# ---------------------------------------------------------------------------------------------
# The flat engine: the same bits as the per-variable path, decay and exclusions on

FLAT_KEYS = ["GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer", "AdamWOptimizer",
             "LionOptimizer", "RAdamOptimizer", "RMSPropOptimizer", "LAMBOptimizer"]  # fmt: skip
ENGINES = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not __import__("optim.engine.kernels", fromlist=["available"]).available(),
    reason="numba is not installed"))]  # fmt: skip


def _flat_run(name, engine, exclude, monkeypatch, dtype):
    monkeypatch.setenv("OPTIM_ENGINE", engine)
    table = KERNEL_DECAY if name in KERNEL_DECAY else BASE_DECAY
    inits, grads = _data(dtype, seed=8)
    with optim.Graph().as_default():
        variables = _variables(inits) + [optim.Variable(np.ones(7, dtype), name="extra/w")]
        opt = getattr(optim.train, name)(**{**_kwargs(table, name), "weight_decay": 0.05})
        if exclude:
            opt.exclude_from_weight_decay(var_names=exclude)
        for g in grads:
            opt.apply_gradients(zip(g + [np.full(7, 0.1, dtype)], variables))
        rehomed = np.asarray(variables[0].array).base is not None  # the flat layout's view
        return [v.numpy() for v in variables], rehomed


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("exclude", [None, ["bias"]], ids=["all_decay", "bias_excluded"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FLAT_KEYS)
def test_flat_engine_gives_the_per_variable_bits(name, dtype, exclude, engine, monkeypatch):
    expected, used_off = _flat_run(name, "off", exclude, monkeypatch, dtype)
    got, used = _flat_run(name, engine, exclude, monkeypatch, dtype)
    assert not used_off
    # The base's decay keeps the fused path with exclusions; a kernel-owned decay leaves it.
    assert used == (not (exclude and getattr(optim.train, name).decay_in_kernel))
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b, strict=True)


def test_an_adamw_pickle_from_before_the_base_mechanism_keeps_its_exclusions(graph):
    """AdamW pickles made when it held its own mask (``_excluded_vars`` / ``_excluded_pattern``
    / ``_decay_vars``) load into the base's mask."""
    import re

    w = optim.Variable(np.ones(2), name="w")
    b = optim.Variable(np.ones(2), name="b")
    g = optim.Variable(np.ones(2), name="gamma")
    state = optim.train.AdamWOptimizer(0.5, 0.1).__getstate__()
    for name in ("_decay_excluded", "_decay_excluded_names", "_decay_pattern", "_decay_only",
                 "_undecayed_cache"):  # fmt: skip
        del state[name]
    state.update(_excluded_vars={b}, _excluded_pattern=re.compile("(?:gam)"), _decay_vars=None)
    old = optim.train.AdamWOptimizer.__new__(optim.train.AdamWOptimizer)
    old.__setstate__(state)
    old.apply_gradients([(np.zeros(2), v) for v in (w, b, g)])
    assert [v.name for v in (w, b, g) if v.numpy()[0] != 1.0] == ["w"]


@pytest.mark.parametrize("engine", ENGINES)
def test_flat_decay_over_several_blocks_gives_the_per_variable_bits(engine, monkeypatch):
    """A buffer longer than the flat decay's block (65536 elements) is decayed block by block:
    the same bits as variable by variable."""
    rng = np.random.default_rng(12)
    inits = [rng.normal(size=(300, 250)).astype(np.float32), rng.normal(size=(77,)).astype(
        np.float32)]  # fmt: skip
    grads = [[rng.normal(size=x.shape).astype(np.float32) for x in inits] for _ in range(3)]
    runs = []
    for mode in ("off", engine):
        monkeypatch.setenv("OPTIM_ENGINE", mode)
        with optim.Graph().as_default():
            variables = [optim.Variable(x.copy(), name=f"v{i}") for i, x in enumerate(inits)]
            opt = optim.train.MomentumOptimizer(0.01, 0.9, weight_decay=0.1)
            for g in grads:
                opt.apply_gradients(zip(g, variables))
            runs.append([v.numpy() for v in variables])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b, strict=True)
