"""One step's gradients reduced over ranks: agreement first, then one fused Allreduce.

:func:`reduce_gradients` is what :class:`optim.distributed.DistributedOptimizer` runs on the
``(gradient, variable)`` pairs of a step. Before any data moves, one small Allreduce carries,
for every rank, a digest of the variables (names, shapes, dtypes, in order) and two flags per
variable (this rank has a dense gradient / a sparse one). From it every rank derives the same
plan:

- ranks that disagree on the variables raise the same ValueError naming the first variable
  that differs (nothing is reduced);
- a variable whose gradient is None on **every** rank keeps None on every rank;
- a variable with a gradient on some ranks only: the ranks without one contribute zeros (TF's
  None means "the loss does not depend on it", i.e. a zero gradient). With ``Average`` that
  gradient is the sum over the ranks that have it divided by ``size()``, the same on every
  rank;
- a variable with a dense gradient on any rank goes dense everywhere (IndexedSlices are
  densified on the ranks that hold them), and travels in the fusion buffer of its dtype: one
  Allreduce per dtype for the whole step;
- a variable whose gradients are IndexedSlices (or None) on every rank, without
  ``sparse_as_dense``, is allgathered: indices and values of every rank, in rank order,
  duplicates kept, values scaled (divided by ``size()`` for ``Average``).
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
    raise_mismatch,
    signature_digest,
)

__all__ = ["reduce_gradients"]

_WHERE = "DistributedOptimizer"
_NAME = operator.attrgetter("name")
_SHAPE = operator.attrgetter("shape")
_DTYPE = operator.attrgetter("dtype")


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
    if (
        pairs
        and set(map(type, pairs)) == {tuple}
        and sum(map(len, pairs)) == 2 * len(pairs)
    ):
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
    local, variables = _checked(grads_and_vars, sparse_as_dense)
    n = len(variables)
    names = tuple(map(_NAME, variables))
    shapes = tuple(map(_SHAPE, variables))
    dtypes = tuple(map(_DTYPE, variables))

    def describe() -> tuple[list[str], list[Any]]:
        return list(names), [(shape, dtype.str) for shape, dtype in zip(shapes, dtypes)]

    flags = np.empty(1 + 2 * n, dtype=np.int64)
    flags[0] = signature_digest((_WHERE, names, shapes, dtypes), describe)
    kinds = list(map(type, local))
    flags[1 : n + 1] = [kind is np.ndarray for kind in kinds]
    flags[n + 1 :] = [kind is IndexedSlices for kind in kinds]
    low, high = agree(flags, f"the agreement of {_WHERE}")
    if low[0] != high[0]:
        raise_mismatch(*describe(), _WHERE)
    any_dense, any_sparse = high[1 : n + 1], high[n + 1 :]
    out: list[Any] = [None] * n
    dense_index = np.flatnonzero(any_dense).tolist()
    groups: dict[np.dtype, list[int]] = {}
    if len(set(dtypes)) == 1 and dense_index:
        groups[dtypes[0]] = dense_index
    else:
        for i in dense_index:
            groups.setdefault(dtypes[i], []).append(i)
    if compression is not Compression.none:
        into = None
    for dtype, members in groups.items():
        arrays = []
        for i in members:
            g = local[i]
            if g is None:
                g = np.zeros(shapes[i], dtype)
            elif not isinstance(g, np.ndarray):  # IndexedSlices where another rank is dense
                g = g.to_dense(shapes[i])
            arrays.append(g)
        arena = None if into is None else into([variables[i] for i in members])
        if arena is not None:
            buffer = arena.grad_buffer
            if len(arrays) == 1:
                np.copyto(buffer, arrays[0].reshape(-1))
            else:
                np.concatenate(arrays, axis=None, out=buffer)  # axis=None: each raveled
            allreduce_in_place(buffer, op, prescale_factor, postscale_factor)
            reduced = arena.grad_views()
        else:
            reduced = fused_allreduce(arrays, op, prescale_factor, postscale_factor, compression)
        for i, g in zip(members, reduced):
            out[i] = g
    for i in np.flatnonzero(any_sparse).tolist():
        if any_dense[i]:
            continue
        var = variables[i]
        if op is not Average and op is not Sum:
            raise ValueError(
                f"`op` must be hvd.Average or hvd.Sum for the IndexedSlices gradient of variable "
                f"{var.name!r}, got {op!r}; pass sparse_as_dense=True to reduce it densely."
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
