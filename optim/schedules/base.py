"""The schedule mechanism: :class:`Schedule`, a pure function of the step bound to its source.

Every schedule family (:mod:`optim.schedules.tf1`, :mod:`optim.schedules.torch_family`) builds
its schedules with :meth:`Schedule.from_parts` after checking its arguments, and checks where the
step comes from with :func:`check_step_source`. An optimizer evaluates a schedule once per apply
with no argument (the current step); a test or a plot evaluates it at explicit steps.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ..variables import Variable

__all__ = ["Schedule", "is_real", "check_step_source", "step_value", "describe"]


# -- argument checks ---------------------------------------------------------------------------
def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (or a 0-d integer/float array); bools are not."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, numbers.Real)


def check_step_source(name: str, value: Any, function: str, missing: str) -> Any:
    """Checks where the step comes from: a scalar Variable, a zero-argument callable or a number.

    Args:
        name: the argument's name, for the messages (``"global_step"``, ``"x"``).
        value: the step source to check.
        function: the schedule function's name, for the TypeError.
        missing: the ValueError's message when ``value`` is None.

    Returns:
        ``value`` unchanged.

    Raises:
        ValueError: ``value`` is None or a non-scalar Variable.
        TypeError: ``value`` is a Variable of another dtype, or not a step source at all.
    """
    if value is None:
        raise ValueError(missing)
    if isinstance(value, Variable):
        if value.ndim != 0:
            raise ValueError(f"`{name}` must be a scalar Variable, got shape {value.shape}.")
        if value.dtype.kind not in "iuf":
            raise TypeError(
                f"`{name}` must be an integer or float Variable, got dtype {value.dtype}."
            )
        return value
    if callable(value) or is_real(value):
        return value
    raise TypeError(
        f"`{name}` of {function} must be an optim.Variable, a zero-argument callable or a "
        f"number, got {value!r}."
    )


def step_value(name: str, value: Any, nonnegative: bool) -> float:
    """A step as a float: a real number, not NaN; finite and >= 0 if ``nonnegative``.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: NaN, or (``nonnegative``) negative or infinite; the message names ``name``.
    """
    if not is_real(value):
        raise TypeError(f"`{name}` must be a real number, got {value!r}.")
    x = float(value)
    if math.isnan(x):
        raise ValueError(f"`{name}` must not be NaN, got {value!r}.")
    if nonnegative and not 0.0 <= x < math.inf:
        raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}.")
    return x


def describe(value: Any) -> str:
    """How a schedule's ``repr`` shows an argument (a Variable by its name)."""
    if isinstance(value, Variable):
        return f"<optim.Variable {value.name!r}>"
    return repr(value)


# -- the schedule object -----------------------------------------------------------------------
class Schedule:
    """A hyperparameter as a pure function of the step, bound to where the step is read.

    ``schedule()`` evaluates ``fn`` at the current step (an optimizer does this once per apply);
    ``schedule(step)`` evaluates it at an explicit step. Either way the step is checked first.

    Args:
        fn: a pure function ``fn(step: float) -> float``.
        global_step: where ``schedule()`` reads the step: a scalar ``optim.Variable`` (its value
            at call time), a zero-argument callable returning a number, or a fixed number.
        name: a label for ``repr``. Default ``"Schedule"``.

    Attributes:
        fn: the pure step function.
        global_step: the step source.
        name: the schedule's name (TF's op-name default, e.g. ``"ExponentialDecay"``).

    Raises:
        TypeError: ``fn`` is not callable or ``global_step`` is not a step source.
        ValueError: ``global_step`` is None or a non-scalar Variable.

    Example:
        >>> step = optim.Variable(0, trainable=False)
        >>> lr = Schedule(lambda s: 0.1 / (1.0 + s), step, name="InverseStep")
        >>> lr(), lr(4)
        (0.1, 0.02)
    """

    __slots__ = (
        "fn",
        "global_step",
        "name",
        "_function",
        "_arguments",
        "_step_arg",
        "_step_index",
        "_counter",
    )

    def __init__(self, fn: Callable[[float], float], global_step: Any, name: str = "Schedule"):
        if not callable(fn):
            raise TypeError(f"`fn` must be callable, got {fn!r}.")
        self.fn = fn
        self.global_step = check_step_source(
            "global_step", global_step, "Schedule", "global_step is required for Schedule."
        )
        self.name = name
        self._function = "Schedule"
        self._arguments: dict[str, Any] = {"fn": fn}
        self._step_arg = "global_step"
        self._step_index = 1
        self._counter = True

    @classmethod
    def from_parts(
        cls,
        function: str,
        fn: Callable[[float], float],
        step: Any,
        name: str,
        arguments: dict[str, Any],
        step_arg: str = "global_step",
        step_index: int = 1,
        counter: bool = True,
    ) -> Schedule:
        """A schedule made by a schedule function, whose arguments are already checked.

        Args:
            function: the making function's name, shown by ``repr``.
            fn: the pure step function.
            step: the (checked) step source.
            name: the schedule's name.
            arguments: the function's arguments but the step, in signature order; ``config``.
            step_arg: the step argument's name. Default ``"global_step"``.
            step_index: the step argument's position in the signature. Default 1.
            counter: whether the step is a counter (finite and >= 0 when evaluated). Default
                True; ``piecewise_constant``'s ``x`` is not.
        """
        self = cls.__new__(cls)
        self.fn, self.global_step, self.name = fn, step, name
        self._function, self._arguments = function, arguments
        self._step_arg, self._step_index, self._counter = step_arg, step_index, counter
        return self

    @property
    def config(self) -> dict[str, Any]:
        """The arguments the schedule was made with (a copy)."""
        return dict(self._arguments)

    def current_step(self) -> float:
        """The step ``schedule()`` would use now, as a float."""
        source = self.global_step
        if isinstance(source, Variable):
            value = source.array.item()
        elif callable(source):
            value = source()
        else:
            value = source
        return step_value(self._step_arg, value, self._counter)

    def __call__(self, step: Any = None) -> float:
        if step is None:
            s = self.current_step()
        else:
            s = step_value("step", step, self._counter)
        return self.fn(s)

    def __repr__(self) -> str:
        # In the signature's order: the step is the second argument (the first for x).
        args = [f"{k}={describe(v)}" for k, v in self._arguments.items()]
        args.insert(self._step_index, f"{self._step_arg}={describe(self.global_step)}")
        args.append(f"name={self.name!r}")
        return f"{self._function}({', '.join(args)})"
