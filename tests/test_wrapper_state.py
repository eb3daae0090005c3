"""SAM's and Lookahead's own state through state_dict, pickle and checkpoint files."""

import pickle

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim.checkpoint import restore_checkpoint, save_checkpoint

TARGET = np.array([[1.0, -2.0], [0.5, 3.0]])


def _problem():
    w = optim.Variable(np.zeros((2, 2)), name="w")
    b = optim.Variable(np.ones(2), name="b")

    def loss():
        return anp.sum((w.value - TARGET) ** 2) + anp.sum(anp.sin(b.value) ** 2)

    return [w, b], loss


def _sam():
    return optim.train.SAMOptimizer(optim.train.MomentumOptimizer(0.05, 0.9), rho=0.1)


def _lookahead():
    return optim.train.LookaheadOptimizer(
        optim.train.AdamOptimizer(0.1), sync_period=4, slow_step_size=0.5
    )


def _run(make, steps, restore=None):
    """``steps`` minimize calls in a new graph, after ``restore(variables, opt)`` if given."""
    with optim.Graph().as_default():
        variables, loss = _problem()
        opt = make()
        if restore is not None:
            restore(variables, opt)
        for _ in range(steps):
            opt.minimize(loss, var_list=variables)
        return variables, opt


def _same(run_a, run_b):
    (va, oa), (vb, ob) = run_a, run_b
    for a, b in zip(va, vb):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    sa, sb = oa.state_dict(), ob.state_dict()
    assert sa["iterations"] == sb["iterations"]
    for part_a, part_b in ((sa, sb), (sa["inner"], sb["inner"])):
        assert part_a["slots"].keys() == part_b["slots"].keys()
        for slot, table in part_a["slots"].items():
            for name, array in table.items():
                np.testing.assert_array_equal(array, part_b["slots"][slot][name])


def test_sam_counter_survives_state_dict_and_pickle():
    variables, opt = _run(_sam, 3)
    assert opt.gradient_evaluations == 6
    state = opt.state_dict()
    assert state["sam"] == {"gradient_evaluations": 6}
    with optim.Graph().as_default():
        fresh_vars, _ = _problem()
        fresh = _sam()
        fresh.load_state_dict(state, fresh_vars)
        assert fresh.gradient_evaluations == 6
    assert pickle.loads(pickle.dumps(opt)).gradient_evaluations == 6


def test_sam_checkpoint_resume_is_bit_identical_counter_included(tmp_path):
    straight = _run(_sam, 7)
    variables, opt = _run(_sam, 3)
    path = save_checkpoint(tmp_path / "sam.npz", variables, opt)
    resumed = _run(_sam, 4, lambda vs, o: restore_checkpoint(path, vs, o))
    _same(straight, resumed)
    assert resumed[1].gradient_evaluations == straight[1].gradient_evaluations == 14


@pytest.mark.parametrize(
    "sam_entry",
    [None, {}, {"gradient_evaluations": -1}, {"gradient_evaluations": 1.5},
     {"gradient_evaluations": True}, 4],
)  # fmt: skip
def test_sam_bad_state_raises_and_changes_nothing(sam_entry):
    variables, opt = _run(_sam, 2)
    state = opt.state_dict()
    if sam_entry is None:
        del state["sam"]
    else:
        state["sam"] = sam_entry
    target_vars, target = _run(_sam, 1)
    before = target.state_dict()
    with pytest.raises(ValueError, match=r"`state\['sam'\]` must be a dict"):
        target.load_state_dict(state, target_vars)
    assert target.gradient_evaluations == 2
    after = target.state_dict()
    assert after["iterations"] == before["iterations"] == 1
    for slot, table in before["inner"]["slots"].items():
        for name, array in table.items():
            np.testing.assert_array_equal(array, after["inner"]["slots"][slot][name])


@pytest.mark.parametrize("split", [2, 4, 6])  # mid-period, at a sync, mid-period again
def test_lookahead_checkpoint_resume_keeps_slow_weights_and_sync_phase(tmp_path, split):
    straight = _run(_lookahead, 11)
    variables, opt = _run(_lookahead, split)
    slow = {v.name: opt.get_slot(v, "slow").copy() for v in variables}
    path = save_checkpoint(tmp_path / "la.npz", variables, opt)
    restored = {}

    def restore(vs, o):
        restore_checkpoint(path, vs, o)
        restored.update({v.name: o.get_slot(v, "slow").copy() for v in vs})
        assert o.iterations == split

    resumed = _run(_lookahead, 11 - split, restore)
    for name, array in slow.items():
        np.testing.assert_array_equal(restored[name], array)
    _same(straight, resumed)
    # a resumed run syncs at the straight run's steps: after step 8 the weights are the slow ones
    at8_vars, at8 = _run(_lookahead, 8 - split, restore)
    for v in at8_vars:
        np.testing.assert_array_equal(v.numpy(), at8.get_slot(v, "slow"))
    at7_vars, at7 = _run(_lookahead, 7 - split, restore)
    assert not np.array_equal(at7_vars[0].numpy(), at7.get_slot(at7_vars[0], "slow"))


def test_lookahead_state_dict_and_pickle_round_trip():
    straight = _run(_lookahead, 9)
    variables, opt = _run(_lookahead, 5)
    values = [v.numpy().copy() for v in variables]
    state = opt.state_dict()
    assert set(state["slots"]) == {"slow"} and state["iterations"] == 5

    def restore(vs, o):
        for v, value in zip(vs, values):
            v.assign(value)
        o.load_state_dict(state, vs)

    _same(straight, _run(_lookahead, 4, restore))
    copy = pickle.loads(pickle.dumps(opt))
    assert copy.iterations == 5 and copy.sync_period == 4
