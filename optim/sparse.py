"""Sparse gradients: rows of a variable, TF's ``IndexedSlices``."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["IndexedSlices"]


class IndexedSlices:
    """A gradient that touches only some rows (first-axis slices) of a variable.

    It stands for the dense tensor of shape ``dense_shape`` that is zero except for
    ``dense[indices[i]] += values[i]``; repeated indices add up.

    Args:
        values: array of shape ``(len(indices),) + dense_shape[1:]``.
        indices: 1-D integer array of row indices.
        dense_shape: shape of the dense tensor (the variable's shape); optional.

    Example:
        >>> g = optim.IndexedSlices(np.array([[0.1, 0.1]]), np.array([1]), (4, 2))
        >>> opt.apply_gradients([(g, embedding)])
    """

    __slots__ = ("values", "indices", "dense_shape")

    def __init__(self, values: Any, indices: Any, dense_shape: Any = None) -> None:
        self.values = np.asarray(values)
        self.indices = np.asarray(indices)
        self.dense_shape = None if dense_shape is None else tuple(int(d) for d in dense_shape)

    def to_dense(self, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """The dense array this gradient stands for (duplicates summed)."""
        shape = shape or self.dense_shape
        if shape is None:
            raise ValueError("`dense_shape` is needed to make a dense array.")
        dense = np.zeros(shape, dtype=self.values.dtype)
        np.add.at(dense, self.indices, self.values)
        return dense

    def __repr__(self) -> str:
        return (
            f"IndexedSlices(values={self.values!r}, indices={self.indices!r}, "
            f"dense_shape={self.dense_shape!r})"
        )


def check_indexed_slices(grad: IndexedSlices, var: Any, where: str) -> IndexedSlices:
    """Validates a sparse gradient against its variable; returns it in the variable's dtype.

    Raises:
        ValueError: bad indices (not 1-D integers, out of range), values of the wrong shape or
            dtype kind, or a dense_shape other than the variable's, naming the variable.
    """
    name = var.name
    if var.ndim == 0:
        raise ValueError(f"{where}: variable {name!r} is a scalar and cannot take IndexedSlices.")
    indices, values = grad.indices, grad.values
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: IndexedSlices indices for variable {name!r} must be a 1-D integer array, "
            f"got dtype {indices.dtype} and shape {indices.shape}."
        )
    if grad.dense_shape is not None and grad.dense_shape != var.shape:
        raise ValueError(
            f"{where}: IndexedSlices dense_shape for variable {name!r} must be {var.shape}, "
            f"got {grad.dense_shape}."
        )
    expected = (indices.shape[0],) + var.shape[1:]
    if values.shape != expected:
        raise ValueError(
            f"{where}: IndexedSlices values for variable {name!r} must have shape {expected}, "
            f"got {values.shape}."
        )
    if values.dtype.kind != "f":
        raise ValueError(
            f"{where}: IndexedSlices values for variable {name!r} must be floating-point, "
            f"got dtype {values.dtype}."
        )
    rows = var.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices[(indices < 0) | (indices >= rows)]
        raise ValueError(
            f"{where}: IndexedSlices indices for variable {name!r} must be in [0, {rows}), "
            f"got {bad.tolist()}."
        )
    if values.dtype != var.dtype:
        values = values.astype(var.dtype)
    return IndexedSlices(values, indices.astype(np.intp, copy=False), var.shape)


def deduplicate(grad: IndexedSlices) -> IndexedSlices:
    """Sums the rows of repeated indices (TF's ``unique`` + ``unsorted_segment_sum``).

    Unique indices keep their first-occurrence order; duplicates are added in input order.
    """
    indices = grad.indices
    unique, first, inverse = np.unique(indices, return_index=True, return_inverse=True)
    if unique.size == indices.size:
        return grad
    order = np.argsort(first, kind="stable")  # first-occurrence order, as TF's unique
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    summed = np.zeros((unique.size,) + grad.values.shape[1:], dtype=grad.values.dtype)
    np.add.at(summed, rank[inverse.reshape(-1)], grad.values)
    return IndexedSlices(summed, unique[order], grad.dense_shape)
