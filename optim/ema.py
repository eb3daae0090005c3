"""Exponential moving averages of variables (TF1 ``tf.train.ExponentialMovingAverage``).

Each averaged variable has a *shadow* array, created by the first :meth:`apply` as a copy of the
variable's value, and updated by every later :meth:`apply` as TF's ``assign_moving_average``::

    shadow -= (1 - decay) * (shadow - variable)

With ``num_updates`` the decay is ``min(decay, (1 + num_updates) / (10 + num_updates))``, so the
average moves fast early in training. Evaluate with the averages through
``with ema.swapped(var_list): ...``, which puts the averages into the variables and the raw
values back on exit, even when the block raises.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .validation import Interval, check_bool, check_real, resolve_var_list
from .variables import Variable, global_variables, match_by_name, trainable_variables

__all__ = ["ExponentialMovingAverage"]

_UNIT = Interval(0.0, 1.0)


def _moving_average(
    shadow: np.ndarray, value: np.ndarray, one_minus_decay: Any, scratch: np.ndarray
) -> None:
    """``shadow -= (shadow - value) * (1 - decay)`` in place (TF's ``assign_moving_average``)."""
    np.subtract(shadow, value, out=scratch)
    np.multiply(scratch, one_minus_decay, out=scratch)
    np.subtract(shadow, scratch, out=shadow)


def _check_variables(var_list: Any, where: str) -> list[Variable]:
    """``var_list`` as a list of floating-point Variables; ``where`` names the method."""
    variables = resolve_var_list(var_list, allow_empty=True)
    for var in variables:
        if var.dtype.kind != "f":
            raise TypeError(
                f"{where}: variable {var.name!r} must be half, float or double to be averaged, "
                f"got dtype {var.dtype}."
            )
    return variables


class ExponentialMovingAverage:
    """Maintains moving averages of variables, as TF1's ``tf.train.ExponentialMovingAverage``.

    For each variable in ``var_list``, :meth:`apply` updates a shadow array::

        decay  = min(decay, (1 + num_updates) / (10 + num_updates))   # with num_updates
        shadow -= (1 - decay) * (shadow - variable)

    The first ``apply`` of a variable creates its shadow as a copy of the variable's value (and
    then updates it, which leaves it equal to the value).

    Args:
        decay: the decay, a float in [0, 1]; typical values are close to 1 (0.999, 0.9999).
        num_updates: optional count of updates made so far: an ``optim.Variable`` (the global
            step), a zero-argument callable or an int; read at every :meth:`apply`.
        zero_debias: start the shadows at zero and report debiased averages (see the note).
        name: suffix of the average names, ``"<variable name>/<name>"``.

    Raises:
        TypeError: a non-real decay, a ``num_updates`` of another type, a non-string name.
        ValueError: a decay outside [0, 1], a negative int ``num_updates``.

    Example:
        >>> step = optim.train.get_or_create_global_step()
        >>> ema = optim.train.ExponentialMovingAverage(0.999, num_updates=step)
        >>> opt.minimize(loss, global_step=step)
        >>> ema.apply([W, b])
        >>> with ema.swapped([W, b]):
        ...     accuracy = evaluate()          # W and b hold their averages here

    .. note::
        TF evaluates ``decay`` and ``(1 + n) / (10 + n)`` in float32 before casting ``1 - decay``
        to the variable's dtype. optim does the same for float32 (and float16) variables, so
        their averages match TF bit for bit (``zero_debias`` included; tests/test_ema.py checks
        against ``tf.compat.v1.train.ExponentialMovingAverage``), and uses float64 for float64
        variables.

    .. note::
        In TF, ``zero_debias`` acts only on averages of tensors, never of Variables. optim
        averages Variables only, and ``zero_debias=True`` applies TF's tensor rule to them: the
        shadow starts at zero, a biased average ``biased = d * biased + (1 - d) * value`` and a
        count ``t`` are kept, and the shadow is ``biased / (1 - d ** t)`` with the current
        ``d`` (TF's ``_zero_debias``).

    Schedule-Free optimizers:
        Their variables hold the training point ``y`` between steps; the point they evaluate
        and ship is the average ``x``. An EMA averages what the variables hold when
        :meth:`apply` runs, so with Schedule-Free it should run in eval mode, averaging ``x``:
        the EMA then smooths the weights one would use anyway (its averages are comparable
        with ``x``, and swapping them in for validation replaces ``x`` by a smoother ``x``),
        whereas an EMA of ``y`` averages points that are never evaluated and ignores
        Schedule-Free's own averaging. ``optim.training.MovingAverage`` does this
        (``with optim.modes.evaluation_mode(opt): ema.apply(...)``, which puts ``y`` back
        bit for bit); in a hand-written loop, do the same.

    Pickling:
        Pickling (or ``copy.deepcopy``) keeps the averages keyed by variable name: they bind to
        the variables of those names that :meth:`apply`, :meth:`average` or :meth:`swapped`
        next see; :meth:`averaged_variables` (and so ``swapped()`` without ``var_list``) looks
        the rest up by name in the default graph. A ``num_updates`` Variable is pickled as the
        Variable it is; pickle it together with the object (``pickle.dumps((ema, step))``).

    References:
        Polyak and Juditsky, "Acceleration of stochastic approximation by averaging", 1992.
    """

    STATE_VERSION = 1

    def __init__(
        self,
        decay: float,
        num_updates: Variable | Callable[[], Any] | int | None = None,
        zero_debias: bool = False,
        name: str = "ExponentialMovingAverage",
    ) -> None:
        decay = check_real("decay", decay, _UNIT, expected="a float in [0, 1]")
        if num_updates is not None and not (
            isinstance(num_updates, Variable) or callable(num_updates)
        ):
            if isinstance(num_updates, (bool, np.bool_)) or not isinstance(
                num_updates, numbers.Integral
            ):
                raise TypeError(
                    "`num_updates` must be an optim.Variable, a zero-argument callable, an int "
                    f"or None, got {num_updates!r}."
                )
            if num_updates < 0:
                raise ValueError(f"`num_updates` must be >= 0, got {num_updates!r}.")
        zero_debias = check_bool("zero_debias", zero_debias)
        if not isinstance(name, str) or not name:
            raise TypeError(f"`name` must be a non-empty string, got {name!r}.")
        self._decay = float(decay)
        self._num_updates = num_updates
        self._zero_debias = bool(zero_debias)
        self._name = name
        self._averages: dict[Variable, np.ndarray] = {}
        self._biased: dict[Variable, np.ndarray] = {}
        self._local_step: dict[Variable, int] = {}
        # State restored by unpickling, keyed by variable name until a Variable is met.
        self._pending: dict[str, dict[str, Any]] = {"averages": {}, "biased": {}, "local_step": {}}
        self._swapped = False

    # -- pickling: state keyed by variable name ----------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """The attributes with the averages keyed by variable name (pickle, ``deepcopy``)."""
        state = self.__dict__.copy()
        tables = self._tables_by_name()
        state["_pending"] = tables
        state["_averages"], state["_biased"], state["_local_step"] = {}, {}, {}
        state["_swapped"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _tables_by_name(self) -> dict[str, dict[str, Any]]:
        """``{"averages", "biased", "local_step"}``, each ``{variable_name: value}`` (live)."""
        out: dict[str, dict[str, Any]] = {}
        for key, table in (
            ("averages", self._averages),
            ("biased", self._biased),
            ("local_step", self._local_step),
        ):
            named = out[key] = {}
            for var, value in table.items():
                if var.name in named:
                    raise ValueError(
                        f"Two different variables named {var.name!r} have averages; the state "
                        "is keyed by variable name, so it cannot be saved, copied or pickled."
                    )
                named[var.name] = value
            for name, value in self._pending[key].items():
                named.setdefault(name, value)
        return out

    def _bind_pending(self, variables: list[Variable]) -> None:
        """Binds unpickled averages to the ``variables`` of the same names.

        Raises:
            ValueError: a shape or dtype that differs (nothing is bound then).
        """
        pending = self._pending
        if not pending["averages"]:
            return
        names = {v.name for v in variables if v not in self._averages}
        averages = match_by_name(
            {n: a for n, a in pending["averages"].items() if n in names}, variables, "average"
        )
        biased = match_by_name(
            {n: a for n, a in pending["biased"].items() if n in names}, variables, "biased average"
        )
        for var, array in averages.items():
            self._averages[var] = array
            del pending["averages"][var.name]
        for var, array in biased.items():
            self._biased[var] = array
            self._local_step[var] = int(pending["local_step"].pop(var.name, 0))
            del pending["biased"][var.name]

    def _bind_all_pending(self) -> None:
        """Binds every unpickled average by name among the default graph's variables.

        Raises:
            ValueError: an average whose variable the default graph does not hold.
        """
        if not self._pending["averages"]:
            return
        self._bind_pending(global_variables())
        if self._pending["averages"]:
            raise ValueError(
                f"The averages of variables {sorted(self._pending['averages'])}, restored by "
                "unpickling, match no variable of the default graph; pass var_list, or create "
                "the variables first."
            )

    @property
    def name(self) -> str:
        return self._name

    @property
    def decay(self) -> float:
        return self._decay

    def _current_decay(self, dtype: np.dtype) -> Any:
        """The decay for this apply as a scalar of the computing dtype (float32 at least)."""
        compute = np.promote_types(dtype, np.float32).type
        decay = compute(self._decay)
        if self._num_updates is not None:
            n = self._num_updates
            n = n.numpy() if isinstance(n, Variable) else (n() if callable(n) else n)
            n = compute(n)
            decay = min(decay, (compute(1.0) + n) / (compute(10.0) + n))
        return decay

    def apply(self, var_list: Any = None) -> None:
        """Creates the missing shadows, then updates every shadow of ``var_list`` once.

        Args:
            var_list: the variables to average: a list or tuple of floating-point
                ``optim.Variable``; ``None`` means every trainable variable of the default graph.

        Raises:
            TypeError: a non-Variable or a non-floating variable (nothing is updated then).
            RuntimeError: inside a :meth:`swapped` block.
        """
        if self._swapped:
            raise RuntimeError(
                "ExponentialMovingAverage.apply() cannot run inside ema.swapped(): the variables "
                "hold their averages there."
            )
        var_list = _check_variables(
            trainable_variables() if var_list is None else var_list, "apply"
        )
        self._bind_pending(var_list)
        decays = {}
        for var in var_list:
            if var.dtype not in decays:
                decays[var.dtype] = self._current_decay(var.dtype)
        for var in var_list:
            decay = decays[var.dtype]
            one_minus_decay = var.dtype.type(decay.dtype.type(1.0) - decay)
            value = var.array
            scratch = np.empty_like(value)
            if not self._zero_debias:
                shadow = self._averages.get(var)
                if shadow is None:
                    shadow = self._averages[var] = value.copy()
                _moving_average(shadow, value, one_minus_decay, scratch)
                continue
            if var not in self._averages:
                self._averages[var] = np.zeros_like(value)
                self._biased[var] = np.zeros_like(value)
                self._local_step[var] = 0
            biased = self._biased[var]
            _moving_average(biased, value, one_minus_decay, scratch)
            self._local_step[var] += 1
            one = one_minus_decay.dtype.type(1.0)
            bias_factor = one - (one - one_minus_decay) ** one_minus_decay.dtype.type(
                self._local_step[var]
            )
            np.divide(biased, bias_factor, out=self._averages[var])

    def average(self, var: Variable) -> np.ndarray | None:
        """The shadow array of ``var`` (live: later applies show through), or None."""
        if isinstance(var, Variable):
            self._bind_pending([var])
        return self._averages.get(var)

    def average_name(self, var: Variable) -> str:
        """The name of ``var``'s average: ``"<variable name>/<ema name>"``, as TF."""
        if not isinstance(var, Variable):
            raise TypeError(f"`var` must be an optim.Variable, got {var!r}.")
        return f"{var.name}/{self._name}"

    def averaged_variables(self) -> list[Variable]:
        """The variables that have a shadow, in the order their shadows were created.

        After unpickling, the averages not yet bound are bound by name among the default
        graph's variables first (ValueError if one of them is not there).
        """
        self._bind_all_pending()
        return list(self._averages)

    def variables_to_restore(self, moving_avg_variables: Any = None) -> dict[str, Variable]:
        """TF's name map for restoring averages into the variables themselves.

        Returns ``{average_name(v): v}`` for the moving-average variables (default: the
        averaged ones plus every trainable variable) and ``{v.name: v}`` for every other
        variable of the default graph, as TF's method does.
        """
        if moving_avg_variables is None:
            moving = list(dict.fromkeys(self.averaged_variables() + trainable_variables()))
        else:
            moving = _check_variables(moving_avg_variables, "variables_to_restore")
        names = {self.average_name(v): v for v in moving}
        for var in global_variables():
            if var not in moving:
                names[var.name] = var
        return names

    @contextlib.contextmanager
    def swapped(self, var_list: Any = None) -> Iterator[None]:
        """Puts the averages into the variables for a ``with`` block, then the values back.

        The raw values are copied aside on entry and written back on exit, even when the
        block raises; the shadows are not changed by the block.

        Args:
            var_list: the variables to swap (default: every averaged variable); each must have
                an average.

        Raises:
            ValueError: a variable without an average.
            RuntimeError: nested inside another ``swapped`` block of this object.
        """
        if self._swapped:
            raise RuntimeError("ExponentialMovingAverage.swapped() blocks cannot be nested.")
        var_list = _check_variables(
            self.averaged_variables() if var_list is None else var_list, "swapped"
        )
        self._bind_pending(var_list)
        missing = [v.name for v in var_list if v not in self._averages]
        if missing:
            raise ValueError(
                f"`var_list` must hold averaged variables only, got {missing} without an "
                "average; call ema.apply() first."
            )
        saved = [(var, var.numpy()) for var in var_list]
        self._swapped = True
        try:
            for var, _ in saved:
                np.copyto(var.array, self._averages[var])
            yield
        finally:
            for var, value in saved:
                np.copyto(var.array, value)
            self._swapped = False

    # -- state, keyed by name ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The averages as plain data keyed by variable name (arrays are copies).

        ``{"kind", "version", "name", "averages": {var_name: array}, "biased":
        {var_name: array}, "local_step": {var_name: int}}``; the last two are empty without
        ``zero_debias``.
        """
        tables = self._tables_by_name()
        return {
            "kind": type(self).__name__,
            "version": self.STATE_VERSION,
            "name": self._name,
            "averages": {n: a.copy() for n, a in tables["averages"].items()},
            "biased": {n: a.copy() for n, a in tables["biased"].items()},
            "local_step": {n: int(t) for n, t in tables["local_step"].items()},
        }

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output, matching averages to variables by name.

        Args:
            state: what :meth:`state_dict` returned.
            var_list: the variables the averages belong to (default: every variable of the
                default graph).

        Raises:
            ValueError: another kind or version, an average for a variable not in
                ``var_list``, a shape or dtype that differs. Nothing is changed then.
        """
        if not isinstance(state, dict) or state.get("kind") != type(self).__name__:
            kind = state.get("kind") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"`state` must come from ExponentialMovingAverage, got {kind!r}.")
        if state.get("version") != self.STATE_VERSION:
            raise ValueError(
                f"`state` has version {state.get('version')!r}; this optim reads version "
                f"{self.STATE_VERSION}."
            )
        candidates = global_variables() if var_list is None else _check_variables(var_list, "load")
        averages = match_by_name(state["averages"], candidates, "average")
        biased = match_by_name(state.get("biased", {}), candidates, "biased average")
        steps = state.get("local_step", {})
        local_step = {var: int(steps.get(var.name, 0)) for var in biased}
        if self._zero_debias and set(biased) != set(averages):
            raise ValueError(
                "`state` must hold a biased average for every average when zero_debias=True, "
                f"got averages for {sorted(v.name for v in averages)} and biased averages for "
                f"{sorted(v.name for v in biased)}."
            )
        self._averages, self._biased, self._local_step = averages, biased, local_step
        self._pending = {"averages": {}, "biased": {}, "local_step": {}}

    def __repr__(self) -> str:
        return (
            f"ExponentialMovingAverage(decay={self._decay!r}, num_updates={self._num_updates!r}, "
            f"zero_debias={self._zero_debias!r}, name={self._name!r})"
        )
