"""Bad input: a clear exception, and no variable or slot changed (issue 2, point 10)."""

import math

import autograd.numpy as anp
import numpy as np
import pytest

import optim


@pytest.fixture
def trained(graph):
    """Two variables and a Momentum optimizer that has already taken one step (slots exist)."""
    a = optim.Variable([1.0, 2.0], name="a")
    b = optim.Variable(np.ones((2, 2)), name="b")
    opt = optim.train.MomentumOptimizer(0.1, 0.9)
    opt.minimize(lambda: anp.sum(a.value**2) + anp.sum(b.value**2))
    snapshot = [a.numpy(), b.numpy()] + [s.copy() for s in opt.variables()]

    def unchanged():
        now = [a.numpy(), b.numpy()] + [s.copy() for s in opt.variables()]
        assert len(now) == len(snapshot)
        for x, y in zip(now, snapshot):
            np.testing.assert_array_equal(x, y)

    return a, b, opt, unchanged


def test_loss_not_callable(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match="`loss` must be a zero-argument callable"):
        opt.minimize(anp.sum(a.value))
    unchanged()


def test_loss_returns_non_scalar(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(ValueError, match=r"`loss` must return a scalar, got .* shape \(2,\)"):
        opt.minimize(lambda: a.value**2)
    unchanged()


@pytest.mark.parametrize("value", [3, np.array(2, np.int64), "x", np.array(True)])
def test_loss_returns_non_float(trained, value):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match="`loss` must return a floating-point scalar"):
        opt.minimize(lambda: value, gradient=lambda: [np.ones(2), np.ones((2, 2))])
    unchanged()


def test_loss_returns_non_float_through_autodiff(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match="floating-point scalar"):
        opt.minimize(lambda: anp.sum(a.value) > 0)
    unchanged()


def test_empty_var_list(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(ValueError, match="No variables to optimize."):
        opt.minimize(lambda: anp.sum(a.value), var_list=[])
    unchanged()


@pytest.mark.parametrize("entry", [np.ones(2), "a", None])
def test_non_variable_in_var_list(trained, entry):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match=r"`var_list\[1\]` must be an optim.Variable"):
        opt.minimize(lambda: anp.sum(a.value), var_list=[a, entry])
    unchanged()


def test_var_list_of_wrong_type(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match="`var_list` must be a list or tuple"):
        opt.minimize(lambda: anp.sum(a.value), var_list={a})
    unchanged()


def test_integer_variable_in_var_list(trained):
    a, b, opt, unchanged = trained
    counter = optim.Variable(0, trainable=False, name="counter")
    with pytest.raises(TypeError, match="'counter' has dtype int64"):
        opt.minimize(lambda: anp.sum(a.value), var_list=[a, counter])
    unchanged()


def test_gradient_of_wrong_shape_in_apply(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(ValueError, match=r"variable 'b' must have shape \(2, 2\), got \(4,\)"):
        opt.apply_gradients([(np.ones(2), a), (np.ones(4), b)])
    unchanged()


def test_gradient_not_array_like_in_apply(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(ValueError, match="variable 'b' must be floating-point"):
        opt.apply_gradients([(np.ones(2), a), ("grad", b)])
    unchanged()


@pytest.mark.parametrize("pair", [(np.ones(2),), (np.ones(2), None, None), 3])
def test_malformed_pair_in_apply(trained, pair):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match=r"`grads_and_vars\[1\]` must be a \(gradient, variable\)"):
        opt.apply_gradients([(np.ones(2), a), pair])
    unchanged()


def test_non_variable_in_apply(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match=r"`grads_and_vars\[1\]` must hold an optim.Variable"):
        opt.apply_gradients([(np.ones(2), a), (np.ones(2), np.ones(2))])
    unchanged()


def test_bad_global_step(trained):
    a, b, opt, unchanged = trained
    with pytest.raises(TypeError, match="`global_step` must be an optim.Variable"):
        opt.apply_gradients([(np.ones(2), a)], global_step=3)
    unchanged()


BAD_VALUES = [
    (-0.1, ValueError, r"must be >= 0, got -0.1"),
    (math.nan, ValueError, r"must be finite, got nan"),
    (math.inf, ValueError, r"must be finite, got inf"),
    ("0.1", TypeError, r"must be a float or a zero-argument callable, got '0.1'"),
    (None, TypeError, r"must be a float or a zero-argument callable, got None"),
    (True, TypeError, r"must be a float or a zero-argument callable, got True"),
    ([0.1], TypeError, r"must be a float or a zero-argument callable, got \[0.1\]"),
]


@pytest.mark.parametrize("value,exc,match", BAD_VALUES, ids=[str(v[0]) for v in BAD_VALUES])
@pytest.mark.parametrize(
    "make,arg",
    [
        (lambda v: optim.train.GradientDescentOptimizer(v), "learning_rate"),
        (lambda v: optim.train.MomentumOptimizer(v, 0.9), "learning_rate"),
        (lambda v: optim.train.MomentumOptimizer(0.1, v), "momentum"),
    ],
    ids=["gd-lr", "momentum-lr", "momentum-momentum"],
)
def test_bad_hyperparameter(make, arg, value, exc, match):
    with pytest.raises(exc, match=f"`{arg}` " + match):
        make(value)


def test_bad_use_nesterov():
    with pytest.raises(TypeError, match="`use_nesterov` must be a bool, got 'yes'"):
        optim.train.MomentumOptimizer(0.1, 0.9, use_nesterov="yes")


@pytest.mark.parametrize("value", [-1.0, math.nan, "fast"])
def test_schedule_returning_bad_value_raises_at_apply_and_changes_nothing(graph, value):
    a = optim.Variable([1.0, 2.0], name="a")
    rates = iter([0.1, value])
    opt = optim.train.MomentumOptimizer(lambda: next(rates), 0.9)
    opt.minimize(lambda: anp.sum(a.value**2))
    before = [a.numpy(), opt.get_slot(a, "momentum").copy()]
    with pytest.raises((ValueError, TypeError), match="`learning_rate`"):
        opt.minimize(lambda: anp.sum(a.value**2))
    np.testing.assert_array_equal(a.value, before[0])
    np.testing.assert_array_equal(opt.get_slot(a, "momentum"), before[1])


def _assign_into(a):
    z = a.value * 1.0
    z[0] = 0.0
    return anp.sum(z)


def _float_of(a):
    return float(anp.sum(a.value)) ** 2


def _asarray_of(a):
    return anp.sum(anp.asarray(a.value) ** 2)


def _write_into_plain(a):
    buf = np.zeros(2)
    buf[0] = a.value[0]
    return anp.sum(buf)


def _inplace_out(a):
    buf = np.zeros(2)
    buf += a.value
    return anp.sum(buf)


def _method(a):
    return a.value.dot(a.value)


UNTRACEABLE = [
    (_assign_into, TypeError, "assigns into an array"),
    (_float_of, TypeError, "into a Python number"),
    (_asarray_of, NotImplementedError, "np.asarray"),
    (_write_into_plain, ValueError, "writes a traced value into a plain numpy array"),
    (_inplace_out, TypeError, "in-place numpy operation"),
    (_method, AttributeError, "ndarray method"),
]


@pytest.mark.parametrize("loss,exc,cause", UNTRACEABLE, ids=[u[0].__name__ for u in UNTRACEABLE])
def test_loss_autograd_cannot_trace(trained, loss, exc, cause):
    a, b, opt, unchanged = trained
    with pytest.raises(exc) as info:
        opt.minimize(lambda: loss(a), var_list=[a])
    message = str(info.value)
    assert cause in message
    assert "gradient=fn" in message and "gradient='3-point'" in message
    assert isinstance(info.value.__cause__, exc)
    unchanged()
    # The advice works: finite differences differentiate the same loss.
    if loss is not _method:
        opt.minimize(lambda: loss(a), var_list=[a], gradient="3-point")
