"""Hyperparameters as callables: zero arguments, one argument (the step), and rejected ones."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest

import optim


def test_one_argument_learning_rate_sees_the_iteration_count(graph):
    seen = []

    def lr(step):
        seen.append(step)
        return 0.1 * 0.9**step

    w = optim.Variable(np.zeros(2), name="w")
    opt = optim.train.GradientDescentOptimizer(lr)
    expected = np.zeros(2)
    for _ in range(4):
        opt.apply_gradients([(np.ones(2), w)])
    for t in range(4):
        expected -= 0.1 * 0.9**t  # the numpy oracle: lr at steps 0, 1, 2, 3
    assert seen == [0, 1, 2, 3]
    assert all(type(s) is int for s in seen)
    np.testing.assert_array_equal(w.numpy(), expected)


def test_one_argument_callables_work_for_every_hyperparameter(graph):
    seen = {"lr": [], "momentum": []}
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.MomentumOptimizer(
        lambda s: seen["lr"].append(s) or 1.0,
        momentum=lambda s: seen["momentum"].append(s) or (0.0 if s == 0 else 0.5),
    )
    opt.apply_gradients([(np.ones(1), w)])  # m = 1, w = -1
    opt.apply_gradients([(np.ones(1), w)])  # m = 0.5 * 1 + 1, w = -2.5
    assert seen == {"lr": [0, 1], "momentum": [0, 1]}
    assert w.numpy()[0] == -2.5


def test_zero_argument_callables_and_schedules_still_work(graph):
    step = optim.train.get_or_create_global_step()
    schedule = optim.train.exponential_decay(0.1, step, decay_steps=1, decay_rate=0.5)
    calls = []
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.MomentumOptimizer(schedule, momentum=lambda: calls.append(1) or 0.0)
    for _ in range(3):
        opt.apply_gradients([(np.ones(1), w)], global_step=step)
    assert len(calls) == 3
    np.testing.assert_array_equal(w.numpy(), [-(0.1 + 0.05 + 0.025)])
    assert opt.get_hyper("learning_rate") is schedule  # schedules are kept as given


def test_optional_and_variadic_arguments_count_as_zero_argument(graph):
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.GradientDescentOptimizer(lambda step=0.25, *args, **kwargs: step)
    opt.apply_gradients([(np.ones(1), w)])
    assert w.numpy()[0] == -0.25


def test_uninspectable_callable_is_called_without_arguments(graph, monkeypatch):
    import inspect

    class Rate:
        def __call__(self):
            return 0.5

    real = inspect.signature

    def no_signature(fn, *args, **kwargs):
        if isinstance(fn, Rate):
            raise ValueError("no signature found")
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", no_signature)
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.GradientDescentOptimizer(Rate())
    opt.apply_gradients([(np.ones(1), w)])
    assert w.numpy()[0] == -0.5


def test_partial_of_a_builtin_leaving_one_argument_is_called_with_the_step(graph):
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.GradientDescentOptimizer(functools.partial(pow, 0.5))  # 0.5 ** step
    opt.apply_gradients([(np.ones(1), w)])
    opt.apply_gradients([(np.ones(1), w)])
    assert w.numpy()[0] == -1.5


def test_two_required_arguments_rejected_in_the_constructor():
    with pytest.raises(TypeError, match=r"`learning_rate` must be a float, a zero-argument"):
        optim.train.GradientDescentOptimizer(lambda step, epoch: 0.1)
    with pytest.raises(TypeError, match=r"`beta1`.*requires more arguments"):
        optim.train.AdamOptimizer(0.1, beta1=lambda a, b: 0.9)
    with pytest.raises(TypeError, match=r"`learning_rate`"):
        optim.train.GradientDescentOptimizer(lambda *, step: 0.1)  # keyword-only


def test_set_hyper_rejects_and_changes_nothing(graph):
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.GradientDescentOptimizer(0.5)
    opt.apply_gradients([(np.ones(1), w)])
    with pytest.raises(TypeError, match=r"`learning_rate`"):
        opt.set_hyper("learning_rate", lambda a, b: 0.1)
    with pytest.raises(TypeError, match=r"`learning_rate`"):
        opt.learning_rate = lambda a, b: 0.1
    assert opt.get_hyper("learning_rate") == 0.5
    opt.apply_gradients([(np.ones(1), w)])
    assert w.numpy()[0] == -1.0


def test_set_hyper_accepts_a_one_argument_callable_between_steps(graph):
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.GradientDescentOptimizer(1.0)
    opt.apply_gradients([(np.ones(1), w)])  # step 0 at lr 1
    opt.set_hyper("learning_rate", lambda step: 1.0 / (1 + step))
    opt.apply_gradients([(np.ones(1), w)])  # step 1: 1/2
    assert w.numpy()[0] == -1.5
    bound = opt.get_hyper("learning_rate")
    assert bound() == 1.0 / 3  # zero-argument, at the current iterations
    assert bound.fn(0) == 1.0  # the callable as given


def test_bound_callable_moved_to_another_optimizer_follows_that_optimizer(graph):
    first = optim.train.GradientDescentOptimizer(lambda step: float(step + 1))
    w = optim.Variable(np.zeros(1), name="w")
    for _ in range(3):
        first.apply_gradients([(np.ones(1), w)])
    second = optim.train.GradientDescentOptimizer(first.get_hyper("learning_rate"))
    assert second.get_hyper("learning_rate")() == 1.0  # second's own count: 0
    twin = copy.deepcopy(first)
    assert twin.get_hyper("learning_rate").optimizer is twin


def test_bad_value_from_a_one_argument_callable_raises_at_the_step_and_changes_nothing(graph):
    w = optim.Variable(np.zeros(1), name="w")
    opt = optim.train.MomentumOptimizer(0.1, momentum=lambda step: 0.9 if step < 1 else -1.0)
    opt.apply_gradients([(np.ones(1), w)])
    before = (w.numpy(), opt.get_slot(w, "momentum").copy(), opt.iterations)
    with pytest.raises(ValueError, match=r"`momentum` must be >= 0"):
        opt.apply_gradients([(np.ones(1), w)])
    assert np.array_equal(w.numpy(), before[0])
    assert np.array_equal(opt.get_slot(w, "momentum"), before[1])
    assert opt.iterations == before[2]


def test_accumulation_wrapper_passes_real_update_counts(graph):
    seen = []
    inner = optim.train.GradientDescentOptimizer(lambda step: seen.append(step) or 0.1)
    opt = optim.train.GradientAccumulationOptimizer(inner, every_k_steps=2)
    w = optim.Variable(np.zeros(1), name="w")
    for _ in range(6):
        opt.apply_gradients([(np.ones(1), w)])
    assert seen == [0, 1, 2]
