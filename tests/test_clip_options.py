"""Keras-style clipping options on every optimizer (clipnorm, clipvalue, global_clipnorm)."""

import numpy as np
import pytest

import optim
from tests.cases import CASES


def _run(case, grads, **options):
    with optim.Graph().as_default():
        variables = [
            optim.Variable(np.ones((3, 2)), name="a"),
            optim.Variable(np.ones(4), name="b"),
        ]
        opt = case.make(**options)
        step = optim.train.get_or_create_global_step()
        for g in grads:
            opt.apply_gradients(zip(g, variables), global_step=step)
        return [v.numpy() for v in variables]


GRADS = [
    [np.full((3, 2), 3.0), np.arange(4.0) - 1.5],
    [np.full((3, 2), -0.2), np.array([10.0, -10.0, 0.1, 0.0])],
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize(
    "option,clip",
    [
        ("clipnorm", lambda gs: [optim.clip_by_norm(g, 1.5) for g in gs]),
        ("clipvalue", lambda gs: [optim.clip_by_value(g, -0.5, 0.5) for g in gs]),
        ("global_clipnorm", lambda gs: optim.clip_by_global_norm(gs, 2.0)[0]),
    ],
    ids=["clipnorm", "clipvalue", "global_clipnorm"],
)
def test_option_equals_clipping_by_hand(graph, case, option, clip):
    value = {"clipnorm": 1.5, "clipvalue": 0.5, "global_clipnorm": 2.0}[option]
    with_option = _run(case, GRADS, **{option: value})
    by_hand = _run(case, [clip(g) for g in GRADS])
    for a, b in zip(with_option, by_hand):
        np.testing.assert_array_equal(a, b)


def test_options_change_the_result_and_do_not_mutate_gradients(graph):
    grads = [[g.copy() for g in step] for step in GRADS]
    plain = _run(CASES[0], grads)
    clipped = _run(CASES[0], grads, clipvalue=0.5)
    assert not np.array_equal(plain[0], clipped[0])
    for step, original in zip(grads, GRADS):
        for g, o in zip(step, original):
            np.testing.assert_array_equal(g, o)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"clipnorm": 1.0, "clipvalue": 1.0}, ValueError, "At most one of"),
        ({"clipvalue": 1.0, "global_clipnorm": 1.0}, ValueError, "At most one of"),
        ({"clipnorm": -1.0}, ValueError, "`clipnorm`"),
        ({"clipvalue": float("nan")}, ValueError, "`clipvalue`"),
        ({"global_clipnorm": "1"}, TypeError, "`global_clipnorm`"),
    ],
)
def test_bad_clip_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        optim.train.AdamOptimizer(0.1, **kwargs)
