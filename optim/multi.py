"""One step, several optimizers: each variable updated by the optimizer it is assigned to.

:class:`MultiOptimizer` is Keras' ``MultiOptimizer`` and optax's ``partition`` in TF1 style:
gradients are computed once for every variable, then each ``(gradient, variable)`` pair goes
to the ``apply_gradients`` of the one optimizer that owns the variable.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .modes import has_modes, set_training
from .optimizer import Optimizer, compile_name_patterns
from .sparse import IndexedSlices
from .variables import Variable

__all__ = ["MultiOptimizer"]

_ENTRIES = "optimizers_and_variables"


class _Entry:
    """One optimizer and what it owns: Variables (by identity; by exact name after
    unpickling) and one name pattern."""

    __slots__ = ("optimizer", "variables", "names", "pattern", "spec")

    def __init__(self, optimizer: Optimizer, variables: set[Variable],
                 pattern: re.Pattern[str] | None, spec: list[str]) -> None:  # fmt: skip
        self.optimizer = optimizer
        self.variables = variables
        self.names: set[str] = set()
        self.pattern = pattern
        self.spec = spec  # how it was given, for messages and repr

    def owns(self, var: Variable) -> bool:
        if var in self.variables or var.name in self.names:
            return True
        return self.pattern is not None and self.pattern.search(var.name) is not None

    def __getstate__(self) -> dict[str, Any]:
        # The Variables by name: the copy owns the variables of those names it meets.
        return {
            "optimizer": self.optimizer,
            "variables": set(),
            "names": self.names | {var.name for var in self.variables},
            "pattern": self.pattern,
            "spec": self.spec,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


class MultiOptimizer(Optimizer):
    """Several optimizers in one step, each updating the variables assigned to it.

    ``MultiOptimizer([(optimizer, variables_or_name_patterns), ...])``: each entry assigns
    variables to one optimizer, as :class:`optim.Variable` objects (by identity) and/or name
    patterns (strings, each a regular expression searched in :attr:`Variable.name`, the rule
    of :meth:`optim.Optimizer.exclude_from_weight_decay`: ``"bias"`` matches every name
    containing it). Every variable a step sees (each pair given to :meth:`apply_gradients`,
    so every variable of ``minimize``'s ``var_list``) must be assigned to exactly one
    optimizer; otherwise the step raises ValueError naming the variable, before anything
    changes.

    One step::

        grads = compute_gradients(loss, var_list)         # once, for every variable
        for each optimizer: optimizer.apply_gradients(its (grad, var) pairs)
        iterations += 1; global_step += 1                  # once

    An optimizer none of whose variables has a gradient in a step (all None) is not called
    in it, so its own :attr:`~optim.Optimizer.iterations` (and the bias corrections and
    one-argument schedules that read them) count the steps it took, as TF1 skips variables
    without gradients. :attr:`iterations` of the MultiOptimizer counts every step.

    Options:
        The MultiOptimizer's own base options run first, on all pairs together: clipping
        (``global_clipnorm`` here is the norm over every variable; on an inner optimizer it
        would be the norm over its variables only) and the non-finite policy, which defaults
        to the inner optimizers' when they all agree and to ``"raise"`` otherwise; a step it
        skips reaches no optimizer. Weight decay belongs to the inner optimizers
        (``AdamWOptimizer(...)``, ``weight_decay=`` and ``exclude_from_weight_decay`` there).

    State:
        :meth:`state_dict` holds each optimizer's ``state_dict()`` under its name (so the
        names must be distinct) in ``"optimizers"``; :meth:`load_state_dict` and optim's
        checkpoints (:mod:`optim.checkpoint`, ``optim.fit``) restore them by name, slots
        matched to variables by name. The assignment is configuration: build the restored
        MultiOptimizer with the same entries. Pickles and ``copy.deepcopy`` keep it, the
        Variables by name.

    Args:
        optimizers_and_variables: a non-empty list of ``(optimizer, variables_or_patterns)``
            pairs; ``variables_or_patterns`` is a Variable, a string, or a list, tuple or set
            of them.
        name: defaults to ``"MultiOptimizer"``.
        **kwargs: base-class options (``gradient=``, ``nonfinite=``, clipping), see
            :class:`optim.Optimizer`. ``minimize`` and ``compute_gradients`` use this
            ``gradient=`` source (autodiff by default), not the inner optimizers'.

    Raises:
        TypeError: an entry that is not a pair, a non-optimizer, an assignment holding
            something other than Variables and strings, or ``weight_decay=``.
        ValueError: no entries, an empty assignment, an invalid regular expression, one
            optimizer in two entries, two optimizers with the same name, one Variable listed
            twice, or ``nonfinite="propagate"`` while an inner optimizer's policy is not.

    Example:
        >>> opt = optim.MultiOptimizer([
        ...     (optim.train.AdamWOptimizer(0.01, 1e-3), ["kernel"]),
        ...     (optim.train.GradientDescentOptimizer(0.1), ["bias"]),
        ... ])
        >>> opt.minimize(loss, var_list=[kernel, bias])

    .. note::
        Keras 3 removed ``MultiOptimizer`` (TF Addons had one, assigning layers rather than
        variables); optax's ``partition`` labels each parameter and keeps each label's state
        apart, as here. torch's ``param_groups`` share one algorithm with per-group
        hyperparameters; here each group may run a different algorithm, and its state is
        saved by name rather than by position.
    """

    sparse_updates = "custom"  # forwarded as they came; each optimizer has its own rule

    def __init__(
        self, optimizers_and_variables: Any, name: str = "MultiOptimizer", **kwargs: Any
    ) -> None:
        if kwargs.get("weight_decay") is not None:
            raise TypeError(
                "`weight_decay` must be set on the optimizers of a MultiOptimizer, not on it, "
                f"got {kwargs['weight_decay']!r}."
            )
        kwargs.pop("weight_decay", None)
        entries = _check_entries(optimizers_and_variables)
        inner = [entry.optimizer for entry in entries]
        policies = {(opt.nonfinite, opt.max_consecutive_nonfinite) for opt in inner}
        if len(policies) == 1:
            (policy,) = policies
            kwargs.setdefault("nonfinite", policy[0])
            kwargs.setdefault("max_consecutive_nonfinite", policy[1])
        if kwargs.get("nonfinite") == "propagate":
            refusing = [opt.get_name() for opt in inner if opt.nonfinite != "propagate"]
            if refusing:
                raise ValueError(
                    "`nonfinite` must not be 'propagate' while optimizers "
                    f"{refusing} refuse non-finite values: they would raise after the others "
                    "updated. Set nonfinite='propagate' on them too."
                )
        super().__init__(False, name, **kwargs)
        self._entries = entries
        self._route: dict[Variable, _Entry] = {}
        self._forward: dict[int, list[tuple[Any, Variable]]] = {}

    @classmethod
    def implements_dense_updates(cls) -> bool:
        """False: a MultiOptimizer is no algorithm of its own (it needs the ones it holds)."""
        return False

    @property
    def optimizers(self) -> list[Optimizer]:
        """The optimizers, in the order of the entries."""
        return [entry.optimizer for entry in self._entries]

    @property
    def training(self) -> bool | None:
        """Train/eval modes (:mod:`optim.modes`) of the optimizers that have them: True or
        False as they are (they are switched together), None when none has modes (this
        MultiOptimizer has none then)."""
        modes = [opt.training for opt in self.optimizers if has_modes(opt)]
        return None if not modes else all(modes)

    def train(self) -> None:
        """``train()`` on every optimizer that has modes (a Schedule-Free one); nothing for
        the others."""
        for opt in self.optimizers:
            set_training(opt, True)

    def eval(self) -> None:
        """``eval()`` on every optimizer that has modes; nothing for the others."""
        for opt in self.optimizers:
            set_training(opt, False)

    def optimizer_for(self, var: Variable) -> Optimizer:
        """The optimizer that updates ``var``.

        Raises:
            TypeError: ``var`` is not an optim.Variable.
            ValueError: ``var`` is assigned to no optimizer, or to more than one.
        """
        if not isinstance(var, Variable):
            raise TypeError(f"`var` must be an optim.Variable, got {var!r}.")
        return self._owner(var).optimizer

    def _owner(self, var: Variable) -> _Entry:
        entry = self._route.get(var)
        if entry is not None:
            return entry
        owners = [entry for entry in self._entries if entry.owns(var)]
        if len(owners) != 1:
            given = "; ".join(f"{e.optimizer.get_name()!r}: {e.spec}" for e in self._entries)
            if not owners:
                raise ValueError(
                    f"Variable {var.name!r} is assigned to no optimizer of {self._name!r} "
                    f"(entries {given}). Assign every variable it updates to one optimizer. "
                    "Nothing was changed."
                )
            names = [e.optimizer.get_name() for e in owners]
            raise ValueError(
                f"Variable {var.name!r} is assigned to more than one optimizer of "
                f"{self._name!r}: {names} (entries {given}). Assign it to exactly one. "
                "Nothing was changed."
            )
        self._route[var] = owners[0]
        return owners[0]

    def exclude_from_weight_decay(self, var_list: Any = None, var_names: Any = None) -> None:
        """Refused: weight decay is configured on each optimizer of the MultiOptimizer.

        Raises:
            TypeError: always (call it on the optimizers, :attr:`optimizers`).
        """
        raise TypeError(
            f"`exclude_from_weight_decay` must be called on the optimizers of {self._name!r} "
            "(MultiOptimizer.optimizers), which own the weight decay, not on the "
            "MultiOptimizer."
        )

    # -- one step ------------------------------------------------------------------------
    def apply_gradients(
        self,
        grads_and_vars: Any,
        global_step: Variable | None = None,
        name: str | None = None,
    ) -> None:
        """Routes each pair to its optimizer's ``apply_gradients``; counts one step.

        Args:
            grads_and_vars: ``(gradient, variable)`` pairs (None gradients skipped, dense
                arrays or :class:`optim.IndexedSlices`), any iterable.
            global_step: a Variable incremented once, after every optimizer's update.
            name: passed on to each optimizer's ``apply_gradients``.

        Raises:
            ValueError: a variable assigned to no optimizer or to more than one (named),
                plus everything :meth:`optim.Optimizer.apply_gradients` raises.
            NotImplementedError: a sparse gradient for a variable whose optimizer has no
                sparse update.

        Nothing is changed when it raises on its checks: every pair is routed first.
        """
        try:
            pairs = tuple(grads_and_vars)
        except TypeError as exc:
            raise TypeError(
                f"`grads_and_vars` must be an iterable of (gradient, variable) pairs, "
                f"got {grads_and_vars!r}."
            ) from exc
        for pair in pairs:
            if isinstance(pair, (tuple, list)) and len(pair) == 2:
                grad, var = pair
                if isinstance(var, Variable):
                    owner = self._owner(var).optimizer
                    if isinstance(grad, IndexedSlices) and owner.sparse_updates is None:
                        raise NotImplementedError(
                            f"{type(owner).__name__} {owner.get_name()!r} does not implement "
                            f"sparse updates; pass a dense gradient for variable {var.name!r}."
                        )
        super().apply_gradients(pairs, global_step=global_step, name=name)

    def _prepare(self) -> None:
        super()._prepare()
        self._forward = {}

    def _apply_dense(self, grad: np.ndarray, var: Variable) -> None:
        self._forward.setdefault(id(self._owner(var)), []).append((grad, var))

    def _apply_sparse_duplicate_indices(self, grad: IndexedSlices, var: Variable) -> None:
        self._forward.setdefault(id(self._owner(var)), []).append((grad, var))

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        forward, self._forward = self._forward, {}  # never kept between applies (nor pickled)
        for entry in self._entries:
            pairs = forward.get(id(entry))
            if pairs:
                entry.optimizer.apply_gradients(pairs, name=name_scope)

    # -- state of every optimizer --------------------------------------------------------
    def get_slot(self, var: Variable, name: str) -> np.ndarray | None:
        """The slot ``name`` of ``var`` in the optimizer that owns it, or None (also for a
        variable assigned to no optimizer)."""
        try:
            owner = self._owner(var) if isinstance(var, Variable) else None
        except ValueError:
            return None
        return None if owner is None else owner.optimizer.get_slot(var, name)

    def get_slot_names(self) -> list[str]:
        """The sorted union of the optimizers' slot names."""
        return sorted({n for entry in self._entries for n in entry.optimizer.get_slot_names()})

    def variables(self) -> list[np.ndarray]:
        """Every optimizer's state arrays, in the order of the entries."""
        return [array for entry in self._entries for array in entry.optimizer.variables()]

    def state_dict(self) -> dict[str, Any]:
        """:meth:`optim.Optimizer.state_dict` (the step counts), plus ``"optimizers"``:
        ``{optimizer name: that optimizer's state_dict()}``."""
        state = super().state_dict()
        state["optimizers"] = {
            entry.optimizer.get_name(): entry.optimizer.state_dict() for entry in self._entries
        }
        return state

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output into every optimizer, by name.

        Raises:
            ValueError: another optimizer kind or version, an ``"optimizers"`` entry whose
                names are not this MultiOptimizer's, or anything an optimizer's
                ``load_state_dict`` rejects. Nothing is changed then.
        """
        self._check_state_header(state)
        saved = state.get("optimizers")
        names = [entry.optimizer.get_name() for entry in self._entries]
        if not isinstance(saved, dict) or set(saved) != set(names):
            got = sorted(saved) if isinstance(saved, dict) else saved
            raise ValueError(
                f"`state['optimizers']` must hold the states of optimizers {sorted(names)}, "
                f"got {got!r}."
            )
        restored: list[tuple[Optimizer, dict[str, Any]]] = []
        try:
            for entry in self._entries:
                optimizer = entry.optimizer
                before = optimizer.state_dict()
                optimizer.load_state_dict(saved[optimizer.get_name()], var_list)
                restored.append((optimizer, before))
            super().load_state_dict(state, var_list)
        except Exception:
            for optimizer, before in reversed(restored):  # each was valid when it was saved
                optimizer.load_state_dict(before, var_list)
            raise

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_route"] = {}
        state["_forward"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._route = {}

    def __repr__(self) -> str:
        entries = ", ".join(f"({e.optimizer!r}, {e.spec})" for e in self._entries)
        return f"{type(self).__name__}([{entries}], name={self._name!r})"


def _check_entries(entries: Any) -> list[_Entry]:
    """The checked entries of ``optimizers_and_variables`` (see :class:`MultiOptimizer`)."""
    if isinstance(entries, (str, bytes)) or not isinstance(entries, (list, tuple)):
        raise TypeError(
            f"`{_ENTRIES}` must be a list of (optimizer, variables_or_name_patterns) pairs, "
            f"got {entries!r}."
        )
    if not entries:
        raise ValueError(f"`{_ENTRIES}` must hold at least one (optimizer, variables) pair.")
    checked: list[_Entry] = []
    listed: dict[Variable, str] = {}
    seen: dict[int, int] = {}
    names: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise TypeError(
                f"`{_ENTRIES}[{i}]` must be an (optimizer, variables_or_name_patterns) pair, "
                f"got {entry!r}."
            )
        optimizer, spec = entry
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"`{_ENTRIES}[{i}][0]` must be an optim.Optimizer, got {optimizer!r}.")
        if id(optimizer) in seen:
            raise ValueError(
                f"`{_ENTRIES}[{i}][0]` must be another optimizer than entry {seen[id(optimizer)]}"
                f"'s, got the same {optimizer!r}: give it all its variables in one entry."
            )
        seen[id(optimizer)] = i
        name = optimizer.get_name()
        if name in names:
            raise ValueError(
                f"`{_ENTRIES}[{i}][0]` must have a name of its own (state is saved by "
                f"optimizer name), got {name!r}, the name of entry {names[name]}'s: pass "
                "name=... to one of them."
            )
        names[name] = i
        items = [spec] if isinstance(spec, (Variable, str)) else spec
        if not isinstance(items, (list, tuple, set, frozenset)):
            raise TypeError(
                f"`{_ENTRIES}[{i}][1]` must be Variables and/or name patterns (str), got "
                f"{spec!r}."
            )
        if not items:
            raise ValueError(
                f"`{_ENTRIES}[{i}][1]` must assign at least one variable, got {spec!r}."
            )
        variables, patterns = set(), []
        for j, item in enumerate(list(items)):
            if isinstance(item, Variable):
                if item in listed:
                    raise ValueError(
                        f"Variable {item.name!r} must be assigned to one optimizer, got it in "
                        f"entries {listed[item]} and {i}."
                    )
                listed[item] = str(i)
                variables.add(item)
            elif isinstance(item, str):
                patterns.append(item)
            else:
                raise TypeError(
                    f"`{_ENTRIES}[{i}][1][{j}]` must be an optim.Variable or a name pattern "
                    f"(str), got {item!r}."
                )
        pattern = compile_name_patterns(f"{_ENTRIES}[{i}][1]", patterns) if patterns else None
        described = sorted(v.name for v in variables) + sorted(patterns)
        checked.append(_Entry(optimizer, variables, pattern, described))
    return checked
