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

from collections.abc import Sequence
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
    digest,
    fused_allreduce,
    raise_mismatch,
)

__all__ = ["reduce_gradients"]

_WHERE = "DistributedOptimizer"


def _local(grad: Any, var: Variable, sparse_as_dense: bool) -> Any:
    """This rank's gradient, checked against ``var``: None, an array or IndexedSlices."""
    if grad is None:
        return None
    if isinstance(grad, IndexedSlices):
        grad = check_indexed_slices(grad, var, _WHERE)
        return grad.to_dense(var.shape) if sparse_as_dense else grad
    return check_gradient(grad, var, _WHERE)


def reduce_gradients(
    grads_and_vars: Sequence[tuple[Any, Variable]],
    op: ReduceOp = Average,
    compression: Compressor = Compression.none,
    sparse_as_dense: bool = False,
    prescale_factor: float = 1.0,
    postscale_factor: float = 1.0,
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

    Returns:
        New pairs, in order; the input arrays are not modified.

    Raises:
        TypeError: a pair that holds no optim.Variable.
        ValueError: a gradient of the wrong shape or kind (on that rank, before any
            collective); ranks that disagree on the variables (on every rank, naming the first
            variable that differs); a sparse gradient with another ``op`` than Average or Sum
            (on every rank).
    """
    variables = []
    for i, pair in enumerate(grads_and_vars):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Variable)):
            raise TypeError(
                f"`grads_and_vars[{i}]` must be a (gradient, optim.Variable) pair, got {pair!r}."
            )
        variables.append(pair[1])
    local = [_local(g, v, sparse_as_dense) for g, v in grads_and_vars]
    n = len(variables)
    names = [v.name for v in variables]
    signatures = [(v.shape, v.dtype.str) for v in variables]
    dense = [int(isinstance(g, np.ndarray)) for g in local]
    sparse = [int(isinstance(g, IndexedSlices)) for g in local]
    low, high = agree([digest([names, signatures]), *dense, *sparse], f"the agreement of {_WHERE}")
    if low[0] != high[0]:
        raise_mismatch(names, signatures, _WHERE)
    any_dense, any_sparse = high[1 : n + 1], high[n + 1 :]
    out: list[Any] = [None] * n
    dense_index = [i for i in range(n) if any_dense[i]]
    arrays = []
    for i in dense_index:
        g, var = local[i], variables[i]
        if g is None:
            g = np.zeros(var.shape, var.dtype)
        elif isinstance(g, IndexedSlices):
            g = g.to_dense(var.shape)
        arrays.append(g)
    if arrays:
        reduced = fused_allreduce(arrays, op, prescale_factor, postscale_factor, compression)
        for i, g in zip(dense_index, reduced):
            out[i] = g
    for i in range(n):
        if any_dense[i] or not any_sparse[i]:
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
