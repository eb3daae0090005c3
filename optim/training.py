"""A Keras-shaped training loop for losses written over Variables.

``optim.fit(loss, x, y, optimizer=opt, epochs=5)`` draws mini-batches from numpy arrays and calls
``opt.minimize`` once per batch with a loss ``loss(x_batch, y_batch)``; it returns a
:class:`History`. Callbacks use Keras' hook names and run *between* steps, never inside one.

Behind ``fit`` sits :class:`Trainer`, which holds the data-order state (epoch, position in the
epoch, step count, seed). That state is plain data (:meth:`Trainer.state_dict`), saved in the
``extra`` of every checkpoint :class:`ModelCheckpoint` writes, so a run resumes mid-epoch on the
very batch it would have drawn next::

    trainer = optim.training.Trainer(loss, x, y, optimizer=opt, batch_size=64)
    trainer.fit(epochs=10, callbacks=[ModelCheckpoint("run1", save_freq=100, resume=True)])

The order of epoch ``e`` is ``numpy.random.default_rng([seed, e]).permutation(n)``: a pure
function of the seed and the epoch, so resuming needs no generator state.
"""

from __future__ import annotations

import contextlib
import csv
import math
import numbers
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .optimizer import Optimizer
from .variables import Variable, trainable_variables

__all__ = [
    "fit",
    "Trainer",
    "Callback",
    "History",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "CSVLogger",
    "ModelCheckpoint",
    "MovingAverage",
    "LambdaCallback",
]

STATE_VERSION = 1


# -- data ----------------------------------------------------------------------------------------
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


def _check_data(x: Any, y: Any, x_arg: str, y_arg: str) -> tuple[Any, Any, int]:
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


def _take(data: Any, rows: np.ndarray | slice) -> Any:
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: _take(v, rows) for k, v in data.items()}
    if isinstance(data, tuple):
        return tuple(_take(v, rows) for v in data)
    return data[rows]


def _check_positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        extra = " or None" if allow_none else ""
        raise TypeError(f"`{name}` must be a positive integer{extra}, got {value!r}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def _scalar(value: Any, what: str) -> float:
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must return a real scalar, got {value!r}.")
    return float(array)


# -- whole steps under Ctrl-C ----------------------------------------------------------------------
class _WholeSteps:
    """Delays a Ctrl-C that arrives inside a step until the step is done.

    Installed for a whole ``fit`` (only in the main thread, and only when SIGINT has Python's
    default handler: a handler of the caller's is left alone). Inside a step, the first
    Ctrl-C is held and raised as ``KeyboardInterrupt`` once the step is complete; a second one
    raises at once. Between steps, Ctrl-C raises at once, as usual.
    """

    def __init__(self) -> None:
        self.in_step = False
        self.pending = False
        self.installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.in_step and not self.pending:
            self.pending = True
            return
        raise KeyboardInterrupt

    def __enter__(self) -> _WholeSteps:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handler)
            self.installed = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.installed = False

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        self.in_step, self.pending = True, False
        try:
            yield
        finally:
            self.in_step = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


# -- JSON-able arrays (checkpoint ``extra`` is JSON) -----------------------------------------------
def _encode_array(array: np.ndarray) -> dict[str, Any]:
    array = np.asarray(array)
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": array.ravel().tolist()}


def _decode_array(record: dict[str, Any]) -> np.ndarray:
    return np.asarray(record["data"], dtype=record["dtype"]).reshape(record["shape"])


def _encode_tree(node: Any) -> Any:
    if isinstance(node, np.ndarray):
        return {"__array__": _encode_array(node)}
    if isinstance(node, dict):
        return {k: _encode_tree(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_encode_tree(v) for v in node]
    if isinstance(node, np.generic):
        return node.item()
    return node


def _decode_tree(node: Any) -> Any:
    if isinstance(node, dict) and set(node) == {"__array__"}:
        return _decode_array(node["__array__"])
    if isinstance(node, dict):
        return {k: _decode_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decode_tree(v) for v in node]
    return node


# -- the learning rate, changeable between steps ------------------------------------------------
class _ScaledLearningRate:
    """A schedule times a factor: what ReduceLROnPlateau installs over a callable rate."""

    __slots__ = ("base", "scale")

    def __init__(self, base: Callable[[], Any], scale: float) -> None:
        self.base, self.scale = base, scale

    def __call__(self) -> float:
        return float(self.base()) * self.scale

    def __repr__(self) -> str:
        return f"{self.scale!r} * {self.base!r}"


class _LearningRate:
    """Reads and scales an optimizer's ``learning_rate`` hyperparameter between steps.

    A float rate ``r`` becomes ``r * scale``; a schedule ``s`` becomes ``lambda: s() * scale``,
    set through :meth:`Optimizer.set_hyper` (which validates it).
    """

    def __init__(self, optimizer: Optimizer) -> None:
        inner = optimizer
        while hasattr(inner, "inner_optimizer"):
            inner = inner.inner_optimizer
        try:
            value = inner.get_hyper("learning_rate")
        except (AttributeError, ValueError):
            raise ValueError(
                f"`optimizer` must have a `learning_rate` hyperparameter to be changed, got "
                f"{optimizer!r}."
            ) from None
        self._optimizer = inner
        if isinstance(value, _ScaledLearningRate):  # installed by an earlier fit
            self._base, self.scale = value.base, value.scale
        else:
            self._base, self.scale = value, 1.0

    def value(self) -> float:
        """The learning rate in effect now."""
        rate = self._optimizer.get_hyper("learning_rate")
        return float(rate() if callable(rate) else rate)

    def base_value(self) -> float:
        return float(self._base() if callable(self._base) else self._base)

    def set_scale(self, scale: float) -> None:
        if callable(self._base):
            rate = self._base if scale == 1.0 else _ScaledLearningRate(self._base, scale)
        else:
            rate = self._base * scale
        self._optimizer.set_hyper("learning_rate", rate)
        self.scale = scale


# -- callbacks -----------------------------------------------------------------------------------
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
    #: includes what the others did at that step).
    _runs_last = False

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


def _monitor_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be one of ('auto', 'min', 'max'), got {mode!r}.")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    return "max" if any(s in name for s in ("acc", "auc", "precision", "recall", "f1")) else "min"


def _check_monitor(monitor: Any) -> str:
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(f"`monitor` must be a non-empty string, got {monitor!r}.")
    return monitor


def _check_real(name: str, value: Any, low: float | None = None, high: float | None = None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or (low is not None and value < low):
        raise ValueError(f"`{name}` must be a finite number >= {low}, got {value!r}.")
    if high is not None and value >= high:
        raise ValueError(f"`{name}` must be < {high}, got {value!r}.")
    return value


def _check_nonnegative_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a non-negative integer, got {value!r}.")
    if value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer, got {value!r}.")
    return int(value)


def _missing_monitor(owner: str, monitor: str, logs: dict[str, Any]) -> None:
    warnings.warn(
        f"{owner} monitors {monitor!r}, which is not in the logs {sorted(logs)}; it is ignored "
        "for this epoch.",
        UserWarning,
        stacklevel=3,
    )


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
        self.monitor = _check_monitor(monitor)
        self.min_delta = abs(_check_real("min_delta", min_delta, 0.0))
        self.patience = _check_nonnegative_int("patience", patience)
        self.mode = _monitor_mode(monitor, mode)
        self.baseline = None if baseline is None else _check_real("baseline", baseline)
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise TypeError(f"`restore_best_weights` must be a bool, got {restore_best_weights!r}.")
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _check_nonnegative_int("start_from_epoch", start_from_epoch)
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
            _missing_monitor("EarlyStopping", self.monitor, logs)
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
            else [_encode_array(a) for a in self.best_weights],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else [_decode_array(r) for r in weights]


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
        self.monitor = _check_monitor(monitor)
        factor = _check_real("factor", factor, 0.0, 1.0)
        if factor == 0.0:
            raise ValueError(f"`factor` must be in (0, 1), got {factor!r}.")
        self.factor = factor
        self.patience = _check_nonnegative_int("patience", patience)
        self.mode = _monitor_mode(monitor, mode)
        self.min_delta = abs(_check_real("min_delta", min_delta, 0.0))
        self.cooldown = _check_nonnegative_int("cooldown", cooldown)
        self.min_lr = _check_real("min_lr", min_lr, 0.0)
        self._rate: _LearningRate | None = None
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def set_trainer(self, trainer: Trainer) -> None:
        super().set_trainer(trainer)
        self._rate = _LearningRate(trainer.optimizer)

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
            _missing_monitor("ReduceLROnPlateau", self.monitor, logs)
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


class ModelCheckpoint(Callback):
    """Saves checkpoints (:mod:`optim.checkpoint`) that resume training exactly.

    Each checkpoint ``<directory>/<checkpoint_name>-<step>.npz`` holds the variables, the
    optimizer's whole state, the global step, and in ``extra["trainer"]`` the trainer's state:
    data position (epoch, batch, step, seed), the epoch's running sums and every callback's
    state (History, EarlyStopping, ReduceLROnPlateau, MovingAverage...). Restoring one with
    :meth:`Trainer.restore` (or ``resume=True``) continues on the batch that came next.

    Args:
        directory: where checkpoints go (created on first save).
        save_freq: ``"epoch"`` (at each epoch end) or an int ``k``: after every ``k`` steps.
        max_to_keep: how many recent checkpoints to keep (None: all). Default 5.
        checkpoint_name: the file name prefix. Default ``"ckpt"``.
        monitor, mode, save_best_only: with ``save_best_only``, save only when ``monitor``
            improved (``mode`` as :class:`EarlyStopping`).
        resume: at the start of training, restore the latest checkpoint in ``directory`` if
            there is one (Keras' ``BackupAndRestore``).
        var_list: the variables to save; default the trainer's ``var_list``.

    Attributes:
        last_saved: the path of the last checkpoint written by this callback, or None.
        restored_from: the checkpoint ``resume`` restored, or None.

    It runs after every other callback and after History, wherever it is in ``callbacks``, so
    a checkpoint includes what they did at that step (an EMA update, the epoch's history).
    """

    _runs_last = True

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
        from .checkpoint import CheckpointManager

        if save_freq != "epoch":
            save_freq = _check_positive_int("save_freq", save_freq)
        self.save_freq = save_freq
        self.manager = CheckpointManager(directory, max_to_keep, checkpoint_name)
        self.monitor = _check_monitor(monitor)
        self.mode = _monitor_mode(monitor, mode)
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
                _missing_monitor("ModelCheckpoint", self.monitor, logs)
                return
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        trainer = self.trainer
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
        if self.save_freq == "epoch":
            self._save(logs or {})

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])


class MovingAverage(Callback):
    """Keeps an :class:`~optim.ExponentialMovingAverage` of the variables during training.

    After every step, ``ema.apply(var_list)``; with ``validate_with_averages`` the validation
    at each epoch end runs with the averages swapped in (and the raw values back after). The
    averages are part of the callback's state, so checkpoints carry them.

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
        from .ema import ExponentialMovingAverage

        if not isinstance(ema, ExponentialMovingAverage):
            raise TypeError(f"`ema` must be an optim.ExponentialMovingAverage, got {ema!r}.")
        self.ema = ema
        self.var_list = None if var_list is None else list(var_list)
        self.validate_with_averages = bool(validate_with_averages)
        self._swap: contextlib.ExitStack | None = None

    def _variables(self) -> list[Variable]:
        return self.trainer.var_list if self.var_list is None else self.var_list

    def on_train_batch_end(self, step: int, logs: dict[str, float] | None = None) -> None:
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
        return _encode_tree(self.ema.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ema.load_state_dict(_decode_tree(state), self._variables())


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


# -- progress ------------------------------------------------------------------------------------
def _format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


class _Progress(Callback):
    """A tqdm bar per epoch (step, loss, metrics), or one line per epoch (``verbose=2``).

    Output goes to stdout. ``verbose="auto"`` shows it only when stdout is a terminal (tqdm's
    ``disable=None``); without tqdm (the ``examples`` extra) the bar falls back to lines.
    """

    def __init__(self, verbose: Any, epochs: int | None) -> None:
        self.epochs = epochs
        self.bar: Any = None
        self.lines = verbose == 2
        self.visible = verbose != "auto" or _isatty(sys.stdout)
        if not self.lines:
            try:
                import tqdm  # noqa: F401
            except ImportError:
                self.lines = True

    def _label(self, epoch: int) -> str:
        total = f"/{self.epochs}" if self.epochs is not None else ""
        return f"epoch {epoch + 1}{total}"

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.lines or not self.visible:
            return
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(
            total=self.trainer.steps_per_epoch,
            initial=self.trainer.batch,
            desc=self._label(epoch),
            unit="step",
            file=sys.stdout,
            dynamic_ncols=True,
        )

    def on_train_batch_end(self, step: int, logs: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix({"step": step + 1, **(logs or {})}, refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix({"step": self.trainer.step, **(logs or {})}, refresh=True)
            self.close()
        elif self.lines and self.visible:
            line = f"{self._label(epoch)} - step {self.trainer.step} - {_format_logs(logs or {})}"
            print(line, flush=True)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self.close()
        if self.trainer.stop_reason and self.visible:
            print(self.trainer.stop_reason, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.close()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# -- the trainer -----------------------------------------------------------------------------------
class Trainer:
    """Runs ``optimizer.minimize`` over mini-batches and keeps the position in the data.

    Args:
        loss: ``loss(x_batch, y_batch)`` returning a float scalar; it reads variables through
            ``.value`` (``y_batch`` is None when ``y`` is None).
        x: an array, or a tuple or dict of arrays, with the examples along the first axis.
        y: the same for the targets, or None.
        optimizer: any :class:`optim.Optimizer` (a wrapper such as
            ``GradientAccumulationOptimizer`` too).
        var_list: the variables to train; default: the trainable variables of the default
            graph when the trainer is made.
        batch_size: examples per step, a positive int; the last batch of an epoch holds the
            remainder (it is smaller, never dropped).
        metrics: ``{name: fn(x_batch, y_batch)}``, each returning a scalar; evaluated without
            gradients, on the same parameters as the step's loss (before its update), and
            averaged over the epoch weighted by batch size.
        shuffle: reshuffle the examples every epoch. Default True.
        seed: the shuffle seed, an int >= 0; None draws one (kept in the state, so a resumed
            run still follows the same order).
        global_step: an integer Variable that each step increments (``minimize``'s), or None.

    Attributes:
        epoch, batch, step: the next epoch (0-based), the next batch within it, and the steps
            run so far. They describe whole steps only.
        stop_training: set by a callback to end training after the current step.
        stop_reason: why a callback stopped training, or None.

    Raises:
        TypeError: ``loss`` not callable, ``optimizer`` not an Optimizer, data that are not
            arrays, a ``batch_size`` that is not an int, bad metrics or variables.
        ValueError: inputs and labels of different lengths, an empty data set, a
            ``batch_size`` <= 0. Nothing has run when it raises.
    """

    def __init__(
        self,
        loss: Callable[[Any, Any], Any],
        x: Any,
        y: Any = None,
        *,
        optimizer: Optimizer,
        var_list: Sequence[Variable] | None = None,
        batch_size: int = 32,
        metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
        shuffle: bool = True,
        seed: int | None = 0,
        global_step: Variable | None = None,
    ) -> None:
        if not callable(loss):
            raise TypeError(f"`loss` must be a callable loss(x_batch, y_batch), got {loss!r}.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"`optimizer` must be an optim.Optimizer, got {optimizer!r}.")
        self.batch_size = _check_positive_int("batch_size", batch_size)
        self._x, self._y, self.num_examples = _check_data(x, y, "x", "y")
        self.var_list = _check_var_list(var_list)
        self.metrics = _check_metrics(metrics)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"`shuffle` must be a bool, got {shuffle!r}.")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        self.seed = _check_nonnegative_int("seed", seed)
        if global_step is not None and (
            not isinstance(global_step, Variable)
            or global_step.dtype.kind not in "iu"
            or global_step.ndim != 0
        ):
            raise TypeError(
                "`global_step` must be an integer scalar optim.Variable or None, "
                f"got {global_step!r}."
            )
        self.loss = loss
        self.optimizer = optimizer
        self.shuffle = bool(shuffle)
        self.global_step = global_step
        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.stop_training = False
        self.stop_reason: str | None = None
        self._sums: dict[str, float] = {}
        self._count = 0
        self._callbacks: list[Callback] = []
        self._pending_callback_states: dict[str, Any] | None = None
        self._whole_steps = _WholeSteps()

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.num_examples // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The example order of ``epoch``: ``default_rng([seed, epoch]).permutation(n)``."""
        if not self.shuffle:
            return np.arange(self.num_examples)
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)

    # -- one step ----------------------------------------------------------------------------
    def _run_step(self, rows: np.ndarray) -> dict[str, float]:
        x_batch, y_batch = _take(self._x, rows), _take(self._y, rows)
        size = len(rows)
        with self._whole_steps.step():
            values = {
                name: _scalar(fn(x_batch, y_batch), f"metric {name!r}")
                for name, fn in self.metrics.items()
            }
            loss = self.optimizer.minimize(
                lambda: self.loss(x_batch, y_batch),
                global_step=self.global_step,
                var_list=self.var_list,
            )
            values = {"loss": float(np.asarray(loss)), **values}
            # Bookkeeping inside the guard: a deferred Ctrl-C surfaces after it, between steps.
            for name, value in values.items():
                self._sums[name] = self._sums.get(name, 0.0) + value * size
            self._count += size
            self.batch += 1
            self.step += 1
        return self._means()

    def _means(self) -> dict[str, float]:
        return {name: total / self._count for name, total in self._sums.items()}

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = None) -> dict[str, float]:
        """The loss and metrics on ``(x, y)``, without gradients, averaged by batch size.

        Raises:
            TypeError, ValueError: as for the training data.
        """
        batch_size = self.batch_size if batch_size is None else batch_size
        batch_size = _check_positive_int("batch_size", batch_size)
        x, y, n = _check_data(x, y, "x", "y")
        return self._evaluate(x, y, n, batch_size)

    def _evaluate(self, x: Any, y: Any, n: int, batch_size: int) -> dict[str, float]:
        sums: dict[str, float] = {}
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n))
            x_batch, y_batch = _take(x, rows), _take(y, rows)
            size = rows.stop - rows.start
            values = {"loss": _scalar(self.loss(x_batch, y_batch), "`loss`")}
            for name, fn in self.metrics.items():
                values[name] = _scalar(fn(x_batch, y_batch), f"metric {name!r}")
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value * size
        return {name: total / n for name, total in sums.items()}

    # -- the loop ------------------------------------------------------------------------------
    def fit(
        self,
        epochs: int | None = None,
        steps: int | None = None,
        validation_data: tuple[Any, Any] | None = None,
        callbacks: Sequence[Callback] = (),
        verbose: int | str = "auto",
    ) -> History:
        """Trains until ``epochs`` epochs or ``steps`` steps are done, counted from the start.

        The counts include what ran before a restore (as Keras' ``epochs`` with
        ``initial_epoch``, or an Estimator's ``max_steps``): a run resumed at step 700 with
        ``steps=1000`` runs 300 more. With both, training ends at whichever comes first; with
        neither, one epoch. An epoch cut short (by ``steps`` or ``stop_training``) still gets
        its ``on_epoch_end`` (means over the batches run, and validation); resumed, it goes on
        from the next batch and reports the whole epoch at its end.

        Args:
            epochs: the epoch to stop at, a positive int or None.
            steps: the step to stop at, a positive int or None.
            validation_data: ``(x_val, y_val)`` (``y_val`` may be None), evaluated at every
                epoch end; the logs get ``val_loss`` and ``val_<metric>``.
            callbacks: :class:`Callback` instances, called in order: a progress bar first,
                then these, then the returned :class:`History`, then :class:`ModelCheckpoint`.
            verbose: 0 silent; 1 a tqdm bar per epoch (step, loss, metrics); 2 one line per
                epoch; ``"auto"`` (default) as 1 when stdout is a terminal, else silent.

        Returns:
            A :class:`History` of the epoch logs.

        Raises:
            TypeError, ValueError: bad arguments, before any callback or step runs.
            KeyboardInterrupt: from a callback, or Ctrl-C (delivered after the current step
                completes; a second Ctrl-C stops at once). Variables, optimizer and this
                trainer are then at a whole step.
        """
        epochs = _check_positive_int("epochs", epochs, allow_none=True)
        steps = _check_positive_int("steps", steps, allow_none=True)
        if epochs is None and steps is None:
            epochs = 1
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(
                    "`validation_data` must be a tuple (x_val, y_val), got "
                    f"{type(validation_data).__name__}."
                )
            validation = _check_data(*validation_data, "validation_data[0]", "validation_data[1]")
        callbacks = list(callbacks)
        for i, cb in enumerate(callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"`callbacks[{i}]` must be an optim.training.Callback, got {cb!r}.")
        if verbose not in (0, 1, 2, "auto") or isinstance(verbose, float):
            raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto', got {verbose!r}.")

        history = History()
        history.params = {
            "epochs": epochs,
            "steps": steps,
            "batch_size": self.batch_size,
            "samples": self.num_examples,
            "steps_per_epoch": self.steps_per_epoch,
        }
        progress = _Progress(verbose, epochs) if verbose != 0 else None
        first = [cb for cb in callbacks if not cb._runs_last]
        last = [cb for cb in callbacks if cb._runs_last]
        self._callbacks = ([progress] if progress else []) + first + [history] + last
        for cb in self._callbacks:
            cb.set_trainer(self)
        self.stop_training = False
        self.stop_reason = None

        try:
            with self._whole_steps:
                self._loop(epochs, steps, validation)
        finally:
            if progress is not None:
                progress.close()
        return history

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self._callbacks:
            getattr(cb, hook)(*args)

    def _loop(self, epochs: int | None, steps: int | None, validation: Any) -> None:
        """The epochs and steps of :meth:`fit`, its arguments checked."""

        def more_steps() -> bool:
            return not self.stop_training and (steps is None or self.step < steps)

        logs: dict[str, float] = {}
        self._call("on_train_begin", {})
        self._load_callback_states()
        per_epoch = self.steps_per_epoch
        while more_steps() and (epochs is None or self.epoch < epochs):
            epoch, ran = self.epoch, 0
            self._call("on_epoch_begin", epoch, {})
            order = self.order(epoch)
            while self.batch < per_epoch and more_steps():
                start = self.batch * self.batch_size
                rows = order[start : start + self.batch_size]
                step = self.step
                self._call("on_train_batch_begin", step, {"batch": self.batch, "size": len(rows)})
                batch_logs = self._run_step(rows)
                ran += 1
                self._call("on_train_batch_end", step, batch_logs)
            if self._count == 0 or (ran == 0 and self.batch < per_epoch):
                break  # stopped before this epoch's first step: nothing to report
            logs = self._means()
            if validation is not None:
                self._call("on_test_begin", {})
                val_logs: dict[str, float] = {}
                try:
                    val_logs = self._evaluate(*validation, self.batch_size)
                finally:
                    self._call("on_test_end", val_logs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if self.batch >= per_epoch:
                self.epoch, self.batch = epoch + 1, 0
                self._sums, self._count = {}, 0
            self._call("on_epoch_end", epoch, logs)
        self._call("on_train_end", logs)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The trainer's position and its callbacks' states, as JSON-able data.

        ``{"version", "epoch", "batch", "step", "seed", "shuffle", "num_examples",
        "batch_size", "epoch_sums", "epoch_count", "callbacks": {name: state}}``; a callback's
        name is its class name (``_1``, ``_2``... for repeats).
        """
        return {
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.step,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "num_examples": self.num_examples,
            "batch_size": self.batch_size,
            "epoch_sums": dict(self._sums),
            "epoch_count": self._count,
            "callbacks": {
                key: state
                for key, cb in self._named_callbacks().items()
                if (state := cb.state_dict()) is not None
            },
        }

    def _named_callbacks(self) -> dict[str, Callback]:
        named: dict[str, Callback] = {}
        for cb in self._callbacks:
            base = key = type(cb).__name__
            n = 0
            while key in named:
                n += 1
                key = f"{base}_{n}"
            named[key] = cb
        return named

    def _check_state(self, state: Any) -> None:
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise ValueError(
                f"`state` must be a Trainer state of version {STATE_VERSION}, got "
                f"{type(state).__name__} with version {version!r}."
            )
        for key, mine in (
            ("num_examples", self.num_examples),
            ("batch_size", self.batch_size),
            ("shuffle", self.shuffle),
        ):
            if state.get(key) != mine:
                raise ValueError(
                    f"`state` was saved with {key}={state.get(key)!r}, this trainer has "
                    f"{key}={mine!r}: the data order cannot be resumed."
                )
        if not 0 <= int(state["batch"]) <= self.steps_per_epoch:
            raise ValueError(
                f"`state['batch']` must be in [0, {self.steps_per_epoch}], got {state['batch']!r}."
            )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` output; callback states are handed over after the
        next ``on_train_begin`` (to the callbacks of the same names).

        Raises:
            ValueError: another version, or a different number of examples, batch size or
                shuffle setting (the data order would differ). Nothing is changed then.
        """
        self._check_state(state)
        self.epoch = int(state["epoch"])
        self.batch = int(state["batch"])
        self.step = int(state["step"])
        self.seed = int(state["seed"])
        self._sums = {k: float(v) for k, v in state["epoch_sums"].items()}
        self._count = int(state["epoch_count"])
        self._pending_callback_states = dict(state.get("callbacks", {}))

    def _load_callback_states(self) -> None:
        pending, self._pending_callback_states = self._pending_callback_states, None
        if not pending:
            return
        for key, cb in self._named_callbacks().items():
            if key in pending:
                cb.load_state_dict(pending[key])

    def restore(self, path: str | os.PathLike, var_list: Sequence[Variable] | None = None):
        """Restores a checkpoint written by :class:`ModelCheckpoint`: variables, optimizer,
        global step and this trainer's state.

        Args:
            path: the checkpoint file.
            var_list: the variables to restore; default this trainer's ``var_list``.

        Returns:
            The checkpoint's ``extra`` dict.

        Raises:
            ValueError (``CheckpointError``): a checkpoint without trainer state, or one that
                does not match (see :func:`optim.checkpoint.restore_checkpoint`). The trainer
                state is checked before anything is restored.
        """
        from .checkpoint import CheckpointError, read_checkpoint, restore_checkpoint

        state = read_checkpoint(path)["extra"].get("trainer")
        if state is None:
            raise CheckpointError(f"Checkpoint {os.fspath(path)!r} holds no trainer state.")
        self._check_state(state)
        extra = restore_checkpoint(
            path,
            var_list=self.var_list if var_list is None else var_list,
            optimizer=self.optimizer,
            global_step=self.global_step,
        )
        self.load_state_dict(extra["trainer"])
        return extra

    def __repr__(self) -> str:
        return (
            f"Trainer(examples={self.num_examples}, batch_size={self.batch_size}, "
            f"epoch={self.epoch}, batch={self.batch}, step={self.step})"
        )


def _check_var_list(var_list: Any) -> list[Variable]:
    if var_list is None:
        variables = trainable_variables()
    elif isinstance(var_list, Variable):
        variables = [var_list]
    elif isinstance(var_list, (list, tuple)):
        variables = list(var_list)
    else:
        raise TypeError(f"`var_list` must be a list or tuple of optim.Variable, got {var_list!r}.")
    if not variables:
        raise ValueError("`var_list` must hold at least one variable, got none to optimize.")
    for i, var in enumerate(variables):
        if not isinstance(var, Variable):
            raise TypeError(f"`var_list[{i}]` must be an optim.Variable, got {var!r}.")
    return variables


def _check_metrics(metrics: Any) -> dict[str, Callable[[Any, Any], Any]]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"`metrics` must be a dict of name -> fn(x_batch, y_batch), got {metrics!r}."
        )
    for name, fn in metrics.items():
        if not isinstance(name, str) or not name or name == "loss" or name.startswith("val_"):
            raise ValueError(
                f"`metrics` names must be non-empty strings other than 'loss' and not starting "
                f"with 'val_', got {name!r}."
            )
        if not callable(fn):
            raise TypeError(f"`metrics[{name!r}]` must be callable, got {fn!r}.")
    return dict(metrics)


def fit(
    loss: Callable[[Any, Any], Any],
    x: Any,
    y: Any = None,
    *,
    optimizer: Optimizer,
    var_list: Sequence[Variable] | None = None,
    batch_size: int = 32,
    epochs: int | None = None,
    steps: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    callbacks: Sequence[Callback] = (),
    shuffle: bool = True,
    seed: int | None = 0,
    verbose: int | str = "auto",
    global_step: Variable | None = None,
) -> History:
    """Trains ``var_list`` on mini-batches of ``(x, y)``: Keras' ``model.fit`` for a loss.

    Each step draws the next ``batch_size`` examples (reshuffled every epoch with ``seed``)
    and calls ``optimizer.minimize(lambda: loss(x_batch, y_batch), global_step, var_list)``.
    See :class:`Trainer` (the arguments) and :meth:`Trainer.fit` (the loop); this is
    ``Trainer(...).fit(...)`` on a fresh trainer, so ``epochs`` and ``steps`` count this call.

    Args:
        epochs: epochs to run (default 1 without ``steps``); with ``steps``, a cap.
        steps: total steps to run, or None.

    Returns:
        A :class:`History`: ``history.history["loss"]``, ``["val_loss"]``, metrics...

    Example:
        >>> def loss(x, y):
        ...     logits = x @ W.value + b.value
        ...     return np.mean(optim.nn.sparse_softmax_cross_entropy_with_logits(
        ...         labels=y, logits=logits))
        >>> history = optim.fit(loss, x_train, y_train, optimizer=opt, epochs=10,
        ...                     validation_data=(x_val, y_val),
        ...                     callbacks=[EarlyStopping(patience=3)])
    """
    trainer = Trainer(
        loss,
        x,
        y,
        optimizer=optimizer,
        var_list=var_list,
        batch_size=batch_size,
        metrics=metrics,
        shuffle=shuffle,
        seed=seed,
        global_step=global_step,
    )
    return trainer.fit(
        epochs=epochs,
        steps=steps,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )
