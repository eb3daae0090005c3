"""The :class:`Callback` base class, with Keras' hook names, and the callbacks built on it.

:class:`ModelCheckpoint` lives in :mod:`optim.training.checkpointing`, the progress bar in
:mod:`optim.training.progress`.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..validation import NONNEGATIVE, Interval, check_bool, check_real
from ..variables import Variable
from .checks import check_nonnegative_int
from .learning_rate import LearningRate
from .monitor import check_monitor, monitor_mode, warn_missing_monitor
from .state_codec import decode_array, decode_tree, encode_array, encode_tree

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "CSVLogger",
    "MovingAverage",
    "LambdaCallback",
]

_UNIT_OPEN = Interval(0.0, 1.0, low_open=True, high_open=True)  # ReduceLROnPlateau's factor


class Callback:
    """Base class of training callbacks, with Keras' hook names. Every hook does nothing.

    Hooks run between steps, never inside one. ``self.trainer`` is the :class:`Trainer`
    (``trainer.stop_training = True`` ends training after the current step or epoch;
    ``trainer.var_list``, ``trainer.optimizer``, ``trainer.global_step``, ``trainer.step``).

    ``step`` in the batch hooks is the 0-based index of the step over the whole run; the logs
    of ``on_train_batch_end`` are the running means of the loss and metrics over the epoch so
    far (Keras 3), those of ``on_epoch_end`` the epoch's means plus the ``val_`` entries.

    A callback with state worth resuming returns it from :meth:`state_dict` (JSON-able data);
    the trainer saves it with its own state and hands it back through :meth:`load_state_dict`
    after ``on_train_begin``.
    """

    trainer: Trainer | None = None
    #: Run after every other callback and History (ModelCheckpoint: the state it saves then
    #: includes what the others did at that step). The trainer orders its callbacks by it.
    runs_last = False

    def set_trainer(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_train_batch_begin(self, step: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_train_batch_end(self, step: int, logs: dict[str, float] | None = None) -> None: ...

    def on_test_begin(self, logs: dict[str, float] | None = None) -> None: ...

    def on_test_end(self, logs: dict[str, float] | None = None) -> None: ...

    def state_dict(self) -> dict[str, Any] | None:
        """JSON-able state to save with the trainer's, or None (default: nothing to save)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` output."""


class History(Callback):
    """Records the epoch logs: ``history.history["val_loss"][i]``, ``history.epoch[i]``.

    ``fit`` returns it. ``params`` holds the run's settings (epochs, steps, batch_size,
    samples, steps_per_epoch). Its state is saved with the trainer's, so a resumed run's
    history continues the interrupted one's.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}

    def __repr__(self) -> str:
        return f"History(epoch={self.epoch}, keys={sorted(self.history)})"


class EarlyStopping(Callback):
    """Stops training when a monitored value has stopped improving (Keras' callback).

    At each epoch end, ``value`` improves on ``best`` when ``value < best - min_delta``
    (``"min"``) or ``value > best + min_delta`` (``"max"``); after ``patience`` epochs in a row
    without improvement, ``trainer.stop_training`` is set.

    Args:
        monitor: the log to watch. Default ``"val_loss"``.
        min_delta: the smallest change that counts as an improvement, >= 0.
        patience: epochs without improvement before stopping, >= 0.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (``"max"`` for names containing ``acc``,
            ``auc``, ``precision``, ``recall`` or ``f1``, else ``"min"``).
        baseline: a value the monitor must beat; until it does, epochs count as no improvement.
        restore_best_weights: put the variables of the best epoch back when training ends.
        start_from_epoch: epochs to wait before watching at all.

    Attributes:
        stopped_epoch: the epoch training was stopped at (0 if it was not), best, best_epoch.

    .. note::
        Keras restores the best weights only when it stops early. Here they are restored
        whenever training ends through ``on_train_end`` (stopped, or out of epochs), so the
        variables after ``fit`` are always the best epoch's. Only the variables are restored,
        not the optimizer's slots (as Keras).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        self.monitor = check_monitor(monitor)
        self.min_delta = abs(check_real("min_delta", min_delta, NONNEGATIVE))
        self.patience = check_nonnegative_int("patience", patience)
        self.mode = monitor_mode(monitor, mode)
        self.baseline = None if baseline is None else check_real("baseline", baseline)
        self.restore_best_weights = check_bool("restore_best_weights", restore_best_weights)
        self.start_from_epoch = check_nonnegative_int("start_from_epoch", start_from_epoch)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] | None = None

    def _improves(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warn_missing_monitor("EarlyStopping", self.monitor, logs)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = [v.numpy() for v in self.trainer.var_list]
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = [v.numpy() for v in self.trainer.var_list]
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            self.trainer.stop_reason = (
                f"EarlyStopping: {self.monitor} did not improve on {self.best:.6g} (epoch "
                f"{self.best_epoch + 1}) for {self.wait} epochs"
            )

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            for var, value in zip(self.trainer.var_list, self.best_weights):
                var.assign(value)

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": None
            if self.best_weights is None
            else [encode_array(a) for a in self.best_weights],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else [decode_array(r) for r in weights]


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when a monitored value stops improving.

    Keras' rule, at each epoch end: an improvement (by more than ``min_delta``) resets the wait;
    otherwise, outside a cooldown, after ``patience`` epochs the rate becomes
    ``max(rate * factor, min_lr)`` and a cooldown of ``cooldown`` epochs starts. The rate in
    effect is added to the epoch logs as ``"learning_rate"``.

    The optimizer's ``learning_rate`` may be a float or a schedule (a zero-argument callable):
    a schedule is multiplied by the accumulated factor, so it keeps its shape. The factor is
    part of the callback's state and comes back with a resumed run. Wrapping optimizers (one
    with ``inner_optimizer``) have their wrapped optimizer's rate changed.

    Args:
        monitor: the log to watch. Default ``"val_loss"``.
        factor: in (0, 1). Default 0.1.
        patience: epochs without improvement before reducing. Default 10.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (see :class:`EarlyStopping`).
        min_delta: the smallest change that counts as an improvement. Default 1e-4.
        cooldown: epochs to wait after a reduction before counting again. Default 0.
        min_lr: the rate never goes below this (by this callback). Default 0.

    Raises:
        ValueError: ``factor`` not in (0, 1), a negative value.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        self.monitor = check_monitor(monitor)
        self.factor = check_real("factor", factor, _UNIT_OPEN)
        self.patience = check_nonnegative_int("patience", patience)
        self.mode = monitor_mode(monitor, mode)
        self.min_delta = abs(check_real("min_delta", min_delta, NONNEGATIVE))
        self.cooldown = check_nonnegative_int("cooldown", cooldown)
        self.min_lr = check_real("min_lr", min_lr, NONNEGATIVE)
        self._rate: LearningRate | None = None
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def set_trainer(self, trainer: Trainer) -> None:
        super().set_trainer(trainer)
        self._rate = LearningRate(trainer.optimizer)

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._reset()

    @property
    def learning_rate(self) -> float:
        """The learning rate in effect now."""
        return self._rate.value()

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs if logs is not None else {}
        logs["learning_rate"] = self._rate.value()
        value = logs.get(self.monitor)
        if value is None:
            warn_missing_monitor("ReduceLROnPlateau", self.monitor, logs)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if improved:
            self.best, self.wait = value, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self._rate.value()
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    base = self._rate.base_value()
                    scale = new / base if base > 0 else self._rate.scale * self.factor
                    self._rate.set_scale(scale)
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "cooldown_counter": self.cooldown_counter,
            "best": self.best,
            "scale": self._rate.scale if self._rate is not None else 1.0,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.best = float(state["best"])
        self._rate.set_scale(float(state["scale"]))


class TerminateOnNaN(Callback):
    """Stops training after a step whose loss (the epoch's running mean) is NaN or infinite.

    What the variables hold then depends on the optimizer's ``nonfinite=`` policy: with
    ``"skip"`` the bad step was skipped and they are at the last finite step; with
    ``"propagate"`` (TF and Keras) the bad step was applied. With the default ``"raise"`` the
    optimizer raises ``FloatingPointError`` out of ``fit`` before this callback runs, having
    changed nothing.

    Attributes:
        stopped_step: the 0-based step whose loss was not finite, or None.
    """

    def __init__(self) -> None:
        self.stopped_step: int | None = None

    def on_train_batch_end(self, step: int, logs: dict[str, float] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped_step = step
            self.trainer.stop_training = True
            self.trainer.stop_reason = f"TerminateOnNaN: loss is {loss} at step {step}"


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` then the logs' keys in sorted order.

    The file is opened, written and closed at each epoch end, so an interrupted run leaves a
    complete file. Keys that first appear after the header was written are left out; missing
    ones are written as ``NA`` (Keras' rule).

    Args:
        filename: the CSV file.
        separator: the column separator. Default ``","``.
        append: add to an existing file (its header is kept) instead of overwriting it.
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"`separator` must be a one-character string, got {separator!r}.")
        self.separator = separator
        self.append = bool(append)
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._keys = None
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
        elif not self.append:
            with open(self.filename, "w", newline=""):
                pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        with open(self.filename, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if self._keys is None:
                self._keys = sorted(logs)
                writer.writerow(["epoch", *self._keys])
            writer.writerow(
                [epoch, *(repr(float(logs[k])) if k in logs else "NA" for k in self._keys)]
            )


class MovingAverage(Callback):
    """Keeps an :class:`~optim.ExponentialMovingAverage` of the variables during training.

    After every step, ``ema.apply(var_list)``; with ``validate_with_averages`` the validation
    at each epoch end runs with the averages swapped in (and the raw values back after). The
    averages are part of the callback's state, so checkpoints carry them.

    With an optimizer that has train/eval modes (Schedule-Free, :mod:`optim.modes`), each
    ``apply`` runs in eval mode: the average is of the ``x`` sequence, the point Schedule-Free
    evaluates, not of the training points ``y`` (see :class:`optim.ExponentialMovingAverage`).

    Args:
        ema: the ``ExponentialMovingAverage``.
        var_list: the variables to average; default the trainer's ``var_list``.
        validate_with_averages: evaluate ``validation_data`` with the averages. Default True.
    """

    def __init__(
        self,
        ema: Any,
        var_list: Sequence[Variable] | None = None,
        validate_with_averages: bool = True,
    ) -> None:
        from ..ema import ExponentialMovingAverage

        if not isinstance(ema, ExponentialMovingAverage):
            raise TypeError(f"`ema` must be an optim.ExponentialMovingAverage, got {ema!r}.")
        self.ema = ema
        self.var_list = None if var_list is None else list(var_list)
        self.validate_with_averages = bool(validate_with_averages)
        self._swap: contextlib.ExitStack | None = None

    def _variables(self) -> list[Variable]:
        return self.trainer.var_list if self.var_list is None else self.var_list

    def on_train_batch_end(self, step: int, logs: dict[str, float] | None = None) -> None:
        from ..modes import evaluation_mode

        with evaluation_mode(self.trainer.optimizer):
            self.ema.apply(self._variables())

    def on_test_begin(self, logs: dict[str, float] | None = None) -> None:
        variables = self._variables()
        if self.validate_with_averages and all(self.ema.average(v) is not None for v in variables):
            self._swap = contextlib.ExitStack()
            self._swap.enter_context(self.ema.swapped(variables))

    def on_test_end(self, logs: dict[str, float] | None = None) -> None:
        if self._swap is not None:
            swap, self._swap = self._swap, None
            swap.close()

    def state_dict(self) -> dict[str, Any]:
        return encode_tree(self.ema.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ema.load_state_dict(decode_tree(state), self._variables())


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``.

    Args:
        on_train_begin, on_train_end: ``f(logs)``.
        on_epoch_begin, on_epoch_end: ``f(epoch, logs)``.
        on_train_batch_begin, on_train_batch_end: ``f(step, logs)``.
    """

    _HOOKS = (
        "on_train_begin",
        "on_train_end",
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_batch_begin",
        "on_train_batch_end",
    )

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        for name, fn in hooks.items():
            if name not in self._HOOKS:
                raise TypeError(f"`{name}` must be one of the hooks {self._HOOKS}.")
            if not callable(fn):
                raise TypeError(f"`{name}` must be callable, got {fn!r}.")
            setattr(self, name, fn)
