"""The fused update: one optimizer's dense updates, one kernel call per dtype over its arena.

An optimizer whose update is elementwise names its kernel (:attr:`Optimizer.flat_kernel`) and
implements :meth:`Optimizer._flat_update`, which calls that kernel on an :class:`Arena`'s
buffers with the same per-step scalars its ``_apply_dense`` uses: the same roundings in the same
order, so the fused step is bit-identical to updating variable by variable. The base class
hands each apply's checked updates to :meth:`FusedEngine.apply`, which

* groups the dense gradients by dtype (sparse gradients, and slots that not every variable of
  the group has, stay on the per-variable path);
* reuses the dtype's arena while it holds the same variables and slots, builds a new one when
  variables join the group or the old one went stale, and leaves a step in which only part of
  the arena's variables have gradients (``None`` for the others: TF1 skips them, and their
  slots must not decay) to the per-variable kernels, which run on the same segment views;
* gathers the group's gradients into the flat gradient buffer and runs the optimizer's
  ``_flat_update`` once.

``OPTIM_ENGINE=off`` keeps every update on the per-variable path: the optimizer then does not
call the engine at all (see :mod:`optim.engine.kernels`).
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..clipping import global_clip_scale, global_norm_from_squares
from ..variables import Variable
from .arena import Arena
from .kernels import ENV_VAR, get_kernel
from .reductions import all_finite, segment_square_sums

__all__ = ["FusedEngine", "PARALLEL_MIN_SIZE"]

#: Buffers smaller than this many elements take the numpy kernels (see FusedEngine.kernel).
PARALLEL_MIN_SIZE = 1 << 15

_SHAPE = operator.attrgetter("shape")
_DTYPE = operator.attrgetter("dtype")


class FusedEngine:
    """The arenas and kernels of one optimizer.

    Args:
        kernel_name: the optimizer's kernel in :mod:`optim.engine.kernels`.
    """

    __slots__ = ("kernel_name", "_arenas", "_kernels")

    def __init__(self, kernel_name: str) -> None:
        self.kernel_name = kernel_name
        self._arenas: dict[np.dtype, Arena] = {}
        self._kernels: dict[tuple[Any, ...], Callable[..., None]] = {}

    def arena(self, dtype: Any) -> Arena | None:
        """The arena of ``dtype``, if one was built."""
        return self._arenas.get(np.dtype(dtype))

    def kernel(self, dtype: np.dtype, size: int, name: str | None = None) -> Callable[..., None]:
        """The kernel ``name`` (default :attr:`kernel_name`) for a buffer of ``size`` elements
        of ``dtype``, cached.

        numba's multithreaded kernel (see :func:`get_kernel`) for buffers of at least
        :data:`PARALLEL_MIN_SIZE` elements; below that the blocked numpy kernel, whose result
        is the same to the bit: a thread pool's fork and join costs more than such a step,
        and far more when other processes keep the cores busy (a spinning OpenMP pool then
        waits for a descheduled thread, milliseconds per call).
        """
        name = self.kernel_name if name is None else name
        key = (dtype, size >= PARALLEL_MIN_SIZE, os.environ.get(ENV_VAR, ""), name)
        kernel = self._kernels.get(key)
        if kernel is None:
            prefer = None if key[1] else "numpy"
            kernel = self._kernels[key] = get_kernel(name, dtype, prefer)
        return kernel

    def steady(
        self, pairs: Sequence[Any], slots: dict[str, dict[Variable, np.ndarray]]
    ) -> tuple[Arena, list[np.ndarray]] | None:
        """The steady state, recognised before any per-pair check: ``(arena, gradients)``
        when ``pairs`` are exactly ``(gradient, variable)`` pairs of one arena's variables, in
        its order, every gradient a dense ndarray of its variable's shape and dtype, and the
        arena still holds the variables and their slots; else None (the caller then checks
        pair by pair, which explains what is wrong, if anything is).

        Every test is a C loop over the pairs (``map``), so a step of many small variables
        does not pay a Python loop to validate them.
        """
        if not pairs:
            return None
        try:
            # Exactly two entries in every pair: the lengths add up to two per pair, and zip
            # gives as many tuples as the shortest pair has entries, so none is shorter. The
            # lengths come first: a pair without one (an iterator) must not be consumed here.
            if sum(map(len, pairs)) != 2 * len(pairs):
                return None
            columns = tuple(zip(*pairs))
            if len(columns) != 2:
                return None
        except TypeError:  # a pair without a length
            return None
        grads, variables = columns
        arena = self._arenas.get(getattr(variables[0], "dtype", None))
        if arena is None or len(variables) != len(arena.variables):
            return None
        if not all(map(operator.is_, variables, arena.variables)):
            return None
        if set(map(type, grads)) != {np.ndarray} or set(map(_DTYPE, grads)) != {arena.dtype}:
            return None
        if list(map(_SHAPE, grads)) != arena.shapes or not arena.intact(slots):
            return None
        return arena, list(grads)

    def all_finite(self, arena: Arena, flat_grad: np.ndarray) -> bool:
        """Whether the flat gradient is finite: one reduction, multithreaded (numba) from
        :data:`PARALLEL_MIN_SIZE` elements on."""
        return all_finite(flat_grad, parallel=arena.size >= PARALLEL_MIN_SIZE)

    def clip_by_global_norm(self, arena: Arena, flat_grad: np.ndarray, clip_norm: float) -> Any:
        """Scales ``flat_grad`` (the arena's own gradient buffer) in place as
        :func:`optim.clipping.clip_by_global_norm` scales each gradient, and returns the norm.

        The norm comes from each segment's pairwise sum of squares, the same sums the
        per-gradient function takes, so the result is the same to the bit. A non-finite norm
        makes every entry NaN, as there.
        """
        squares = segment_square_sums(flat_grad, arena.offsets, arena.scratch())
        norm = global_norm_from_squares(squares)
        scale = global_clip_scale(norm, clip_norm, arena.dtype)
        np.multiply(flat_grad, scale, out=flat_grad)
        return norm

    def apply(
        self,
        updates: Sequence[tuple[Any, Variable]],
        slots: dict[str, dict[Variable, np.ndarray]],
        flat_update: Callable[[Callable[..., None], Arena, np.ndarray], None],
    ) -> list[tuple[Any, Variable]]:
        """Runs the fused update for what it can; returns the updates left to do one by one.

        Args:
            updates: checked ``(gradient, variable)`` pairs (gradients of the variable's dtype).
            slots: the optimizer's slot tables ``{slot_name: {variable: array}}``, after
                ``_create_slots``; an arena's slots are re-homed into it.
            flat_update: ``flat_update(kernel, arena, grad_buffer)``, the optimizer's step over
                the arena's buffers.

        Returns:
            The pairs the per-variable path must update, in their original order.
        """
        groups: dict[np.dtype, list[tuple[np.ndarray, Variable]]] = {}
        rest: list[tuple[Any, Variable]] = []
        for grad, var in updates:
            if isinstance(grad, np.ndarray):
                groups.setdefault(var.dtype, []).append((grad, var))
            else:
                rest.append((grad, var))
        for dtype, group in groups.items():
            variables = [var for _, var in group]
            arena = self._arenas.get(dtype)
            if arena is None or not arena.holds(variables, slots):
                arena = self._rebuild(dtype, arena, variables, slots)
                if arena is None:
                    rest.extend(group)
                    continue
            grad_buffer = arena.gather([grad for grad, _ in group])
            flat_update(self.kernel(dtype, arena.size), arena, grad_buffer)
        if rest and len(rest) < len(updates):
            order = {id(var): i for i, (_, var) in enumerate(updates)}
            rest.sort(key=lambda pair: order[id(pair[1])])
        return rest

    def _rebuild(
        self,
        dtype: np.dtype,
        old: Arena | None,
        variables: list[Variable],
        slots: dict[str, dict[Variable, np.ndarray]],
    ) -> Arena | None:
        """A new arena for ``variables``, or None when this step stays per-variable."""
        if old is not None and len(variables) < len(old.variables):
            held = {id(v) for v in old.variables}
            if all(id(v) in held for v in variables) and old.holds(old.variables, slots):
                return None  # part of the arena's variables this step: keep the arena
        tables = {}
        for slot_name, table in slots.items():
            present = [var in table for var in variables]
            if all(present):
                tables[slot_name] = table
            elif any(present):
                return None  # a slot only some variables have: not one buffer
        arena = Arena(variables, tables)
        self._arenas[dtype] = arena
        return arena

    def clear(self) -> None:
        """Forgets every arena (the variables and slots keep their current homes)."""
        self._arenas.clear()
