"""Data-parallel training on MPI with Horovod's API: ``import optim.distributed as hvd``.

Each process (rank) holds a full copy of the variables and trains on its shard of the data;
:class:`DistributedOptimizer` reduces the gradients over the ranks before every update, so the
variables stay bit-identical on every rank. Launch with ``mpiexec -n 4 python train.py`` (or
``srun``); a plain ``python train.py`` runs as one rank.

- set-up: :func:`init`, :func:`shutdown`, :func:`is_initialized`, :func:`size`, :func:`rank`,
  :func:`local_size`, :func:`local_rank`, :func:`cross_size`, :func:`cross_rank`;
- the optimizer: :class:`DistributedOptimizer`; the training callback
  :class:`BroadcastGlobalVariablesCallback`;
- collectives: :func:`allreduce`, :func:`grouped_allreduce`, :func:`allgather`,
  :func:`broadcast`, :func:`broadcast_variables`, :func:`broadcast_global_variables`,
  :func:`broadcast_optimizer_state`,
  :func:`broadcast_object`, :func:`allgather_object`, :func:`barrier`;
- reductions :data:`Average`, :data:`Sum`, :data:`Min`, :data:`Max`, :data:`Product`, and
  :class:`Compression` (``none``, ``fp16``).

mpi4py (the ``mpi`` extra: ``pip install "optim[mpi]"``) is imported by :func:`init`, not by
``import optim.distributed``. Every collective is bounded by a watchdog and an uncaught
exception in any rank aborts the job (:mod:`optim.distributed.faults`), so a failing rank never
leaves the others hanging.
"""

from .basics import (
    cross_rank,
    cross_size,
    init,
    is_initialized,
    local_rank,
    local_size,
    mpi_threads_supported,
    rank,
    shutdown,
    size,
)
from .callbacks import BroadcastGlobalVariablesCallback
from .collectives import (
    Average,
    Compression,
    Max,
    Min,
    Product,
    Sum,
    allgather,
    allgather_object,
    allreduce,
    barrier,
    broadcast,
    broadcast_global_variables,
    broadcast_object,
    broadcast_optimizer_state,
    broadcast_variables,
    grouped_allreduce,
)
from .optimizer import DistributedOptimizer

__all__ = [
    "init",
    "shutdown",
    "is_initialized",
    "size",
    "rank",
    "local_size",
    "local_rank",
    "cross_size",
    "cross_rank",
    "mpi_threads_supported",
    "DistributedOptimizer",
    "Average",
    "Sum",
    "Min",
    "Max",
    "Product",
    "Compression",
    "allreduce",
    "grouped_allreduce",
    "allgather",
    "allgather_object",
    "broadcast",
    "broadcast_object",
    "broadcast_optimizer_state",
    "broadcast_variables",
    "broadcast_global_variables",
    "BroadcastGlobalVariablesCallback",
    "barrier",
]
