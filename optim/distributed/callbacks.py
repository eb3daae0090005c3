"""Training callbacks of :mod:`optim.distributed` (Horovod's Keras callback names)."""

from __future__ import annotations

from typing import Any

from ..training.callbacks import Callback
from .collectives import broadcast_optimizer_state, broadcast_variables

__all__ = ["BroadcastGlobalVariablesCallback"]


class BroadcastGlobalVariablesCallback(Callback):
    """At the start of training, sets every rank's variables and optimizer state to
    ``root_rank``'s (Horovod's ``BroadcastGlobalVariablesCallback`` / TF1 hook).

    It broadcasts the trainer's ``var_list`` and global step (one Bcast per dtype), then the
    optimizer's state (:func:`~optim.distributed.broadcast_optimizer_state`). A checkpoint that
    ``ModelCheckpoint(resume=True)`` restores afterwards is the same file on every rank.

    Args:
        root_rank: the rank whose values everyone takes. Default 0.
    """

    def __init__(self, root_rank: int = 0) -> None:
        self.root_rank = root_rank

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        trainer = self.trainer
        variables = list(trainer.var_list)
        if trainer.global_step is not None:
            variables.append(trainer.global_step)
        broadcast_variables(variables, root_rank=self.root_rank)
        broadcast_optimizer_state(trainer.optimizer, root_rank=self.root_rank)
