"""The Trainer and ``fit``: a Keras-shaped training loop for losses written over Variables.

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

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..gradients import NonScalarLossError, jit_closure
from ..modes import evaluation_mode, set_training
from ..optimizer import Optimizer
from ..validation import check_bool, check_global_step, resolve_var_list
from ..variables import Variable
from .callbacks import Callback, History
from .checks import check_nonnegative_int, check_positive_int
from .data import LOCAL, Distribution, check_data, take
from .interrupts import WholeSteps
from .progress import Progress

__all__ = ["Trainer", "fit", "STATE_VERSION"]

#: The version of :meth:`Trainer.state_dict`'s format.
STATE_VERSION = 1


def _scalar(value: Any, what: str) -> float:
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must return a real scalar, got {value!r}.")
    return float(array)


def _non_scalar_loss(shape: tuple[int, ...], dtype: Any) -> ValueError:
    """The error for a loss that returned an array: ``fit`` takes no ``grad_loss``, so the
    only advice is to reduce it over the batch."""
    return ValueError(
        f"`loss` must return a scalar, got an array of shape {tuple(shape)} and dtype "
        f"{np.dtype(dtype)}; reduce it over the batch (np.mean or np.sum), e.g. "
        "`return np.mean(per_example_losses)`."
    )


def _loss_scalar(value: Any) -> float:
    """A loss value evaluated without gradients, checked as the step checks it."""
    array = np.asarray(value)
    if array.ndim != 0 and array.dtype.kind == "f":
        raise _non_scalar_loss(array.shape, array.dtype)
    return _scalar(value, "`loss`")


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
        distribution: how the work is shared between processes, an
            :class:`optim.training.data.Distribution`; None takes the optimizer's
            ``distribution`` if it has one
            (``optim.distributed.DistributedOptimizer`` does: each rank then trains on its
            shard of every epoch's order, the logs are averaged over the ranks, and only rank
            0 writes checkpoints and shows progress), else one process.
        jit_compile: train and evaluate through :func:`optim.jit_closure` (default True).
            On the jax backend the step's value and gradients are then one compiled call per
            batch shape, with the batch and every variable the loss reads as arguments;
            anything else the loss reads (a global, a dict a callback changes) is frozen at
            the first step, so pass False for such a loss: it then runs eagerly. On autograd
            nothing is compiled either way and the results are the same.

    Attributes:
        epoch, batch, step: the next epoch (0-based), the next batch within it, and the steps
            run so far. They describe whole steps only.
        stop_training: set by a callback to end training after the current step.
        stop_reason: why training stopped early, or None: a callback's reason, or, when a
            restored state left nothing to train, a sentence saying so (the progress output
            shows it when ``verbose`` asked for output).

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
        distribution: Distribution | None = None,
        jit_compile: bool = True,
    ) -> None:
        if not callable(loss):
            raise TypeError(f"`loss` must be a callable loss(x_batch, y_batch), got {loss!r}.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"`optimizer` must be an optim.Optimizer, got {optimizer!r}.")
        self.batch_size = check_positive_int("batch_size", batch_size)
        self._x, self._y, self.num_examples = check_data(x, y, "x", "y")
        self.var_list = resolve_var_list(var_list)
        self.metrics = _check_metrics(metrics)
        shuffle = check_bool("shuffle", shuffle)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        self.seed = check_nonnegative_int("seed", seed)
        global_step = check_global_step(global_step)
        if distribution is None:
            distribution = getattr(optimizer, "distribution", None) or LOCAL
        if not isinstance(distribution, Distribution):
            raise TypeError(
                "`distribution` must be an optim.training.data.Distribution or None, got "
                f"{distribution!r}."
            )
        self.distribution = distribution
        jit_compile = check_bool("jit_compile", jit_compile)
        self.loss = loss
        self.jit_compile = jit_compile
        self._compiled = jit_closure(loss, self.var_list) if jit_compile else None
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
        self._target: tuple[int | None, int | None] | None = None
        self._pending: dict[str, Any] | None = None
        self._whole_steps = WholeSteps()

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.distribution.shard_size(self.num_examples) // self.batch_size)

    @property
    def finished(self) -> bool:
        """True when the current (or last) :meth:`fit` runs no further step: ``stop_training``
        is set, or its ``epochs`` or ``steps`` are reached. False before any ``fit``.

        A callback's ``on_epoch_end`` reads it to know that this epoch end is the last one
        (:class:`ModelCheckpoint` saves it whatever its ``save_freq``).
        """
        if self._target is None:
            return False
        epochs, steps = self._target
        return (
            self.stop_training
            or (steps is not None and self.step >= steps)
            or (epochs is not None and self.epoch >= epochs)
        )

    def order(self, epoch: int) -> np.ndarray:
        """The example order of ``epoch``: ``default_rng([seed, epoch]).permutation(n)``."""
        if not self.shuffle:
            return np.arange(self.num_examples)
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)

    # -- one step ----------------------------------------------------------------------------
    def _run_step(self, rows: np.ndarray) -> dict[str, float]:
        x_batch, y_batch = take(self._x, rows), take(self._y, rows)
        size = len(rows)
        with self._whole_steps.step():
            values = {
                name: _scalar(fn(x_batch, y_batch), f"metric {name!r}")
                for name, fn in self.metrics.items()
            }
            if self._compiled is not None:
                step_loss = self._compiled.bind(x_batch, y_batch)
            else:
                step_loss = lambda: self.loss(x_batch, y_batch)  # noqa: E731
            try:
                loss = self.optimizer.minimize(
                    step_loss,
                    global_step=self.global_step,
                    var_list=self.var_list,
                )
            except NonScalarLossError as exc:  # its advice (`grad_loss`) is not fit's
                raise _non_scalar_loss(exc.shape, exc.dtype) from None
            values = {"loss": float(np.asarray(loss)), **values}
            # Bookkeeping inside the guard: a deferred Ctrl-C surfaces after it, between steps.
            # The sums are over every process's batch (one process: this batch's).
            totals = [size] + [value * size for value in values.values()]
            totals = self.distribution.reduce_sums(totals)
            for name, total in zip(values, totals[1:]):
                self._sums[name] = self._sums.get(name, 0.0) + total
            self._count += int(totals[0])
            self.batch += 1
            self.step += 1
        return self._means()

    def _means(self) -> dict[str, float]:
        return {name: total / self._count for name, total in self._sums.items()}

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = None) -> dict[str, float]:
        """The loss and metrics on ``(x, y)``, without gradients, averaged by batch size.

        An optimizer with train/eval modes (Schedule-Free, see :mod:`optim.modes`) is put in
        eval mode for it, so the evaluated point is its average ``x``, and then back in the
        mode it was in (a training point is restored bit for bit).

        Raises:
            TypeError, ValueError: as for the training data.
        """
        batch_size = self.batch_size if batch_size is None else batch_size
        batch_size = check_positive_int("batch_size", batch_size)
        x, y, n = check_data(x, y, "x", "y")
        with evaluation_mode(self.optimizer):
            return self._evaluate(x, y, n, batch_size)

    def _evaluate(self, x: Any, y: Any, n: int, batch_size: int) -> dict[str, float]:
        sums = dict.fromkeys(["loss", *self.metrics], 0.0)
        loss = self.loss if self._compiled is None else self._compiled
        mine = self.distribution.shard(np.arange(n), pad=False)  # every row, once overall
        for start in range(0, len(mine), batch_size):
            rows = mine[start : start + batch_size]
            x_batch, y_batch = take(x, rows), take(y, rows)
            size = len(rows)
            values = {"loss": _loss_scalar(loss(x_batch, y_batch))}
            for name, fn in self.metrics.items():
                values[name] = _scalar(fn(x_batch, y_batch), f"metric {name!r}")
            for name, value in values.items():
                sums[name] = sums[name] + value * size
        totals = [float(len(mine)), *sums.values()]
        totals = self.distribution.reduce_sums(totals)
        return {name: total / totals[0] for name, total in zip(sums, totals[1:])}

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
            ValueError: a ``loss`` returning an array, not a scalar (its shape and dtype in
                the message), from the step that got it, before that step changed anything.
            KeyboardInterrupt: from a callback, or Ctrl-C (delivered after the current step
                completes; a second Ctrl-C stops at once). Variables, optimizer and this
                trainer are then at a whole step.

        Train and eval modes:
            With an optimizer that has them (Schedule-Free; :mod:`optim.modes`), every step
            runs in train mode (``train()`` is called before ``on_epoch_begin`` and before each
            ``on_train_batch_begin``), while validation, ``on_test_*``, ``on_epoch_end`` and
            ``on_train_end`` run in eval mode: they see the
            average ``x``, the point to evaluate. ``fit`` returns in eval mode, the variables
            holding ``x``, ready for prediction; the next ``fit`` puts the training point back
            bit for bit. Validating thus changes nothing in the training trajectory.
        """
        epochs = check_positive_int("epochs", epochs, allow_none=True)
        steps = check_positive_int("steps", steps, allow_none=True)
        if epochs is None and steps is None:
            epochs = 1
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(
                    "`validation_data` must be a tuple (x_val, y_val), got "
                    f"{type(validation_data).__name__}."
                )
            validation = check_data(*validation_data, "validation_data[0]", "validation_data[1]")
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
        show = verbose != 0 and self.distribution.is_writer  # progress on one process only
        progress = Progress(verbose, epochs) if show else None
        first = [cb for cb in callbacks if not cb.runs_last]
        last = [cb for cb in callbacks if cb.runs_last]
        self._callbacks = ([progress] if progress else []) + first + [history] + last
        for cb in self._callbacks:
            cb.set_trainer(self)
        self.stop_training = False
        self.stop_reason = None
        self._target = (epochs, steps)

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
        """The epochs and steps of :meth:`fit`, its arguments checked (``self._target``)."""
        logs: dict[str, float] = {}
        self._call("on_train_begin", {})
        source = self._apply_restored_state()
        if source is not None and self.finished:
            self.stop_reason = self._nothing_to_train(source, epochs, steps)
        per_epoch = self.steps_per_epoch
        while not self.finished:
            epoch, ran = self.epoch, 0
            set_training(self.optimizer, True)  # steps at the training point (optim.modes)
            self._call("on_epoch_begin", epoch, {})
            order = self.distribution.shard(self.order(epoch))
            while self.batch < per_epoch and not self.finished:
                start = self.batch * self.batch_size
                rows = order[start : start + self.batch_size]
                step = self.step
                set_training(self.optimizer, True)
                self._call("on_train_batch_begin", step, {"batch": self.batch, "size": len(rows)})
                batch_logs = self._run_step(rows)
                ran += 1
                self._call("on_train_batch_end", step, batch_logs)
            if self._count == 0 or (ran == 0 and self.batch < per_epoch):
                break  # stopped before this epoch's first step: nothing to report
            logs = self._means()
            # Validation and the epoch-end callbacks see the evaluation point (optim.modes).
            set_training(self.optimizer, False)
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
        set_training(self.optimizer, False)  # fit leaves the weights to use in the variables
        self._call("on_train_end", logs)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The trainer's position and its callbacks' states, as JSON-able data.

        ``{"version", "epoch", "batch", "step", "seed", "shuffle", "num_examples",
        "batch_size", "epoch_sums", "epoch_count", "stop_training", "stop_reason",
        "callbacks": {name: state}}``; a callback's name is its class name (``_1``, ``_2``...
        for repeats). ``stop_training`` and ``stop_reason`` record a stop a callback asked for
        (an early-stopped run stays stopped when resumed); states saved without them load as
        not stopped.
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
            "stop_training": bool(self.stop_training),
            "stop_reason": self.stop_reason,
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
        if not isinstance(state.get("stop_training", False), bool):
            raise ValueError(
                f"`state['stop_training']` must be a bool, got {state['stop_training']!r}."
            )
        reason = state.get("stop_reason")
        if reason is not None and not isinstance(reason, str):
            raise ValueError(f"`state['stop_reason']` must be a string or None, got {reason!r}.")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` output. The position (epoch, batch, step, the epoch's
        sums) is set now; the callback states and a recorded stop are handed over after the
        next ``on_train_begin`` (callback states to the callbacks of the same names). If the
        next :meth:`fit` then has nothing left to run (the run was stopped, or its ``epochs``
        or ``steps`` are reached), it runs no step and says so in :attr:`stop_reason`.

        Raises:
            ValueError: another version, or a different number of examples, batch size or
                shuffle setting (the data order would differ). Nothing is changed then.
        """
        self._load_state(state, source="the restored state")

    def _load_state(self, state: dict[str, Any], source: str) -> None:
        self._check_state(state)
        self.epoch = int(state["epoch"])
        self.batch = int(state["batch"])
        self.step = int(state["step"])
        self.seed = int(state["seed"])
        self._sums = {k: float(v) for k, v in state["epoch_sums"].items()}
        self._count = int(state["epoch_count"])
        self._pending = {
            "source": source,
            "callbacks": dict(state.get("callbacks", {})),
            "stop_training": state.get("stop_training", False),
            "stop_reason": state.get("stop_reason"),
        }

    def _apply_restored_state(self) -> str | None:
        """Hands a restored state's callback states and stop over; returns its source, or
        None when nothing was restored since the last ``fit`` began."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        for key, cb in self._named_callbacks().items():
            if key in pending["callbacks"]:
                cb.load_state_dict(pending["callbacks"][key])
        if pending["stop_training"]:
            self.stop_training = True
            self.stop_reason = pending["stop_reason"]
        return pending["source"]

    def _nothing_to_train(self, source: str, epochs: int | None, steps: int | None) -> str:
        """The sentence for a restored run that has nothing left to train."""
        where = f"epoch {self.epoch}, step {self.step}"
        if self.stop_training:
            why = f"it had stopped ({self.stop_reason})" if self.stop_reason else "it had stopped"
        else:
            targets = ", ".join(
                f"{name}={value}"
                for name, value in (("epochs", epochs), ("steps", steps))
                if value is not None
            )
            why = f"training to {targets} is complete"
        return f"Nothing to train: resumed from {source} at {where}, and {why}."

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
        from ..checkpoint import CheckpointError, read_checkpoint, restore_checkpoint

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
        self._load_state(extra["trainer"], source=f"checkpoint {os.fspath(path)!r}")
        return extra

    def __repr__(self) -> str:
        return (
            f"Trainer(examples={self.num_examples}, batch_size={self.batch_size}, "
            f"epoch={self.epoch}, batch={self.batch}, step={self.step})"
        )


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
    jit_compile: bool = True,
) -> History:
    """Trains ``var_list`` on mini-batches of ``(x, y)``: Keras' ``model.fit`` for a loss.

    Each step draws the next ``batch_size`` examples (reshuffled every epoch with ``seed``)
    and calls ``optimizer.minimize(step.bind(x_batch, y_batch), global_step, var_list)``, with
    ``step = optim.jit_closure(loss, var_list)`` (compiled on jax; ``jit_compile=False``: the
    plain closure ``lambda: loss(x_batch, y_batch)``). See :class:`Trainer` (the arguments)
    and :meth:`Trainer.fit` (the loop); this is ``Trainer(...).fit(...)`` on a fresh trainer,
    so ``epochs`` and ``steps`` count this call.

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
        jit_compile=jit_compile,
    )
    return trainer.fit(
        epochs=epochs,
        steps=steps,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )
