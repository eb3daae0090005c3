"""optim.MultiOptimizer: each variable updated by the one optimizer it is assigned to.

The oracle is the optimizers run separately on their own variables with the same gradients:
the MultiOptimizer must give the same bits, slots included, and survive a save/restore by name.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import optim

STEPS = 8


def _data(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    inits = {"dense/kernel": rng.normal(size=(4, 3)).astype(dtype),
             "dense/bias": rng.normal(size=(3,)).astype(dtype),
             "out/kernel": rng.normal(size=(3, 2)).astype(dtype)}  # fmt: skip
    grads = [{n: rng.normal(size=x.shape).astype(dtype) for n, x in inits.items()}
             for _ in range(STEPS)]  # fmt: skip
    return inits, grads


def _variables(inits):
    return {n: optim.Variable(x.copy(), name=n) for n, x in inits.items()}


def _opts():
    return (optim.train.MomentumOptimizer(0.1, 0.9, name="SGD"),
            optim.train.AdamOptimizer(0.01, name="Adam"),
            optim.train.RMSPropOptimizer(0.01, name="RMS"))  # fmt: skip


def _multi(v, opts=None):
    sgd, adam, rms = opts or _opts()
    return optim.MultiOptimizer([(sgd, [v["dense/kernel"]]), (adam, "bias"), (rms, ["^out/"])])


def _separate(inits, grads):
    """The oracle: each optimizer alone on its variables."""
    with optim.Graph().as_default():
        v = _variables(inits)
        sgd, adam, rms = _opts()
        for g in grads:
            sgd.apply_gradients([(g["dense/kernel"], v["dense/kernel"])])
            adam.apply_gradients([(g["dense/bias"], v["dense/bias"])])
            rms.apply_gradients([(g["out/kernel"], v["out/kernel"])])
        return _state(v, (sgd, adam, rms))


def _state(v, opts):
    values = {n: var.numpy() for n, var in v.items()}
    slots = {(o.get_name(), n, s): o.get_slot(var, s).copy()
             for o in opts for n, var in v.items() for s in o.get_slot_names()
             if o.get_slot(var, s) is not None}  # fmt: skip
    return values, slots


def _same(a, b):
    assert a[0].keys() == b[0].keys() and a[1].keys() == b[1].keys()
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k], strict=True)
    for k in a[1]:
        np.testing.assert_array_equal(a[1][k], b[1][k], strict=True)


def test_equals_the_optimizers_run_separately_bit_for_bit(graph):
    inits, grads = _data()
    v = _variables(inits)
    opts = _opts()
    multi = _multi(v, opts)
    step = optim.train.get_or_create_global_step()
    for g in grads:
        multi.apply_gradients([(g[n], var) for n, var in v.items()], global_step=step)
    _same(_state(v, opts), _separate(inits, grads))
    assert int(step.numpy()) == STEPS and multi.iterations == STEPS
    assert [o.iterations for o in opts] == [STEPS] * 3
    assert multi.optimizer_for(v["dense/bias"]) is opts[1]
    assert multi.get_slot(v["dense/bias"], "m") is opts[1].get_slot(v["dense/bias"], "m")
    assert multi.get_slot_names() == sorted({"momentum", "m", "v", "rms"})


def test_minimize_computes_the_gradients_once(graph):
    """One loss evaluation per step (the gradients of every variable from one pass), and the
    same bits as separate optimizers fed those gradients."""
    inits, _ = _data(1)
    x = np.random.default_rng(2).normal(size=(5, 4))
    calls = []

    def make_loss(v):
        def loss():
            calls.append(1)
            h = np.tanh(x @ v["dense/kernel"].value + v["dense/bias"].value)
            return np.sum((h @ v["out/kernel"].value) ** 2)

        return loss

    v = _variables(inits)
    opts = _opts()
    multi = _multi(v, opts)
    step = optim.train.get_or_create_global_step()
    grads = []
    for _ in range(STEPS):
        loss = make_loss(v)
        grads.append({n: g for (g, _), n in zip(multi.compute_gradients(loss, list(v.values())),
                                                v)})  # fmt: skip
        calls.clear()
        multi.minimize(loss, global_step=step, var_list=list(v.values()))
        assert len(calls) == 1
    assert int(step.numpy()) == STEPS
    _same(_state(v, opts), _separate(inits, grads))


def test_none_gradients_and_an_optimizer_without_any(graph):
    inits, grads = _data(3)
    v = _variables(inits)
    opts = _opts()
    multi = _multi(v, opts)
    multi.apply_gradients([(grads[0]["dense/kernel"], v["dense/kernel"]),
                           (None, v["dense/bias"]), (grads[0]["out/kernel"], v["out/kernel"])])
    assert [o.iterations for o in opts] == [1, 0, 1]  # Adam saw no gradient: not called
    np.testing.assert_array_equal(v["dense/bias"].numpy(), inits["dense/bias"])
    assert opts[1].get_slot(v["dense/bias"], "m") is None
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        multi.apply_gradients([(None, var) for var in v.values()])
    assert multi.iterations == 1


def test_sparse_gradients_are_routed_as_they_came(graph):
    inits, _ = _data(4)
    rows = optim.IndexedSlices(np.ones((2, 3)), np.array([0, 2]), (4, 3))
    results = []
    for multi_run in (True, False):
        with optim.Graph().as_default():
            v = _variables(inits)
            opts = _opts()
            if multi_run:
                _multi(v, opts).apply_gradients([(rows, v["dense/kernel"])])
            else:
                opts[0].apply_gradients([(rows, v["dense/kernel"])])
            results.append(_state(v, opts))
    _same(*results)
    assert not np.array_equal(results[0][0]["dense/kernel"], inits["dense/kernel"])


def test_a_sparse_gradient_its_optimizer_cannot_take_raises_before_anything(graph):
    inits, grads = _data(5)
    v = _variables(inits)
    lamb = optim.train.LAMBOptimizer(0.01)
    multi = optim.MultiOptimizer([(optim.train.GradientDescentOptimizer(0.1), ["dense"]),
                                  (lamb, ["out"])])  # fmt: skip
    rows = optim.IndexedSlices(np.ones((1, 2)), np.array([0]), (3, 2))
    with pytest.raises(NotImplementedError, match=r"LAMB.*variable 'out/kernel'"):
        multi.apply_gradients([(grads[0]["dense/kernel"], v["dense/kernel"]),
                               (rows, v["out/kernel"])])  # fmt: skip
    np.testing.assert_array_equal(v["dense/kernel"].numpy(), inits["dense/kernel"])
    assert multi.iterations == 0


@pytest.mark.parametrize(
    "entries, message",
    [
        (lambda v, o: [(o[0], ["kernel"]), (o[1], ["bias"]), (o[2], ["out"])],
         r"Variable 'out/kernel' is assigned to more than one optimizer .*\['SGD', 'RMS'\]"),
        (lambda v, o: [(o[0], ["dense/kernel"]), (o[1], ["bias"])],
         r"Variable 'out/kernel' is assigned to no optimizer"),
        (lambda v, o: [(o[0], [v["dense/kernel"]]), (o[1], ["dense"]), (o[2], ["out"])],
         r"Variable 'dense/kernel' is assigned to more than one optimizer"),
    ],
    ids=["two_patterns", "none", "variable_and_pattern"],
)
def test_every_variable_must_have_exactly_one_optimizer(graph, entries, message):
    inits, grads = _data(6)
    v = _variables(inits)
    opts = _opts()
    multi = optim.MultiOptimizer(entries(v, opts))
    with pytest.raises(ValueError, match=message):
        multi.apply_gradients([(grads[0][n], var) for n, var in v.items()])
    for n, var in v.items():
        np.testing.assert_array_equal(var.numpy(), inits[n])
    assert multi.iterations == 0 and all(o.get_slot_names() == [] for o in opts)
    with pytest.raises(ValueError, match=message.split(" ")[0]):
        multi.minimize(lambda: sum(np.sum(var.value) for var in v.values()),
                       var_list=list(v.values()))  # fmt: skip


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda v, o: [], ValueError, r"`optimizers_and_variables` must hold at least one"),
        (lambda v, o: "adam", TypeError, r"`optimizers_and_variables` must be a list"),
        (lambda v, o: [o[0]], TypeError, r"`optimizers_and_variables\[0\]` must be an "
                                         r"\(optimizer, variables_or_name_patterns\) pair"),
        (lambda v, o: [("adam", ["bias"])], TypeError,
         r"`optimizers_and_variables\[0\]\[0\]` must be an optim.Optimizer, got 'adam'"),
        (lambda v, o: [(o[0], [3])], TypeError,
         r"`optimizers_and_variables\[0\]\[1\]\[0\]` must be an optim.Variable or a name "
         r"pattern \(str\), got 3"),
        (lambda v, o: [(o[0], 3)], TypeError,
         r"`optimizers_and_variables\[0\]\[1\]` must be Variables and/or name patterns"),
        (lambda v, o: [(o[0], [])], ValueError, r"must assign at least one variable"),
        (lambda v, o: [(o[0], ["("])], ValueError, r"must be a valid regular expression"),
        (lambda v, o: [(o[0], [v["dense/bias"]]), (o[1], [v["dense/bias"]])], ValueError,
         r"Variable 'dense/bias' must be assigned to one optimizer, got it in entries 0 and 1"),
        (lambda v, o: [(o[0], ["a"]), (o[0], ["b"])], ValueError, r"must be another optimizer"),
        (lambda v, o: [(o[0], ["a"]), (optim.train.AdamOptimizer(name="SGD"), ["b"])],
         ValueError, r"must have a name of its own .* got 'SGD'"),
    ],
    ids=["empty", "string", "not_a_pair", "not_an_optimizer", "pattern_not_a_string",
         "spec_not_a_list", "empty_spec", "bad_regex", "variable_twice", "optimizer_twice",
         "same_name"],
)  # fmt: skip
def test_bad_entries_raise(graph, make, error, message):
    v = _variables(_data()[0])
    with pytest.raises(error, match=message):
        optim.MultiOptimizer(make(v, _opts()))


def test_weight_decay_belongs_to_the_inner_optimizers(graph):
    sgd = optim.train.GradientDescentOptimizer(0.1, weight_decay=0.5)
    with pytest.raises(TypeError, match=r"`weight_decay` must be set on the optimizers"):
        optim.MultiOptimizer([(sgd, ["w"])], weight_decay=0.1)
    multi = optim.MultiOptimizer([(sgd, ["w"]), (optim.train.AdamOptimizer(), ["b"])])
    with pytest.raises(TypeError, match=r"`exclude_from_weight_decay` must be called on the"):
        multi.exclude_from_weight_decay(var_names=["b"])
    w = optim.Variable(np.ones(2), name="w")
    b = optim.Variable(np.ones(2), name="b")
    multi.apply_gradients([(np.zeros(2), w), (np.zeros(2), b)])
    np.testing.assert_array_equal(w.numpy(), 0.95)
    np.testing.assert_array_equal(b.numpy(), 1.0)


def test_nonfinite_policy(graph):
    skip = [optim.train.GradientDescentOptimizer(0.1, nonfinite="skip", name=n) for n in "ab"]
    multi = optim.MultiOptimizer([(skip[0], ["a"]), (skip[1], ["b"])])
    assert multi.nonfinite == "skip"  # the optimizers agree
    a = optim.Variable(np.ones(2), name="a")
    b = optim.Variable(np.ones(2), name="b")
    multi.apply_gradients([(np.ones(2), a), (np.array([np.nan, 0.0]), b)])
    np.testing.assert_array_equal(a.numpy(), 1.0)  # the whole step is skipped
    assert multi.skipped_steps == 1 and skip[0].iterations == 0
    with pytest.raises(ValueError, match=r"`nonfinite` must not be 'propagate' while"):
        optim.MultiOptimizer([(optim.train.AdamOptimizer(), ["a"])], nonfinite="propagate")


def test_global_clipnorm_is_over_every_variable(graph):
    a = optim.Variable(np.zeros(1), name="a")
    b = optim.Variable(np.zeros(1), name="b")
    multi = optim.MultiOptimizer(
        [(optim.train.GradientDescentOptimizer(1.0, name="x"), ["a"]),
         (optim.train.GradientDescentOptimizer(1.0, name="y"), ["b"])], global_clipnorm=1.0)
    multi.apply_gradients([(np.array([3.0]), a), (np.array([4.0]), b)])
    np.testing.assert_allclose([a.numpy()[0], b.numpy()[0]], [-0.6, -0.8], rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# State: by name, bit-identical continuation


def _continue(multi, v, grads, step=None):
    for g in grads:
        multi.apply_gradients([(g[n], var) for n, var in v.items()], global_step=step)


def test_state_dict_round_trip_mid_training_is_bit_identical(graph):
    inits, grads = _data(7)
    with optim.Graph().as_default():
        v = _variables(inits)
        opts = _opts()
        multi = _multi(v, opts)
        _continue(multi, v, grads)
        expected = _state(v, opts)
    with optim.Graph().as_default():
        v = _variables(inits)
        multi = _multi(v)
        _continue(multi, v, grads[:3])
        saved = copy.deepcopy(multi.state_dict())
        values = {n: var.numpy() for n, var in v.items()}
    assert set(saved["optimizers"]) == {"SGD", "Adam", "RMS"} and saved["iterations"] == 3
    with optim.Graph().as_default():  # a new run: the variables reordered, fresh optimizers
        v = {n: optim.Variable(values[n], name=n) for n in reversed(list(values))}
        opts = _opts()
        multi = optim.MultiOptimizer([(opts[2], ["^out/"]), (opts[0], [v["dense/kernel"]]),
                                      (opts[1], "bias")])  # fmt: skip
        multi.load_state_dict(saved, list(v.values()))
        assert multi.iterations == 3 and [o.iterations for o in opts] == [3, 3, 3]
        _continue(multi, v, grads[3:])
        _same(_state(v, opts), expected)


def test_load_state_dict_with_other_names_raises_and_changes_nothing(graph):
    inits, grads = _data(8)
    v = _variables(inits)
    multi = _multi(v)
    _continue(multi, v, grads[:2])
    good = multi.state_dict()
    before = copy.deepcopy(good)
    bad = copy.deepcopy(good)
    bad["optimizers"]["Other"] = bad["optimizers"].pop("RMS")
    with pytest.raises(ValueError, match=r"must hold the states of optimizers"):
        multi.load_state_dict(bad, list(v.values()))
    bad = copy.deepcopy(good)
    bad["optimizers"]["RMS"]["slots"]["rms"]["out/kernel"] = np.zeros((2, 2))
    bad["iterations"] = 99
    with pytest.raises(ValueError, match=r"Slot 'rms' of variable 'out/kernel' has shape"):
        multi.load_state_dict(bad, list(v.values()))
    after = multi.state_dict()
    assert after["iterations"] == before["iterations"]
    for name, state in before["optimizers"].items():
        for slot, table in state["slots"].items():
            for var_name, array in table.items():
                np.testing.assert_array_equal(after["optimizers"][name]["slots"][slot][var_name],
                                              array)  # fmt: skip


def test_checkpoint_round_trip_is_bit_identical(graph, tmp_path):
    inits, grads = _data(9, np.float32)
    with optim.Graph().as_default():
        v = _variables(inits)
        opts = _opts()
        multi = _multi(v, opts)
        step = optim.train.get_or_create_global_step()
        _continue(multi, v, grads, step)
        expected = _state(v, opts)
    with optim.Graph().as_default():
        v = _variables(inits)
        multi = _multi(v)
        step = optim.train.get_or_create_global_step()
        _continue(multi, v, grads[:4], step)
        path = optim.save_checkpoint(tmp_path / "ckpt", list(v.values()), multi, step)
    with optim.Graph().as_default():
        v = {n: optim.Variable(np.zeros_like(x), name=n) for n, x in inits.items()}
        opts = _opts()
        multi = _multi(v, opts)
        step = optim.train.get_or_create_global_step()
        optim.restore_checkpoint(path, list(v.values()), multi, step)
        assert int(step.numpy()) == 4
        _continue(multi, v, grads[4:], step)
        _same(_state(v, opts), expected)


def test_pickle_and_deepcopy_continue_bit_for_bit(graph):
    inits, grads = _data(10)
    v = _variables(inits)
    multi = _multi(v)
    _continue(multi, v, grads[:3])
    blob = pickle.dumps((multi, v))
    with optim.Graph().as_default():  # a graph of its own: the copies keep their names
        twin, twin_v = copy.deepcopy((multi, v))
    _continue(multi, v, grads[3:])
    expected = {n: var.numpy() for n, var in v.items()}
    with optim.Graph().as_default():
        _continue(twin, twin_v, grads[3:])
        restored, restored_v = pickle.loads(blob)
        _continue(restored, restored_v, grads[3:])
    for copied in (twin_v, restored_v):
        for n, var in copied.items():
            np.testing.assert_array_equal(var.numpy(), expected[n])


def test_fit_trains_with_a_multi_optimizer(graph):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3
    w = optim.Variable(np.zeros(3), name="w")
    b = optim.Variable(np.zeros(()), name="b")
    multi = optim.MultiOptimizer([(optim.train.AdamOptimizer(0.05), [w]),
                                  (optim.train.GradientDescentOptimizer(0.1), [b])])  # fmt: skip

    def loss(xb, yb):
        return np.mean((xb @ w.value + b.value - yb) ** 2)

    optim.fit(loss, x, y, optimizer=multi, epochs=60, batch_size=16, var_list=[w, b], verbose=0)
    np.testing.assert_allclose(w.numpy(), [1.0, -2.0, 0.5], atol=0.05)
    np.testing.assert_allclose(b.numpy(), 0.3, atol=0.05)
    assert multi.iterations == 60 * 4


def test_multi_optimizer_forwards_schedule_free_modes_so_fit_validates_on_x(graph):
    """fit validates a MultiOptimizer holding a Schedule-Free optimizer at its average x, and
    leaves the variables at x, as it does for the Schedule-Free optimizer alone."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 3)), rng.normal(size=(32,))

    def run(multi):
        with optim.Graph().as_default():
            w = optim.Variable(np.zeros(3), name="w")
            b = optim.Variable(np.zeros(()), name="b")
            sf = optim.train.ScheduleFreeAdamWOptimizer(0.05, warmup_steps=0)
            sgd = optim.train.GradientDescentOptimizer(0.1)
            opt = optim.MultiOptimizer([(sf, [w]), (sgd, [b])]) if multi else sf
            loss = lambda x, y: optim.numpy.mean((x @ w.value + b.value - y) ** 2)  # noqa: E731
            history = optim.fit(loss, X, Y, optimizer=opt, var_list=[w] if not multi else [w, b],
                                batch_size=8, epochs=2, verbose=0, validation_data=(X, Y))
            assert sf.training is False  # fit returns in eval mode
            val = float(np.mean((X @ w.numpy() + b.numpy() - Y) ** 2))
            return history.history["val_loss"][-1], val, opt

    val_loss, recomputed, multi = run(True)
    assert multi.training is False
    np.testing.assert_allclose(val_loss, recomputed, rtol=1e-12)  # validated on what it holds: x
    multi.train()
    assert multi.training is True and all(
        o.training for o in multi.optimizers if hasattr(o, "training")
    )
