"""The flat layout: one optimizer's variables of one dtype, and each of their slots, in one buffer.

An :class:`Arena` is built on an optimizer's first fused apply for a dtype. It allocates one
contiguous buffer for the variables and one per slot name, copies the current values in, and
re-homes each variable (:meth:`optim.Variable.rehome`) and each slot onto a view of its
segment. From then on a step is: gather the gradients into the flat gradient buffer (one
``np.concatenate``), check them with one reduction, and call one kernel over the buffers
(:mod:`optim.engine.kernels`).

Nothing else changes for a user: ``w.value`` is a read-only view of ``w``'s segment, ``assign``
writes into it, ``get_slot`` returns the live segment view of the slot, and checkpoints and
``state_dict`` read and write through those views. A reference taken to a variable's array
before its first fused step keeps showing the old memory (see :meth:`optim.Variable.rehome`).

The arena checks before each step that it still holds what it was built for (:meth:`holds`):
the same variables, in the same order, each still homed on its segment, and each slot table
entry still its segment view. A variable re-homed elsewhere (another optimizer's arena),
restored slots (``load_state_dict`` replaces the slot arrays) or a new variable joining the
group make it stale, and the optimizer builds a new one, copying the current values in.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from ..variables import Variable

__all__ = ["Arena"]

_ARRAY = operator.attrgetter("array")


class Arena:
    """One dtype's variables and slots, each kind in one contiguous buffer of segments.

    Args:
        variables: the variables, all of one floating dtype, in the order of the segments.
        slots: ``{slot_name: {variable: array}}`` holding, for every slot name of the
            kernel, each variable's slot array of the variable's shape and dtype. The
            entries for ``variables`` are replaced by segment views (values kept).

    Attributes:
        dtype: the common dtype.
        size: the total number of elements.
        variables: the variables, in segment order.
        var_buffer: the variables' buffer (1-D).
        slot_buffers: ``{slot_name: buffer}``, each 1-D of ``size`` elements.
        grad_buffer: the flat gradient buffer the gradients are gathered into.
        offsets: the segment boundaries (``len(variables) + 1`` entries).
        shapes: the variables' shapes, in segment order (a list).
        constrained: the variables with a ``constraint``, in segment order (a variable's
            constraint is fixed when it is made).

    Raises:
        ValueError: no variables, mixed dtypes or a slot of another shape or dtype (nothing
            is re-homed then).
    """

    __slots__ = (
        "dtype",
        "size",
        "variables",
        "var_buffer",
        "slot_buffers",
        "grad_buffer",
        "offsets",
        "shapes",
        "constrained",
        "_var_views",
        "_slot_views",
        "_scratch",
        "_grad_views",
    )

    def __init__(
        self, variables: Sequence[Variable], slots: dict[str, dict[Variable, np.ndarray]]
    ) -> None:
        variables = list(variables)
        if not variables:
            raise ValueError("`variables` must hold at least one variable.")
        dtype = variables[0].dtype
        for var in variables:
            if var.dtype != dtype:
                raise ValueError(
                    f"`variables` must share one dtype, got {dtype} and {var.dtype} "
                    f"(variable {var.name!r})."
                )
        for slot_name, table in slots.items():
            for var in variables:
                array = table.get(var)
                if array is None or array.shape != var.shape or array.dtype != dtype:
                    raise ValueError(
                        f"The slot {slot_name!r} of variable {var.name!r} must be an array of "
                        f"shape {var.shape} and dtype {dtype}, got "
                        f"{None if array is None else (array.shape, array.dtype)}."
                    )
        sizes = [var.size for var in variables]
        offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(int).tolist()
        size = offsets[-1]
        self.dtype = dtype
        self.size = size
        self.variables = variables
        self.offsets = offsets
        self.shapes = [var.shape for var in variables]
        self.constrained = [var for var in variables if var.constraint is not None]
        self.var_buffer = np.empty(size, dtype)
        self.grad_buffer = np.empty(size, dtype)
        self._scratch: np.ndarray | None = None
        self._grad_views: list[np.ndarray] | None = None
        self._var_views = self._views(self.var_buffer)
        self.slot_buffers = {}
        self._slot_views = {}
        for slot_name, table in slots.items():
            buffer = np.empty(size, dtype)
            views = self._views(buffer)
            for var, view in zip(variables, views):
                np.copyto(view, table[var])
                table[var] = view
            self.slot_buffers[slot_name] = buffer
            self._slot_views[slot_name] = views
        for var, view in zip(variables, self._var_views):
            var.rehome(view)

    def _views(self, buffer: np.ndarray) -> list[np.ndarray]:
        o = self.offsets
        return [buffer[o[i] : o[i + 1]].reshape(v.shape) for i, v in enumerate(self.variables)]

    def holds(
        self, variables: Sequence[Variable], slots: dict[str, dict[Variable, np.ndarray]]
    ) -> bool:
        """Whether the arena still holds exactly ``variables`` (in order) and its slots.

        Slot names the arena was not built with are not looked at (the engine builds an
        arena with every slot that all its variables have).
        """
        # Identity checks in C loops (map): this runs before every fused step.
        mine = self.variables
        if len(variables) != len(mine) or not all(map(operator.is_, variables, mine)):
            return False
        return self.intact(slots)

    def intact(self, slots: dict[str, dict[Variable, np.ndarray]]) -> bool:
        """Whether every variable is still homed on its segment and every slot table entry
        of the arena's slot names is still its segment view."""
        mine = self.variables
        if not all(map(operator.is_, map(_ARRAY, mine), self._var_views)):
            return False
        for slot_name, views in self._slot_views.items():
            table = slots.get(slot_name)
            if table is None or not all(map(operator.is_, map(table.get, mine), views)):
                return False
        return True

    def gather(self, grads: Sequence[np.ndarray], *, owned: bool = False) -> np.ndarray:
        """The flat gradient: the gradients (one per variable, in order, each of its
        variable's shape and dtype) copied into the flat gradient buffer.

        Gradients that are the buffer's own segment views (:meth:`grad_views`, written by a
        producer such as an Allreduce in place) are not copied: the buffer already holds
        them. A single variable's contiguous gradient is used in place, raveled (no copy),
        unless ``owned``: then the result is always the arena's own buffer, which the caller
        may write (clipping scales it in place).
        """
        views = self._grad_views
        if views is not None and len(grads) == len(views) and all(map(operator.is_, grads, views)):
            return self.grad_buffer
        if len(grads) == 1:
            flat = grads[0].reshape(-1)  # a view of a contiguous gradient: read, never written
            if not owned:
                return flat
            np.copyto(self.grad_buffer, flat)  # one variable: its segment is the buffer
        else:
            np.concatenate(grads, axis=None, out=self.grad_buffer)  # axis=None: each raveled
        return self.grad_buffer

    def grad_buffer_with_tail(self, extra: int) -> np.ndarray:
        """A contiguous 1-D buffer of ``size + extra`` elements whose first ``size`` are the
        flat gradient buffer (``grad_buffer``); the last ``extra`` are the caller's, for what
        travels with the gradients in one message (a producer's header).

        The flat gradient buffer moves to a larger allocation the first time it has less room
        than that (its values are not kept: it is scratch); fetch ``grad_buffer`` and
        :meth:`grad_views` after this call.
        """
        base = self.grad_buffer.base
        if base is None or base.size < self.size + extra:
            base = np.empty(self.size + extra, self.dtype)
            self.grad_buffer = base[: self.size]
            self._grad_views = None
        return base[: self.size + extra]

    def grad_views(self) -> list[np.ndarray]:
        """The segments of the flat gradient buffer, each shaped as its variable (made once).

        A producer of gradients may write them here directly, the whole buffer at once
        (``grad_buffer``), and hand these views to the optimizer's ``apply_gradients``:
        :meth:`gather` then has nothing to copy. They are overwritten by the next step, so
        they are scratch, not results to keep.
        """
        if self._grad_views is None:
            self._grad_views = self._views(self.grad_buffer)
        return self._grad_views

    def scratch(self) -> np.ndarray:
        """A buffer of the arena's size and dtype for temporaries (allocated on first use)."""
        if self._scratch is None:
            self._scratch = np.empty(self.size, self.dtype)
        return self._scratch

    def segment(self, index: int) -> slice:
        """The slice of variable ``index``'s segment in every buffer."""
        return slice(self.offsets[index], self.offsets[index + 1])
