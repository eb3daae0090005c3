"""One step's gradients reduced over ranks: agreement, then one fused Allreduce per dtype.

:func:`reduce_gradients` (and :class:`GradientReducer`, which
:class:`optim.distributed.DistributedOptimizer` runs on the ``(gradient, variable)`` pairs of
each step) first agrees: one small Allreduce of a digest of the variables (names, shapes,
dtypes, in order), the same size on every rank; then, for ``Sum`` and ``Average`` on one
floating dtype, the gradients travel with a header of presence flags in one Allreduce (and a
:class:`GradientReducer` skips the agreement on the steady steps that follow: see there).
From what the ranks sent, every rank derives the same plan:

- ranks that disagree on the variables raise the same ValueError naming the first variable
  that differs (nothing is reduced);
- a variable whose gradient is None on **every** rank keeps None on every rank;
- a variable with a gradient on some ranks only: the ranks without one contribute zeros (TF's
  None means "the loss does not depend on it", i.e. a zero gradient). With ``Average`` that
  gradient is the sum over the ranks that have it divided by ``size()``, the same on every
  rank;
- a variable with a dense gradient on any rank goes dense everywhere (IndexedSlices are
  densified on the ranks that hold them), and travels in the flat buffer of its dtype: one
  Allreduce per dtype for the whole step;
- a variable whose gradients are IndexedSlices (or None) on every rank, without
  ``sparse_as_dense``, is allgathered: indices and values of every rank, in rank order,
  duplicates kept, values scaled (divided by ``size()`` for ``Average``). Deciding this takes
  one more small Allreduce (each rank's dense and sparse flags).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..gradients import check_gradient
from ..sparse import IndexedSlices, check_indexed_slices
from ..variables import Variable
from .basics import size
from .collectives import (
    Average,
    Compression,
    Compressor,
    ReduceOp,
    Sum,
    agree,
    allgather,
    allreduce_in_place,
    fused_allreduce,
    fusion_buffer,
    raise_mismatch,
    signature_digest,
)

__all__ = ["reduce_gradients", "GradientReducer"]

_WHERE = "DistributedOptimizer"
_NAME = operator.attrgetter("name")
_SHAPE = operator.attrgetter("shape")
_DTYPE = operator.attrgetter("dtype")
_SIZE = operator.attrgetter("size")


def _local(grad: Any, var: Variable, sparse_as_dense: bool) -> Any:
    """This rank's gradient, checked against ``var``: None, an array or IndexedSlices."""
    if grad is None:
        return None
    if isinstance(grad, IndexedSlices):
        grad = check_indexed_slices(grad, var, _WHERE)
        return grad.to_dense(var.shape) if sparse_as_dense else grad
    return check_gradient(grad, var, _WHERE)


def _checked(
    grads_and_vars: Sequence[tuple[Any, Variable]], sparse_as_dense: bool
) -> tuple[list[Any], list[Variable]]:
    """This rank's gradients, checked, and the variables.

    The usual step (every pair a tuple of a dense gradient of its variable's shape and dtype
    and the variable) is recognised in C loops over the pairs; anything else is checked pair
    by pair, which explains what is wrong.
    """
    pairs = grads_and_vars if isinstance(grads_and_vars, (list, tuple)) else list(grads_and_vars)
    if pairs and set(map(type, pairs)) == {tuple} and sum(map(len, pairs)) == 2 * len(pairs):
        grads, variables = map(list, zip(*pairs))
        if (
            all(map(isinstance, variables, itertools.repeat(Variable)))
            and set(map(type, grads)) == {np.ndarray}
            and list(map(_SHAPE, grads)) == list(map(_SHAPE, variables))
            and list(map(_DTYPE, grads)) == list(map(_DTYPE, variables))
        ):
            return grads, variables
    variables = []
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Variable)):
            raise TypeError(
                f"`grads_and_vars[{i}]` must be a (gradient, optim.Variable) pair, got {pair!r}."
            )
        variables.append(pair[1])
    return [_local(g, v, sparse_as_dense) for g, v in pairs], variables


def reduce_gradients(
    grads_and_vars: Sequence[tuple[Any, Variable]],
    op: ReduceOp = Average,
    compression: Compressor = Compression.none,
    sparse_as_dense: bool = False,
    prescale_factor: float = 1.0,
    postscale_factor: float = 1.0,
    *,
    into: Callable[[list[Variable]], Any] | None = None,
) -> list[tuple[Any, Variable]]:
    """The pairs with each gradient reduced over ranks (see the module docstring for the rules).

    Args:
        grads_and_vars: ``(gradient, variable)`` pairs, the same variables in the same order on
            every rank; a gradient is None, an array or an :class:`optim.IndexedSlices`.
        op: the reduction (``Average``, ``Sum``, ``Min``, ``Max``, ``Product``; sparse
            gradients take ``Average`` and ``Sum`` only).
        compression: how dense gradients travel.
        sparse_as_dense: densify IndexedSlices before the reduction.
        prescale_factor, postscale_factor: multiply before and after the reduction.
        into: where the dense gradients of one dtype may be reduced instead of the fusion
            buffer: ``into(variables)`` (the dtype's variables with a dense gradient, in
            order) returns an :class:`optim.engine.arena.Arena` holding exactly those
            variables, or None. Typically the wrapped optimizer's
            :meth:`optim.Optimizer.gradient_arena`: the gradients are then gathered into its
            flat gradient buffer, reduced there in place (the same operations, so the same
            bits) and returned as its segment views, which its next apply reads without
            copying. Those results are overwritten by the optimizer's next step. Not used
            with compression.

    Returns:
        New pairs, in order; the input arrays are not modified.

    Raises:
        TypeError: a pair that holds no optim.Variable.
        ValueError: a gradient of the wrong shape or kind (on that rank, before any
            collective); ranks that disagree on the variables (on every rank, naming the first
            variable that differs); a sparse gradient with another ``op`` than Average or Sum
            (on every rank).
    """
    return GradientReducer()(
        grads_and_vars, op, compression, sparse_as_dense, prescale_factor, postscale_factor,
        into=into,
    )  # fmt: skip


class GradientReducer:
    """:func:`reduce_gradients` that remembers the last layout every rank agreed on, so that
    the steady steps of a training loop take **one** Allreduce.

    *Headed* steps: with ``Sum`` or ``Average``, uncompressed, and variables of one floating
    dtype, the gradients travel in one buffer followed by a header of ``1 + n`` entries (a
    flag, then one presence flag per variable), reduced by one summing Allreduce:

    - the first call (and any call after a change) agrees in full: one small Allreduce of the
      variables' digest, the same size on every rank whatever it holds (ranks that disagree
      raise the ValueError naming the first variable that differs, on every rank, before
      any data moves), then the headed buffer, a rank holding IndexedSlices setting the flag;
    - the next calls skip the agreement: each rank checks locally that its variables (the
      digest of their names, shapes and dtypes) are the remembered ones and that it holds no
      IndexedSlices, and sends the remembered layout's buffer (the same size on every rank,
      whatever it holds), with the flag set when not.

    After the sum, a flag above zero means some rank differs: the data is discarded on every
    rank (nothing is applied) and the call goes on with the full agreement, which raises the
    mismatch error or finds the new plan (IndexedSlices: a second small Allreduce of dense
    and sparse flags, then the general plan of the module docstring). Else each variable's
    presence count says whether any rank had a gradient (None on every rank when none had;
    zeros from the ranks without one), and the data is the sum the full path computes, in a
    buffer of the same size, so the same bits. Every rank reads the same summed header, so
    every rank keeps or forgets the layout alike.

    Other ops, compression and mixed dtypes take the full agreement every call (the digest,
    then the flags, then one Allreduce per dtype). One instance per stream of calls that every
    rank makes in the same order (``DistributedOptimizer`` holds one).
    """

    def __init__(self) -> None:
        self.layout: tuple[Any, ...] | None = None  # (digest, n, total size, dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a copy starts with the full agreement

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.layout = None

    def __call__(
        self,
        grads_and_vars: Sequence[tuple[Any, Variable]],
        op: ReduceOp = Average,
        compression: Compressor = Compression.none,
        sparse_as_dense: bool = False,
        prescale_factor: float = 1.0,
        postscale_factor: float = 1.0,
        *,
        into: Callable[[list[Variable]], Any] | None = None,
    ) -> list[tuple[Any, Variable]]:
        """Reduces one step's pairs (arguments, result and errors of
        :func:`reduce_gradients`)."""
        local, variables = _checked(grads_and_vars, sparse_as_dense)
        n = len(variables)
        names = tuple(map(_NAME, variables))
        shapes = tuple(map(_SHAPE, variables))
        dtypes = tuple(map(_DTYPE, variables))

        def describe() -> tuple[list[str], list[Any]]:
            return list(names), [(shape, dtype.str) for shape, dtype in zip(shapes, dtypes)]

        key = signature_digest((_WHERE, names, shapes, dtypes), describe)
        kinds = list(map(type, local))
        sparse_here = IndexedSlices in kinds
        if compression is not Compression.none:
            into = None
        headed = (op is Sum or op is Average) and compression is Compression.none
        layout, self.layout = self.layout, None
        if layout is not None and headed:  # the steady step: one Allreduce
            mine = layout[0] == key and layout[1] == n and not sparse_here
            got = _headed(
                layout, local if mine else None, variables, op, prescale_factor,
                postscale_factor, into,
            )  # fmt: skip
            if got is not None:
                self.layout = layout
                return list(zip(got, variables))
        # The agreement: first the digest alone, the same size on every rank whatever it holds.
        low, high = agree([key], f"the agreement of {_WHERE}")
        if low[0] != high[0]:
            raise_mismatch(*describe(), _WHERE)
        single = len(set(dtypes)) == 1
        if headed and single and n and dtypes[0].kind == "f":
            layout = (key, n, sum(map(_SIZE, variables)), dtypes[0])
            got = _headed(
                layout, None if sparse_here else local, variables, op, prescale_factor,
                postscale_factor, into,
            )  # fmt: skip
            if got is not None:  # no rank had IndexedSlices
                self.layout = layout
                return list(zip(got, variables))
        # The general plan: which variables are dense or sparse anywhere.
        flags = np.empty(2 * n, dtype=np.int64)
        flags[:n] = [kind is np.ndarray for kind in kinds]
        flags[n:] = [kind is IndexedSlices for kind in kinds]
        _, high = agree(flags, f"the dense and sparse flags of {_WHERE}")
        any_dense, any_sparse = high[:n], high[n:]
        dense_index = np.flatnonzero(any_dense).tolist()
        out: list[Any] = [None] * n
        groups: dict[np.dtype, list[int] | None] = {}
        if len(dense_index) == n and single:
            groups[dtypes[0]] = None  # every variable, one dtype: no index lists
        else:
            for i in dense_index:
                groups.setdefault(dtypes[i], []).append(i)
        for dtype, members in groups.items():
            if members is None and set(kinds) == {np.ndarray}:
                arrays, group = local, variables
            else:
                members = range(n) if members is None else members
                arrays = _dense(local, members, shapes, dtype)
                group = [variables[i] for i in members]
            arena = None if into is None else into(group)
            if arena is not None:
                buffer = arena.grad_buffer
                _gather(arrays, buffer)
                allreduce_in_place(buffer, op, prescale_factor, postscale_factor)
                reduced = arena.grad_views()
            else:
                reduced = fused_allreduce(
                    arrays, op, prescale_factor, postscale_factor, compression
                )
            for i, g in zip(range(n) if members is None else members, reduced):
                out[i] = g
        for i in np.flatnonzero(any_sparse).tolist():
            if any_dense[i]:
                continue
            var = variables[i]
            if op is not Average and op is not Sum:
                raise ValueError(
                    "`op` must be hvd.Average or hvd.Sum for the IndexedSlices gradient of "
                    f"variable {var.name!r}, got {op!r}; pass sparse_as_dense=True to reduce it "
                    "densely."
                )
            g = local[i]
            if g is None:  # this rank contributes no rows
                g = IndexedSlices(
                    np.zeros((0,) + var.shape[1:], var.dtype), np.zeros(0, np.intp), var.shape
                )
            values = allgather(g.values, name=f"the values of {var.name!r}")
            indices = allgather(g.indices, name=f"the indices of {var.name!r}")
            scale = prescale_factor * postscale_factor
            if op is Average:
                scale /= size()
            if scale != 1.0:
                values = values * var.dtype.type(scale)
            out[i] = IndexedSlices(values, indices, var.shape)
        return list(zip(out, variables))


def _dense(local: list[Any], members: Sequence[int], shapes: Any, dtype: np.dtype) -> list:
    """The dense arrays of ``members``: zeros for None, IndexedSlices densified."""
    arrays = []
    for i in members:
        g = local[i]
        if g is None:
            g = np.zeros(shapes[i], dtype)
        elif not isinstance(g, np.ndarray):  # IndexedSlices where another rank is dense
            g = g.to_dense(shapes[i])
        arrays.append(g)
    return arrays


def _gather(arrays: Sequence[np.ndarray], buffer: np.ndarray) -> None:
    if len(arrays) == 1:
        np.copyto(buffer, arrays[0].reshape(-1))
    else:
        np.concatenate(arrays, axis=None, out=buffer)  # axis=None: each raveled


def _headed(
    layout: tuple[Any, ...],
    local: list[Any] | None,
    variables: list[Variable],
    op: ReduceOp,
    prescale_factor: float,
    postscale_factor: float,
    into: Callable[[list[Variable]], Any] | None,
) -> list[Any] | None:
    """One summing Allreduce of ``layout``'s buffer and header (see :class:`GradientReducer`).

    ``local`` is None on a rank whose variables are not the layout's (it sends the flag);
    returns the reduced gradients (None where no rank had one), or None when any rank sent
    the flag.
    """
    _, n, total, dtype = layout
    arena = None if (local is None or into is None) else into(variables)
    if arena is not None:
        whole = arena.grad_buffer_with_tail(1 + n)
    else:
        whole = fusion_buffer(dtype, total + 1 + n)
    data, head = whole[:total], whole[total:]
    if local is None:
        head[0] = 1
    else:
        head[0] = 0
        head[1:] = [g is not None for g in local]
        if set(map(type, local)) != {np.ndarray}:  # None (zeros) or IndexedSlices here
            local = _dense(local, range(n), list(map(_SHAPE, variables)), dtype)
        _gather(local, data)
        if prescale_factor != 1.0:
            np.multiply(data, dtype.type(prescale_factor), out=data)
    allreduce_in_place(whole, Sum)
    if head[0] != 0:
        return None
    scale = postscale_factor / size() if op is Average else postscale_factor
    if arena is not None:
        if scale != 1.0:
            np.multiply(data, dtype.type(scale), out=data)
        reduced = arena.grad_views()
    else:
        result = np.multiply(data, dtype.type(scale)) if scale != 1.0 else data.copy()
        offsets = list(itertools.accumulate(map(_SIZE, variables), initial=0))
        reduced = [
            result[start:stop].reshape(var.shape)
            for start, stop, var in zip(offsets, offsets[1:], variables)
        ]
    present = head[1:]
    if present.all():
        return list(reduced)
    return [g if p else None for g, p in zip(reduced, present.tolist())]
