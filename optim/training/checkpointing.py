"""ModelCheckpoint: checkpoints written during training that resume it exactly."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from ..variables import Variable
from .callbacks import Callback
from .checks import check_positive_int
from .monitor import check_monitor, monitor_mode, warn_missing_monitor

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Saves checkpoints (:mod:`optim.checkpoint`) that resume training exactly.

    Each checkpoint ``<directory>/<checkpoint_name>-<step>.npz`` holds the variables, the
    optimizer's whole state, the global step, and in ``extra["trainer"]`` the trainer's state:
    data position (epoch, batch, step, seed), the epoch's running sums and every callback's
    state (History, EarlyStopping, ReduceLROnPlateau, MovingAverage...). Restoring one with
    :meth:`Trainer.restore` (or ``resume=True``) continues on the batch that came next.

    Args:
        directory: where checkpoints go (created on first save).
        save_freq: ``"epoch"`` (at each epoch end) or an int ``k``: after every ``k`` steps,
            and at the epoch end that ends training (so the last checkpoint of a run that
            finished or stopped is its end).
        max_to_keep: how many recent checkpoints to keep (None: all). Default 5.
        checkpoint_name: the file name prefix. Default ``"ckpt"``.
        monitor, mode, save_best_only: with ``save_best_only``, save only when ``monitor``
            improved (``mode`` as :class:`EarlyStopping`).
        resume: at the start of training, restore the latest checkpoint in ``directory`` if
            there is one (Keras' ``BackupAndRestore``). A run that had finished (its
            ``epochs`` or ``steps`` reached) or been stopped (EarlyStopping...) then runs no
            step, the returned History is the restored one, and ``trainer.stop_reason`` says
            there was nothing to train (printed when ``verbose`` asks for output). A finished
            run resumed with a larger ``epochs`` trains only the extra epochs; a stopped one
            stays stopped.
        var_list: the variables to save; default the trainer's ``var_list``.

    Attributes:
        last_saved: the path of the last checkpoint written by this callback, or None.
        restored_from: the checkpoint ``resume`` restored, or None.

    It runs after every other callback and after History, wherever it is in ``callbacks``, so
    a checkpoint includes what they did at that step (an EMA update, the epoch's history).
    It saves nothing in ``on_train_end``: the last checkpoint holds the variables before
    ``EarlyStopping(restore_best_weights=True)`` puts the best ones back (its state, which
    holds them, does that again when the run is resumed).

    Across processes (``trainer.distribution``), only the writer (rank 0) writes, every
    process tracks ``best`` alike, and ``resume`` restores the same checkpoint on every
    process: ``directory`` must be shared by them (one host, or a shared file system).

    With ``save_best_only`` only improvements are saved, the last epoch end included, so a
    resumed run may repeat the steps after the best checkpoint.
    """

    runs_last = True

    def __init__(
        self,
        directory: str | os.PathLike,
        save_freq: str | int = "epoch",
        max_to_keep: int | None = 5,
        checkpoint_name: str = "ckpt",
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        resume: bool = False,
        var_list: Sequence[Variable] | None = None,
    ) -> None:
        from ..checkpoint import CheckpointManager

        if save_freq != "epoch":
            save_freq = check_positive_int("save_freq", save_freq)
        self.save_freq = save_freq
        self.manager = CheckpointManager(directory, max_to_keep, checkpoint_name)
        self.monitor = check_monitor(monitor)
        self.mode = monitor_mode(monitor, mode)
        self.save_best_only = bool(save_best_only)
        self.resume = bool(resume)
        self.var_list = None if var_list is None else list(var_list)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_saved: str | None = None
        self.restored_from: str | None = None

    @property
    def latest_checkpoint(self) -> str | None:
        """The highest-numbered checkpoint in the directory, or None."""
        return self.manager.latest_checkpoint

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        if self.resume:
            latest = self.manager.latest_checkpoint
            if latest is not None:
                self.trainer.restore(latest, var_list=self.var_list)
                self.restored_from = latest

    def _save(self, logs: dict[str, float]) -> None:
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warn_missing_monitor("ModelCheckpoint", self.monitor, logs)
                return
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        trainer = self.trainer
        if not trainer.distribution.is_writer:  # one process writes; every one reads
            return
        self.last_saved = self.manager.save(
            checkpoint_number=trainer.step,
            var_list=trainer.var_list if self.var_list is None else self.var_list,
            optimizer=trainer.optimizer,
            global_step=trainer.global_step,
            extra={"trainer": trainer.state_dict()},
        )

    def on_train_batch_end(self, step: int, logs: dict[str, float] | None = None) -> None:
        if self.save_freq != "epoch" and self.trainer.step % self.save_freq == 0:
            self._save(logs or {})

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.save_freq == "epoch" or self.trainer.finished:
            self._save(logs or {})

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
