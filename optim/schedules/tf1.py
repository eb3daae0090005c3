"""Learning-rate decay: TF1's ``tf.train.*_decay`` functions as pure functions of the step.

Each function validates its arguments once and returns a :class:`Schedule`: a pure function
``fn(step) -> float`` bound to the place the global step is read from (an ``optim.Variable``, a
zero-argument callable, or a fixed number). Calling the schedule with no argument evaluates it at
the current step, which is what an optimizer does once per ``apply_gradients``; calling it with a
step evaluates it there::

    step = optim.train.get_or_create_global_step()
    lr = exponential_decay(0.1, step, decay_steps=1000, decay_rate=0.96, staircase=True)
    opt = optim.train.GradientDescentOptimizer(lr)
    opt.minimize(loss, global_step=step)      # uses lr(step) and then increments step
    lr(5000)                                  # 0.1 * 0.96**5 at an explicit step

The arithmetic is done in float64 Python floats (TF computes in ``learning_rate``'s dtype); the
optimizer casts the value to each variable's dtype, as TF does. The formulas and the order of
their operations follow ``tensorflow/python/training/learning_rate_decay.py``.

The step is a counter: schedules of ``global_step`` require it to be a finite number >= 0 when
they are evaluated (TF documents "Must not be negative" and leaves it unchecked).
``piecewise_constant`` takes any non-NaN ``x``.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..validation import NONNEGATIVE, POSITIVE, Interval, check_bool, check_real
from .base import Schedule, check_step_source

__all__ = [
    "exponential_decay",
    "piecewise_constant",
    "polynomial_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "cosine_decay",
    "cosine_decay_restarts",
    "linear_cosine_decay",
    "noisy_linear_cosine_decay",
    "warmup_cosine_decay",
]

_FRACTION = Interval(0.0, 1.0)


# -- pure step functions (float step in, float out; TF's order of operations) -------------------
def _exponential(step, *, learning_rate, decay_steps, decay_rate, staircase):
    p = step / decay_steps
    if staircase:
        p = float(math.floor(p))
    try:
        factor = decay_rate**p
    except OverflowError:  # decay_rate > 1 far out: TF gives inf
        factor = math.inf
    return learning_rate * factor


def _piecewise(x, *, boundaries, values):
    for boundary, value in zip(boundaries, values):
        if x <= boundary:
            return value
    return values[-1]


def _polynomial(step, *, learning_rate, decay_steps, end_learning_rate, power, cycle):
    if cycle:
        multiplier = 1.0 if step == 0 else float(math.ceil(step / decay_steps))
        decay_steps = decay_steps * multiplier
    else:
        step = min(step, decay_steps)
    p = step / decay_steps
    # max(): a non-integer decay_steps * multiplier can round just below the step.
    return (learning_rate - end_learning_rate) * max(1.0 - p, 0.0) ** power + end_learning_rate


def _natural_exp(step, *, learning_rate, decay_steps, decay_rate, staircase):
    p = step / decay_steps
    if staircase:
        p = float(math.floor(p))
    return learning_rate * math.exp(-decay_rate * p)


def _inverse_time(step, *, learning_rate, decay_steps, decay_rate, staircase):
    p = step / decay_steps
    if staircase:
        p = float(math.floor(p))
    return learning_rate / (1.0 + decay_rate * p)


def _cosine(step, *, learning_rate, decay_steps, alpha):
    step = min(step, decay_steps)
    completed_fraction = step / decay_steps
    cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * completed_fraction))
    decayed = (1.0 - alpha) * cosine_decayed + alpha
    return learning_rate * decayed


def _restart_index(fraction: float, t_mul: float) -> tuple[float, float]:
    """(period index i, fraction of period i done) for ``fraction`` first periods elapsed."""
    if t_mul == 1.0:
        i = float(math.floor(fraction))
        return i, fraction - i
    argument = 1.0 - fraction * (1.0 - t_mul)
    if argument <= 0.0:  # t_mul < 1: every period is over after 1 / (1 - t_mul) first periods
        raise ValueError(
            f"cosine_decay_restarts with t_mul={t_mul!r} < 1 ends after "
            f"first_decay_steps / (1 - t_mul) steps; the step is past that end."
        )
    i = float(math.floor(math.log(argument) / math.log(t_mul)))
    # TF's floor(log/log) can land one period early or late at an exact restart boundary
    # (t_mul=3 at 121 first periods gives i=4, f=1); move to the period the step is in.
    for _ in range(2):
        f = (fraction - (1.0 - t_mul**i) / (1.0 - t_mul)) / t_mul**i
        if f >= 1.0:
            i += 1.0
        elif f < 0.0:
            i -= 1.0
        else:
            break
    f = (fraction - (1.0 - t_mul**i) / (1.0 - t_mul)) / t_mul**i
    return i, f


def _cosine_restarts(step, *, learning_rate, first_decay_steps, t_mul, m_mul, alpha):
    completed_fraction = step / first_decay_steps
    i_restart, completed_fraction = _restart_index(completed_fraction, t_mul)
    m_fac = m_mul**i_restart
    cosine_decayed = 0.5 * m_fac * (1.0 + math.cos(math.pi * completed_fraction))
    decayed = (1.0 - alpha) * cosine_decayed + alpha
    return learning_rate * decayed


def _linear_cosine(step, *, learning_rate, decay_steps, num_periods, alpha, beta, noise=0.0):
    step = min(step, decay_steps)
    linear_decayed = (decay_steps - step) / decay_steps + noise
    completed_fraction = step / decay_steps
    fraction = 2.0 * num_periods * completed_fraction
    cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * fraction))
    linear_cosine_decayed = (alpha + linear_decayed) * cosine_decayed + beta
    return learning_rate * linear_cosine_decayed


def _noise(seed: int, step: float) -> float:
    """A standard normal draw that depends only on (seed, step)."""
    bits = int(np.float64(step).view(np.uint64))
    return float(np.random.default_rng([seed, bits]).standard_normal())


def _noisy_linear_cosine(
    step,
    *,
    learning_rate,
    decay_steps,
    initial_variance,
    variance_decay,
    num_periods,
    alpha,
    beta,
    seed,
):
    clamped = min(step, decay_steps)
    variance = initial_variance / (1.0 + clamped) ** variance_decay
    std = math.sqrt(variance)
    noise = std * _noise(seed, step) if std > 0.0 else 0.0
    return _linear_cosine(
        step,
        learning_rate=learning_rate,
        decay_steps=decay_steps,
        num_periods=num_periods,
        alpha=alpha,
        beta=beta,
        noise=noise,
    )


def _warmup_cosine(step, *, learning_rate, warmup_steps, decay_steps, warmup_init, alpha):
    # Keras 3 CosineDecay(initial_learning_rate=warmup_init, warmup_target=learning_rate, ...).
    step = min(step, decay_steps + warmup_steps)
    if step < warmup_steps:
        completed_fraction = step / warmup_steps
        return (learning_rate - warmup_init) * completed_fraction + warmup_init
    completed_fraction = (step - warmup_steps) / decay_steps
    cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * completed_fraction))
    decayed = (1.0 - alpha) * cosine_decayed + alpha
    return learning_rate * decayed


# -- the TF1 functions -------------------------------------------------------------------------
def exponential_decay(
    learning_rate: float,
    global_step: Any,
    decay_steps: float,
    decay_rate: float,
    staircase: bool = False,
    name: str | None = None,
) -> Schedule:
    """Exponential decay of the learning rate (TF1 ``tf.train.exponential_decay``).

    ::

        p = global_step / decay_steps          # floor(p) if staircase
        decayed = learning_rate * decay_rate ** p

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable`` (read at each call), a zero-argument callable
            returning the step, or a number.
        decay_steps: > 0.
        decay_rate: >= 0 (values above 1 grow the rate).
        staircase: decay at discrete intervals. Default False.
        name: default ``"ExponentialDecay"``.

    Returns:
        A :class:`Schedule`; ``schedule()`` is the decayed rate at the current step.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> step = optim.train.get_or_create_global_step()
        >>> lr = exponential_decay(0.1, step, 100000, 0.96, staircase=True)
        >>> optim.train.GradientDescentOptimizer(lr).minimize(loss, global_step=step)

    .. note::
        optax ``exponential_decay(init_value, transition_steps, decay_rate, staircase=...)`` is
        the same function (with ``transition_begin=0`` and no ``end_value``); PyTorch's
        ``ExponentialLR(gamma)`` is ``decay_steps=1, decay_rate=gamma`` applied per epoch.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "exponential_decay",
        "global_step is required for exponential_decay.",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "decay_rate": check_real("decay_rate", decay_rate, NONNEGATIVE),
        "staircase": check_bool("staircase", staircase),
    }
    fn = functools.partial(_exponential, **arguments)
    return Schedule.from_parts(
        "exponential_decay", fn, global_step, name or "ExponentialDecay", arguments
    )


def piecewise_constant(
    x: Any, boundaries: Sequence[float], values: Sequence[float], name: str | None = None
) -> Schedule:
    """A piecewise constant function of ``x`` (TF1 ``tf.train.piecewise_constant``).

    ::

        values[0]   if x <= boundaries[0]
        values[i]   if boundaries[i-1] < x <= boundaries[i]
        values[-1]  if x > boundaries[-1]

    Each boundary belongs to the interval on its left: the value changes at the first ``x``
    strictly greater than the boundary.

    Args:
        x: an ``optim.Variable`` (read at each call), a zero-argument callable, or a number; any
            real value but NaN.
        boundaries: strictly increasing real numbers (ints or floats, compared exactly).
        values: finite real numbers, one more than ``boundaries``; returned as floats.
        name: default ``"PiecewiseConstant"``.

    Returns:
        A :class:`Schedule` of ``x``.

    Raises:
        ValueError: ``x`` is None, ``len(boundaries) != len(values) - 1`` ("The length of
            boundaries should be 1 less than the length of values"), boundaries not strictly
            increasing or not finite, values not finite.
        TypeError: ``boundaries`` or ``values`` not sequences of real numbers, a bad ``x``.

    Example:
        >>> step = optim.train.get_or_create_global_step()
        >>> lr = piecewise_constant(step, [100000, 110000], [1.0, 0.5, 0.1])

    .. note::
        TF raises for boundaries of another dtype than ``x`` (except int32 boundaries with an
        int64 ``x``) and for values of mixed dtypes (``[1, 0.5]``); optim compares numbers
        exactly and returns floats, so those cases simply work. optax
        ``piecewise_constant_schedule`` and PyTorch ``MultiStepLR`` switch *at* the boundary
        (``step >= b``); TF switches one step later (``step > b``).
    """
    x = check_step_source("x", x, "piecewise_constant", "x is required for piecewise_constant.")
    for arg, seq in (("boundaries", boundaries), ("values", values)):
        if isinstance(seq, np.ndarray):
            if seq.ndim != 1:
                raise TypeError(f"`{arg}` must be a 1-D sequence of numbers, got {seq!r}.")
        elif not isinstance(seq, Sequence) or isinstance(seq, (str, bytes)):
            raise TypeError(f"`{arg}` must be a sequence of numbers, got {seq!r}.")
    if len(boundaries) != len(values) - 1:
        raise ValueError(
            "The length of boundaries should be 1 less than the length of values, "
            f"got {len(boundaries)} boundaries and {len(values)} values."
        )
    checked_boundaries = tuple(check_real(f"boundaries[{i}]", b) for i, b in enumerate(boundaries))
    for i in range(1, len(checked_boundaries)):
        if not checked_boundaries[i - 1] < checked_boundaries[i]:
            raise ValueError(f"`boundaries` must be strictly increasing, got {boundaries!r}.")
    # Python ints compare exactly with the step; keep them as given.
    exact = tuple(b.item() if isinstance(b, (np.generic, np.ndarray)) else b for b in boundaries)
    checked_values = tuple(check_real(f"values[{i}]", v) for i, v in enumerate(values))
    arguments = {"boundaries": list(exact), "values": list(checked_values)}
    fn = functools.partial(_piecewise, boundaries=exact, values=checked_values)
    return Schedule.from_parts(
        "piecewise_constant",
        fn,
        x,
        name or "PiecewiseConstant",
        arguments,
        step_arg="x",
        step_index=0,
        counter=False,
    )


def polynomial_decay(
    learning_rate: float,
    global_step: Any,
    decay_steps: float,
    end_learning_rate: float = 0.0001,
    power: float = 1.0,
    cycle: bool = False,
    name: str | None = None,
) -> Schedule:
    """Polynomial decay from ``learning_rate`` to ``end_learning_rate`` (TF1 ``polynomial_decay``).

    ::

        if cycle:
            decay_steps = decay_steps * (1 if global_step == 0 else ceil(global_step / decay_steps))
        else:
            global_step = min(global_step, decay_steps)
        decayed = (learning_rate - end_learning_rate) * (1 - global_step / decay_steps) ** power
                  + end_learning_rate

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        decay_steps: > 0.
        end_learning_rate: >= 0. Default 0.0001.
        power: >= 0. Default 1.0 (linear).
        cycle: restart the decay after each ``decay_steps`` (with a longer period). Default
            False.
        name: default ``"PolynomialDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = polynomial_decay(0.1, step, 10000, end_learning_rate=0.01, power=0.5)

    .. note::
        optax ``polynomial_schedule(init_value, end_value, power, transition_steps)`` is the
        ``cycle=False`` case; PyTorch ``PolynomialLR(total_iters, power)`` always ends at 0.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "polynomial_decay",
        "global_step is required for polynomial_decay.",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "end_learning_rate": check_real("end_learning_rate", end_learning_rate, NONNEGATIVE),
        "power": check_real("power", power, NONNEGATIVE),
        "cycle": check_bool("cycle", cycle),
    }
    fn = functools.partial(_polynomial, **arguments)
    return Schedule.from_parts(
        "polynomial_decay", fn, global_step, name or "PolynomialDecay", arguments
    )


def natural_exp_decay(
    learning_rate: float,
    global_step: Any,
    decay_steps: float,
    decay_rate: float,
    staircase: bool = False,
    name: str | None = None,
) -> Schedule:
    """Natural exponential decay (TF1 ``tf.train.natural_exp_decay``).

    ::

        p = global_step / decay_steps          # floor(p) if staircase
        decayed = learning_rate * exp(-decay_rate * p)

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        decay_steps: > 0.
        decay_rate: >= 0.
        staircase: decay at discrete intervals. Default False.
        name: default ``"NaturalExpDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = natural_exp_decay(0.1, step, 10, 0.96)

    .. note::
        TF's older docstring writes ``exp(-decay_rate * global_step)``; the code (and this
        function) divides the step by ``decay_steps``. Later TF releases compute
        ``learning_rate * exp(-decay_rate) ** p``, equal up to rounding.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "natural_exp_decay",
        "global_step is required for natural_exp_decay.",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "decay_rate": check_real("decay_rate", decay_rate, NONNEGATIVE),
        "staircase": check_bool("staircase", staircase),
    }
    fn = functools.partial(_natural_exp, **arguments)
    return Schedule.from_parts(
        "natural_exp_decay", fn, global_step, name or "NaturalExpDecay", arguments
    )


def inverse_time_decay(
    learning_rate: float,
    global_step: Any,
    decay_steps: float,
    decay_rate: float,
    staircase: bool = False,
    name: str | None = None,
) -> Schedule:
    """Inverse time decay (TF1 ``tf.train.inverse_time_decay``).

    ::

        p = global_step / decay_steps          # floor(p) if staircase
        decayed = learning_rate / (1 + decay_rate * p)

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        decay_steps: > 0.
        decay_rate: >= 0.
        staircase: decay at discrete intervals. Default False.
        name: default ``"InverseTimeDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = inverse_time_decay(0.1, step, 1.0, 0.5)     # 0.1 / (1 + 0.5 t)
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "inverse_time_decay",
        "global_step is required for inverse_time_decay.",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "decay_rate": check_real("decay_rate", decay_rate, NONNEGATIVE),
        "staircase": check_bool("staircase", staircase),
    }
    fn = functools.partial(_inverse_time, **arguments)
    return Schedule.from_parts(
        "inverse_time_decay", fn, global_step, name or "InverseTimeDecay", arguments
    )


def cosine_decay(
    learning_rate: float,
    global_step: Any,
    decay_steps: float,
    alpha: float = 0.0,
    name: str | None = None,
) -> Schedule:
    """Cosine decay (TF1 ``tf.train.cosine_decay``).

    ::

        global_step = min(global_step, decay_steps)
        cosine_decayed = 0.5 * (1 + cos(pi * global_step / decay_steps))
        decayed = learning_rate * ((1 - alpha) * cosine_decayed + alpha)

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        decay_steps: > 0, the number of steps to decay over.
        alpha: the final rate as a fraction of ``learning_rate``, in [0, 1]. Default 0.0.
        name: default ``"CosineDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = cosine_decay(0.1, step, 1000)

    References:
        Loshchilov and Hutter, `SGDR: Stochastic Gradient Descent with Warm Restarts
        <https://arxiv.org/abs/1608.03983>`_, 2017.

    .. note::
        Same as optax ``cosine_decay_schedule(init_value, decay_steps, alpha)`` and PyTorch
        ``CosineAnnealingLR(T_max=decay_steps, eta_min=alpha * learning_rate)`` (which keeps
        following the cosine back up after ``T_max``; TF and optim hold the final value).
    """
    global_step = check_step_source(
        "global_step", global_step, "cosine_decay", "cosine decay requires global_step"
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "alpha": check_real("alpha", alpha, _FRACTION),
    }
    fn = functools.partial(_cosine, **arguments)
    return Schedule.from_parts("cosine_decay", fn, global_step, name or "CosineDecay", arguments)


def cosine_decay_restarts(
    learning_rate: float,
    global_step: Any,
    first_decay_steps: float,
    t_mul: float = 2.0,
    m_mul: float = 1.0,
    alpha: float = 0.0,
    name: str | None = None,
) -> Schedule:
    """Cosine decay with warm restarts, SGDR (TF1 ``tf.train.cosine_decay_restarts``).

    Period ``i`` (from 0) lasts ``first_decay_steps * t_mul**i`` steps and starts at
    ``m_mul**i`` times the rate; within it, with ``f`` the fraction of the period done::

        decayed = learning_rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)

    (``alpha`` is not scaled by ``m_mul**i``.) TF finds ``i`` as
    ``floor(log(1 - s / first_decay_steps * (1 - t_mul)) / log(t_mul))`` (``floor`` of the
    fraction when ``t_mul == 1``).

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        first_decay_steps: > 0, the length of the first period.
        t_mul: > 0, the factor by which each period is longer than the previous. Default 2.0.
            With ``t_mul < 1`` the periods add up to ``first_decay_steps / (1 - t_mul)``
            steps, and evaluating past that raises ValueError (TF gives NaN).
        m_mul: >= 0, the factor by which each restart's peak is lower. Default 1.0.
        alpha: the minimum as a fraction of ``learning_rate``, in [0, 1]. Default 0.0.
        name: default ``"SGDRDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = cosine_decay_restarts(0.1, step, 1000, t_mul=2.0, m_mul=0.9)

    References:
        Loshchilov and Hutter, `SGDR: Stochastic Gradient Descent with Warm Restarts
        <https://arxiv.org/abs/1608.03983>`_, 2017.

    .. note::
        At an exact restart step TF's float ``floor(log(...) / log(t_mul))`` can land one
        period early (``t_mul=3`` at step ``121 * first_decay_steps`` gives the end of the old
        period, ``alpha * learning_rate``, instead of the new peak); optim moves ``i`` to the
        period the step is in, so it differs from TF only at such steps.

    .. note::
        torch's ``CosineAnnealingWarmRestarts(T_0, T_mult=1, eta_min=0)`` over a base rate
        ``lr`` is this function (optim has no second one), with:

        ==========================  =============================================
        torch                       ``cosine_decay_restarts``
        ==========================  =============================================
        base rate ``lr``            ``learning_rate=lr``
        ``T_0`` (an int > 0)        ``first_decay_steps=T_0``
        ``T_mult`` (an int >= 1)    ``t_mul=T_mult`` (note TF's default is 2.0)
        ``eta_min``                 ``alpha=eta_min / lr`` (needs ``eta_min <= lr``)
        (none)                      ``m_mul=1.0``
        ==========================  =============================================

        torch's ``step()`` counts ``T_cur`` in integers, so it never misses a restart; its
        ``step(epoch)`` finds the period with ``int(math.log(...))`` and misses some exact
        restarts as TF does (``T_mult=3``: epoch 121 with ``T_0=1``). optim finds the period
        the step is in, as the integer count does: the tests compare 2000 steps for ``T_0`` up
        to 50 and ``T_mult`` 1, 2 and 3 with torch's ``step()`` and find rounding differences
        only, at most 5.2e-14 of ``lr`` (TF's ``t / T_0 - floor(t / T_0)`` loses digits as
        ``t`` grows) against torch's integer ``T_cur``; they assert < 1e-13. torch accepts
        ``eta_min > lr`` (a rate that rises); ``alpha`` in [0, 1] does not.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "cosine_decay_restarts",
        "cosine decay restarts requires global_step",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "first_decay_steps": check_real("first_decay_steps", first_decay_steps, POSITIVE),
        "t_mul": check_real("t_mul", t_mul, POSITIVE),
        "m_mul": check_real("m_mul", m_mul, NONNEGATIVE),
        "alpha": check_real("alpha", alpha, _FRACTION),
    }
    fn = functools.partial(_cosine_restarts, **arguments)
    return Schedule.from_parts(
        "cosine_decay_restarts", fn, global_step, name or "SGDRDecay", arguments
    )


def linear_cosine_decay(
    learning_rate: float,
    global_step: Any,
    decay_steps: float,
    num_periods: float = 0.5,
    alpha: float = 0.0,
    beta: float = 0.001,
    name: str | None = None,
) -> Schedule:
    """Linear cosine decay (TF1 ``tf.train.linear_cosine_decay``).

    ::

        global_step = min(global_step, decay_steps)
        linear_decay = (decay_steps - global_step) / decay_steps
        cosine_decay = 0.5 * (1 + cos(pi * 2 * num_periods * global_step / decay_steps))
        decayed = learning_rate * ((alpha + linear_decay) * cosine_decay + beta)

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        decay_steps: > 0.
        num_periods: >= 0, the number of cosine periods over ``decay_steps``. Default 0.5.
        alpha: >= 0, see the formula. Default 0.0.
        beta: >= 0, see the formula. Default 0.001.
        name: default ``"LinearCosineDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = linear_cosine_decay(0.1, step, 1000)

    References:
        Bello et al., `Neural Optimizer Search with Reinforcement Learning
        <https://arxiv.org/abs/1709.07417>`_, 2017.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "linear_cosine_decay",
        "linear cosine decay requires global_step",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "num_periods": check_real("num_periods", num_periods, NONNEGATIVE),
        "alpha": check_real("alpha", alpha, NONNEGATIVE),
        "beta": check_real("beta", beta, NONNEGATIVE),
    }
    fn = functools.partial(_linear_cosine, **arguments)
    return Schedule.from_parts(
        "linear_cosine_decay", fn, global_step, name or "LinearCosineDecay", arguments
    )


def noisy_linear_cosine_decay(
    learning_rate: float,
    global_step: Any,
    decay_steps: float,
    initial_variance: float = 1.0,
    variance_decay: float = 0.55,
    num_periods: float = 0.5,
    alpha: float = 0.0,
    beta: float = 0.001,
    name: str | None = None,
    seed: int | None = None,
) -> Schedule:
    """Linear cosine decay with Gaussian noise (TF1 ``tf.train.noisy_linear_cosine_decay``).

    ::

        s = min(global_step, decay_steps)
        linear_decay = (decay_steps - s) / decay_steps + eps
        cosine_decay = 0.5 * (1 + cos(pi * 2 * num_periods * s / decay_steps))
        decayed = learning_rate * ((alpha + linear_decay) * cosine_decay + beta)

    where ``eps ~ N(0, initial_variance / (1 + s) ** variance_decay)``.

    Args:
        learning_rate: the initial learning rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        decay_steps: > 0.
        initial_variance: >= 0, the noise variance at step 0. Default 1.0.
        variance_decay: >= 0, how fast the variance falls with the step. Default 0.55.
        num_periods: >= 0. Default 0.5.
        alpha: >= 0. Default 0.0.
        beta: >= 0. Default 0.001.
        name: default ``"NoisyLinearCosineDecay"``.
        seed: a non-negative int, or None for a seed drawn from the OS once, when the schedule
            is made.

    Returns:
        A :class:`Schedule`. The noise at a step depends only on ``(seed, step)``: evaluating
        the schedule twice at one step gives one value, and two schedules with the same seed
        give the same sequence.

    Raises:
        ValueError: ``global_step`` is None, a value out of range or not finite, a negative
            seed.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = noisy_linear_cosine_decay(0.1, step, 1000, seed=0)

    References:
        Bello et al., `Neural Optimizer Search with Reinforcement Learning
        <https://arxiv.org/abs/1709.07417>`_, 2017.

    .. note::
        TF draws a new normal sample on every evaluation, so its value at a step depends on how
        often the op ran before. optim keys the draw on ``(seed, step)``, which keeps the
        schedule a pure function of the step (restartable, and the same value however often an
        optimizer reads it); the distribution is TF's. The noise is drawn with NumPy's
        ``Generator``, so the numbers differ from TF's random stream.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "noisy_linear_cosine_decay",
        "noisy linear cosine decay requires global_step",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "initial_variance": check_real("initial_variance", initial_variance, NONNEGATIVE),
        "variance_decay": check_real("variance_decay", variance_decay, NONNEGATIVE),
        "num_periods": check_real("num_periods", num_periods, NONNEGATIVE),
        "alpha": check_real("alpha", alpha, NONNEGATIVE),
        "beta": check_real("beta", beta, NONNEGATIVE),
    }
    if seed is None:
        resolved = int(np.random.SeedSequence().entropy)
    elif isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be a non-negative int or None, got {seed!r}.")
    elif seed < 0:
        raise ValueError(f"`seed` must be a non-negative int or None, got {seed!r}.")
    else:
        resolved = int(seed)
    fn = functools.partial(_noisy_linear_cosine, **arguments, seed=resolved)
    arguments["seed"] = seed
    return Schedule.from_parts(
        "noisy_linear_cosine_decay", fn, global_step, name or "NoisyLinearCosineDecay", arguments
    )


def warmup_cosine_decay(
    learning_rate: float,
    global_step: Any,
    warmup_steps: float,
    decay_steps: float,
    warmup_init: float = 0.0,
    alpha: float = 0.0,
    name: str | None = None,
) -> Schedule:
    """Linear warmup to ``learning_rate``, then cosine decay to ``alpha * learning_rate``.

    ::

        s = min(global_step, warmup_steps + decay_steps)
        if s < warmup_steps:
            decayed = (learning_rate - warmup_init) * (s / warmup_steps) + warmup_init
        else:
            c = 0.5 * (1 + cos(pi * (s - warmup_steps) / decay_steps))
            decayed = learning_rate * ((1 - alpha) * c + alpha)

    Not a TF1 function. It is Keras 3's ``CosineDecay`` with a warmup and the same values as
    optax's ``warmup_cosine_decay_schedule``; the arguments map as follows:

    =================  ==================================  ==================================
    optim              Keras 3 ``CosineDecay``             optax ``warmup_cosine_decay_schedule``
    =================  ==================================  ==================================
    ``learning_rate``  ``warmup_target``                   ``peak_value``
    ``warmup_steps``   ``warmup_steps``                    ``warmup_steps``
    ``decay_steps``    ``decay_steps`` (after the warmup)  ``decay_steps - warmup_steps``
                                                           (optax counts the warmup in it)
    ``warmup_init``    ``initial_learning_rate``           ``init_value``
    ``alpha``          ``alpha``                           ``end_value / peak_value``
    =================  ==================================  ==================================

    Args:
        learning_rate: the peak rate, reached at step ``warmup_steps``; >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        warmup_steps: >= 0, the length of the linear warmup (0: no warmup).
        decay_steps: > 0, the length of the cosine decay after the warmup.
        warmup_init: the rate at step 0, >= 0. Default 0.0.
        alpha: the final rate as a fraction of ``learning_rate``, in [0, 1]. Default 0.0.
        name: default ``"WarmupCosineDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = warmup_cosine_decay(1e-3, step, warmup_steps=500, decay_steps=9500)

    References:
        Goyal et al., `Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour
        <https://arxiv.org/abs/1706.02677>`_, 2017 (warmup); Loshchilov and Hutter, SGDR, 2017.

    .. note::
        Keras 3 computes the warmup as ``delta * fraction + init``; optax as
        ``(init - peak) * (1 - fraction) + peak``. optim follows Keras 3; the two differ by
        rounding only.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "warmup_cosine_decay",
        "global_step is required for warmup_cosine_decay.",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "warmup_steps": check_real("warmup_steps", warmup_steps, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "warmup_init": check_real("warmup_init", warmup_init, NONNEGATIVE),
        "alpha": check_real("alpha", alpha, _FRACTION),
    }
    fn = functools.partial(_warmup_cosine, **arguments)
    return Schedule.from_parts(
        "warmup_cosine_decay", fn, global_step, name or "WarmupCosineDecay", arguments
    )
