"""The training data: arrays, or tuples and dicts of arrays, with the examples along axis 0.

:func:`check_data` converts and checks ``x`` and ``y`` once; :func:`take` draws the rows of a
batch from every leaf.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["check_data", "take", "Distribution", "LOCAL"]


def _as_data(data: Any, arg: str) -> tuple[Any, list[tuple[str, np.ndarray]]]:
    """``data`` with every leaf an ndarray (dicts, tuples and lists kept), and the leaves."""
    leaves: list[tuple[str, np.ndarray]] = []

    def convert(node: Any, path: str) -> Any:
        if isinstance(node, Mapping):
            return {k: convert(v, f"{path}[{k!r}]") for k, v in node.items()}
        if isinstance(node, (tuple, list)) and not _is_numeric_list(node):
            return tuple(convert(v, f"{path}[{i}]") for i, v in enumerate(node))
        try:
            array = np.asarray(node)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"`{path}` must be a numpy array or a tuple or dict of arrays, got {node!r}."
            ) from exc
        if array.dtype.kind not in "biufcUS":
            raise TypeError(
                f"`{path}` must be a numpy array of numbers, got dtype {array.dtype} from "
                f"{type(node).__name__}."
            )
        if array.ndim == 0:
            raise ValueError(
                f"`{path}` must have a first (batch) dimension, got a scalar {node!r}."
            )
        leaves.append((path, array))
        return array

    converted = convert(data, arg)
    if not leaves:
        raise ValueError(f"`{arg}` must hold at least one array, got {data!r}.")
    return converted, leaves


def _is_numeric_list(node: Any) -> bool:
    """A list (not a tuple) of numbers or of lists: one array written as nested lists."""
    return isinstance(node, list) and all(isinstance(v, (numbers.Number, list)) for v in node)


def check_data(x: Any, y: Any, x_arg: str, y_arg: str) -> tuple[Any, Any, int]:
    """Converts ``x`` and ``y``; checks every leaf has the same, non-zero, first dimension."""
    if x is None:
        raise TypeError(f"`{x_arg}` must be a numpy array or a tuple or dict of arrays, got None.")
    x, leaves = _as_data(x, x_arg)
    if y is not None:
        y, y_leaves = _as_data(y, y_arg)
        leaves += y_leaves
    first_path, first = leaves[0]
    n = first.shape[0]
    for path, array in leaves[1:]:
        if array.shape[0] != n:
            raise ValueError(
                f"`{path}` must have as many examples as `{first_path}` ({n}), "
                f"got {array.shape[0]} (shape {array.shape})."
            )
    if n == 0:
        raise ValueError(
            f"`{first_path}` must hold at least one example, got 0 (shape {first.shape})."
        )
    return x, y, n


def take(data: Any, rows: np.ndarray | slice) -> Any:
    """The ``rows`` of every leaf of ``data`` (None stays None), structure kept."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: take(v, rows) for k, v in data.items()}
    if isinstance(data, tuple):
        return tuple(take(v, rows) for v in data)
    return data[rows]


class Distribution:
    """How a :class:`~optim.training.Trainer` shares its work between processes: this base is
    one process (the default of every trainer), and changes nothing.

    A subclass (``optim.distributed``'s, behind ``hvd.DistributedOptimizer``) overrides the
    three hooks the trainer asks; every process must then run the same steps:

    - :meth:`shard`: this process's part of an epoch's example order (or of the validation
      rows), the same number of rows on every process when ``pad``;
    - :meth:`reduce_sums`: a vector of sums (batch sizes, loss and metric totals) summed over
      the processes, so every process logs the same means and its callbacks decide alike;
    - :attr:`is_writer`: whether this process writes checkpoints and shows progress.
    """

    is_writer = True

    def shard(self, order: np.ndarray, pad: bool = True) -> np.ndarray:
        """This process's rows of ``order`` (here: all of them)."""
        return order

    def shard_size(self, n: int) -> int:
        """How many rows :meth:`shard` gives each process of an order of ``n`` (padded)."""
        return n

    def reduce_sums(self, sums: list[float]) -> list[float]:
        """``sums`` (a list of numbers) added over the processes, as a list of floats (here:
        ``sums`` itself, with no array made: a step of one process pays nothing for it)."""
        return sums


#: The single-process :class:`Distribution`.
LOCAL = Distribution()
