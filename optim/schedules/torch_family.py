"""torch's schedules beyond TF1's as pure functions of the step: OneCycle, Cyclic, WSD, composing.

Each function checks its arguments once and returns a :class:`~optim.schedules.Schedule`, the
same object the TF1 family returns: ``schedule()`` is the value at the current step (what an
optimizer reads once per apply), ``schedule(step)`` the value at any step. The value at step
``t`` is torch's ``get_last_lr()`` after ``t`` calls to ``scheduler.step()``, i.e. the rate the
``t``-th optimizer step (from 0) uses in torch's loop ``optimizer.step(); scheduler.step()``.

- :func:`one_cycle`: ``torch.optim.lr_scheduler.OneCycleLR`` (cos or linear, ``three_phase``).
- :func:`cyclic`: ``CyclicLR`` (triangular, triangular2, exp_range, or a ``scale_fn``).
- :func:`one_cycle_momentum`, :func:`cyclic_momentum`: the momentum those two cycle
  (``cycle_momentum=True``), as a schedule for ``momentum`` or ``beta1``.
- :func:`linear_warmup`: a linear ramp over any schedule or constant (``LinearLR``).
- :func:`sequential`: schedules one after another, each restarting at its boundary
  (``SequentialLR``).
- :func:`warmup_stable_decay`: WSD, warmup then a constant then a decay.

torch's ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` is
:func:`optim.schedules.cosine_decay_restarts` with ``first_decay_steps=T_0``, ``t_mul=T_mult``,
``m_mul=1`` and ``alpha=eta_min / learning_rate`` (see its docstring).

Being functions of the step, these schedules resume from a restored global step with nothing
else to save: there is no ``last_epoch`` to restore and no recursion to replay, the two sources
of torch's resume pitfalls (pytorch/pytorch#60265, #162591). The arithmetic is float64, in the
order of operations of ``torch/optim/lr_scheduler.py`` (torch 2.13).
"""

from __future__ import annotations

import bisect
import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..validation import NONNEGATIVE, POSITIVE, UNIT, Interval, check_bool, check_real
from .base import Schedule, check_step_source, describe, is_real

__all__ = [
    "one_cycle",
    "one_cycle_momentum",
    "cyclic",
    "cyclic_momentum",
    "linear_warmup",
    "sequential",
    "warmup_stable_decay",
]

_GAMMA = Interval(0.0, 1.0, low_open=True)


# -- argument checks ---------------------------------------------------------------------------
def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive int, got {value!r}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    return int(value)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    expected = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be one of {expected}, got {value!r}.")
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {expected}, got {value!r}.")
    return value


def _check_part(name: str, value: Any) -> Any:
    """A schedule to compose: a :class:`Schedule` or a real number >= 0 (a constant rate)."""
    if isinstance(value, Schedule):
        return value
    if is_real(value):
        return check_real(name, value, NONNEGATIVE)
    raise TypeError(
        f"`{name}` must be an optim.schedules.Schedule or a number >= 0, got {value!r}; wrap "
        "a plain step function as Schedule(fn, global_step)."
    )


def _check_scale_fn(scale_fn: Any) -> None:
    if scale_fn is not None and not callable(scale_fn):
        raise TypeError(f"`scale_fn` must be None or a callable of one number, got {scale_fn!r}.")


def _cycle_arguments(step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode):
    """CyclicLR's cycle arguments, checked (shared by ``cyclic`` and ``cyclic_momentum``)."""
    arguments = {
        "step_size_up": check_real("step_size_up", step_size_up, POSITIVE),
        "step_size_down": None
        if step_size_down is None
        else check_real("step_size_down", step_size_down, POSITIVE),
        "mode": _check_choice("mode", mode, ("triangular", "triangular2", "exp_range")),
        "gamma": check_real("gamma", gamma, _GAMMA),
        "scale_fn": scale_fn,
        "scale_mode": _check_choice("scale_mode", scale_mode, ("cycle", "iterations")),
    }
    _check_scale_fn(scale_fn)
    return arguments


def _part_fn(part: Any) -> Callable[[float], float]:
    if isinstance(part, Schedule):
        return part.fn
    return functools.partial(_constant, value=part)


def _common_step_source(function: str, parts: Sequence[Any], global_step: Any) -> Any:
    """``global_step`` if given, else the step source every composed Schedule shares."""
    if global_step is not None:
        return check_step_source("global_step", global_step, function, "")
    sources = [p.global_step for p in parts if isinstance(p, Schedule)]
    if not sources:
        raise ValueError(
            f"global_step is required for {function} when no composed schedule is a Schedule "
            "(constants carry no step)."
        )
    first = sources[0]
    for source in sources[1:]:
        same_number = is_real(source) and is_real(first) and source == first
        if source is not first and not same_number:
            raise ValueError(
                f"`global_step` must be given to {function} when the composed schedules read "
                f"different step sources, got {describe(first)} and {describe(source)}."
            )
    return first


# -- pure step functions (float step in, float out; torch's order of operations) ---------------
def _constant(step, *, value):
    return value


def _anneal_cos(start, end, pct):
    cos_out = math.cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out


def _anneal_linear(start, end, pct):
    return (end - start) * pct + start


def _one_cycle(step, *, phases, anneal, last_step):
    step = min(step, last_step)
    start_step = 0.0
    for i, (end_step, start_lr, end_lr) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            return anneal(start_lr, end_lr, pct)
        start_step = end_step
    raise AssertionError("unreachable: the last phase always matches")


def _triangular(cycle):
    return 1.0


def _triangular2(cycle):
    return 1 / (2.0 ** (cycle - 1))


def _exp_range(iteration, *, gamma):
    return gamma**iteration


def _cyclic(step, *, base_lr, max_lr, total_size, step_ratio, scale_fn, by_cycle):
    cycle = math.floor(1 + step / total_size)
    x = 1.0 + step / total_size - cycle
    if x <= step_ratio:
        scale_factor = x / step_ratio
    else:
        scale_factor = (x - 1) / (step_ratio - 1)
    base_height = (max_lr - base_lr) * scale_factor
    scale = scale_fn(cycle) if by_cycle else scale_fn(step)
    if not is_real(scale):
        raise TypeError(f"`scale_fn` must return a real number, got {scale!r}.")
    if not math.isfinite(scale):
        raise ValueError(f"`scale_fn` must return a finite number, got {scale!r}.")
    return base_lr + base_height * float(scale)


def _linear_warmup(step, *, fn, steps, start_factor):
    if steps == 0.0:
        return fn(step)
    factor = start_factor + (1.0 - start_factor) * min(steps, step) / steps
    return fn(step) * factor


def _sequential(step, *, fns, boundaries):
    i = bisect.bisect_right(boundaries, step)
    offset = boundaries[i - 1] if i > 0 else 0.0
    return fns[i](step - offset)


def _wsd(
    step,
    *,
    learning_rate,
    warmup_steps,
    stable_steps,
    decay_steps,
    min_lr_ratio,
    decay_type,
    num_cycles,
):
    if step < warmup_steps:
        return learning_rate * (step / warmup_steps)
    if step < warmup_steps + stable_steps:
        return learning_rate
    if step >= warmup_steps + stable_steps + decay_steps:
        return learning_rate * min_lr_ratio
    p = (step - warmup_steps - stable_steps) / decay_steps
    if decay_type == "cosine":
        shape = max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * p)))
    elif decay_type == "1-sqrt":
        shape = 1.0 - math.sqrt(p)
    elif decay_type == "linear":
        shape = 1.0 - p
    else:  # "1-square"
        shape = 1.0 - p * p
    return learning_rate * (min_lr_ratio + (1.0 - min_lr_ratio) * shape)


def _one_cycle_fn(total, pct, three_phase, anneal_strategy, values):
    """OneCycle's step function through ``values`` (a (start, end) pair per phase)."""
    e1 = float(pct * total) - 1
    ends = [e1, float(2 * pct * total) - 2, total - 1] if three_phase else [e1, total - 1]
    start = 0.0
    for i, end in enumerate(ends):
        if not end > start:
            raise ValueError(
                f"`pct_start` must give every phase a length > 0 (phase {i + 1} of "
                f"{len(ends)} ends at step {end!r}, after step {start!r}), got "
                f"pct_start={pct!r} with total_steps={total!r}."
            )
        start = end
    phases = tuple((float(end), a, b) for end, (a, b) in zip(ends, values))
    anneal = _anneal_cos if anneal_strategy == "cos" else _anneal_linear
    return functools.partial(_one_cycle, phases=phases, anneal=anneal, last_step=float(total - 1))


def _cyclic_fn(low, high, step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode):
    """CyclicLR's step function from ``low`` towards ``high`` (momentum: from max to base)."""
    down = step_size_up if step_size_down is None else step_size_down
    total_size = step_size_up + down
    if scale_fn is not None:
        scale, by_cycle = scale_fn, scale_mode == "cycle"
    elif mode == "triangular":
        scale, by_cycle = _triangular, True
    elif mode == "triangular2":
        scale, by_cycle = _triangular2, True
    else:
        scale, by_cycle = functools.partial(_exp_range, gamma=gamma), False
    return functools.partial(
        _cyclic,
        base_lr=low,
        max_lr=high,
        total_size=total_size,
        step_ratio=step_size_up / total_size,
        scale_fn=scale,
        by_cycle=by_cycle,
    )


# -- the public functions ----------------------------------------------------------------------
def one_cycle(
    max_lr: float,
    global_step: Any,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    name: str | None = None,
) -> Schedule:
    """The 1cycle policy (torch ``OneCycleLR``): up to ``max_lr``, then far below the start.

    With ``initial_lr = max_lr / div_factor`` and ``min_lr = initial_lr / final_div_factor``,
    the rate moves through phases ending at (float) steps ``e_i``, interpolating from the
    phase's start value ``a`` to its end value ``b`` with ``x = (t - e_{i-1}) / (e_i - e_{i-1})``
    (``e_0 = 0``)::

        two phases:   e1 = pct_start * total_steps - 1      initial_lr -> max_lr
                      e2 = total_steps - 1                  max_lr     -> min_lr
        three_phase:  e1 = pct_start * total_steps - 1      initial_lr -> max_lr
                      e2 = 2 * pct_start * total_steps - 2  max_lr     -> initial_lr
                      e3 = total_steps - 1                  initial_lr -> min_lr

        "cos":     b + (a - b) / 2 * (1 + cos(pi * x))
        "linear":  (b - a) * x + a

    From step ``total_steps - 1`` on the rate stays ``min_lr``.

    Args:
        max_lr: the peak rate, >= 0.
        global_step: an ``optim.Variable`` (read at each call), a zero-argument callable
            returning the step, or a number.
        total_steps: the length of the cycle in steps, a positive int (torch's
            ``total_steps``, or ``epochs * steps_per_epoch``).
        pct_start: the fraction of ``total_steps`` spent rising, in [0, 1], such that every
            phase is longer than 0 steps: ``pct_start * total_steps > 1``, and
            ``pct_start < 1`` (two phases) or ``total_steps * (1 - 2 * pct_start) > -1``
            (three phases). Default 0.3.
        anneal_strategy: ``"cos"`` (default) or ``"linear"``.
        div_factor: > 0, ``initial_lr = max_lr / div_factor``. Default 25.0.
        final_div_factor: > 0, ``min_lr = initial_lr / final_div_factor``. Default 1e4.
        three_phase: a third phase, fast.ai's shape: back down to ``initial_lr`` as
            symmetrically as it rose, then down to ``min_lr``. Default False.
        name: default ``"OneCycle"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range, not finite, or a phase
            of length <= 0.
        TypeError: an argument of the wrong type (``total_steps`` not an int,
            ``anneal_strategy`` not a string...).

    Example:
        >>> step = optim.train.get_or_create_global_step()
        >>> lr = one_cycle(0.1, step, total_steps=10000)
        >>> optim.train.MomentumOptimizer(lr, 0.9).minimize(loss, global_step=step)

    References:
        Smith and Topin, `Super-Convergence: Very Fast Training of Neural Networks Using Large
        Learning Rates <https://arxiv.org/abs/1708.07120>`_, 2017.

    .. note::
        Equal to torch's ``OneCycleLR`` (same floats, same order of operations: the tests find
        no difference) for steps ``0 .. total_steps - 1``. torch extrapolates the last phase at
        step ``total_steps`` (a cos rate rising again, a linear one below zero) and raises
        after it; optim holds ``min_lr``. torch also cycles the momentum (``cycle_momentum``,
        on by default); here that is :func:`one_cycle_momentum`, a schedule of its own for
        the optimizer's ``momentum`` or ``beta1`` (without it the momentum stays fixed, as
        torch's ``cycle_momentum=False``).
        optax's ``cosine_onecycle_schedule`` puts the peak at ``int(pct_start * T)`` and the end
        at ``T``, one step later than torch and optim.
    """
    global_step = check_step_source(
        "global_step", global_step, "one_cycle", "global_step is required for one_cycle."
    )
    arguments = {
        "max_lr": check_real("max_lr", max_lr, NONNEGATIVE),
        "total_steps": _check_positive_int("total_steps", total_steps),
        "pct_start": check_real("pct_start", pct_start, UNIT),
        "anneal_strategy": _check_choice("anneal_strategy", anneal_strategy, ("cos", "linear")),
        "div_factor": check_real("div_factor", div_factor, POSITIVE),
        "final_div_factor": check_real("final_div_factor", final_div_factor, POSITIVE),
        "three_phase": check_bool("three_phase", three_phase),
    }
    total, pct = arguments["total_steps"], arguments["pct_start"]
    max_value = arguments["max_lr"]
    initial_lr = max_value / arguments["div_factor"]
    min_lr = initial_lr / arguments["final_div_factor"]
    if arguments["three_phase"]:
        values = [(initial_lr, max_value), (max_value, initial_lr), (initial_lr, min_lr)]
    else:
        values = [(initial_lr, max_value), (max_value, min_lr)]
    fn = _one_cycle_fn(total, pct, arguments["three_phase"], arguments["anneal_strategy"], values)
    return Schedule.from_parts("one_cycle", fn, global_step, name or "OneCycle", arguments)


def cyclic(
    base_lr: float,
    global_step: Any,
    max_lr: float,
    step_size_up: float = 2000,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[float], float] | None = None,
    scale_mode: str = "cycle",
    name: str | None = None,
) -> Schedule:
    """Cyclical learning rates (torch ``CyclicLR``): triangles between ``base_lr`` and ``max_lr``.

    With ``T = step_size_up + step_size_down`` and ``r = step_size_up / T``::

        cycle = floor(1 + t / T)                  # 1 for the first cycle
        x = 1 + t / T - cycle                     # the fraction of this cycle done
        f = x / r  if x <= r  else  (x - 1) / (r - 1)
        lr = base_lr + (max_lr - base_lr) * f * scale

    where ``scale`` is ``1`` ("triangular"), ``1 / 2 ** (cycle - 1)`` ("triangular2"),
    ``gamma ** t`` ("exp_range", ``t`` the step, not the step within the cycle), or
    ``scale_fn(cycle)`` / ``scale_fn(t)`` for a custom ``scale_fn``.

    Args:
        base_lr: the lower end of each cycle, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        max_lr: the upper end, >= 0 (reached only where ``scale`` is 1).
        step_size_up: > 0, the steps from ``base_lr`` up to the peak. Default 2000.
        step_size_down: > 0, the steps back down; None (default) for ``step_size_up``.
        mode: ``"triangular"`` (default), ``"triangular2"`` or ``"exp_range"``; ignored when
            ``scale_fn`` is given.
        gamma: in (0, 1], the per-step factor of ``"exp_range"``. Default 1.0.
        scale_fn: None, or a pure function of one number returning the factor ``scale``
            (a finite number; otherwise evaluating the schedule raises TypeError or
            ValueError naming ``scale_fn``); it replaces ``mode``.
        scale_mode: what ``scale_fn`` is a function of: ``"cycle"`` (default, the cycle
            number from 1) or ``"iterations"`` (the step). Used only with ``scale_fn``.
        name: default ``"Cyclic"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, or a value out of range or not finite, or an
            unknown ``mode`` / ``scale_mode``.
        TypeError: an argument of the wrong type (``scale_fn`` not callable...).

    Example:
        >>> lr = cyclic(0.001, step, 0.006, step_size_up=2000, mode="triangular2")

    References:
        Smith, `Cyclical Learning Rates for Training Neural Networks
        <https://arxiv.org/abs/1506.01186>`_, 2017.

    .. note::
        Equal to torch's ``CyclicLR``, which computes this closed form too (the tests find no
        difference). torch accepts any ``mode`` string when ``scale_fn`` is given and any
        ``gamma``; optim requires a known mode and ``0 < gamma <= 1`` (larger values overflow).
        torch also cycles the momentum (``cycle_momentum``, on by default) between
        ``max_momentum`` and ``base_momentum``; here that is :func:`cyclic_momentum`, a
        schedule of its own for the optimizer's ``momentum`` or ``beta1``.
    """
    global_step = check_step_source(
        "global_step", global_step, "cyclic", "global_step is required for cyclic."
    )
    arguments = {
        "base_lr": check_real("base_lr", base_lr, NONNEGATIVE),
        "max_lr": check_real("max_lr", max_lr, NONNEGATIVE),
        **_cycle_arguments(step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode),
    }
    fn = _cyclic_fn(
        arguments["base_lr"],
        arguments["max_lr"],
        arguments["step_size_up"],
        arguments["step_size_down"],
        arguments["mode"],
        arguments["gamma"],
        scale_fn,
        arguments["scale_mode"],
    )
    return Schedule.from_parts("cyclic", fn, global_step, name or "Cyclic", arguments)


def one_cycle_momentum(
    global_step: Any,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    three_phase: bool = False,
    name: str | None = None,
) -> Schedule:
    """The momentum that torch's ``OneCycleLR`` cycles against the rate (``cycle_momentum``).

    The phases of :func:`one_cycle` (same ends, same interpolation) with the momentum moving
    against the rate::

        two phases:   max_momentum -> base_momentum -> max_momentum
        three_phase:  max_momentum -> base_momentum -> max_momentum -> max_momentum

    From step ``total_steps - 1`` on it stays ``max_momentum``. Pass it as
    ``MomentumOptimizer``'s ``momentum`` or an Adam-family ``beta1`` (torch writes it into
    ``momentum`` or ``betas[0]``).

    Args:
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        total_steps, pct_start, anneal_strategy, three_phase: as :func:`one_cycle`; give the
            same values to both.
        base_momentum: the momentum at the rate's peak, in [0, 1]. Default 0.85.
        max_momentum: the momentum at the start and the end, in [0, 1]. Default 0.95.
        name: default ``"OneCycleMomentum"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError, TypeError: as :func:`one_cycle`, and for the momenta.

    Example:
        >>> lr = one_cycle(0.1, step, 10000)
        >>> momentum = one_cycle_momentum(step, 10000)
        >>> opt = optim.train.MomentumOptimizer(lr, momentum)

    .. note::
        Equal to the ``momentum`` (or ``betas[0]``) torch's ``OneCycleLR`` writes into the
        optimizer at each step, float for float, for steps ``0 .. total_steps - 1``.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "one_cycle_momentum",
        "global_step is required for one_cycle_momentum.",
    )
    arguments = {
        "total_steps": _check_positive_int("total_steps", total_steps),
        "pct_start": check_real("pct_start", pct_start, UNIT),
        "anneal_strategy": _check_choice("anneal_strategy", anneal_strategy, ("cos", "linear")),
        "base_momentum": check_real("base_momentum", base_momentum, UNIT),
        "max_momentum": check_real("max_momentum", max_momentum, UNIT),
        "three_phase": check_bool("three_phase", three_phase),
    }
    low, high = arguments["base_momentum"], arguments["max_momentum"]
    values = [(high, low), (low, high)] + ([(high, high)] if arguments["three_phase"] else [])
    fn = _one_cycle_fn(
        arguments["total_steps"],
        arguments["pct_start"],
        arguments["three_phase"],
        arguments["anneal_strategy"],
        values,
    )
    return Schedule.from_parts(
        "one_cycle_momentum",
        fn,
        global_step,
        name or "OneCycleMomentum",
        arguments,
        step_index=0,
    )


def cyclic_momentum(
    global_step: Any,
    step_size_up: float = 2000,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[float], float] | None = None,
    scale_mode: str = "cycle",
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
    name: str | None = None,
) -> Schedule:
    """The momentum that torch's ``CyclicLR`` cycles against the rate (``cycle_momentum``).

    With ``f`` and ``scale`` of :func:`cyclic` (same cycle arguments)::

        momentum = max_momentum - (max_momentum - base_momentum) * f * scale

    so it is lowest where the rate is highest.

    Args:
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode: as :func:`cyclic`;
            give the same values to both.
        base_momentum: the momentum at the rate's peaks, in [0, 1]. Default 0.8.
        max_momentum: the momentum at the rate's troughs, in [0, 1]. Default 0.9.
        name: default ``"CyclicMomentum"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError, TypeError: as :func:`cyclic`, and for the momenta.

    Example:
        >>> lr = cyclic(0.001, step, 0.006, step_size_up=500)
        >>> opt = optim.train.MomentumOptimizer(lr, cyclic_momentum(step, step_size_up=500))

    .. note::
        Equal to the ``momentum`` (or ``betas[0]``) torch's ``CyclicLR`` writes into the
        optimizer at each step, float for float.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "cyclic_momentum",
        "global_step is required for cyclic_momentum.",
    )
    arguments = {
        **_cycle_arguments(step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode),
        "base_momentum": check_real("base_momentum", base_momentum, UNIT),
        "max_momentum": check_real("max_momentum", max_momentum, UNIT),
    }
    # max - (max - base) * f * scale, computed as max + (base - max) * f * scale: the same floats
    fn = _cyclic_fn(
        arguments["max_momentum"],
        arguments["base_momentum"],
        arguments["step_size_up"],
        arguments["step_size_down"],
        arguments["mode"],
        arguments["gamma"],
        scale_fn,
        arguments["scale_mode"],
    )
    return Schedule.from_parts(
        "cyclic_momentum", fn, global_step, name or "CyclicMomentum", arguments, step_index=0
    )


def linear_warmup(
    schedule: Schedule | float,
    steps: float,
    start_factor: float = 0.0,
    global_step: Any = None,
    name: str | None = None,
) -> Schedule:
    """A linear warmup over any schedule or constant rate: ``schedule(t)`` times a ramp.

    ::

        factor = start_factor + (1 - start_factor) * min(t, steps) / steps
        lr = schedule(t) * factor

    The factor rises from ``start_factor`` at step 0 to 1 at step ``steps`` and stays 1, so
    after the warmup the rate is ``schedule``'s own. With a constant ``schedule`` this is torch's
    ``LinearLR(start_factor, end_factor=1.0, total_iters=steps)``; with a schedule, torch's
    ``ChainedScheduler([LinearLR(...), that_scheduler])``. To start the schedule only after the
    warmup instead (``SequentialLR([LinearLR(...), scheduler], [steps])``), write
    ``sequential([linear_warmup(peak, steps, global_step=step), schedule], [steps])``.

    Args:
        schedule: a :class:`Schedule` (any: TF1 family, torch family, composed) or a number
            >= 0 (a constant rate).
        steps: >= 0, the length of the warmup; 0 for none.
        start_factor: the factor at step 0, in [0, 1]. Default 0.0 (the first step is taken at
            rate 0, as optax's and WSD's warmups do).
        global_step: where the step is read; default ``schedule``'s own source (required
            when ``schedule`` is a number). When given, the wrapped schedule is evaluated at
            this source's step.
        name: default ``"LinearWarmup"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``steps`` or ``start_factor`` out of range or not finite, or no step
            source (a number ``schedule`` without ``global_step``).
        TypeError: ``schedule`` neither a Schedule nor a number, or another argument of the
            wrong type.

    Example:
        >>> lr = linear_warmup(cosine_decay(0.1, step, 10000), steps=500)

    References:
        Goyal et al., `Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour
        <https://arxiv.org/abs/1706.02677>`_, 2017.

    .. note::
        torch's ``LinearLR`` requires ``0 < start_factor``; optim allows 0. torch's
        ``LinearLR.get_lr`` is a recursion (each step multiplies the previous rate), while
        this is its closed form (``_get_closed_form_lr``), float for float. The recursion
        drifts from it: over 2000 steps the tests measure up to 1.7e-14 of the rate
        (``start_factor=1/3``, ``total_iters=1999``) and assert < 5e-14.
    """
    part = _check_part("schedule", schedule)
    arguments = {
        "schedule": part,
        "steps": check_real("steps", steps, NONNEGATIVE),
        "start_factor": check_real("start_factor", start_factor, UNIT),
    }
    source = _common_step_source("linear_warmup", [part], global_step)
    fn = functools.partial(
        _linear_warmup,
        fn=_part_fn(part),
        steps=arguments["steps"],
        start_factor=arguments["start_factor"],
    )
    return Schedule.from_parts(
        "linear_warmup", fn, source, name or "LinearWarmup", arguments, step_index=3
    )


def sequential(
    schedules: Sequence[Schedule | float],
    boundaries: Sequence[float],
    global_step: Any = None,
    name: str | None = None,
) -> Schedule:
    """Schedules one after another (torch ``SequentialLR``), each restarting at its boundary.

    ::

        i = number of boundaries <= t               # bisect_right(boundaries, t)
        lr = schedules[i](t - boundaries[i - 1])    # t itself for i == 0

    So ``schedules[i]`` runs from its own step 0 at ``boundaries[i - 1]``: a boundary belongs
    to the schedule it starts.

    Args:
        schedules: one or more :class:`Schedule` objects or numbers >= 0 (constant rates).
        boundaries: the steps where each next schedule starts: one fewer than ``schedules``,
            finite, >= 0 and strictly increasing (torch's ``milestones``).
        global_step: where the step is read; default the source the schedules share (they
            must all share one, or this is required). The schedules' own sources are not read:
            each is evaluated at the shifted step.
        name: default ``"Sequential"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: no schedule, ``len(boundaries) != len(schedules) - 1``, a boundary
            negative, not finite or not above the previous one, or no common step source.
        TypeError: ``schedules`` or ``boundaries`` not sequences, or an element of the wrong
            type.

    Example:
        >>> warmup = linear_warmup(0.1, 500, global_step=step)
        >>> lr = sequential([warmup, cosine_decay(0.1, step, 9500)], boundaries=[500])

    .. note::
        torch's ``SequentialLR`` sets the next scheduler to its step 0 (its closed form there)
        when a milestone is reached and steps it afterwards, so its rate is this function's
        for schedulers whose ``get_lr`` is a closed form (``ConstantLR``, ``OneCycleLR``,
        ``CyclicLR``...). For recursive ones (``LinearLR``, ``CosineAnnealingLR``,
        ``ExponentialLR``) each step compounds a rounding error: over 2000 steps the tests
        measure up to 4.9e-15 relative and assert < 2e-14. In torch every child starts from
        the optimizer's one base rate; here each schedule carries its own.
    """
    for arg, seq in (("schedules", schedules), ("boundaries", boundaries)):
        if isinstance(seq, np.ndarray):
            if seq.ndim != 1:
                raise TypeError(f"`{arg}` must be a 1-D sequence, got {seq!r}.")
        elif not isinstance(seq, Sequence) or isinstance(seq, (str, bytes)):
            raise TypeError(f"`{arg}` must be a sequence, got {seq!r}.")
    if len(schedules) == 0:
        raise ValueError(f"`schedules` must hold at least one schedule, got {schedules!r}.")
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"`boundaries` must hold one fewer value than `schedules`, got {len(boundaries)} "
            f"boundaries for {len(schedules)} schedules."
        )
    parts = [_check_part(f"schedules[{i}]", s) for i, s in enumerate(schedules)]
    checked = [check_real(f"boundaries[{i}]", b, NONNEGATIVE) for i, b in enumerate(boundaries)]
    for i in range(1, len(checked)):
        if not checked[i - 1] < checked[i]:
            raise ValueError(
                f"`boundaries` must be strictly increasing, got {list(boundaries)!r} "
                f"(boundaries[{i}]={checked[i]!r})."
            )
    source = _common_step_source("sequential", parts, global_step)
    arguments = {"schedules": parts, "boundaries": checked}
    fn = functools.partial(
        _sequential, fns=tuple(_part_fn(p) for p in parts), boundaries=tuple(checked)
    )
    return Schedule.from_parts(
        "sequential", fn, source, name or "Sequential", arguments, step_index=2
    )


def warmup_stable_decay(
    learning_rate: float,
    global_step: Any,
    warmup_steps: float,
    stable_steps: float,
    decay_steps: float,
    min_lr_ratio: float = 0.0,
    decay_type: str = "1-sqrt",
    num_cycles: float = 0.5,
    name: str | None = None,
) -> Schedule:
    """Warmup-stable-decay (WSD): a linear warmup, a long constant phase, a short decay.

    With ``W, S, D`` the three lengths, ``r = min_lr_ratio`` and ``p = (t - W - S) / D``::

        t < W:              lr = learning_rate * t / W
        W <= t < W + S:     lr = learning_rate
        W + S <= t < W+S+D: lr = learning_rate * (r + (1 - r) * shape(p))
        t >= W + S + D:     lr = learning_rate * r

        shape(p) = 1 - sqrt(p)                                   "1-sqrt"
                   1 - p                                         "linear"
                   1 - p ** 2                                    "1-square"
                   max(0, (1 + cos(2 * pi * num_cycles * p)) / 2)  "cosine"

    The rate is 0 at step 0 (when ``W > 0``), as in the reference implementations.

    Args:
        learning_rate: the stable rate, >= 0.
        global_step: an ``optim.Variable``, a zero-argument callable or a number.
        warmup_steps: >= 0, the warmup's length ``W`` (0: none).
        stable_steps: >= 0, the constant phase's length ``S``.
        decay_steps: > 0, the decay's length ``D``.
        min_lr_ratio: the final rate as a fraction of ``learning_rate``, in [0, 1]. Default
            0.0.
        decay_type: ``"1-sqrt"`` (default, Hägele et al.'s choice), ``"linear"``,
            ``"1-square"`` or ``"cosine"``.
        num_cycles: >= 0, the cosine's number of periods over the decay (0.5: a half cosine
            down to ``r``). Used with ``"cosine"`` only. Default 0.5.
        name: default ``"WarmupStableDecay"``.

    Returns:
        A :class:`Schedule`.

    Raises:
        ValueError: ``global_step`` is None, a value out of range or not finite, or an
            unknown ``decay_type``.
        TypeError: an argument of the wrong type.

    Example:
        >>> lr = warmup_stable_decay(3e-4, step, 1000, 8000, 1000)

    References:
        Hu et al., `MiniCPM: Unveiling the Potential of Small Language Models with Scalable
        Training Strategies <https://arxiv.org/abs/2404.06395>`_, 2024; Hägele et al.,
        `Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations
        <https://arxiv.org/abs/2405.18392>`_, 2024.

    .. note::
        torch has no WSD scheduler. ``pytorch_optimizer.get_wsd_schedule(optimizer,
        num_warmup_steps, num_stable_steps, num_decay_steps, min_lr_ratio, num_cycles,
        cooldown_type)`` (4.1) is the same function when ``min_lr_ratio`` is 0 or the decay is
        cosine; its other shapes fall towards 0 and then jump to ``r`` at ``W + S + D``, where
        these decay to ``r``. optax composes WSD with ``join_schedules`` from
        ``linear_schedule`` and ``cosine_decay_schedule`` pieces; the tests check the linear
        and cosine decays against it.
    """
    global_step = check_step_source(
        "global_step",
        global_step,
        "warmup_stable_decay",
        "global_step is required for warmup_stable_decay.",
    )
    arguments = {
        "learning_rate": check_real("learning_rate", learning_rate, NONNEGATIVE),
        "warmup_steps": check_real("warmup_steps", warmup_steps, NONNEGATIVE),
        "stable_steps": check_real("stable_steps", stable_steps, NONNEGATIVE),
        "decay_steps": check_real("decay_steps", decay_steps, POSITIVE),
        "min_lr_ratio": check_real("min_lr_ratio", min_lr_ratio, UNIT),
        "decay_type": _check_choice(
            "decay_type", decay_type, ("1-sqrt", "linear", "1-square", "cosine")
        ),
        "num_cycles": check_real("num_cycles", num_cycles, NONNEGATIVE),
    }
    fn = functools.partial(_wsd, **arguments)
    return Schedule.from_parts(
        "warmup_stable_decay", fn, global_step, name or "WarmupStableDecay", arguments
    )
