"""The ``Optimizer`` base class: TF1's ``compute_gradients`` / ``apply_gradients`` / ``minimize``.

This docstring is the kernel contract every optimizer of optim follows, and the subclassing
contract for new ones.

The hooks, in order (TF1's names; the order is the API)::

    apply_gradients(grads_and_vars, global_step):
        validate every pair                  # nothing is touched if anything is wrong
        clip, then the non-finite policy     # a skipped step stops here
        _prepare()                           # hyperparameters evaluated once per apply;
                                             # the step-scalar cache is emptied
        _create_slots(vars_with_grad)        # must be idempotent (get-or-make); the base
                                             # then makes the step_state_name mirror, if any
        for (g, v) with g not None:
            dense  -> _apply_dense(g, v)     # default: _kernel on v, its slots, g
            sparse -> _apply_sparse_duplicate_indices(g, v)   # sums duplicates, then
                      _apply_sparse(g, v)    # default: the class's sparse_updates strategy
            v.constraint, if any, projects v
        _finish(updated_vars, name)          # e.g. Adam advances its beta powers here
        iterations += 1; global_step += 1    # once, after every update

Unlike TF1, ``_prepare`` runs before ``_create_slots``, so a bad hyperparameter value from a
schedule raises before anything (slots included) is created.

**The step counter.** The base counts steps once, for every class: :meth:`Optimizer._step_number`
is ``t``, the 1-based number of the update being applied, i.e. the updates applied before this
apply plus one (``iterations - skipped_steps + 1``: a step skipped by ``nonfinite="skip"``
advances :attr:`Optimizer.iterations` but no bias correction, as it leaves Adam's beta powers
alone). Kernels and scalar hooks read ``t`` from there and keep no counter of their own. Two
kinds of state stay, because they are state rather than counters: running products whose
rounding TF and Keras parity depends on (Adam's and Adamax's ``beta1_power`` /
``beta2_power``, Nadam's ``momentum_cache``), and, for classes whose saved state has always
carried the count (RAdam, LAMB and Adafactor ``"step"``, Nadam ``"steps"``), a copy of the count
as a non-slot value named by the class attribute ``step_state_name``: the base makes it with
the first variable by name (in that variable's dtype) and writes the count into it after each
apply, so checkpoints, ``state_dict`` and pickles keep their format. It is written, never read.
AdagradDA's ``T`` is the *global step* + 1, by TF1's definition, read in its scalar hook.

**The step scalars.** :meth:`Optimizer._step_scalars` ``(dtype) -> tuple`` is the one hook that
computes an apply's per-step scalars (hyperparameters cast to ``dtype``, bias corrections,
schedule values, ``1 - beta``...). The base calls it at most once per dtype per apply, lazily,
and caches the tuple (:meth:`Optimizer._scalars`; the cache is emptied by ``_prepare``), so it
never runs once per variable. For a class with a fused kernel in :mod:`optim.engine` the tuple
starts with that kernel's scalar arguments, in its order, and may go on with derived scalars
its per-variable kernel uses (``1 - beta``); :meth:`Optimizer._flat_arguments` picks the fused
kernel's arguments out of it. Both paths compute with the same numpy scalars, so they round
the same way.

**The kernel.** A class declares ``kernel_slots`` (the names of the slots its kernel takes, in
order; a slot the variable lacks, such as Adam's ``vhat`` without AMSGrad, passes ``None``) and
``kernel_scratch`` (how many temporaries shaped like the variable it needs), and implements
:meth:`Optimizer._kernel` ``(var, slots, grad, scalars, scratch, *, rows=False)``: it calls the
module-level kernel of its family on those arrays. A module-level kernel

- may: mutate ``var``, its slots and the scratch arrays in place, in the reference's order of
  operations (which is what bit-exact parity rests on);
- may not: mutate ``grad``, allocate arrays proportional to the parameter count (scratch comes
  from :meth:`Optimizer._scratch`), see ``self``, keep any state or counter of its own, or care
  whether its arrays are one variable, gathered rows or a slice of a larger buffer.

Kernels are array functions over any contiguous arrays of one dtype, so the same kernel runs on
one variable or on a flat buffer holding every variable of a dtype. A class whose update is
elementwise also names its fused kernel (``flat_kernel``, from :mod:`optim.engine.kernels`:
numba when the ``fast`` extra is installed, else blocked numpy) and the flat engine takes over
its dense updates:

- on the first apply, every variable of a dtype that the optimizer updates, and each of its
  slots, is re-homed into one contiguous buffer per dtype (:mod:`optim.engine.arena`);
  ``Variable.value`` is then a view of its segment, ``assign`` writes into it, ``get_slot``
  returns the live segment view, and a reference taken to a variable's array *before* that
  first apply keeps showing the old memory (read the variable again);
- each step gathers the gradients into one flat gradient buffer and makes one kernel call per
  dtype with the same step scalars, in the same order of operations: results are
  bit-identical to the per-variable path (numba and numpy alike);
- in the steady state (dense gradients for exactly the arena's variables, in its order) the
  call is recognised without a Python loop over the pairs, clipping by global norm is one
  reduction over the flat gradient (each segment's pairwise sum of squares, the same sums as
  per gradient, so the same bits) and so is the non-finite check (numba's multithreaded count
  for large buffers); ``clipnorm`` still clips gradient by gradient, before the gather;
- LAMB's trust ratio is a per-variable quantity: its fused update computes each segment's
  norms over the segment's views of the flat buffers (``arena.offsets``), the same sums as
  per variable;
- the base's weight decay (see :class:`Optimizer`, "Weight decay") runs inside the fused
  kernel when the class names a decaying variant (``flat_decay_kernel``: Adam's ``"adamw"``)
  and every variable of the buffer decays; otherwise it runs before the kernel, over the
  buffer, or segment by segment when some variables are excluded. Each way performs the
  per-variable path's operations in its order, so its bits;
- sparse gradients, a step in which only part of the variables have gradients (TF1 skips the
  others: their slots must not decay), Adafactor (factored slots, not shaped like the
  variable), a class's own refusal (``_flat_ready``) and a kernel-owned decay
  (``decay_in_kernel``) with excluded variables stay on the per-variable kernels, which
  run on the same views. Variables joining later, restored slots or a
  variable re-homed by another optimizer make the layout stale, and it is rebuilt on the next
  apply;
- ``OPTIM_ENGINE=off`` turns it off (``numpy`` / ``numba`` choose the kernels).

A subclass that overrides ``_kernel`` or ``_apply_dense`` without declaring ``flat_kernel``
itself is never fused. A class may still override ``_apply_dense`` itself (TF1's way), as user
subclasses do.

**Sparse gradients.** The class attribute ``sparse_updates`` declares how an
:class:`optim.IndexedSlices` gradient (duplicate indices already summed) is applied:

- ``"lazy_rows"``: the base gathers the touched rows of the variable and of its kernel slots,
  runs the class's ``_kernel`` on them with ``rows=True`` and scatters them back: only those
  rows move and only their slots change (TF's ``SparseApply*`` kernels);
- ``"dense_equivalent"``: the base scatters the rows into a zeroed dense gradient (scratch) and
  runs the dense update, so the result equals a dense gradient with zero rows;
- ``"custom"``: the class's own ``_apply_sparse`` (or ``_apply_sparse_duplicate_indices``),
  for a genuinely different rule: Adam's TF order (decay everything, then scatter-add), Adamax's
  Keras 2 lazy order, gradient descent's scatter-subtract of duplicates. A subclass that defines
  either method, and neither declares nor inherits a strategy, gets ``"custom"``;
- ``None`` (the default): sparse gradients raise ``NotImplementedError`` naming the variable.

The protected helpers a subclass calls on ``self`` are part of this contract: ``_set_hyper``
(constructor), ``_get_hyper(name, dtype)`` (this apply's value, cast), ``_current_hyper(name)``
(the value as a number, also outside an apply), ``_step_number``, ``_scalars``,
``_zeros_slot``, ``_get_or_make_slot``, ``_get_or_make_slot_with_initializer``,
``_create_non_slot_variable``, ``_get_non_slot_variable`` and ``_scratch``; for weight decay
(see :class:`Optimizer`), ``_uses_weight_decay(var)`` (the one mask), ``_decay_masked``,
``_scalars_of(var)`` (the step scalars, with the decay zeroed for an excluded variable when
the kernel owns it), ``_decay_scalars`` (the base decay's factors; AdamW drops the rate) and
``_weight_decay_only`` (AdamW's ``decay_var_list``). Code outside a subclass uses the public
API only.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .clipping import check_clip_options, clip_gradients
from .engine.fused import FusedEngine
from .engine.kernels import engine_enabled
from .engine.numpy_kernels import decay_weights
from .engine.reductions import all_finite as finite_entries
from .gradients import GradientSource, as_gradient_source, check_gradient
from .sparse import IndexedSlices, check_indexed_slices, deduplicate
from .validation import (
    NONNEGATIVE,
    POSITIVE,
    Interval,
    check_bool,
    check_real,
    flatten,
    resolve_var_list_for_gradients,
)
from .variables import Variable

# Interval, NONNEGATIVE and POSITIVE live in optim.validation; they stay importable from here.
__all__ = [
    "Optimizer",
    "Interval",
    "NONNEGATIVE",
    "POSITIVE",
    "all_finite",
    "compile_name_patterns",
]

_HYPER_TYPES = "a float or a zero-argument callable"
_NO_SLOTS: dict[Variable, np.ndarray] = {}  # read-only default of slot-table lookups
_DECAY_BLOCK = 1 << 16  # elements per block of the flat layout's weight decay


def _required_arguments(fn: Callable[..., Any]) -> int | None:
    """How many arguments ``fn`` requires; None when its signature cannot be read.

    A required keyword-only argument counts as one more than a callable can ever be given, so
    such a callable is rejected like one that needs two arguments.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
        elif parameter.kind is parameter.KEYWORD_ONLY:
            count += 2
    return count


class _OfIterations:
    """A one-argument hyperparameter callable bound to its optimizer's :attr:`iterations`.

    Calling it with no argument evaluates ``fn(optimizer.iterations)``: 0 at the first apply,
    then 1, 2, ... It holds the optimizer itself (not a closure), so a pickled or deep-copied
    optimizer carries a callable bound to the copy.

    Attributes:
        fn: the user's callable, ``fn(step: int) -> float``.
    """

    __slots__ = ("fn", "optimizer")

    def __init__(self, fn: Callable[[int], Any], optimizer: Optimizer) -> None:
        self.fn, self.optimizer = fn, optimizer

    def __call__(self) -> Any:
        return self.fn(self.optimizer.iterations)

    def __repr__(self) -> str:
        return f"{self.fn!r} of {type(self.optimizer).__name__}.iterations"


class Optimizer:
    """Base class of every optimizer, with TF1's API and rules.

    Args:
        use_locking: accepted for TF1 compatibility; numpy updates are not concurrent.
        name: the optimizer's name (used for slot names); must be non-empty.
        gradient: the default gradient source for :meth:`compute_gradients` and
            :meth:`minimize`: ``None`` (autodiff), a callable, ``True``, ``"2-point"``,
            ``"3-point"`` or ``"cs"``. See :mod:`optim.gradients`.
        nonfinite: what a NaN or infinity in the loss (``minimize``) or in a gradient does:
            ``"raise"`` (default) raises ``FloatingPointError`` naming the variables and the
            step, changing nothing; ``"skip"`` skips the step (no variable or slot changes, the
            global step and :attr:`iterations` still count it, :attr:`skipped_steps` grows), as
            optax's ``apply_if_finite`` and Keras' loss-scale optimizer do; ``"propagate"``
            applies it, as TF does.
        max_consecutive_nonfinite: with ``"skip"``, raise ``FloatingPointError`` once this many
            steps in a row were skipped (``None``: never).
        clipnorm: clip each gradient to this L2 norm (Keras' option), before the update.
        clipvalue: clip each gradient element into ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global norm
            (:func:`optim.clip_by_global_norm`). At most one of the three may be set.
        weight_decay: decoupled weight decay, Keras 3's spelling, taken by every optimizer:
            a float >= 0 or a callable, like any hyperparameter; ``None`` (the default of most
            classes) or 0 is off. See "Weight decay" below.

    Weight decay:
        Unless the class's kernel owns the decay (:attr:`decay_in_kernel`), each variable
        that decays is shrunk before its update, as Keras 3's ``_apply_weight_decay`` does::

            var -= var * weight_decay * learning_rate     # this apply's values, var's dtype

        and the class's own update follows. Classes whose published rule puts the decay inside
        the update (LAMB, Muon, Prodigy, the schedule-free pair) keep it there, with the same
        argument and the same exclusions; their docstrings say how. AdamW's
        ``weight_decay_scale="none"`` drops the learning-rate factor. A sparse gradient decays
        the whole variable. A skipped step (``nonfinite="skip"``) decays nothing.
        :meth:`exclude_from_weight_decay` chooses the variables that never decay.

    Hyperparameters:
        Every hyperparameter a subclass takes (``learning_rate``, ``momentum``, ``beta1``...)
        is one of:

        - a real number, checked against its range in the constructor;
        - a zero-argument callable, such as a :class:`optim.schedules.Schedule` (which reads its
          own step source) or ``lambda: lr_now``;
        - a one-argument callable of the step, such as ``lambda step: 0.1 * 0.9 ** step`` (as
          Keras and PyTorch schedules are written): it is called with this optimizer's
          :attr:`iterations`, the number of ``apply_gradients`` calls made before this one
          (0 at the first step, then 1, 2, ...; restored by :meth:`load_state_dict` and kept
          by pickling).

        Callables are evaluated once per ``apply_gradients`` (in :meth:`_prepare`) and their
        values checked against the same range. A callable that requires two or more arguments
        (or a keyword-only one) is rejected with TypeError by the constructor and by
        :meth:`set_hyper`. A callable whose signature cannot be inspected (some builtins) is
        called with no argument, as before one-argument callables were accepted.
        :meth:`get_hyper` returns a one-argument callable bound to this optimizer: a
        zero-argument callable whose ``fn`` attribute is the callable given.

    Pickling and copies:
        An optimizer pickles with its whole state: slots, non-slot values (Adam's beta powers),
        the counters and hyperparameters (callables must be picklable themselves; lambdas are
        not). Slots are stored keyed by variable name, as in :meth:`state_dict`, and bind by
        name to the Variables the unpickled optimizer next meets (``apply_gradients``,
        ``minimize``, :meth:`get_slot`); until then they show in :meth:`get_slot_names`,
        :meth:`variables` and :meth:`state_dict`. A slot whose variable now has another shape
        or dtype raises ValueError naming the variable when it is met. Pickling the optimizer
        together with its variables (``pickle.dumps((opt, w, b))``) or alone (then unpickled
        where variables of the same names exist) resumes the run bit for bit. Variables
        unpickled where variables of their names still live are renamed (``w_1``), so their
        slots cannot find them: an apply that updates only variables without slots while
        unpickled slots still wait raises ValueError rather than restart them from zero.
        ``copy.deepcopy(opt)`` is the same in memory: an independent optimizer with equal
        state, whose slots bind by name to the variables it is next used on (the same ones,
        or variables of the same names in another graph); ``deepcopy((opt, w))`` renames
        ``w``'s copy as above. ``copy.copy(opt)`` is shallow: it shares the slot arrays.

    Raises:
        ValueError: an empty name, a bad ``nonfinite`` / ``max_consecutive_nonfinite``, or a
            ``weight_decay`` below 0, NaN or infinite.
        TypeError: a ``weight_decay`` that is neither a real number, None nor a callable.
    """

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    NONFINITE_POLICIES = ("raise", "skip", "propagate")

    SPARSE_STRATEGIES = ("lazy_rows", "dense_equivalent", "custom")
    """The values ``sparse_updates`` may take (besides None); see the module docstring."""

    sparse_updates: str | None = None
    """How sparse gradients are applied: one of :attr:`SPARSE_STRATEGIES`, or None (refused)."""

    kernel_slots: tuple[str, ...] = ()
    """The slot names :meth:`_kernel` takes, in its order (None passed for a missing slot)."""

    kernel_scratch: int = 0
    """How many scratch arrays shaped like the variable :meth:`_kernel` takes."""

    step_state_name: str | None = None
    """The non-slot name under which this class's saved state carries the step count, or None."""

    flat_kernel: str | None = None
    """The fused kernel of :mod:`optim.engine.kernels` that runs this class's dense update over
    a whole flat buffer (``"adam"``, ``"momentum"``...), or None (per-variable updates only).
    Its positional arguments are the buffers of ``var`` and :attr:`kernel_slots`, the flat
    gradient, then :meth:`_flat_arguments` of the step scalars. A subclass that overrides
    ``_kernel`` or ``_apply_dense`` without declaring ``flat_kernel`` itself gets None."""

    flat_decay_kernel: str | None = None
    """The fused kernel that applies the base's weight decay and then :attr:`flat_kernel`'s
    update in one pass over the buffers (Adam: ``"adamw"``), taking the decay's factors
    (:meth:`_decay_scalars`) after the kernel's arguments. The engine uses it when every
    variable of an arena decays; None (the default), or a class that sets :attr:`flat_kernel`
    itself without it, decays the buffer in a pass of its own first."""

    decay_in_kernel: bool = False
    """Whether this class's kernel applies ``weight_decay`` itself, inside its published rule
    (LAMB's trust ratio, Muon, Prodigy, schedule-free): then the base does not decay before the
    update, and a variable excluded from weight decay runs the kernel with the
    :attr:`decay_hypers` set to zero (see :meth:`_scalars_of`). False (the default): the base
    applies Keras 3's decoupled decay before the update (see :meth:`exclude_from_weight_decay`)."""

    decay_hypers: tuple[str, ...] = ("weight_decay",)
    """The hyperparameters that a variable excluded from weight decay sees as zero, when
    :attr:`decay_in_kernel` (Muon adds its AdamW branch's ``adam_weight_decay``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Checks ``sparse_updates``. A class defining its own ``_apply_sparse`` (or
        ``_apply_sparse_duplicate_indices``) that neither declares nor inherits a strategy gets
        ``"custom"``; one that inherits a strategy keeps it (its override may call super())."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if (
            "sparse_updates" not in own
            and cls.sparse_updates is None
            and ("_apply_sparse" in own or "_apply_sparse_duplicate_indices" in own)
        ):
            cls.sparse_updates = "custom"
        if "flat_kernel" not in own and ("_kernel" in own or "_apply_dense" in own):
            cls.flat_kernel = None  # its own update: the inherited fused kernel would skip it
        if "flat_decay_kernel" not in own and ("flat_kernel" in own or cls.flat_kernel is None):
            cls.flat_decay_kernel = None  # a variant of another kernel than this class's
        if cls.sparse_updates is not None and cls.sparse_updates not in cls.SPARSE_STRATEGIES:
            raise ValueError(
                f"`{cls.__name__}.sparse_updates` must be one of {cls.SPARSE_STRATEGIES} or "
                f"None, got {cls.sparse_updates!r}."
            )

    def __init__(
        self,
        use_locking: bool,
        name: str,
        *,
        gradient: Any = None,
        nonfinite: str = "raise",
        max_consecutive_nonfinite: int | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: Any = None,
    ) -> None:
        if name is None or (isinstance(name, str) and not name):
            raise ValueError("Must specify the optimizer name")
        if not isinstance(name, str):  # before any truth test: an array has none
            raise TypeError(f"`name` must be a string, got {name!r}.")
        if not isinstance(nonfinite, str) or nonfinite not in self.NONFINITE_POLICIES:
            raise ValueError(
                f"`nonfinite` must be one of {self.NONFINITE_POLICIES}, got {nonfinite!r}."
            )
        if max_consecutive_nonfinite is not None and (
            isinstance(max_consecutive_nonfinite, bool)
            or not isinstance(max_consecutive_nonfinite, numbers.Integral)
            or max_consecutive_nonfinite < 1
        ):
            raise ValueError(
                "`max_consecutive_nonfinite` must be a positive integer or None, "
                f"got {max_consecutive_nonfinite!r}."
            )
        clip = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        chosen = {k: v for k, v in clip.items() if v is not None}
        if len(chosen) > 1:
            raise ValueError(
                f"At most one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set, "
                f"got {chosen}."
            )
        self._clipping = dict(zip(clip, check_clip_options(**clip))) if chosen else None
        self._use_locking = check_bool("use_locking", use_locking)
        self._name = name
        self._gradient: GradientSource = as_gradient_source(gradient)
        self._nonfinite = nonfinite
        self._max_consecutive_nonfinite = max_consecutive_nonfinite
        self._iterations = 0
        self._skipped_steps = 0
        self._consecutive_nonfinite = 0
        self._hyper: dict[str, tuple[Any, Interval]] = {}
        self._hyper_callables = False
        self._hyper_t: dict[str, float] = {}
        self._hyper_cast: dict[np.dtype, dict[str, Any]] = {}
        self._scalar_cache: dict[np.dtype, tuple[Any, ...]] = {}
        self._slots: dict[str, dict[Variable, np.ndarray]] = {}
        # Slots restored by unpickling, keyed by variable name until a Variable is met.
        self._pending_slots: dict[str, dict[str, np.ndarray]] = {}
        self._non_slot: dict[str, np.ndarray] = {}
        self._scratch_buffers: dict[np.dtype, np.ndarray] = {}
        self._engine: FusedEngine | None = None  # the flat layout, made on the first apply
        self._scratch_views: dict[tuple, tuple[np.ndarray, ...]] = {}
        # Weight decay's exclusions (configuration, not state; see exclude_from_weight_decay).
        self._decay_excluded: set[Variable] = set()
        self._decay_excluded_names: set[str] = set()  # excluded Variables after pickling
        self._decay_pattern: re.Pattern[str] | None = None
        self._decay_only: set[Variable] | None = None  # None: every variable not excluded
        self._undecayed_cache: dict[np.dtype, tuple[Any, ...]] = {}
        if weight_decay is not None or self.decay_in_kernel:
            self._set_hyper("weight_decay", 0.0 if weight_decay is None else weight_decay)

    def get_name(self) -> str:
        return self._name

    @property
    def gradient(self) -> GradientSource:
        """The optimizer's default gradient source (``gradient=`` of the constructor)."""
        return self._gradient

    @property
    def nonfinite(self) -> str:
        """The non-finite policy: ``"raise"``, ``"skip"`` or ``"propagate"``."""
        return self._nonfinite

    @property
    def max_consecutive_nonfinite(self) -> int | None:
        """With ``nonfinite="skip"``: how many skipped steps in a row raise (None: never)."""
        return self._max_consecutive_nonfinite

    @property
    def iterations(self) -> int:
        """How many ``apply_gradients`` calls this optimizer has run (skipped steps included)."""
        return self._iterations

    @property
    def skipped_steps(self) -> int:
        """How many steps were skipped for non-finite values (``nonfinite="skip"``)."""
        return self._skipped_steps

    def _is_finite_step(self, names: list[str], what: str, global_step: Variable | None) -> bool:
        """Applies the non-finite policy to a bad loss or gradient; True to go on updating."""
        if self._nonfinite == "propagate":
            return True
        step = f"step {self._iterations + 1}"
        if global_step is not None:
            step += f" (global_step {int(global_step.array)})"
        message = f"Non-finite {what} at {step} for variables {names}."
        if self._nonfinite == "raise":
            raise FloatingPointError(
                message + " Nothing was updated. Pass nonfinite='skip' to skip such steps, or "
                "nonfinite='propagate' to apply them as TensorFlow does."
            )
        self._consecutive_nonfinite += 1
        limit = self._max_consecutive_nonfinite
        if limit is not None and self._consecutive_nonfinite >= limit:
            raise FloatingPointError(
                f"{message} That is {self._consecutive_nonfinite} non-finite steps in a row "
                f"(max_consecutive_nonfinite={limit}). Nothing was updated."
            )
        self._skipped_steps += 1
        self._iterations += 1
        if global_step is not None:
            global_step.array[...] += 1
        return False

    # -- hyperparameters -------------------------------------------------------------------
    def _set_hyper(self, name: str, value: Any, interval: Interval = NONNEGATIVE) -> None:
        """Validates and stores a hyperparameter: a real number in ``interval`` or a callable.

        Callables (schedules) are evaluated once per ``apply_gradients`` in :meth:`_prepare`,
        and their values are checked against the same interval. A one-argument callable is
        stored bound to :attr:`iterations` (see the class docstring); one requiring more
        arguments raises TypeError, and nothing is stored then.
        """
        if isinstance(value, _OfIterations):
            value = value.fn  # from get_hyper, maybe another optimizer's: bind it to this one
        if callable(value):
            required = _required_arguments(value)
            if required == 1:
                value = _OfIterations(value, self)
            elif required is not None and required > 1:
                raise TypeError(
                    f"`{name}` must be a float, a zero-argument callable or a one-argument "
                    f"callable of the step, got {value!r}, which requires more arguments."
                )
            self._hyper_callables = True
        else:
            value = check_real(name, value, interval, expected=_HYPER_TYPES)
        self._hyper[name] = (value, interval)
        self._hyper_t = {}  # recomputed by the next _prepare

    def get_hyper(self, name: str) -> Any:
        """The hyperparameter ``name`` as configured: a float or a zero-argument callable.

        A one-argument callable given to the constructor or :meth:`set_hyper` comes back bound
        to this optimizer's :attr:`iterations` (its ``fn`` attribute is the callable given).
        """
        if name not in self._hyper:
            raise ValueError(f"`name` must be one of {sorted(self._hyper)}, got {name!r}.")
        return self._hyper[name][0]

    def set_hyper(self, name: str, value: Any) -> None:
        """Changes hyperparameter ``name`` between steps: a float or a callable, as ``__init__``.

        The value is checked against the same range as in the constructor; the next
        ``apply_gradients`` uses it. This is how callbacks such as ReduceLROnPlateau act.

        Raises:
            ValueError, TypeError: an unknown name or a value the constructor would reject.
        """
        self.get_hyper(name)
        self._set_hyper(name, value, self._hyper[name][1])

    @property
    def learning_rate(self) -> Any:
        """The configured learning rate (a float or a callable); settable between steps."""
        return self.get_hyper("learning_rate")

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.set_hyper("learning_rate", value)

    @staticmethod
    def _call_if_callable(x: Any) -> Any:
        return x() if callable(x) else x

    def _prepare(self) -> None:
        """Evaluates every hyperparameter once for this apply (callables called, values checked).

        Subclasses overriding it call ``super()._prepare()`` first; a derived value stored in
        ``self._hyper_t[name]`` after that is cast by :meth:`_get_hyper` like the others.
        """
        self._hyper_cast = {}
        self._scalar_cache = {}  # a new dict: a shallow copy keeps its own
        self._undecayed_cache = {}
        if self._hyper_t and not self._hyper_callables:
            return  # constants only: already checked in _set_hyper
        self._hyper_t = {
            name: check_real(name, value(), interval, expected=_HYPER_TYPES)
            if callable(value)
            else value
            for name, (value, interval) in self._hyper.items()
        }

    def _current_hyper(self, name: str) -> Any:
        """The value of hyperparameter ``name`` as a number, for a subclass's hooks.

        Inside an apply it is this apply's value (from :meth:`_prepare`); outside one (slots
        made by :meth:`get_slot` before any apply) a callable is evaluated now. Adam's beta
        powers start from it.
        """
        value = self._hyper_t.get(name)
        if value is None:
            value = self._call_if_callable(self._hyper[name][0])
        return value

    def _get_hyper(self, name: str, dtype: np.dtype) -> Any:
        """The value of hyperparameter ``name`` for this apply, cast once to ``dtype``."""
        cast = self._hyper_cast.get(dtype)
        if cast is None:
            cast = self._hyper_cast[dtype] = {k: dtype.type(v) for k, v in self._hyper_t.items()}
        return cast[name]

    # -- weight decay ----------------------------------------------------------------------
    @property
    def weight_decay(self) -> Any:
        """The configured weight decay (a float or a callable), or None when none was given."""
        entry = self._hyper.get("weight_decay")
        return None if entry is None else entry[0]

    def exclude_from_weight_decay(self, var_list: Any = None, var_names: Any = None) -> None:
        """Chooses the variables that never decay (Keras 3's method and matching rule).

        Each call replaces the exclusions of the previous one, as in Keras 3 (the constructor
        option ``exclude_from_weight_decay=`` of AdamW is such a call); with no arguments it
        clears them. A variable is excluded when it is one of ``var_list`` (by identity) or
        when any of ``var_names`` is found in its name by :func:`re.search`: each string is a
        regular expression, so a plain word such as ``"bias"`` excludes every variable whose
        name contains it (``"dense/bias"`` too: optim's :attr:`Variable.name` is the whole
        name, where Keras 3 searches the short name, ``"bias"``). Names are case-sensitive, so
        ``"LayerNorm"`` does not match ``"layer_norm"``.

        The exclusions are configuration, not state: :meth:`state_dict` and checkpoints do not
        carry them, so configure a restored optimizer as the saved one was, before
        :meth:`load_state_dict`. Pickles and ``copy.deepcopy`` keep them, the excluded
        Variables by name (they exclude the variables of those names the copy meets).

        Args:
            var_list: Variables (a list, a tuple, a set, or one Variable) to exclude.
            var_names: name patterns (a list, a tuple, a set, or one string) to exclude.

        Raises:
            TypeError: ``var_list`` holds something other than an optim.Variable, or
                ``var_names`` something other than a string.
            ValueError: a pattern that is not a valid regular expression, or a call after
                this optimizer's first apply (Keras allows it only before the optimizer is
                built: exclusions changing mid-run would change the update rule). Nothing
                changes then.
        """
        if self._iterations:
            raise ValueError(
                "`exclude_from_weight_decay()` must be called before the first apply, got a "
                f"call after {self._iterations} steps of {type(self).__name__} "
                f"{self._name!r}. Nothing was changed."
            )
        if var_list is None:
            var_list = ()
        elif isinstance(var_list, Variable):
            var_list = (var_list,)
        elif not isinstance(var_list, (list, tuple, set, frozenset)):
            raise TypeError(f"`var_list` must be a list of optim.Variable, got {var_list!r}.")
        for i, var in enumerate(var_list):
            if not isinstance(var, Variable):
                raise TypeError(f"`var_list[{i}]` must be an optim.Variable, got {var!r}.")
        pattern = None
        if var_names is not None:
            pattern = compile_name_patterns("var_names", var_names)
        self._decay_excluded = set(var_list)
        self._decay_excluded_names = set()
        self._decay_pattern = pattern

    def _uses_weight_decay(self, var: Variable) -> bool:
        """Whether ``var`` decays: not excluded (by identity, by name after unpickling, or by
        pattern) and, inside AdamW's ``decay_var_list=``, listed there."""
        if var in self._decay_excluded or var.name in self._decay_excluded_names:
            return False
        if self._decay_pattern is not None and self._decay_pattern.search(var.name):
            return False
        return self._decay_only is None or var in self._decay_only

    def _decay_masked(self) -> bool:
        """Whether some variable may be excluded from weight decay (a cheap test)."""
        return bool(
            self._decay_excluded
            or self._decay_excluded_names
            or self._decay_pattern is not None
            or self._decay_only is not None
        )

    @contextlib.contextmanager
    def _weight_decay_only(self, decay_var_list: Any) -> Iterator[None]:
        """Restricts the decay to ``decay_var_list`` (checked first) for one call; None
        leaves it as it is. AdamW's ``decay_var_list=`` (TF contrib) uses it."""
        if decay_var_list is None:
            yield
            return
        if isinstance(decay_var_list, Variable) or not isinstance(
            decay_var_list, (list, tuple, set, frozenset)
        ):
            raise TypeError(
                f"`decay_var_list` must be a list of optim.Variable, got {decay_var_list!r}."
            )
        for i, var in enumerate(decay_var_list):
            if not isinstance(var, Variable):
                raise TypeError(f"`decay_var_list[{i}]` must be an optim.Variable, got {var!r}.")
        previous, self._decay_only = self._decay_only, set(decay_var_list)
        try:
            yield
        finally:
            self._decay_only = previous

    def _decay_scalars(self, dtype: np.dtype) -> tuple[Any, Any]:
        """``(weight_decay, learning_rate)`` of this apply in ``dtype``, the factors of the
        base's decay; AdamW's ``weight_decay_scale="none"`` gives None for the rate."""
        return self._get_hyper("weight_decay", dtype), self._get_hyper("learning_rate", dtype)

    def _decays_before_update(self) -> bool:
        """Whether this apply runs the base's decay (after :meth:`_prepare`): the class does
        not own it and this apply's ``weight_decay`` is not zero."""
        return not self.decay_in_kernel and bool(self._hyper_t.get("weight_decay"))

    def _decay(self, var: Variable) -> None:
        """The base's decoupled decay of one variable, in place, if it decays."""
        if self._uses_weight_decay(var):
            decay_weights(var.array, self._scratch(var), *self._decay_scalars(var.dtype))

    def _scalars_of(self, var: Variable) -> tuple[Any, ...]:
        """The step scalars :meth:`_kernel` takes for ``var``: :meth:`_scalars` of its dtype,
        or, when the kernel owns the decay (:attr:`decay_in_kernel`) and ``var`` is excluded,
        the same hook's scalars with :attr:`decay_hypers` at zero (cached alike)."""
        dtype = var.dtype
        if not (self.decay_in_kernel and self._decay_masked()) or self._uses_weight_decay(var):
            return self._scalars(dtype)
        scalars = self._undecayed_cache.get(dtype)
        if scalars is None:
            hyper_t, hyper_cast = self._hyper_t, self._hyper_cast
            self._hyper_t = {**hyper_t, **{n: 0.0 for n in self.decay_hypers if n in hyper_t}}
            self._hyper_cast = {}
            try:
                scalars = self._step_scalars(dtype)
            finally:
                self._hyper_t, self._hyper_cast = hyper_t, hyper_cast
            self._undecayed_cache[dtype] = scalars
        return scalars

    def _can_fuse(self, var_list: list[Variable]) -> bool:
        """Whether the fused kernel may run for ``var_list``: :meth:`_flat_ready`, and, when
        the kernel owns the decay, no variable excluded from it (one kernel call decays
        every element alike)."""
        if self.decay_in_kernel and self._decay_masked():
            if not all(self._uses_weight_decay(var) for var in var_list):
                return False
        return self._flat_ready(var_list)

    def _fused_update(self, kernel: Callable[..., None], arena: Any, grad: np.ndarray) -> None:
        """The base's decay of the arena's variables, then :meth:`_flat_update`.

        When every variable of the arena decays and the class names a
        :attr:`flat_decay_kernel`, that kernel does both in one pass over the buffers.
        Otherwise the decay runs first: over the whole buffer block by block, or, when some
        variables are excluded, on each decaying segment view. Each way rounds as the
        per-variable path (the same operations in the same order), so the bits are the same.
        """
        if self._decays_before_update():
            variables = arena.variables
            if self._decay_masked() and not all(self._uses_weight_decay(v) for v in variables):
                for var in variables:
                    self._decay(var)
            elif self.flat_decay_kernel is not None:
                decay_kernel = self._engine.kernel(arena.dtype, arena.size, self.flat_decay_kernel)
                self._flat_update(decay_kernel, arena, grad, *self._decay_scalars(arena.dtype))
                return
            else:  # every element decays: the same ufuncs over the buffer, block by block
                buffer = arena.var_buffer
                factors = self._decay_scalars(arena.dtype)
                tmp = np.empty(min(buffer.size, _DECAY_BLOCK), dtype=buffer.dtype)
                for start in range(0, buffer.size, _DECAY_BLOCK):
                    block = buffer[start : start + _DECAY_BLOCK]
                    decay_weights(block, (tmp[: block.size],), *factors)
        self._flat_update(kernel, arena, grad)

    # -- slots and state -------------------------------------------------------------------
    def _get_or_make_slot(
        self, var: Variable, val: Any, slot_name: str, op_name: str
    ) -> np.ndarray:
        """The slot ``slot_name`` of ``var``, created on first use as a copy of ``val``."""
        del op_name  # kept for TF's signature; slots are named "<var>/<slot>"
        slots = self._slots.setdefault(slot_name, {})
        slot = slots.get(var)
        if slot is None:
            slot = self._take_pending_slot(var, slot_name, var.shape, var.dtype)
            if slot is None:
                slot = np.array(np.broadcast_to(val, var.shape), dtype=var.dtype)
            slots[var] = slot
        return slot

    def _get_or_make_slot_with_initializer(
        self,
        var: Variable,
        initializer: Any,
        shape: tuple[int, ...],
        dtype: Any,
        slot_name: str,
        op_name: str,
    ) -> np.ndarray:
        """A slot of its own ``shape`` and ``dtype`` (Adafactor's factors), made on first use.

        ``initializer`` is a value broadcast to ``shape`` or a callable ``(shape, dtype)``.
        """
        del op_name
        slots = self._slots.setdefault(slot_name, {})
        slot = slots.get(var)
        if slot is None:
            slot = self._take_pending_slot(var, slot_name, tuple(shape), np.dtype(dtype))
            if slot is None:
                value = initializer(shape, dtype) if callable(initializer) else initializer
                slot = np.array(np.broadcast_to(value, shape), dtype=dtype)
            slots[var] = slot
        return slot

    def _take_pending_slot(
        self, var: Variable, slot_name: str, shape: tuple[int, ...], dtype: np.dtype
    ) -> np.ndarray | None:
        """The unpickled slot ``slot_name`` of the variable named ``var.name``, now bound to it.

        Returns None when there is none. Raises ValueError, binding nothing, when its shape or
        dtype is not the ``shape`` and ``dtype`` the slot must have for ``var``.
        """
        pending = self._pending_slots.get(slot_name)
        if not pending or var.name not in pending:
            return None
        array = pending[var.name]
        if array.shape != shape or array.dtype != dtype:
            raise ValueError(
                f"Slot {slot_name!r} of variable {var.name!r}, restored by unpickling "
                f"{type(self).__name__}, has shape {array.shape} and dtype {array.dtype}; the "
                f"variable has shape {var.shape} and dtype {var.dtype}, so the slot must be "
                f"{shape} and {dtype}. Use load_state_dict() to replace the optimizer's state."
            )
        del pending[var.name]
        if not pending:
            del self._pending_slots[slot_name]
        return array

    def _zeros_slot(self, var: Variable, slot_name: str, op_name: str) -> np.ndarray:
        """The slot ``slot_name`` of ``var``, created on first use as zeros."""
        return self._get_or_make_slot(var, 0, slot_name, op_name)

    def _create_non_slot_variable(self, initial_value: Any, name: str, colocate_with: Any = None):
        """A state value shared by all variables (Adam's beta powers), created on first use.

        Stored as a 0-d array of ``colocate_with``'s dtype (float64 without one).
        """
        state = self._non_slot.get(name)
        if state is None:
            dtype = colocate_with.dtype if colocate_with is not None else np.float64
            state = self._non_slot[name] = np.array(initial_value, dtype=dtype)
        return state

    def _get_non_slot_variable(self, name: str) -> np.ndarray | None:
        return self._non_slot.get(name)

    def get_slot(self, var: Variable, name: str) -> np.ndarray | None:
        """The slot array ``name`` of ``var`` (live: updates show through), or None.

        After unpickling, the first call for a variable binds the slots saved under its name
        to it (see the class docstring).

        Raises:
            ValueError: an unpickled slot of ``var``'s name whose shape or dtype does not fit.
        """
        slot = self._slots.get(name, {}).get(var)
        if slot is None and isinstance(var, Variable) and self._has_pending(var.name):
            self._create_state([var])  # binds, through _get_or_make_slot*, what was saved
            slot = self._slots.get(name, {}).get(var)
        return slot

    def _has_pending(self, var_name: str) -> bool:
        return any(var_name in pending for pending in self._pending_slots.values())

    def _check_pending_slots_reachable(self, variables: list[Variable]) -> None:
        """Raises ValueError when slots wait, by name, for variables and none of ``variables``
        has state: the silent restart from zero that renamed variables would cause."""
        if any(
            self._has_pending(var.name) or any(var in slots for slots in self._slots.values())
            for var in variables
        ):
            return
        waiting = sorted({n for pending in self._pending_slots.values() for n in pending})
        raise ValueError(
            f"{type(self).__name__} holds slots restored by unpickling (or deepcopy) for "
            f"variables {waiting}, but none of the variables updated now "
            f"{[v.name for v in variables]} has slots: their state would restart from zero. "
            "Variables unpickled where the originals still live get suffixed names (w -> w_1); "
            "update variables of the saved names. Nothing was changed."
        )

    def get_slot_names(self) -> list[str]:
        """The sorted names of the slots created so far (unpickled ones included)."""
        return sorted(set(self._slots) | set(self._pending_slots))

    def variables(self) -> list[np.ndarray]:
        """Every slot and non-slot state array, sorted by name (``"<var>/<slot>"`` for slots)."""
        named = [
            (f"{var_name}/{slot_name}", array)
            for slot_name, slots in self._slots_by_name().items()
            for var_name, array in slots.items()
        ]
        named += list(self._non_slot.items())
        return [array for _, array in sorted(named, key=lambda item: item[0])]

    def _slots_by_name(self) -> dict[str, dict[str, np.ndarray]]:
        """``{slot_name: {variable_name: array}}`` (live arrays), the unpickled ones included.

        Raises:
            ValueError: two different variables with the same name hold a slot (state keyed by
                name could not tell them apart).
        """
        out: dict[str, dict[str, np.ndarray]] = {}
        for slot_name, slots in self._slots.items():
            table = out[slot_name] = {}
            for var, array in slots.items():
                if var.name in table:
                    raise ValueError(
                        f"Two different variables named {var.name!r} hold slot {slot_name!r}; "
                        "optimizer state is keyed by variable name, so it cannot be saved, "
                        "copied or pickled. Give the variables distinct names."
                    )
                table[var.name] = array
        for slot_name, pending in self._pending_slots.items():
            table = out.setdefault(slot_name, {})
            for var_name, array in pending.items():
                table.setdefault(var_name, array)
        return out

    # -- pickling and copies -----------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """The instance's attributes with the slots keyed by variable name (for pickle and
        ``copy.deepcopy``); caches and scratch buffers are left out (they are rebuilt)."""
        state = self.__dict__.copy()
        state["_pending_slots"] = self._slots_by_name()
        state["_slots"] = {}
        state["_hyper_cast"] = {}
        state["_scalar_cache"] = {}
        state["_scratch_buffers"] = {}
        state["_scratch_views"] = {}
        state["_engine"] = None  # the copy's variables get their own flat layout
        state["_undecayed_cache"] = {}
        # Excluded Variables by name: the copy excludes the variables of those names it meets.
        state["_decay_excluded_names"] = self._decay_excluded_names | {
            var.name for var in self._decay_excluded
        }
        state["_decay_excluded"] = set()
        state["_decay_only"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restores :meth:`__getstate__` output; slots wait, by name, for their variables."""
        self.__dict__.update(state)
        self._scalar_cache = {}  # absent from pickles made before the step-scalar hook
        self._engine = None
        for name, default in (  # absent from pickles made before weight decay in the base
            ("_decay_excluded", set()), ("_decay_excluded_names", set()),
            ("_decay_pattern", None), ("_decay_only", None), ("_undecayed_cache", {}),
        ):  # fmt: skip
            self.__dict__.setdefault(name, default)

    def __copy__(self) -> Optimizer:
        """A shallow copy: the same attribute values, slot arrays shared."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    # -- state, keyed by name ------------------------------------------------------------
    STATE_VERSION = 1

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's whole state as plain data, keyed by names (never by position).

        ``{"kind", "version", "iterations", "skipped_steps", "consecutive_nonfinite",
        "slots": {slot_name: {variable_name: array}}, "non_slot": {name: array}}``; arrays are
        copies. Hyperparameters are not state: they belong to the constructor.
        """
        return {
            "kind": type(self).__name__,
            "version": self.STATE_VERSION,
            "iterations": self._iterations,
            "skipped_steps": self._skipped_steps,
            "consecutive_nonfinite": self._consecutive_nonfinite,
            "slots": {
                slot_name: {var_name: array.copy() for var_name, array in slots.items()}
                for slot_name, slots in self._slots_by_name().items()
            },
            "non_slot": {name: array.copy() for name, array in self._non_slot.items()},
        }

    def _check_state_header(self, state: dict[str, Any]) -> None:
        """Raises ValueError unless ``state`` is this optimizer kind's, in this version."""
        if state.get("kind") != type(self).__name__:
            raise ValueError(
                f"`state` belongs to a {state.get('kind')!r} optimizer, not "
                f"{type(self).__name__!r}."
            )
        if state.get("version") != self.STATE_VERSION:
            raise ValueError(
                f"`state` has version {state.get('version')!r}; this optim reads version "
                f"{self.STATE_VERSION}."
            )

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output, matching slots to variables by name.

        Args:
            state: what :meth:`state_dict` returned (possibly after a save/load round trip).
            var_list: the variables the slots belong to (default: every variable of the
                default graph); each slot's variable is found by name among them.

        Raises:
            ValueError: another optimizer kind or state version, a slot for a variable not in
                ``var_list``, or a shape or dtype that differs. Nothing is changed then.
        """
        self._check_state_header(state)
        if var_list is None:
            from .variables import global_variables

            candidates = global_variables()
        else:
            candidates = list(flatten(var_list))
        by_name = {v.name: v for v in candidates}
        # What _create_slots would make for these variables: the shapes and dtypes to expect.
        probe = copy.copy(self)
        probe._slots, probe._non_slot, probe._pending_slots = {}, {}, {}
        probe._create_state(
            [by_name[n] for slots in state["slots"].values() for n in slots if n in by_name]
            or [v for v in candidates if v.dtype.kind == "f"][:1]
        )
        new_slots: dict[str, dict[Variable, np.ndarray]] = {}
        into: list[tuple[np.ndarray, np.ndarray]] = []  # (live slot array, saved values)
        for slot_name, slots in state["slots"].items():
            for var_name, array in slots.items():
                var = by_name.get(var_name)
                if var is None:
                    raise ValueError(
                        f"`state` has slot {slot_name!r} for variable {var_name!r}, which is not "
                        f"among the variables {sorted(by_name)}."
                    )
                array = np.asarray(array)
                expected = probe._slots.get(slot_name, {}).get(var)
                if expected is None:
                    raise ValueError(
                        f"`state` has slot {slot_name!r} for variable {var_name!r}, which "
                        f"{type(self).__name__} does not make."
                    )
                if array.shape != expected.shape or array.dtype != expected.dtype:
                    raise ValueError(
                        f"Slot {slot_name!r} of variable {var_name!r} has shape {array.shape} and "
                        f"dtype {array.dtype}; the variable has {var.shape} and {var.dtype}, "
                        f"so it must be {expected.shape} and {expected.dtype}."
                    )
                current = self._slots.get(slot_name, _NO_SLOTS).get(var)
                if current is not None and current.shape == array.shape:
                    into.append((current, array))  # copied in below, after every check
                    new_slots.setdefault(slot_name, {})[var] = current
                else:
                    new_slots.setdefault(slot_name, {})[var] = array.copy()
        new_non_slot = {}
        for name, array in state["non_slot"].items():
            array = np.asarray(array)
            current = self._non_slot.get(name, probe._non_slot.get(name))
            if current is not None and (
                current.shape != array.shape or current.dtype != array.dtype
            ):
                raise ValueError(
                    f"Non-slot state {name!r} has shape {array.shape} and dtype {array.dtype}; "
                    f"this optimizer holds {current.shape} and {current.dtype}."
                )
            new_non_slot[name] = array.copy()
        for current, array in into:  # the slots' own arrays (flat-layout views) are kept
            np.copyto(current, array)
        self._slots = new_slots
        self._pending_slots = {}
        self._non_slot = new_non_slot
        self._iterations = int(state["iterations"])
        self._skipped_steps = int(state["skipped_steps"])
        self._consecutive_nonfinite = int(state["consecutive_nonfinite"])

    def _scratch(self, var: Variable, count: int = 1) -> tuple[np.ndarray, ...]:
        """``count`` temporary arrays shaped like ``var``, views into one reused buffer."""
        array = var.array
        key = (array.dtype, array.shape, count)
        views = self._scratch_views.get(key)
        if views is None:
            size = array.size
            buffer = self._scratch_buffers.get(array.dtype)
            if buffer is None or buffer.size < count * size:
                buffer = np.empty(count * size, dtype=array.dtype)
                self._scratch_buffers[array.dtype] = buffer
                self._scratch_views = {
                    k: v for k, v in self._scratch_views.items() if k[0] != array.dtype
                }
            views = tuple(
                buffer[i * size : (i + 1) * size].reshape(array.shape) for i in range(count)
            )
            self._scratch_views[key] = views
        return views

    # -- hooks -----------------------------------------------------------------------------
    @classmethod
    def implements_dense_updates(cls) -> bool:
        """Whether this class implements dense updates (``_kernel`` or ``_apply_dense``): a
        usable optimizer rather than an abstract base such as :class:`Optimizer` itself."""
        return (
            cls._kernel is not Optimizer._kernel or cls._apply_dense is not Optimizer._apply_dense
        )

    def _create_slots(self, var_list: list[Variable]) -> None:
        """Creates the slots of ``var_list`` (idempotent). Default: none."""

    def _create_state(self, var_list: list[Variable]) -> None:
        """:meth:`_create_slots`, then the ``step_state_name`` mirror of the step count (made
        once, with the first variable by name, in its dtype)."""
        self._create_slots(var_list)
        name = self.step_state_name
        if name is not None and var_list and name not in self._non_slot:
            first = min(var_list, key=lambda var: var.name)
            updates = self._iterations - self._skipped_steps
            self._create_non_slot_variable(updates, name, colocate_with=first)

    def _step_number(self) -> int:
        """``t``, the 1-based number of the update being applied: the updates applied before
        this apply plus one (``iterations - skipped_steps + 1``). The one step counter."""
        return self._iterations - self._skipped_steps + 1

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """This apply's per-step scalars for variables of ``dtype``, in the kernel's order.

        The one hook for hyperparameters cast to ``dtype``, bias corrections and schedule
        values. Called through :meth:`_scalars`, at most once per dtype per apply. Default: ().
        """
        return ()

    def _scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """:meth:`_step_scalars` for ``dtype``, computed on first use in this apply and cached
        until the next :meth:`_prepare`."""
        scalars = self._scalar_cache.get(dtype)
        if scalars is None:
            scalars = self._scalar_cache[dtype] = self._step_scalars(dtype)
        return scalars

    def _kernel(
        self,
        var: np.ndarray,
        slots: tuple[np.ndarray | None, ...],
        grad: np.ndarray,
        scalars: tuple[Any, ...],
        scratch: tuple[np.ndarray, ...],
        *,
        rows: bool = False,
    ) -> None:
        """Runs the class's module-level kernel on arrays, in place.

        Args:
            var: the variable's array (or its gathered rows, or a flat buffer).
            slots: the arrays of :attr:`kernel_slots`, in order, shaped like ``var``.
            grad: the gradient, shaped like ``var``; never written.
            scalars: :meth:`_scalars` of ``var``'s dtype.
            scratch: :attr:`kernel_scratch` temporaries shaped like ``var``.
            rows: True when the arrays are rows gathered for a lazy sparse update (Momentum
                then keeps TF's sparse kernel's order of operations).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement _apply_dense.")

    def _kernel_slot_arrays(self, var: Variable) -> tuple[np.ndarray | None, ...]:
        """The slots of ``var`` named by :attr:`kernel_slots` (None where it has none)."""
        slots = self._slots
        return tuple([slots.get(name, _NO_SLOTS).get(var) for name in self.kernel_slots])

    def _apply_dense(self, grad: np.ndarray, var: Variable) -> None:
        """The dense update: :meth:`_kernel` on the variable, its slots and ``grad``."""
        # The per-variable path: kept to plain lookups, as it runs once per variable per step.
        array = var.array
        scalars = self._scalar_cache.get(array.dtype)
        if scalars is None:  # _scalars, inlined
            scalars = self._scalar_cache[array.dtype] = self._step_scalars(array.dtype)
        if self.decay_in_kernel and self._decay_masked():
            scalars = self._scalars_of(var)
        tables = self._slots  # _kernel_slot_arrays, inlined
        slots = tuple([tables.get(name, _NO_SLOTS).get(var) for name in self.kernel_slots])
        self._kernel(array, slots, grad, scalars, self._scratch(var, self.kernel_scratch))

    def _flat_ready(self, var_list: list[Variable]) -> bool:
        """Whether this apply may use the fused kernel for ``var_list`` (default: True). A class
        whose update differs per variable in some configurations says no for those (the
        exclusions of a kernel-owned weight decay are handled by :meth:`_can_fuse`)."""
        return True

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        """The fused kernel's arguments after the buffers, from the step scalars (default:
        the scalars themselves; Momentum adds ``use_nesterov``)."""
        return scalars

    def _flat_update(
        self, kernel: Callable[..., None], arena: Any, grad: np.ndarray, *decay: Any
    ) -> None:
        """The dense update of every variable of an arena at once: :attr:`flat_kernel` over its
        buffers, with the same step scalars as :meth:`_apply_dense` (so the same bits); with
        ``decay`` (the factors of :meth:`_decay_scalars`), :attr:`flat_decay_kernel`, which
        takes them after the scalars."""
        buffers = arena.slot_buffers
        slots = [buffers.get(name) for name in self.kernel_slots]
        arguments = self._flat_arguments(self._scalars(arena.dtype))
        kernel(arena.var_buffer, *slots, grad, *arguments, *decay)

    def _apply_sparse(self, grad: IndexedSlices, var: Variable) -> None:
        """The sparse update (duplicates summed) by the class's ``sparse_updates`` strategy."""
        if self.sparse_updates == "lazy_rows":
            self._apply_lazy_rows(grad, var)
        elif self.sparse_updates == "dense_equivalent":
            self._apply_dense_equivalent(grad, var)
        else:
            raise NotImplementedError(
                f"{type(self).__name__} does not implement _apply_sparse."
            )

    def _apply_lazy_rows(self, grad: IndexedSlices, var: Variable) -> None:
        """Gathers the touched rows of ``var`` and its kernel slots, runs :meth:`_kernel` on
        them (``rows=True``) and scatters them back; the other rows do not change."""
        rows = grad.indices
        slots = self._kernel_slot_arrays(var)
        var_rows = var.array[rows]
        slot_rows = tuple(None if slot is None else slot[rows] for slot in slots)
        scratch = tuple(np.empty_like(var_rows) for _ in range(self.kernel_scratch))
        self._kernel(var_rows, slot_rows, grad.values, self._scalars_of(var), scratch, rows=True)
        var.array[rows] = var_rows
        for slot, new_rows in zip(slots, slot_rows):
            if slot is not None:
                slot[rows] = new_rows

    def _apply_dense_equivalent(self, grad: IndexedSlices, var: Variable) -> None:
        """Scatters the rows into a zeroed dense gradient and runs :meth:`_apply_dense`.

        The dense gradient is the last of ``kernel_scratch + 1`` scratch views, so it does not
        overlap the ``kernel_scratch`` views the dense update then takes.
        """
        dense = self._scratch(var, self.kernel_scratch + 1)[-1]
        dense.fill(0)
        dense[grad.indices] = grad.values
        self._apply_dense(dense, var)

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        """Runs once after every variable of an apply was updated. Default: nothing."""

    # -- the public API --------------------------------------------------------------------
    def compute_gradients(
        self,
        loss: Callable[[], Any],
        var_list: Any = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: int | None = None,
        colocate_gradients_with_ops: bool = False,
        grad_loss: Any = None,
        *,
        gradient: Any = None,
    ) -> list[tuple[np.ndarray | None, Variable]]:
        """Gradients of ``loss`` for the variables in ``var_list``.

        Args:
            loss: a zero-argument callable reading variables through ``.value`` and returning a
                float scalar (TF2 eager style).
            var_list: variables (a list, a tuple, nested lists or one Variable); ``None`` means
                every trainable variable of the default graph.
            gate_gradients, aggregation_method, colocate_gradients_with_ops: accepted and
                validated for TF1 compatibility; they have no effect on sequential numpy code.
            grad_loss: the upstream gradient of ``loss`` (same shape as the loss).
            gradient: this call's gradient source (``None``: the optimizer's own).

        Returns:
            ``[(gradient, variable), ...]`` in ``var_list`` order; the gradient is ``None``
            where the loss does not depend on the variable.

        Raises:
            TypeError: ``loss`` not callable, a non-Variable or non-float Variable in
                ``var_list``, a loss returning a non-float.
            ValueError: no variables, a non-scalar loss, bad gate or aggregation values, or a
                user gradient of the wrong count or shape.
        """
        _, grads_and_vars = self._compute(
            loss, var_list, gate_gradients, aggregation_method, grad_loss, gradient
        )
        return grads_and_vars

    def _compute(self, loss, var_list, gate_gradients, aggregation_method, grad_loss, gradient):
        if not callable(loss):
            raise TypeError(
                "`loss` must be a zero-argument callable that reads variables through `.value`, "
                f"got {loss!r}."
            )
        if gate_gradients not in (self.GATE_NONE, self.GATE_OP, self.GATE_GRAPH):
            raise ValueError(
                "gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                f"Optimizer.GATE_GRAPH.  Not {gate_gradients}"
            )
        if aggregation_method not in (None, 0, 1, 2):
            raise ValueError(
                f"`aggregation_method` must be None, 0, 1 or 2, got {aggregation_method!r}."
            )
        var_list = resolve_var_list_for_gradients(var_list)
        source = self._gradient if gradient is None else as_gradient_source(gradient)
        value, grads = source.value_and_gradients(loss, var_list, grad_loss)
        return value, list(zip(grads, var_list))

    def apply_gradients(
        self,
        grads_and_vars: Iterable[tuple[Any, Variable]],
        global_step: Variable | None = None,
        name: str | None = None,
    ) -> None:
        """Applies gradients to variables, in place.

        Args:
            grads_and_vars: ``(gradient, variable)`` pairs, any iterable (a ``zip`` too).
                ``None`` gradients are skipped.
            global_step: a Variable incremented by one after every update, if given.
            name: accepted for TF1 compatibility (passed to :meth:`_finish`).

        Raises:
            ValueError: no pairs, every gradient ``None``, or a gradient of the wrong shape or
                dtype kind (naming the variable).
            TypeError: a malformed pair, a non-Variable or a non-float variable.

        Nothing is changed when it raises: every pair is checked before the first update.
        """
        try:
            pairs = tuple(grads_and_vars)
        except TypeError as exc:
            raise TypeError(
                f"`grads_and_vars` must be an iterable of (gradient, variable) pairs, "
                f"got {grads_and_vars!r}."
            ) from exc
        if not pairs:
            raise ValueError("No variables provided.")
        # The steady state of the flat engine (the same variables as its arena's, all dense)
        # is recognised in C loops; any other call is checked pair by pair.
        engine = self._engine
        steady = None
        if engine is not None and engine_enabled():
            steady = engine.steady(pairs, self._slots)
            if steady is not None and not self._can_fuse(steady[0].variables):
                steady = None
        if steady is None:
            updates = self._check_pairs(pairs)
        if global_step is not None and not isinstance(global_step, Variable):
            raise TypeError(f"`global_step` must be an optim.Variable, got {global_step!r}.")
        if steady is not None:
            self._apply_steady(*steady, global_step, name)
            return
        if self._clipping is not None:
            clipped = clip_gradients([grad for grad, _ in updates], **self._clipping)
            updates = [(grad, var) for grad, (_, var) in zip(clipped, updates)]
        if self._nonfinite != "propagate":
            bad = [var.name for grad, var in updates if not all_finite(grad)]
            if bad and not self._is_finite_step(bad, "gradient", global_step):
                return
        self._apply(updates, global_step, name)

    def gradient_arena(self, variables: Sequence[Variable]) -> Any:
        """The flat layout whose gradient buffer the next fused apply of ``variables`` reads.

        For a producer of gradients that can write them straight into that buffer (an
        Allreduce in place, :class:`optim.distributed.DistributedOptimizer`): when this
        returns an :class:`optim.engine.arena.Arena`, its ``grad_buffer`` holds ``variables``'
        gradients back to back in this order, and passing ``arena.grad_views()`` (the
        buffer's segments, shaped as the variables) as the gradients of
        :meth:`apply_gradients` skips the copy into the buffer. The update is the same
        either way; only the copy is saved.

        Args:
            variables: the variables of one dtype, in the order of the gradients.

        Returns:
            The arena, when the engine is on, this optimizer has applied a fused step to
            exactly these variables (in this order) and its slots, and would fuse them again;
            else None (the first step, an optimizer without a fused kernel, a changed group):
            the producer then keeps its own buffer.
        """
        engine = self._engine
        if engine is None or not variables or not engine_enabled():
            return None
        arena = engine.arena(variables[0].dtype)
        if arena is None or not arena.holds(variables, self._slots):
            return None
        return arena if self._can_fuse(arena.variables) else None

    def _check_pairs(self, pairs: tuple[Any, ...]) -> list[tuple[Any, Variable]]:
        """The ``(gradient, variable)`` updates of ``pairs``, checked (None gradients left
        out, each gradient converted by :meth:`_convert_gradient`)."""
        updates = []
        for i, pair in enumerate(pairs):
            try:
                grad, var = pair
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"`grads_and_vars[{i}]` must be a (gradient, variable) pair, got {pair!r}."
                ) from exc
            if not isinstance(var, Variable):
                raise TypeError(f"`grads_and_vars[{i}]` must hold an optim.Variable, got {var!r}.")
            if grad is None:
                continue
            if var.dtype.kind != "f":
                raise TypeError(
                    f"Variable {var.name!r} has dtype {var.dtype}; optimizers update "
                    "floating-point variables only."
                )
            updates.append((self._convert_gradient(grad, var), var))
        if not updates:
            raise ValueError(
                f"No gradients provided for any variable: {[v.name for _, v in pairs]}."
            )
        return updates

    def _apply_steady(self, arena: Any, grads: list[np.ndarray], global_step, name) -> None:
        """apply_gradients in the flat engine's steady state: ``arena`` holds exactly these
        variables and their slots (so ``_create_state`` has nothing to make) and ``grads``
        are their dense gradients, checked. Clipping by global norm and the non-finite check
        are each one reduction over the flat gradient, and the update is one kernel call."""
        engine = self._engine
        clip = self._clipping
        if clip is not None and clip["clipnorm"] is not None:
            grads = clip_gradients(grads, **clip)  # each gradient by its own norm
            clip = None
        flat = arena.gather(grads, owned=clip is not None)
        finite = None
        if clip is not None:
            if clip["global_clipnorm"] is not None:
                norm = engine.clip_by_global_norm(arena, flat, clip["global_clipnorm"])
                finite = math.isfinite(norm)  # a finite sum of squares has finite terms
            else:  # clip_by_value's two ufuncs, with its bounds in the gradients' dtype
                high = arena.dtype.type(clip["clipvalue"])
                np.minimum(flat, high, out=flat)
                np.maximum(flat, -high, out=flat)
        if self._nonfinite != "propagate":
            if finite is None:
                finite = engine.all_finite(arena, flat)
            if not finite:
                views = [flat[arena.segment(i)] for i in range(len(arena.variables))]
                bad = [var.name for var, g in zip(arena.variables, views) if not all_finite(g)]
                if not self._is_finite_step(bad, "gradient", global_step):
                    return
        self._prepare()
        self._fused_update(engine.kernel(arena.dtype, arena.size), arena, flat)
        for var in arena.constrained:
            np.copyto(var.array, var.constraint(var.array), casting="same_kind")
        self._finish_apply(arena.variables, global_step, name)

    def _apply(self, updates: list[tuple[Any, Variable]], global_step, name) -> None:
        """The update proper, on checked gradients: the hooks in their order."""
        updated = [var for _, var in updates]
        if self._pending_slots:
            self._check_pending_slots_reachable(updated)
        fused = self.flat_kernel is not None and engine_enabled() and self._can_fuse(updated)
        self._prepare()
        self._create_state(updated)
        rest = updates
        if fused:
            engine = self._engine
            if engine is None:
                engine = self._engine = FusedEngine(self.flat_kernel)
            rest = engine.apply(updates, self._slots, self._fused_update)
            if len(rest) < len(updates):
                kept = {id(var) for _, var in rest}
                for var in updated:
                    if var.constraint is not None and id(var) not in kept:
                        np.copyto(var.array, var.constraint(var.array), casting="same_kind")
        decay = self._decays_before_update()
        for grad, var in rest:
            if decay:
                self._decay(var)
            if isinstance(grad, np.ndarray):
                self._apply_dense(grad, var)
            else:
                self._apply_sparse_duplicate_indices(grad, var)
            if var.constraint is not None:
                np.copyto(var.array, var.constraint(var.array), casting="same_kind")
        self._finish_apply(updated, global_step, name)

    def _finish_apply(self, updated: list[Variable], global_step, name) -> None:
        """``_finish``, then the step counts (the last thing an apply does)."""
        self._finish(updated, name or self._name)
        if self.step_state_name is not None:
            self._non_slot[self.step_state_name][...] = self._step_number()
        self._iterations += 1
        self._consecutive_nonfinite = 0
        if global_step is not None:
            global_step.array[...] += 1

    def _convert_gradient(self, grad: Any, var: Variable) -> Any:
        """Checks one non-None gradient against its variable: a dense array or IndexedSlices."""
        if type(grad) is np.ndarray:  # the common case, checked with two comparisons
            array = var.array
            if grad.shape == array.shape and grad.dtype == array.dtype:
                return grad
        if isinstance(grad, IndexedSlices):
            if self.sparse_updates is None:
                raise NotImplementedError(
                    f"{type(self).__name__} does not implement sparse updates (_apply_sparse); "
                    f"pass a dense gradient for variable {var.name!r}."
                )
            return check_indexed_slices(grad, var, "apply_gradients")
        return check_gradient(grad, var, "apply_gradients")

    def _apply_sparse_duplicate_indices(self, grad: IndexedSlices, var: Variable) -> None:
        """Sums the rows of repeated indices, then calls :meth:`_apply_sparse`.

        An update that is linear in the gradient may override this and skip the summing.
        """
        self._apply_sparse(deduplicate(grad), var)

    def minimize(
        self,
        loss: Callable[[], Any],
        global_step: Variable | None = None,
        var_list: Any = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: int | None = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: Any = None,
        *,
        gradient: Any = None,
    ) -> Any:
        """One step: :meth:`compute_gradients` then :meth:`apply_gradients`.

        Returns:
            The loss value from the same forward pass that produced the gradients (the loss is
            never evaluated a second time).

        Raises:
            ValueError: every gradient is ``None`` (the loss reaches none of the variables),
                plus everything :meth:`compute_gradients` and :meth:`apply_gradients` raise.
        """
        value, grads_and_vars = self._compute(
            loss, var_list, gate_gradients, aggregation_method, grad_loss, gradient
        )
        if all(g is None for g, _ in grads_and_vars):
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                f"support gradients, between variables {[v.name for _, v in grads_and_vars]} "
                f"and loss {loss!r}."
            )
        if not all_finite(np.asarray(value)):
            names = [v.name for g, v in grads_and_vars if g is not None]
            if not self._is_finite_step(names, f"loss ({value})", global_step):
                return value
        self.apply_gradients(grads_and_vars, global_step=global_step, name=name)
        return value

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, (v, _) in self._hyper.items())
        return f"{type(self).__name__}({hyper}, name={self._name!r})"


def all_finite(grad: Any) -> bool:
    """Whether every entry of a gradient (an array or :class:`IndexedSlices`) is finite.

    One sum in the common case: a finite sum implies finite entries.
    """
    values = grad.values if isinstance(grad, IndexedSlices) else grad
    return finite_entries(values)


def compile_name_patterns(arg: str, patterns: Any) -> re.Pattern[str] | None:
    """One regular expression searching for any of ``patterns`` in a variable's name.

    The rule of weight-decay exclusion and of :class:`optim.MultiOptimizer`'s assignment:
    each string is a regular expression (a plain word matches every name containing it) and
    a name matches when :func:`re.search` finds any of them. Each pattern is checked and
    wrapped in a group of its own before they are joined with ``|`` (Keras 3 joins them bare,
    which is the same for valid patterns).

    Args:
        arg: the argument's name, for the messages.
        patterns: one string, or a list, tuple or set of strings.

    Returns:
        The compiled expression, or None for no patterns.

    Raises:
        TypeError: ``patterns`` is not a string or a collection of strings.
        ValueError: a string that is not a valid regular expression.
    """
    if isinstance(patterns, str):
        patterns = (patterns,)
    elif not isinstance(patterns, (list, tuple, set, frozenset)):
        raise TypeError(f"`{arg}` must be a list of strings, got {patterns!r}.")
    parts = []
    for i, pattern in enumerate(list(patterns)):
        if not isinstance(pattern, str):
            raise TypeError(f"`{arg}[{i}]` must be a string (a name pattern), got {pattern!r}.")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"`{arg}[{i}]` must be a valid regular expression, got {pattern!r}: {exc}."
            ) from exc
        parts.append(f"(?:{pattern})")
    return re.compile("|".join(parts)) if parts else None
