"""``optim.fit`` across ranks: the :class:`~optim.training.data.Distribution` of MPI.

A :class:`~optim.training.Trainer` whose optimizer is a ``DistributedOptimizer`` takes its
:class:`MPIDistribution` (``DistributedOptimizer.distribution``):

- every rank computes the same epoch order (``default_rng([seed, epoch])``), pads it by
  wrapping around to a multiple of ``size()`` rows, and takes every ``size()``-th row from its
  rank on: the shards have equal lengths, so every rank runs the same number of steps with
  the same batch sizes, and one step of ``N`` ranks with batches of ``b`` sees the rows one
  process with batches of ``N * b`` would (the first ``N * b`` rows of the padded order);
- the loss and metric sums of every step, and of each evaluation, are summed over the ranks
  (one small Allreduce), so every rank logs the same means and its callbacks (EarlyStopping,
  ReduceLROnPlateau) take the same decisions;
- rank 0 alone shows progress and writes checkpoints; on resume every rank reads the same
  latest checkpoint.
"""

from __future__ import annotations

import numpy as np

from ..training.data import Distribution
from .basics import context
from .collectives import Sum, fused_allreduce

__all__ = ["MPIDistribution"]


class MPIDistribution(Distribution):
    """Shards, sums and a writer over the ranks of :func:`optim.distributed.init`.

    Raises:
        ValueError: ``optim.distributed`` is not initialised.
    """

    def __init__(self) -> None:
        ctx = context()
        self.rank, self.size = ctx.rank, ctx.size

    @property
    def is_writer(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    def shard_size(self, n: int) -> int:
        return -(-n // self.size)

    def shard(self, order: np.ndarray, pad: bool = True) -> np.ndarray:
        """Rows ``rank, rank + size, ...`` of ``order``, padded first by repeating its start
        when ``pad`` (so every rank gets ``ceil(n / size)`` rows)."""
        if pad:
            order = np.resize(order, self.shard_size(len(order)) * self.size)
        return order[self.rank :: self.size]

    def reduce_sums(self, sums: list[float]) -> list[float]:
        """``sums`` added over the ranks in float64 (one small Allreduce), as a list."""
        return fused_allreduce([np.array(sums, dtype=np.float64)], op=Sum)[0].tolist()

    def __repr__(self) -> str:
        return f"MPIDistribution(rank={self.rank}, size={self.size})"
