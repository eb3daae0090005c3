"""Learning-rate decay (optim.schedules): TF's own test vectors, formulas, validation, use.

Literal numbers come from TF's learning_rate_decay_test.py (reference section 6). The formula
checks use expressions written here, vectorised with numpy over many steps, independent of the
scalar code in optim/schedules.py.
"""

import math
import re

import numpy as np
import pytest

import optim
from optim.schedules import (
    Schedule,
    cosine_decay,
    cosine_decay_restarts,
    exponential_decay,
    inverse_time_decay,
    linear_cosine_decay,
    natural_exp_decay,
    noisy_linear_cosine_decay,
    piecewise_constant,
    polynomial_decay,
    warmup_cosine_decay,
)

STEPS = np.arange(0, 3001, dtype=np.float64)


def step_variable(value=0, dtype=np.int64):
    return optim.Variable(value, name="global_step", trainable=False, dtype=dtype)


def at(schedule, steps):
    return np.array([schedule(s) for s in steps])


def exact(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


def literal(actual, expected, tol=1e-6):
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


# -- TF literals: learning_rate_decay_test.py ---------------------------------------------------


def test_tf_exponential_continuous(graph):
    decayed = exponential_decay(0.05, 5, 10, 0.96)
    literal(decayed(), 0.0489898)
    exact(decayed(), 0.05 * 0.96**0.5)


def test_tf_exponential_staircase_follows_the_variable(graph):
    step = step_variable()
    decayed = exponential_decay(0.1, step, 3, 0.96, staircase=True)
    assert decayed() == 0.1
    for value, expected in ((1, 0.1), (2, 0.1), (100, 0.0259986)):
        step.assign(value)
        literal(decayed(), expected)
    exact(decayed(), 0.1 * 0.96**33)


def test_tf_piecewise_constant(graph):
    x = optim.Variable(-999, trainable=False, dtype=np.int32)
    decayed = piecewise_constant(x, [100, 110, 120], [1.0, 0.1, 0.01, 0.001])
    for value, expected in (
        (-999, 1.0),
        (100, 1.0),
        (105, 0.1),
        (110, 0.1),
        (120, 0.01),
        (999, 0.001),
    ):
        x.assign(value)
        assert decayed() == expected


def test_tf_piecewise_constant_int64_x_int32_boundaries(graph):
    x = optim.Variable(0, trainable=False, dtype=np.int64)
    boundaries = list(np.array([1, 2, 3], dtype=np.int32))
    decayed = piecewise_constant(x, boundaries, [0.4, 0.5, 0.6, 0.7])
    for value, expected in zip(range(5), (0.4, 0.4, 0.5, 0.6, 0.7)):
        x.assign(value)
        assert decayed() == expected


def test_tf_polynomial_half_way():
    literal(polynomial_decay(0.05, 5, 10, end_learning_rate=0.0)(), 0.025)


@pytest.mark.parametrize("s", [10, 15])
def test_tf_polynomial_end_and_beyond(s):
    literal(polynomial_decay(0.05, s, 10, end_learning_rate=0.001)(), 0.001)


def test_tf_polynomial_cycle():
    decayed = polynomial_decay(0.05, 15, 10, end_learning_rate=0.001, cycle=True)
    exact(decayed(), 0.049 * 0.25 + 0.001)


def test_tf_polynomial_power_half():
    decayed = polynomial_decay(0.05, 5, 10, end_learning_rate=0.0, power=0.5)
    exact(decayed(), 0.05 * math.sqrt(0.5))


def test_tf_polynomial_cycle_at_step_zero():
    assert polynomial_decay(0.001, 0, 10, cycle=True)() == 0.001


@pytest.mark.parametrize("staircase", [False, True])
def test_tf_natural_exp_decay(graph, staircase):
    step = step_variable()
    decayed = natural_exp_decay(0.1, step, 10, 0.96, staircase=staircase)
    for i in range(50):
        step.assign(i)
        p = i // 10 if staircase else i / 10
        literal(decayed(), 0.1 * math.exp(-p * 0.96))


@pytest.mark.parametrize("staircase", [False, True])
def test_tf_inverse_time_decay(graph, staircase):
    step = step_variable()
    decayed = inverse_time_decay(0.1, step, 10, 0.96, staircase=staircase)
    for i in range(50):
        step.assign(i)
        p = i // 10 if staircase else i / 10
        literal(decayed(), 0.1 / (1 + p * 0.96))


def test_tf_cosine_decay():
    decayed = cosine_decay(1.0, 0, 1000)
    literal(at(decayed, range(0, 1500, 250)), [1, 0.853553, 0.5, 0.146447, 0, 0])


def test_tf_cosine_decay_restarts():
    decayed = cosine_decay_restarts(1.0, 0, 1000)
    literal(at(decayed, range(0, 1500, 250)), [1, 0.853553, 0.5, 0.146447, 1.0, 0.96194])


def test_tf_cosine_decay_restarts_m_mul():
    decayed = cosine_decay_restarts(1.0, 0, 1000, m_mul=0.9)
    literal(at(decayed, range(0, 1500, 250)), [1, 0.853553, 0.5, 0.146447, 0.9, 0.865746])


def test_tf_linear_cosine_decay():
    decayed = linear_cosine_decay(1.0, 0, 1000)
    literal(at(decayed, range(0, 1500, 250)), [1.001, 0.641165, 0.251, 0.037612, 0.001, 0.001])


# -- formulas at many steps ----------------------------------------------------------------------


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("decay_steps, decay_rate", [(10, 0.96), (250.0, 0.5), (7, 1.1)])
def test_exponential_formula(staircase, decay_steps, decay_rate):
    p = STEPS / decay_steps
    if staircase:
        p = np.floor(p)
    exact(
        at(exponential_decay(0.1, 0, decay_steps, decay_rate, staircase), STEPS),
        0.1 * np.power(decay_rate, p),
    )


@pytest.mark.parametrize("staircase", [False, True])
def test_natural_exp_and_inverse_time_formulas(staircase):
    p = STEPS / 30.0
    if staircase:
        p = np.floor(p)
    exact(at(natural_exp_decay(0.2, 0, 30, 0.5, staircase), STEPS), 0.2 * np.exp(-0.5 * p))
    exact(at(inverse_time_decay(0.2, 0, 30, 0.5, staircase), STEPS), 0.2 / (1.0 + 0.5 * p))


@pytest.mark.parametrize("cycle", [False, True])
@pytest.mark.parametrize("power", [1.0, 0.5, 2.0, 0.0])
def test_polynomial_formula(cycle, power):
    lr, end, d = 0.05, 0.001, 100.0
    if cycle:
        d_eff = d * np.where(STEPS == 0, 1.0, np.ceil(STEPS / d))
        s = STEPS
    else:
        d_eff = d
        s = np.minimum(STEPS, d)
    expected = (lr - end) * (1.0 - s / d_eff) ** power + end
    exact(at(polynomial_decay(lr, 0, d, end, power, cycle), STEPS), expected)


def test_polynomial_cycle_restarts_at_each_multiple():
    decayed = polynomial_decay(1.0, 0, 10, end_learning_rate=0.0, cycle=True)
    # At a multiple of decay_steps the period ends (0); the next step starts a longer one.
    assert decayed(10) == 0.0 and decayed(20) == 0.0
    exact(decayed(11), 1 - 11 / 20)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0])
def test_cosine_formula(alpha):
    s = np.minimum(STEPS, 1000.0)
    c = 0.5 * (1 + np.cos(np.pi * s / 1000.0))
    exact(at(cosine_decay(0.3, 0, 1000, alpha), STEPS), 0.3 * ((1 - alpha) * c + alpha))


def restarts_by_walking(s, first, t_mul, m_mul, alpha):
    """SGDR by walking the periods one by one (no logarithms)."""
    start, length, i = 0.0, float(first), 0
    while s >= start + length:
        start += length
        length *= t_mul
        i += 1
    f = (s - start) / length
    return (1 - alpha) * 0.5 * m_mul**i * (1 + math.cos(math.pi * f)) + alpha


@pytest.mark.parametrize("t_mul", [1.0, 2.0, 3.0, 1.5])
@pytest.mark.parametrize("m_mul, alpha", [(1.0, 0.0), (0.9, 0.1)])
def test_cosine_decay_restarts_formula(t_mul, m_mul, alpha):
    decayed = cosine_decay_restarts(2.0, 0, 10, t_mul, m_mul, alpha)
    expected = [2.0 * restarts_by_walking(s, 10, t_mul, m_mul, alpha) for s in STEPS]
    exact(at(decayed, STEPS), expected)


def test_cosine_decay_restarts_exact_boundary_starts_the_new_period():
    # TF's floor(log(1 + 2 * 121) / log(3)) is 4, not 5: its value at step 121 is alpha * lr
    # (the end of period 4) instead of the restart's peak m_mul**5 * lr.
    t_mul = 3.0
    assert math.floor(math.log(1 - 121.0 * (1 - t_mul)) / math.log(t_mul)) == 4
    decayed = cosine_decay_restarts(1.0, 0, 1, t_mul=t_mul, m_mul=0.5, alpha=0.0)
    exact(decayed(121), 0.5**5)
    exact(decayed(120.5), 0.5**4 * 0.5 * (1 + math.cos(math.pi * 80.5 / 81)))


def tf_restarts_verbatim(s, first, t_mul, m_mul, alpha):
    """TF's cosine_decay_restarts, operation for operation."""
    f = s / first
    if t_mul == 1.0:
        i = math.floor(f)
        f = f - i
    else:
        i = math.floor(math.log(1.0 - f * (1.0 - t_mul)) / math.log(t_mul))
        f = (f - (1.0 - t_mul**i) / (1.0 - t_mul)) / t_mul**i
    return i, f, (1 - alpha) * (0.5 * m_mul**i * (1.0 + math.cos(math.pi * f))) + alpha


@pytest.mark.parametrize("t_mul", [1.0, 2.0, 3.0, 1.5, 10.0])
def test_cosine_decay_restarts_is_tf_bit_for_bit_off_the_misplaced_boundaries(t_mul):
    decayed = cosine_decay_restarts(1.0, 0, 1, t_mul, 0.9, 0.1)
    misplaced = 0
    for s in range(0, 20000, 7):
        _, f, tf_value = tf_restarts_verbatim(float(s), 1.0, t_mul, 0.9, 0.1)
        if 0.0 <= f < 1.0:
            assert decayed(s) == tf_value
        else:
            misplaced += 1
    assert misplaced <= 3


def test_cosine_decay_restarts_shrinking_periods_end():
    decayed = cosine_decay_restarts(1.0, 0, 10, t_mul=0.5)  # periods 10, 5, 2.5, ... sum to 20
    exact(decayed(10), 1.0)
    exact(decayed(15), 1.0)
    with pytest.raises(ValueError, match=r"t_mul=0\.5 < 1 ends after"):
        decayed(20)


@pytest.mark.parametrize("num_periods, alpha, beta", [(0.5, 0.0, 0.001), (2.0, 0.1, 0.0)])
def test_linear_cosine_formula(num_periods, alpha, beta):
    d = 1000.0
    s = np.minimum(STEPS, d)
    linear = (d - s) / d
    c = 0.5 * (1 + np.cos(np.pi * 2 * num_periods * s / d))
    expected = 0.1 * ((alpha + linear) * c + beta)
    exact(at(linear_cosine_decay(0.1, 0, d, num_periods, alpha, beta), STEPS), expected)


def test_noisy_linear_cosine_without_variance_is_linear_cosine():
    noisy = noisy_linear_cosine_decay(0.1, 0, 1000, initial_variance=0.0, seed=1)
    exact(at(noisy, STEPS), at(linear_cosine_decay(0.1, 0, 1000), STEPS))


# -- warmup_cosine_decay against Keras 3 and optax, written out here ----------------------------


def keras3_cosine_decay(
    step, initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps
):
    """Keras 3 CosineDecay.__call__ with a warmup_target."""
    step = np.minimum(step, decay_steps + warmup_steps)
    warm = (warmup_target - initial_learning_rate) * (step / max(warmup_steps, 1e-300))
    warm = warm + initial_learning_rate
    c = 0.5 * (1.0 + np.cos(np.pi * ((step - warmup_steps) / decay_steps)))
    decay = warmup_target * ((1 - alpha) * c + alpha)
    return np.where(step < warmup_steps, warm, decay)


def optax_warmup_cosine(count, init_value, peak_value, warmup_steps, decay_steps, end_value):
    """optax.warmup_cosine_decay_schedule (exponent 1): decay_steps includes the warmup."""
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    t = max(warmup_steps, 1e-300)
    linear = (init_value - peak_value) * (1 - np.clip(count, 0, warmup_steps) / t) + peak_value
    cosine_steps = decay_steps - warmup_steps
    k = np.minimum(count - warmup_steps, cosine_steps)
    cosine = peak_value * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * k / cosine_steps)) + alpha)
    return np.where(count < warmup_steps, linear, cosine)


@pytest.mark.parametrize(
    "lr, warmup_steps, decay_steps, warmup_init, alpha",
    [(1e-3, 100, 900, 0.0, 0.0), (0.5, 250, 2000, 0.05, 0.1), (0.2, 0, 1000, 0.0, 0.25)],
)
def test_warmup_cosine_decay_matches_keras3_and_optax(
    lr, warmup_steps, decay_steps, warmup_init, alpha
):
    decayed = at(warmup_cosine_decay(lr, 0, warmup_steps, decay_steps, warmup_init, alpha), STEPS)
    exact(decayed, keras3_cosine_decay(STEPS, warmup_init, decay_steps, alpha, lr, warmup_steps))
    np.testing.assert_allclose(
        decayed,
        optax_warmup_cosine(
            STEPS, warmup_init, lr, warmup_steps, warmup_steps + decay_steps, alpha * lr
        ),
        rtol=1e-12,
        atol=1e-15 * lr,
    )


def test_warmup_cosine_decay_endpoints():
    decayed = warmup_cosine_decay(0.4, 0, 10, 30, warmup_init=0.1, alpha=0.05)
    assert decayed(0) == 0.1
    exact(decayed(5), 0.25)
    assert decayed(10) == 0.4
    exact(decayed(40), 0.05 * 0.4)
    exact(decayed(1000), 0.05 * 0.4)


def test_warmup_cosine_decay_without_warmup_is_cosine_decay():
    exact(
        at(warmup_cosine_decay(0.3, 0, 0, 1000, alpha=0.1), STEPS),
        at(cosine_decay(0.3, 0, 1000, alpha=0.1), STEPS),
    )


# -- the noisy schedule's seeding -----------------------------------------------------------------


def test_noisy_same_seed_same_sequence(graph):
    step = step_variable()
    a = noisy_linear_cosine_decay(0.1, step, 100, num_periods=1.0, seed=42)
    b = noisy_linear_cosine_decay(0.1, step, 100, num_periods=1.0, seed=42)
    first, second = [], []
    for i in range(200):
        step.assign(i)
        first.append(a())
        second.append(b())
    assert first == second
    assert len(set(first)) == len(first)  # fresh noise at every step, past decay_steps too


def test_noisy_is_a_pure_function_of_the_step():
    noisy = noisy_linear_cosine_decay(0.1, 0, 100, seed=7)
    assert [noisy(s) for s in range(50)] == [noisy(s) for s in range(50)]
    assert noisy(3) == noisy(3.0) == noisy(np.int64(3))


def test_noisy_different_seeds_differ():
    a = at(noisy_linear_cosine_decay(0.1, 0, 100, seed=1), range(20))
    b = at(noisy_linear_cosine_decay(0.1, 0, 100, seed=2), range(20))
    c = at(noisy_linear_cosine_decay(0.1, 0, 100), range(20))
    d = at(noisy_linear_cosine_decay(0.1, 0, 100), range(20))
    assert not np.array_equal(a, b)
    assert not np.array_equal(c, d)


def test_noisy_noise_has_the_stated_distribution():
    # num_periods=1: past decay_steps the cosine factor is 1 and the linear part 0, so the value
    # is lr * (alpha + eps + beta) with eps ~ N(0, initial_variance / (1 + D)**variance_decay).
    d, iv, vd, lr, beta = 100, 4.0, 0.5, 2.0, 0.001
    noisy = noisy_linear_cosine_decay(lr, 0, d, iv, vd, num_periods=1.0, beta=beta, seed=123)
    eps = at(noisy, np.arange(d, d + 20000)) / lr - beta
    std = math.sqrt(iv / (1 + d) ** vd)
    assert abs(eps.mean()) < 4 * std / math.sqrt(eps.size)
    assert abs(eps.std() / std - 1) < 0.03


def test_noisy_value_at_step_zero_matches_formula():
    noisy = noisy_linear_cosine_decay(1.0, 0, 1000, initial_variance=0.25, seed=5)
    eps = noisy(0) - 1.001  # (0 + 1 + eps) * 1 + 0.001
    exact(noisy(0), 1.0 * ((0 + 1 + eps) * 1 + 0.001))
    assert eps != 0


# -- step sources --------------------------------------------------------------------------------


def test_step_from_callable_and_number():
    counter = {"t": 0}
    decayed = exponential_decay(1.0, lambda: counter["t"], 1, 0.5)
    assert decayed() == 1.0
    counter["t"] = 3
    assert decayed() == 0.125
    assert exponential_decay(1.0, 2, 1, 0.5)() == 0.25
    assert exponential_decay(1.0, np.array(2), 1, 0.5)() == 0.25


def test_float_step_variable(graph):
    step = optim.Variable(0.0, trainable=False, name="t")
    decayed = exponential_decay(1.0, step, 2.0, 0.25)
    step.assign(1.0)
    assert decayed() == 0.5


def test_explicit_step_does_not_read_the_variable(graph):
    step = step_variable(7)
    decayed = exponential_decay(1.0, step, 1, 0.5)
    assert decayed(1) == 0.5
    assert decayed() == 0.5**7
    assert int(step.value) == 7


def test_schedule_class_with_a_user_function(graph):
    step = step_variable()
    lr = Schedule(lambda s: 0.1 / (1.0 + s), step, name="InverseStep")
    assert lr() == 0.1
    assert lr(4) == 0.02
    assert lr.name == "InverseStep"
    assert "name='InverseStep'" in repr(lr)


def test_schedule_exposes_fn_step_and_config(graph):
    step = step_variable(5)
    decayed = exponential_decay(0.1, step, 10, 0.5, name="lr")
    assert decayed.fn(20.0) == decayed(20) == 0.1 * 0.25
    assert decayed.global_step is step
    assert decayed.current_step() == 5.0
    assert decayed.config == {
        "learning_rate": 0.1,
        "decay_steps": 10.0,
        "decay_rate": 0.5,
        "staircase": False,
    }


@pytest.mark.parametrize(
    "make, default",
    [
        (lambda s: exponential_decay(0.1, s, 10, 0.5), "ExponentialDecay"),
        (lambda s: piecewise_constant(s, [1], [0.1, 0.01]), "PiecewiseConstant"),
        (lambda s: polynomial_decay(0.1, s, 10), "PolynomialDecay"),
        (lambda s: natural_exp_decay(0.1, s, 10, 0.5), "NaturalExpDecay"),
        (lambda s: inverse_time_decay(0.1, s, 10, 0.5), "InverseTimeDecay"),
        (lambda s: cosine_decay(0.1, s, 10), "CosineDecay"),
        (lambda s: cosine_decay_restarts(0.1, s, 10), "SGDRDecay"),
        (lambda s: linear_cosine_decay(0.1, s, 10), "LinearCosineDecay"),
        (lambda s: noisy_linear_cosine_decay(0.1, s, 10, seed=0), "NoisyLinearCosineDecay"),
        (lambda s: warmup_cosine_decay(0.1, s, 5, 10), "WarmupCosineDecay"),
    ],
)
def test_default_names_and_repr(graph, make, default):
    step = step_variable()
    schedule = make(step)
    assert schedule.name == default
    text = repr(schedule)
    assert f"name='{default}'" in text
    assert "<optim.Variable 'global_step'>" in text
    assert isinstance(schedule(), float)


def test_repr_in_signature_order(graph):
    step = step_variable()
    assert repr(exponential_decay(0.1, step, 10, 0.5, staircase=True, name="lr")) == (
        "exponential_decay(learning_rate=0.1, global_step=<optim.Variable 'global_step'>, "
        "decay_steps=10.0, decay_rate=0.5, staircase=True, name='lr')"
    )
    assert repr(piecewise_constant(step, [10, 20], [1.0, 0.5, 0.1])) == (
        "piecewise_constant(x=<optim.Variable 'global_step'>, boundaries=[10, 20], "
        "values=[1.0, 0.5, 0.1], name='PiecewiseConstant')"
    )


# -- validation ----------------------------------------------------------------------------------

EXP = exponential_decay
POLY = polynomial_decay

BAD = [
    # global_step missing: TF's messages
    (
        lambda: exponential_decay(0.1, None, 10, 0.5),
        ValueError,
        "global_step is required for exponential_decay.",
    ),
    (
        lambda: polynomial_decay(0.1, None, 10),
        ValueError,
        "global_step is required for polynomial_decay.",
    ),
    (
        lambda: natural_exp_decay(0.1, None, 10, 0.5),
        ValueError,
        "global_step is required for natural_exp_decay.",
    ),
    (
        lambda: inverse_time_decay(0.1, None, 10, 0.5),
        ValueError,
        "global_step is required for inverse_time_decay.",
    ),
    (lambda: cosine_decay(0.1, None, 10), ValueError, "cosine decay requires global_step"),
    (
        lambda: cosine_decay_restarts(0.1, None, 10),
        ValueError,
        "cosine decay restarts requires global_step",
    ),
    (
        lambda: linear_cosine_decay(0.1, None, 10),
        ValueError,
        "linear cosine decay requires global_step",
    ),
    (
        lambda: noisy_linear_cosine_decay(0.1, None, 10),
        ValueError,
        "noisy linear cosine decay requires global_step",
    ),
    (
        lambda: warmup_cosine_decay(0.1, None, 1, 10),
        ValueError,
        "global_step is required for warmup_cosine_decay.",
    ),
    (
        lambda: piecewise_constant(None, [1], [1.0, 2.0]),
        ValueError,
        "x is required for piecewise_constant.",
    ),
    # step sources of the wrong type or shape
    (
        lambda: EXP(0.1, "step", 10, 0.5),
        TypeError,
        "`global_step` of exponential_decay must be an optim.Variable, a zero-argument callable "
        "or a number, got 'step'.",
    ),
    (lambda: EXP(0.1, True, 10, 0.5), TypeError, "`global_step` of exponential_decay must be"),
    (
        lambda: EXP(0.1, optim.Variable([0, 1], trainable=False), 10, 0.5),
        ValueError,
        "`global_step` must be a scalar Variable, got shape (2,).",
    ),
    (
        lambda: EXP(0.1, optim.Variable(True, trainable=False), 10, 0.5),
        TypeError,
        "`global_step` must be an integer or float Variable, got dtype bool.",
    ),
    # decay_steps
    (lambda: EXP(0.1, 0, 0, 0.5), ValueError, "`decay_steps` must be > 0, got 0."),
    (lambda: EXP(0.1, 0, -10, 0.5), ValueError, "`decay_steps` must be > 0, got -10."),
    (lambda: EXP(0.1, 0, math.nan, 0.5), ValueError, "`decay_steps` must be finite, got nan."),
    (lambda: EXP(0.1, 0, "10", 0.5), TypeError, "`decay_steps` must be a real number, got '10'."),
    (lambda: EXP(0.1, 0, True, 0.5), TypeError, "`decay_steps` must be a real number, got True."),
    (lambda: POLY(0.1, 0, 0), ValueError, "`decay_steps` must be > 0, got 0."),
    (lambda: natural_exp_decay(0.1, 0, 0, 0.5), ValueError, "`decay_steps` must be > 0, got 0."),
    (lambda: inverse_time_decay(0.1, 0, -1, 0.5), ValueError, "`decay_steps` must be > 0"),
    (lambda: cosine_decay(0.1, 0, 0), ValueError, "`decay_steps` must be > 0, got 0."),
    (
        lambda: cosine_decay_restarts(0.1, 0, 0),
        ValueError,
        "`first_decay_steps` must be > 0, got 0.",
    ),
    (lambda: linear_cosine_decay(0.1, 0, 0), ValueError, "`decay_steps` must be > 0, got 0."),
    (lambda: noisy_linear_cosine_decay(0.1, 0, 0), ValueError, "`decay_steps` must be > 0"),
    (lambda: warmup_cosine_decay(0.1, 0, 1, 0), ValueError, "`decay_steps` must be > 0, got 0."),
    # rates
    (lambda: EXP(-0.1, 0, 10, 0.5), ValueError, "`learning_rate` must be >= 0, got -0.1."),
    (lambda: EXP(math.inf, 0, 10, 0.5), ValueError, "`learning_rate` must be finite, got inf."),
    (lambda: EXP(None, 0, 10, 0.5), TypeError, "`learning_rate` must be a real number, got None."),
    (lambda: EXP(0.1, 0, 10, -0.5), ValueError, "`decay_rate` must be >= 0, got -0.5."),
    (lambda: natural_exp_decay(0.1, 0, 10, -1.0), ValueError, "`decay_rate` must be >= 0"),
    (lambda: inverse_time_decay(0.1, 0, 10, -1.0), ValueError, "`decay_rate` must be >= 0"),
    (
        lambda: POLY(0.1, 0, 10, end_learning_rate=-1.0),
        ValueError,
        "`end_learning_rate` must be >= 0, got -1.0.",
    ),
    (lambda: POLY(0.1, 0, 10, power=-1.0), ValueError, "`power` must be >= 0, got -1.0."),
    (
        lambda: cosine_decay(0.1, 0, 10, alpha=1.5),
        ValueError,
        "`alpha` must be in [0, 1], got 1.5.",
    ),
    (lambda: cosine_decay(0.1, 0, 10, alpha=-0.1), ValueError, "`alpha` must be in [0, 1]"),
    (
        lambda: cosine_decay_restarts(0.1, 0, 10, t_mul=0.0),
        ValueError,
        "`t_mul` must be > 0, got 0.0.",
    ),
    (
        lambda: cosine_decay_restarts(0.1, 0, 10, m_mul=-1.0),
        ValueError,
        "`m_mul` must be >= 0, got -1.0.",
    ),
    (lambda: cosine_decay_restarts(0.1, 0, 10, alpha=2.0), ValueError, "`alpha` must be in"),
    (
        lambda: linear_cosine_decay(0.1, 0, 10, num_periods=-1.0),
        ValueError,
        "`num_periods` must be >= 0, got -1.0.",
    ),
    (lambda: linear_cosine_decay(0.1, 0, 10, beta=-1.0), ValueError, "`beta` must be >= 0"),
    (lambda: linear_cosine_decay(0.1, 0, 10, alpha=-1.0), ValueError, "`alpha` must be >= 0"),
    (
        lambda: noisy_linear_cosine_decay(0.1, 0, 10, initial_variance=-1.0),
        ValueError,
        "`initial_variance` must be >= 0, got -1.0.",
    ),
    (
        lambda: noisy_linear_cosine_decay(0.1, 0, 10, variance_decay=math.nan),
        ValueError,
        "`variance_decay` must be finite, got nan.",
    ),
    (
        lambda: noisy_linear_cosine_decay(0.1, 0, 10, seed=-1),
        ValueError,
        "`seed` must be a non-negative int or None, got -1.",
    ),
    (
        lambda: noisy_linear_cosine_decay(0.1, 0, 10, seed=1.5),
        TypeError,
        "`seed` must be a non-negative int or None, got 1.5.",
    ),
    (
        lambda: warmup_cosine_decay(0.1, 0, -1, 10),
        ValueError,
        "`warmup_steps` must be >= 0, got -1.",
    ),
    (
        lambda: warmup_cosine_decay(0.1, 0, 1, 10, warmup_init=-0.1),
        ValueError,
        "`warmup_init` must be >= 0, got -0.1.",
    ),
    # booleans
    (lambda: EXP(0.1, 0, 10, 0.5, staircase=1), TypeError, "`staircase` must be a bool, got 1."),
    (
        lambda: natural_exp_decay(0.1, 0, 10, 0.5, staircase="yes"),
        TypeError,
        "`staircase` must be a bool",
    ),
    (
        lambda: inverse_time_decay(0.1, 0, 10, 0.5, staircase=None),
        TypeError,
        "`staircase` must be a bool",
    ),
    (lambda: POLY(0.1, 0, 10, cycle=0), TypeError, "`cycle` must be a bool, got 0."),
    # piecewise_constant
    (
        lambda: piecewise_constant(0, [1, 2], [1.0, 2.0]),
        ValueError,
        "The length of boundaries should be 1 less than the length of values",
    ),
    (
        lambda: piecewise_constant(0, [1, 2], [1.0, 2.0, 3.0, 4.0]),
        ValueError,
        "The length of boundaries should be 1 less than the length of values, got 2 boundaries "
        "and 4 values.",
    ),
    (
        lambda: piecewise_constant(0, [2, 1], [1.0, 2.0, 3.0]),
        ValueError,
        "`boundaries` must be strictly increasing, got [2, 1].",
    ),
    (
        lambda: piecewise_constant(0, [1, 1], [1.0, 2.0, 3.0]),
        ValueError,
        "`boundaries` must be strictly increasing",
    ),
    (
        lambda: piecewise_constant(0, 5, [1.0, 2.0]),
        TypeError,
        "`boundaries` must be a sequence of numbers, got 5.",
    ),
    (
        lambda: piecewise_constant(0, [1], 0.5),
        TypeError,
        "`values` must be a sequence of numbers, got 0.5.",
    ),
    (lambda: piecewise_constant(0, [1], "ab"), TypeError, "`values` must be a sequence"),
    (
        lambda: piecewise_constant(0, ["a"], [1.0, 2.0]),
        TypeError,
        "`boundaries[0]` must be a real number, got 'a'.",
    ),
    (
        lambda: piecewise_constant(0, [math.nan], [1.0, 2.0]),
        ValueError,
        "`boundaries[0]` must be finite, got nan.",
    ),
    (
        lambda: piecewise_constant(0, [1], [1.0, None]),
        TypeError,
        "`values[1]` must be a real number, got None.",
    ),
    (
        lambda: piecewise_constant(0, [1], [1.0, math.inf]),
        ValueError,
        "`values[1]` must be finite, got inf.",
    ),
    (
        lambda: piecewise_constant(0, np.array([[1]]), [1.0, 2.0]),
        TypeError,
        "`boundaries` must be a 1-D sequence of numbers",
    ),
    (
        lambda: piecewise_constant({"a"}, [1], [1.0, 2.0]),
        TypeError,
        "`x` of piecewise_constant must be an optim.Variable",
    ),
    # the Schedule class
    (lambda: Schedule(5, 0), TypeError, "`fn` must be callable, got 5."),
    (lambda: Schedule(abs, None), ValueError, "global_step is required for Schedule."),
]


@pytest.mark.parametrize("make, exc, message", BAD, ids=[b[2][:60] for b in BAD])
def test_bad_arguments(graph, make, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        make()


EVAL_BAD = [
    (
        lambda: exponential_decay(0.1, -1, 10, 0.5)(),
        ValueError,
        "`global_step` must be a finite number >= 0, got -1.",
    ),
    (
        lambda: cosine_decay(0.1, lambda: math.inf, 10)(),
        ValueError,
        "`global_step` must be a finite number >= 0, got inf.",
    ),
    (
        lambda: cosine_decay(0.1, lambda: math.nan, 10)(),
        ValueError,
        "`global_step` must not be NaN, got nan.",
    ),
    (
        lambda: cosine_decay(0.1, lambda: "3", 10)(),
        TypeError,
        "`global_step` must be a real number, got '3'.",
    ),
    (
        lambda: cosine_decay(0.1, lambda: None, 10)(),
        TypeError,
        "`global_step` must be a real number, got None.",
    ),
    (
        lambda: cosine_decay(0.1, 0, 10)(-2),
        ValueError,
        "`step` must be a finite number >= 0, got -2.",
    ),
    (lambda: cosine_decay(0.1, 0, 10)("2"), TypeError, "`step` must be a real number, got '2'."),
    (
        lambda: piecewise_constant(lambda: math.nan, [1], [1.0, 2.0])(),
        ValueError,
        "`x` must not be NaN, got nan.",
    ),
    (
        lambda: piecewise_constant(0, [1], [1.0, 2.0])(True),
        TypeError,
        "`step` must be a real number, got True.",
    ),
]


@pytest.mark.parametrize("make, exc, message", EVAL_BAD, ids=[b[2][:60] for b in EVAL_BAD])
def test_bad_steps_at_evaluation(make, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        make()


def test_piecewise_takes_negative_and_float_x():
    decayed = piecewise_constant(0, [-1.5, 0, 2.5], [1.0, 2.0, 3.0, 4.0])
    assert [decayed(x) for x in (-math.inf, -1.5, -1, 0, 0.5, 2.5, 2.6, math.inf)] == [
        1.0,
        1.0,
        2.0,
        2.0,
        3.0,
        3.0,
        4.0,
        4.0,
    ]


def test_piecewise_int_values_come_back_as_floats():
    decayed = piecewise_constant(0, [10], [1, 0.5])  # TF raises for mixed int/float values
    assert decayed(0) == 1.0 and isinstance(decayed(0), float)
    assert decayed(11) == 0.5


def test_piecewise_empty_boundaries_is_constant():
    assert piecewise_constant(0, [], [0.3])(100) == 0.3


def test_exponential_growth_overflows_to_inf():
    assert exponential_decay(1.0, 0, 1, 2.0)(5000) == math.inf


def test_optimizer_rejects_non_finite_scheduled_rate(graph):
    step = step_variable()
    w = optim.Variable([1.0, 2.0])
    opt = optim.train.GradientDescentOptimizer(exponential_decay(1.0, step, 1, 2.0))
    step.assign(5000)
    with pytest.raises(ValueError, match=r"`learning_rate` must be finite, got inf"):
        opt.apply_gradients([(np.ones(2), w)], global_step=step)
    np.testing.assert_array_equal(w.value, [1.0, 2.0])
    assert int(step.value) == 5000


# -- schedules driving an optimizer ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_descent_follows_exponential_decay(graph, dtype):
    step = optim.train.get_or_create_global_step()
    w = optim.Variable(np.array([1.0, -2.0], dtype), name="w")
    g = np.array([0.5, 0.25], dtype)
    opt = optim.train.GradientDescentOptimizer(exponential_decay(0.1, step, 10, 0.5))
    expected = w.numpy()
    for k in range(40):
        opt.apply_gradients([(g, w)], global_step=step)
        lr = dtype(0.1 * 0.5 ** (k / 10))  # the rate at step k, cast to the variable's dtype
        expected = expected - g * lr
        np.testing.assert_array_equal(w.value, expected)
        assert w.dtype == dtype
    assert int(step.value) == 40


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minimize_with_staircase_piecewise_and_cosine(graph, dtype):
    step = optim.train.get_or_create_global_step()
    w = optim.Variable(np.array([3.0], dtype), name="w")
    for schedule, rate in (
        (exponential_decay(0.1, step, 3, 0.5, staircase=True), lambda k: 0.1 * 0.5 ** (k // 3)),
        (
            piecewise_constant(step, [2, 5], [0.3, 0.2, 0.1]),
            lambda k: 0.3 if k <= 2 else 0.2 if k <= 5 else 0.1,
        ),
        (
            cosine_decay(0.2, step, 8, alpha=0.1),
            lambda k: 0.2 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(k, 8) / 8)) + 0.1),
        ),
    ):
        step.assign(0)
        w.assign(np.array([3.0], dtype))
        opt = optim.train.GradientDescentOptimizer(schedule)
        expected = w.numpy()
        for k in range(12):
            opt.minimize(lambda: (w.value[0] ** 2) / 2, global_step=step)  # gradient = w
            expected = expected - expected * dtype(rate(k))
            np.testing.assert_array_equal(w.value, expected)


def test_momentum_reads_the_schedule_once_per_apply(graph):
    step = optim.train.get_or_create_global_step()
    calls = []

    def fn(s):
        calls.append(s)
        return 0.1

    w0 = optim.Variable([1.0], name="a")
    w1 = optim.Variable([2.0], name="b")
    opt = optim.train.MomentumOptimizer(Schedule(fn, step), 0.9)
    for _ in range(3):
        opt.apply_gradients([(np.ones(1), w0), (np.ones(1), w1)], global_step=step)
    assert calls == [0.0, 1.0, 2.0]


def test_schedule_driven_by_the_optimizer_iterations(graph):
    w = optim.Variable([1.0])
    opt = None
    opt = optim.train.GradientDescentOptimizer(
        inverse_time_decay(1.0, lambda: opt.iterations, 1, 1.0)
    )
    expected = w.numpy()
    for k in range(5):
        opt.apply_gradients([(np.ones(1), w)])
        expected = expected - 1.0 / (1 + k)
        np.testing.assert_array_equal(w.value, expected)
