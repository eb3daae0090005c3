"""optim.fit / Trainer: batching, metrics, callbacks, checkpoint resume, interrupts, bad input."""

import csv
import math
import os
import signal

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim import checkpoint as checkpoint_module
from optim import schedules
from optim.accumulation import GradientAccumulationOptimizer
from optim.ema import ExponentialMovingAverage
from optim.training import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    MovingAverage,
    ReduceLROnPlateau,
    TerminateOnNaN,
    Trainer,
    fit,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(50, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * RNG.normal(size=50)
X_VAL, Y_VAL = X[:20] + 0.05, Y[:20]


def make_model():
    w = optim.Variable(np.zeros(3), name="w")
    c = optim.Variable(0.0, name="c")
    calls = []

    def loss(x, y):
        calls.append(len(x))
        return anp.mean((x @ w.value + c.value - y) ** 2)

    loss.calls = calls
    return w, c, loss


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin",))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, dict(logs)))

    def on_train_batch_begin(self, step, logs=None):
        self.events.append(("batch_begin", step, logs["size"]))

    def on_train_batch_end(self, step, logs=None):
        self.events.append(("batch_end", step))


class InterruptAt(Callback):
    def __init__(self, step, hook="end"):
        self.step, self.hook = step, hook

    def on_train_batch_begin(self, step, logs=None):
        if self.hook == "begin" and step == self.step:
            raise KeyboardInterrupt

    def on_train_batch_end(self, step, logs=None):
        if self.hook == "end" and step == self.step:
            raise KeyboardInterrupt


# -- the loop ------------------------------------------------------------------------------------
def test_fit_returns_history_with_train_and_val_logs(graph):
    w, c, loss = make_model()
    opt = optim.train.GradientDescentOptimizer(0.1)
    history = fit(
        loss,
        X,
        Y,
        optimizer=opt,
        batch_size=16,
        epochs=4,
        validation_data=(X_VAL, Y_VAL),
        metrics={"mae": lambda x, y: anp.mean(anp.abs(x @ w.value + c.value - y))},
        verbose=0,
    )
    assert isinstance(history, History)
    assert history.epoch == [0, 1, 2, 3]
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0] / 4
    assert history.params == {
        "epochs": 4,
        "steps": None,
        "batch_size": 16,
        "samples": 50,
        "steps_per_epoch": 4,
    }
    assert opt.iterations == 16


def test_batches_cover_each_example_once_per_epoch_with_a_partial_last_batch(graph):
    seen = []
    w = optim.Variable(np.zeros(1), name="w")

    def loss(x, y):
        seen.append(np.asarray(y).copy())
        return anp.sum(w.value) * 0.0 + anp.mean(w.value**2)

    ids = np.arange(23.0)
    fit(
        loss,
        ids[:, None],
        ids,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=5,
        epochs=3,
        verbose=0,
    )
    assert [len(b) for b in seen] == [5, 5, 5, 5, 3] * 3
    epochs = [np.concatenate(seen[i * 5 : (i + 1) * 5]) for i in range(3)]
    for order in epochs:
        assert sorted(order) == list(ids)
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch


def test_order_is_a_pure_function_of_seed_and_epoch(graph):
    w, c, loss = make_model()
    opt = optim.train.GradientDescentOptimizer(0.1)
    a = Trainer(loss, X, Y, optimizer=opt, seed=3)
    b = Trainer(loss, X, Y, optimizer=opt, seed=3)
    other = Trainer(loss, X, Y, optimizer=opt, seed=4)
    plain = Trainer(loss, X, Y, optimizer=opt, shuffle=False)
    np.testing.assert_array_equal(a.order(2), b.order(2))
    np.testing.assert_array_equal(a.order(2), np.random.default_rng([3, 2]).permutation(50))
    assert not np.array_equal(a.order(2), other.order(2))
    np.testing.assert_array_equal(plain.order(5), np.arange(50))
    assert isinstance(Trainer(loss, X, Y, optimizer=opt, seed=None).seed, int)


def test_metrics_are_weighted_by_batch_size_and_see_pre_update_values(graph):
    w = optim.Variable(np.zeros(1), name="w")
    y = np.arange(23.0)
    before = []

    def loss(xb, yb):
        return anp.mean((w.value - yb) ** 2)

    def mean_y(xb, yb):
        before.append(w.numpy()[0])
        return np.mean(yb)

    history = fit(
        loss,
        y[:, None],
        y,
        optimizer=optim.train.GradientDescentOptimizer(0.01),
        batch_size=5,
        epochs=2,
        metrics={"mean_y": mean_y},
        validation_data=(y[:7, None], y[:7]),
        verbose=0,
    )
    np.testing.assert_allclose(history.history["mean_y"], [y.mean()] * 2, rtol=1e-15)
    np.testing.assert_allclose(history.history["val_mean_y"], [y[:7].mean()] * 2, rtol=1e-15)
    assert before[0] == 0.0 and before[1] != 0.0  # step 1's metric ran before its update


def test_structured_inputs_tuple_and_dict_and_no_labels(graph):
    w = optim.Variable(np.zeros(3), name="w")
    received = []

    def loss(x, y):
        received.append((type(x), sorted(x) if isinstance(x, dict) else len(x), y))
        a, b = (x["a"], x["b"]) if isinstance(x, dict) else x
        return anp.mean((a @ w.value - b) ** 2)

    opt = optim.train.GradientDescentOptimizer(0.1)
    fit(loss, (X, Y), optimizer=opt, batch_size=25, verbose=0)
    fit(loss, {"a": X, "b": Y}, optimizer=opt, batch_size=25, verbose=0)
    assert received[0] == (tuple, 2, None)
    assert received[2] == (dict, ["a", "b"], None)


def test_steps_stop_mid_epoch_and_still_report_the_epoch(graph):
    w, c, loss = make_model()
    recorder = Recorder()
    trainer = Trainer(
        loss, X, Y, optimizer=optim.train.GradientDescentOptimizer(0.1), batch_size=10
    )
    history = trainer.fit(steps=7, callbacks=[recorder], verbose=0)
    assert trainer.step == 7 and (trainer.epoch, trainer.batch) == (1, 2)
    assert history.epoch == [0, 1]
    kinds = [e[0] for e in recorder.events]
    assert kinds.count("batch_end") == 7 and kinds[-2:] == ["epoch_end", "train_end"]
    # The same trainer goes on to step 12 (counts are absolute), finishing epoch 1.
    history = trainer.fit(steps=12, verbose=0)
    assert trainer.step == 12 and (trainer.epoch, trainer.batch) == (2, 2)
    # epochs and steps together: whichever comes first
    trainer.fit(epochs=3, steps=100, verbose=0)
    assert (trainer.epoch, trainer.batch, trainer.step) == (3, 0, 15)


def test_hook_order(graph):
    w, c, loss = make_model()
    recorder = Recorder()
    fit(
        loss,
        X[:12],
        Y[:12],
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=5,
        epochs=2,
        callbacks=[recorder],
        verbose=0,
    )
    events = [e if e[0] != "epoch_end" else e[:2] for e in recorder.events]
    assert events == [
        ("train_begin",),
        ("epoch_begin", 0),
        ("batch_begin", 0, 5),
        ("batch_end", 0),
        ("batch_begin", 1, 5),
        ("batch_end", 1),
        ("batch_begin", 2, 2),
        ("batch_end", 2),
        ("epoch_end", 0),
        ("epoch_begin", 1),
        ("batch_begin", 3, 5),
        ("batch_end", 3),
        ("batch_begin", 4, 5),
        ("batch_end", 4),
        ("batch_begin", 5, 2),
        ("batch_end", 5),
        ("epoch_end", 1),
        ("train_end",),
    ]


def test_global_step_grows_once_per_step(graph):
    w, c, loss = make_model()
    step = optim.train.get_or_create_global_step()
    fit(
        loss,
        X,
        Y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=16,
        epochs=2,
        global_step=step,
        verbose=0,
    )
    assert int(step.numpy()) == 8


def test_with_gradient_accumulation(graph):
    w, c, loss = make_model()
    step = optim.train.get_or_create_global_step()
    opt = GradientAccumulationOptimizer(optim.train.MomentumOptimizer(0.05, 0.9), 2)
    history = fit(loss, X, Y, optimizer=opt, batch_size=5, epochs=3, global_step=step, verbose=0)
    assert int(step.numpy()) == 15 and opt.iterations == 15 and opt.mini_step == 0
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- callbacks -----------------------------------------------------------------------------------
class FakeTrainer:
    def __init__(self, var_list=(), optimizer=None):
        self.var_list = list(var_list)
        self.optimizer = optimizer
        self.stop_training = False
        self.stop_reason = None


def feed(callback, values, key="val_loss", trainer=None):
    trainer = trainer or FakeTrainer()
    callback.set_trainer(trainer)
    callback.on_train_begin({})
    stopped = None
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {key: value})
        if trainer.stop_training:
            stopped = epoch
            break
    return stopped


@pytest.mark.parametrize(
    "kwargs, values, stopped",
    [
        ({"patience": 0}, [3, 2, 2.5], 2),
        ({"patience": 2}, [3, 2, 2.5, 2.4, 1.0], 3),
        ({"patience": 1, "min_delta": 0.5}, [3, 2.8, 2.7], 1),
        ({"patience": 1, "monitor": "val_acc"}, [0.5, 0.6, 0.55, 0.58], 2),
        ({"patience": 1, "mode": "max"}, [0.5, 0.6, 0.55, 0.58], 2),
        ({"patience": 2, "baseline": 1.0}, [3, 2, 2.5], 2),  # improving is not enough
        ({"patience": 0, "start_from_epoch": 2}, [3, 4, 5, 4, 6], 4),
        ({"patience": 0}, [3, 2, 1, 0.5], None),
    ],
    ids=["p0", "p2", "min_delta", "auto-max-acc", "max", "baseline", "start_from_epoch", "never"],
)
def test_early_stopping_rule(kwargs, values, stopped):
    key = kwargs.get("monitor", "val_loss")
    assert feed(EarlyStopping(**kwargs), values, key) == stopped


def test_early_stopping_restores_best_weights(graph):
    w = optim.Variable([0.0], name="w")
    callback = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    callback.set_trainer(FakeTrainer([w]))
    callback.on_train_begin({})
    for epoch, (value, loss) in enumerate([(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 4.5)]):
        w.assign([value])
        callback.on_epoch_end(epoch, {"loss": loss})
    assert callback.trainer.stop_training and callback.best_epoch == 1
    callback.on_train_end({})
    assert w.numpy()[0] == 2.0


def test_early_stopping_in_fit_stops_and_restores(graph):
    w, c, loss = make_model()
    values = iter([5.0, 4.0, 4.5, 4.6, 1.0, 0.5])
    stopper = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    snapshots = []

    def score(epoch, logs):
        logs["score"] = next(values)
        snapshots.append(w.numpy())

    history = fit(
        loss,
        X,
        Y,
        optimizer=optim.train.GradientDescentOptimizer(0.05),
        batch_size=25,
        epochs=6,
        verbose=0,
        callbacks=[LambdaCallback(on_epoch_end=score), stopper],
    )
    assert history.epoch == [0, 1, 2, 3] and stopper.stopped_epoch == 3
    np.testing.assert_array_equal(w.numpy(), snapshots[1])


def test_missing_monitor_warns(graph):
    with pytest.warns(UserWarning, match="monitors 'val_loss', which is not in the logs"):
        feed(EarlyStopping(), [1.0], key="loss")


def test_reduce_lr_on_plateau_float_rate(graph):
    w = optim.Variable([0.0], name="w")
    opt = optim.train.GradientDescentOptimizer(1.0)
    callback = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    trainer = FakeTrainer([w], opt)
    rates = []
    callback.set_trainer(trainer)
    callback.on_train_begin({})
    for epoch, value in enumerate([5, 4, 4, 4, 4, 4, 4, 4, 4, 4]):
        logs = {"val_loss": value}
        callback.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    # logged before the epoch's reduction (Keras): 2 flat epochs -> 0.5 after epoch 3; the
    # cooldown epoch counts again at once -> 0.25 after epoch 5; 0.2 (min_lr) and no lower
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    assert callback.learning_rate == 0.2
    opt.apply_gradients([(np.array([1.0]), w)])  # the optimizer uses the new rate
    assert w.numpy()[0] == pytest.approx(-0.2)


def test_reduce_lr_on_plateau_scales_a_schedule_and_a_wrapped_optimizer(graph):
    step = optim.Variable(np.array(0), name="step", trainable=False)
    schedule = lambda: 1.0 / (1.0 + float(step.numpy()))  # noqa: E731
    inner = optim.train.GradientDescentOptimizer(schedule)
    opt = GradientAccumulationOptimizer(inner, 2)
    callback = ReduceLROnPlateau(factor=0.5, patience=1)
    callback.set_trainer(FakeTrainer([], opt))
    callback.on_train_begin({})
    callback.on_epoch_end(0, {"val_loss": 1.0})
    callback.on_epoch_end(1, {"val_loss": 1.0})
    assert callback.learning_rate == 0.5
    step.assign(np.array(3))
    assert callback.learning_rate == 0.5 * 0.25  # the schedule keeps its shape
    state = callback.state_dict()
    assert state["scale"] == 0.5
    # a new callback over the same optimizer picks the scale up; load_state_dict restores it
    other = ReduceLROnPlateau(factor=0.5, patience=1)
    other.set_trainer(FakeTrainer([], optim.train.GradientDescentOptimizer(schedule)))
    other.load_state_dict(state)
    assert other.learning_rate == 0.5 * 0.25


def test_reduce_lr_on_plateau_bad_arguments():
    with pytest.raises(ValueError, match=r"`factor` must be in \(0, 1\), got 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match=r"`factor` must be in \(0, 1\), got 0.0"):
        ReduceLROnPlateau(factor=0.0)
    with pytest.raises(TypeError, match="`patience` must be a non-negative integer, got 1.5"):
        ReduceLROnPlateau(patience=1.5)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        EarlyStopping(mode="up")


def test_terminate_on_nan_with_skip_leaves_the_last_finite_step(graph):
    w, c, loss = make_model()
    x = X.copy()
    x[37] = np.nan  # in the batch that holds row 37

    def run(steps=None, callbacks=()):
        w.assign(np.zeros(3))
        c.assign(0.0)
        opt = optim.train.GradientDescentOptimizer(0.05, nonfinite="skip")
        trainer = Trainer(loss, x, Y, optimizer=opt, batch_size=10, shuffle=False)
        trainer.fit(epochs=2, steps=steps, callbacks=callbacks, verbose=0)
        return trainer

    terminate = TerminateOnNaN()
    trainer = run(callbacks=[terminate])
    assert terminate.stopped_step == 3 and trainer.step == 4
    assert "TerminateOnNaN: loss is nan at step 3" in trainer.stop_reason
    stopped = w.numpy()
    run(steps=3)
    np.testing.assert_array_equal(stopped, w.numpy())


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_raise_policy_propagates_out_of_fit(graph):
    w, c, loss = make_model()
    x = X.copy()
    x[0] = np.inf
    with pytest.raises(FloatingPointError, match="Non-finite"):
        fit(
            loss,
            x,
            Y,
            optimizer=optim.train.GradientDescentOptimizer(0.1),
            shuffle=False,
            callbacks=[TerminateOnNaN()],
            verbose=0,
        )
    np.testing.assert_array_equal(w.numpy(), np.zeros(3))


def test_csv_logger(graph, tmp_path):
    w, c, loss = make_model()
    path = tmp_path / "log.csv"
    kwargs = dict(
        optimizer=optim.train.GradientDescentOptimizer(0.05),
        batch_size=25,
        verbose=0,
        validation_data=(X_VAL, Y_VAL),
    )
    history = fit(loss, X, Y, epochs=3, callbacks=[CSVLogger(path)], **kwargs)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    assert [float(r[1]) for r in rows[1:]] == history.history["loss"]  # repr: exact
    fit(loss, X, Y, epochs=2, callbacks=[CSVLogger(path, append=True)], **kwargs)
    assert len(list(csv.reader(path.open()))) == 6
    fit(loss, X, Y, epochs=1, callbacks=[CSVLogger(path)], **kwargs)
    assert len(list(csv.reader(path.open()))) == 2


def test_moving_average_callback_validates_with_averages(graph):
    w, c, loss = make_model()
    ema = ExponentialMovingAverage(0.9)
    seen = []
    metric = lambda x, y: float(c.numpy())  # noqa: E731
    callback = LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append(
            (logs["c"], logs["val_c"], float(ema.average(c)), float(c.numpy()))
        )
    )
    fit(
        loss,
        X,
        Y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=50,
        epochs=3,
        metrics={"c": metric},
        validation_data=(X_VAL, Y_VAL),
        verbose=0,
        callbacks=[MovingAverage(ema), callback],
    )
    assert seen[0][1] == seen[0][2] == seen[0][3]  # the first apply copies the value
    for _, val_c, average, raw in seen[1:]:
        assert val_c == average != raw  # validation ran with the average swapped in
    assert float(c.numpy()) == seen[-1][3]  # and the raw value is back


# -- progress output ---------------------------------------------------------------------------
@pytest.mark.parametrize("verbose", [0, "auto"])
def test_quiet_when_asked_or_not_a_terminal(graph, capsys, verbose):
    w, c, loss = make_model()
    fit(loss, X, Y, optimizer=optim.train.GradientDescentOptimizer(0.1), verbose=verbose)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_shows_a_bar_with_step_loss_and_metrics(graph, capsys):
    w, c, loss = make_model()
    fit(
        loss,
        X,
        Y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=10,
        epochs=2,
        metrics={"zero": lambda x, y: 0.0},
        verbose=1,
    )
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "5/5" in out
    assert "step=10" in out and "loss=" in out and "zero=0" in out


def test_verbose_2_prints_a_line_per_epoch(graph, capsys):
    w, c, loss = make_model()
    fit(
        loss,
        X,
        Y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=10,
        epochs=2,
        validation_data=(X_VAL, Y_VAL),
        verbose=2,
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("epoch 2/2 - step 10 - loss: ") and "val_loss: " in lines[1]


# -- checkpoints, resume and interrupts --------------------------------------------------------
def build_run(directory, save_freq=5, resume=False, patience=10, min_delta=0.0):
    """A model with every kind of state: momentum slots, a schedule on the global step, EMA,
    early stopping, plateau, history."""
    w, c, loss = make_model()
    step = optim.train.get_or_create_global_step()
    lr = schedules.exponential_decay(0.05, step, 10, 0.9)
    opt = optim.train.MomentumOptimizer(lr, 0.9)
    trainer = Trainer(
        loss,
        X,
        Y,
        optimizer=opt,
        batch_size=8,
        global_step=step,
        metrics={"c": lambda x, y: float(c.numpy())},
    )
    callbacks = [
        ModelCheckpoint(directory, save_freq=save_freq, resume=resume, max_to_keep=3),
        MovingAverage(ExponentialMovingAverage(0.9, num_updates=step)),
        EarlyStopping(patience=patience, min_delta=min_delta, restore_best_weights=True),
        ReduceLROnPlateau(factor=0.5, patience=0, min_delta=10.0),  # reduces every epoch
    ]
    return (w, c), opt, trainer, callbacks


def final_state(variables, opt, trainer, callbacks, history):
    ema = callbacks[1].ema
    return {
        "vars": [v.numpy() for v in variables],
        "slots": [opt.get_slot(v, "momentum").copy() for v in variables],
        "ema": [ema.average(v).copy() for v in variables],
        "step": (trainer.epoch, trainer.batch, trainer.step),
        "history": history.history,
        "lr": callbacks[3].learning_rate,
    }


def assert_same(a, b):
    for key in ("vars", "slots", "ema"):
        for x, y in zip(a[key], b[key]):
            np.testing.assert_array_equal(x, y)
    assert a["step"] == b["step"] and a["lr"] == b["lr"]
    assert a["history"] == b["history"]


@pytest.mark.parametrize(
    "interrupt_step, save_freq",
    [(9, 5), (13, 5), (20, 5), (9, 7)],
    ids=["epoch-0", "epoch-1", "epoch-2", "saved-before-epoch-end"],
)
def test_interrupted_run_resumes_bit_identically_from_the_last_checkpoint(
    tmp_path, interrupt_step, save_freq
):
    """7 steps per epoch; checkpoints every save_freq steps; with save_freq=7 the checkpoint
    comes after an epoch's last step but before its end (validation, on_epoch_end)."""
    epochs = 4
    with optim.Graph().as_default():
        variables, opt, trainer, callbacks = build_run(tmp_path / "a")
        history = trainer.fit(
            epochs=epochs, validation_data=(X_VAL, Y_VAL), callbacks=callbacks, verbose=0
        )
        expected = final_state(variables, opt, trainer, callbacks, history)
    assert expected["lr"] < 0.05 * 0.9 ** (28 / 10) / 4  # the plateau callback did act

    with optim.Graph().as_default():
        variables, opt, trainer, callbacks = build_run(tmp_path / "b", save_freq)
        with pytest.raises(KeyboardInterrupt):
            trainer.fit(
                epochs=epochs,
                validation_data=(X_VAL, Y_VAL),
                verbose=0,
                callbacks=[*callbacks, InterruptAt(interrupt_step)],
            )
        assert trainer.step == interrupt_step + 1
        latest = callbacks[0].latest_checkpoint
        # the interrupting callback runs before ModelCheckpoint: step interrupt_step + 1 is unsaved
        assert latest.endswith(f"ckpt-{interrupt_step // save_freq * save_freq}.npz")

    with optim.Graph().as_default():  # a new process: everything rebuilt, then resumed
        variables, opt, trainer, callbacks = build_run(tmp_path / "b", save_freq, resume=True)
        history = trainer.fit(
            epochs=epochs, validation_data=(X_VAL, Y_VAL), callbacks=callbacks, verbose=0
        )
        assert callbacks[0].restored_from == latest
        assert_same(final_state(variables, opt, trainer, callbacks, history), expected)


def run_script(directory, save_freq, epochs, verbose=0, **kwargs):
    """The "script": a fresh graph, variables and optimizer, resumed from ``directory``."""
    with optim.Graph().as_default():
        variables, opt, trainer, callbacks = build_run(directory, save_freq, True, **kwargs)
        history = trainer.fit(
            epochs=epochs, validation_data=(X_VAL, Y_VAL), callbacks=callbacks, verbose=verbose
        )
        state = final_state(variables, opt, trainer, callbacks, history)
        state.update(
            iterations=opt.iterations,
            global_step=int(trainer.global_step.numpy()),
            loss_calls=len(trainer.loss.calls),
            epochs_seen=list(history.epoch),
            stop_reason=trainer.stop_reason,
            restored_from=callbacks[0].restored_from,
        )
        return state


@pytest.mark.parametrize("save_freq", ["epoch", 5], ids=["epoch", "steps-5"])
def test_running_a_finished_script_again_trains_nothing_and_says_so(tmp_path, capsys, save_freq):
    """4 epochs of 7 steps; with save_freq=5 the last periodic checkpoint is step 25, so the
    epoch end that ends training must be saved too."""
    first = run_script(tmp_path, save_freq, epochs=4)
    assert first["iterations"] == 28 and first["restored_from"] is None
    capsys.readouterr()

    again = run_script(tmp_path, save_freq, epochs=4, verbose=2)
    assert again["loss_calls"] == 0  # no batch, no validation either
    assert again["iterations"] == 28 and again["global_step"] == 28
    assert_same(again, first)  # variables, slots, EMA, position, learning rate, the History
    assert again["epochs_seen"] == [0, 1, 2, 3]
    assert again["restored_from"].endswith("ckpt-28.npz")
    message = (
        f"Nothing to train: resumed from checkpoint {again['restored_from']!r} at epoch 4, "
        "step 28, and training to epochs=4 is complete."
    )
    assert again["stop_reason"] == message
    assert capsys.readouterr().out == message + "\n"  # the only output of verbose=2

    quiet = run_script(tmp_path, save_freq, epochs=4, verbose=0)
    assert quiet["stop_reason"] == message and capsys.readouterr().out == ""
    assert quiet["loss_calls"] == 0 and quiet["iterations"] == 28


@pytest.mark.parametrize("save_freq", ["epoch", 5], ids=["epoch", "steps-5"])
def test_running_an_early_stopped_script_again_stays_stopped(tmp_path, capsys, save_freq):
    """min_delta=100, patience=1: epoch 0 improves on inf, epoch 1 cannot: stopped there."""
    stopping = {"patience": 1, "min_delta": 100.0}
    first = run_script(tmp_path, save_freq, epochs=10, **stopping)
    assert first["iterations"] == 14 and first["epochs_seen"] == [0, 1]
    assert first["stop_reason"].startswith("EarlyStopping: val_loss did not improve")
    capsys.readouterr()

    again = run_script(tmp_path, save_freq, epochs=10, verbose=2, **stopping)
    assert again["loss_calls"] == 0 and again["iterations"] == 14
    assert_same(again, first)  # the best (epoch 0) weights put back again by EarlyStopping
    assert again["epochs_seen"] == [0, 1]
    message = (
        f"Nothing to train: resumed from checkpoint {again['restored_from']!r} at epoch 2, "
        f"step 14, and it had stopped ({first['stop_reason']})."
    )
    assert again["stop_reason"] == message
    assert capsys.readouterr().out == message + "\n"


def test_a_restored_stop_holds_for_the_next_fit_and_then_clears(tmp_path):
    """Trainer.restore + fit behaves as resume=True; a later fit of the same trainer trains."""
    stopping = {"patience": 1, "min_delta": 100.0}
    run_script(tmp_path / "a", "epoch", epochs=10, **stopping)
    with optim.Graph().as_default():
        variables, opt, trainer, callbacks = build_run(tmp_path / "b", "epoch", **stopping)
        trainer.restore(optim.training.ModelCheckpoint(tmp_path / "a").latest_checkpoint)
        trainer.fit(epochs=10, callbacks=callbacks[1:], verbose=0)
        assert opt.iterations == 14 and trainer.loss.calls == []
        assert trainer.stop_reason.startswith("Nothing to train: resumed from checkpoint ")
        trainer.fit(epochs=3, verbose=0)  # asked again in the same process: it trains
        assert opt.iterations == 21 and trainer.stop_reason is None


@pytest.mark.parametrize("save_freq", ["epoch", 5], ids=["epoch", "steps-5"])
def test_a_finished_run_resumed_with_more_epochs_trains_only_the_extra_ones(tmp_path, save_freq):
    uninterrupted = run_script(tmp_path / "whole", save_freq, epochs=4)
    run_script(tmp_path / "split", save_freq, epochs=2)
    more = run_script(tmp_path / "split", save_freq, epochs=4)
    assert more["iterations"] == 28 and more["stop_reason"] is None
    assert more["restored_from"].endswith("ckpt-14.npz")
    # 2 of the 4 epochs (training steps and validation batches alike): half the loss calls
    assert 2 * more["loss_calls"] == uninterrupted["loss_calls"] > 0
    assert_same(more, uninterrupted)
    assert more["epochs_seen"] == [0, 1, 2, 3]


def test_restore_rejects_a_bad_recorded_stop(graph):
    w, c, loss = make_model()
    trainer = Trainer(loss, X, Y, optimizer=optim.train.GradientDescentOptimizer(0.1))
    state = trainer.state_dict()
    with pytest.raises(ValueError, match=r"`state\['stop_training'\]` must be a bool, got 1"):
        trainer.load_state_dict({**state, "stop_training": 1})
    with pytest.raises(ValueError, match=r"`state\['stop_reason'\]` must be a string or None"):
        trainer.load_state_dict({**state, "stop_reason": 3})
    assert trainer.step == 0 and trainer.state_dict() == state


@pytest.mark.parametrize("hook", ["begin", "end"])
def test_keyboard_interrupt_from_a_callback_leaves_whole_steps(graph, hook):
    w, c, loss = make_model()

    def run(**kwargs):
        w.assign(np.zeros(3))
        c.assign(0.0)
        opt = optim.train.MomentumOptimizer(0.05, 0.9)
        trainer = Trainer(loss, X, Y, optimizer=opt, batch_size=8)
        return trainer, opt, kwargs

    trainer, opt, _ = run()
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(epochs=3, callbacks=[InterruptAt(10, hook)], verbose=0)
    done = 11 if hook == "end" else 10
    assert trainer.step == done and opt.iterations == done
    interrupted = (w.numpy(), c.numpy(), opt.get_slot(w, "momentum").copy())
    clean, clean_opt, _ = run()
    clean.fit(steps=done, verbose=0)
    np.testing.assert_array_equal(interrupted[0], w.numpy())
    np.testing.assert_array_equal(interrupted[1], c.numpy())
    np.testing.assert_array_equal(interrupted[2], clean_opt.get_slot(w, "momentum"))
    assert (clean.epoch, clean.batch) == (trainer.epoch, trainer.batch)


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="SIGINT has a non-default handler in this process",
)
def test_ctrl_c_during_an_update_completes_the_step_first(graph):
    """SIGINT arrives between the updates of w and c (from w's constraint): the step still
    finishes, then KeyboardInterrupt surfaces; both variables are at a whole step."""
    sent = []

    def constraint(value):
        if len(sent) == 0 and constraint.calls == 2:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        constraint.calls += 1
        return value

    constraint.calls = 0
    w = optim.Variable(np.zeros(3), name="w", constraint=constraint)
    c = optim.Variable(0.0, name="c")

    def loss(x, y):
        return anp.mean((x @ w.value + c.value - y) ** 2)

    trainer = Trainer(
        loss,
        X,
        Y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=10,
        var_list=[w, c],
    )
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(epochs=2, verbose=0)
    assert sent and trainer.step == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    got = (w.numpy(), c.numpy())
    w.assign(np.zeros(3))
    c.assign(0.0)
    Trainer(
        loss,
        X,
        Y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        batch_size=10,
        var_list=[w, c],
    ).fit(steps=3, verbose=0)
    np.testing.assert_array_equal(got[0], w.numpy())
    np.testing.assert_array_equal(got[1], c.numpy())


def test_last_checkpoint_after_interrupt_is_restorable(graph, tmp_path):
    w, c, loss = make_model()
    opt = optim.train.MomentumOptimizer(0.05, 0.9)
    trainer = Trainer(loss, X, Y, optimizer=opt, batch_size=8)
    checkpoint = ModelCheckpoint(tmp_path, save_freq=3)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(epochs=3, callbacks=[checkpoint, InterruptAt(7)], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-3.npz", "ckpt-6.npz"]  # no temporary left
    saved = checkpoint_module.read_checkpoint(checkpoint.latest_checkpoint)
    assert saved["extra"]["trainer"]["step"] == 6
    other = Trainer(loss, X, Y, optimizer=optim.train.MomentumOptimizer(0.05, 0.9), batch_size=8)
    other.restore(checkpoint.latest_checkpoint)
    assert (other.epoch, other.batch, other.step) == (0, 6, 6)
    np.testing.assert_array_equal(w.numpy(), saved["variables"]["w"])


def test_epoch_checkpoints_and_save_best_only(graph, tmp_path):
    w, c, loss = make_model()
    values = iter([3.0, 2.0, 2.5, 1.0])
    trainer = Trainer(
        loss, X, Y, optimizer=optim.train.GradientDescentOptimizer(0.05), batch_size=25
    )
    checkpoint = ModelCheckpoint(tmp_path, monitor="score", save_best_only=True, max_to_keep=None)
    trainer.fit(
        epochs=4,
        verbose=0,
        callbacks=[
            LambdaCallback(on_epoch_end=lambda e, logs: logs.update(score=next(values))),
            checkpoint,
        ],
    )
    assert sorted(os.listdir(tmp_path)) == ["ckpt-2.npz", "ckpt-4.npz", "ckpt-8.npz"]
    state = checkpoint_module.read_checkpoint(tmp_path / "ckpt-4.npz")["extra"]["trainer"]
    assert (state["epoch"], state["batch"], state["step"]) == (2, 0, 4)


def test_restore_checks_the_trainer_state_before_changing_anything(graph, tmp_path):
    w, c, loss = make_model()
    opt = optim.train.GradientDescentOptimizer(0.05)
    trainer = Trainer(loss, X, Y, optimizer=opt, batch_size=10)
    checkpoint = ModelCheckpoint(tmp_path, save_freq=2)
    trainer.fit(steps=2, callbacks=[checkpoint], verbose=0)
    w.assign(np.full(3, 9.0))
    other = Trainer(loss, X, Y, optimizer=opt, batch_size=7)
    with pytest.raises(ValueError, match="batch_size=10.*batch_size=7: the data order cannot"):
        other.restore(checkpoint.latest_checkpoint)
    np.testing.assert_array_equal(w.numpy(), np.full(3, 9.0))
    checkpoint_module.save_checkpoint(tmp_path / "plain.npz", [w, c])
    with pytest.raises(ValueError, match="holds no trainer state"):
        trainer.restore(tmp_path / "plain.npz")


# -- bad input: clear errors before any step ---------------------------------------------------
BAD_INPUT = [
    ({"x": X, "y": Y[:-1]}, ValueError, r"`y` must have as many examples as `x` \(50\), got 49"),
    ({"x": (X, X[:3]), "y": None}, ValueError, r"`x\[1\]` must have as many examples as `x\[0\]`"),
    ({"x": {"a": X, "b": Y[:7]}}, ValueError, r"`x\['b'\]` must have as many examples"),
    ({"x": X[:0], "y": Y[:0]}, ValueError, r"`x` must hold at least one example, got 0"),
    ({"x": (), "y": None}, ValueError, r"`x` must hold at least one array"),
    ({"x": 3.0}, ValueError, "`x` must have a first \\(batch\\) dimension"),
    ({"x": None}, TypeError, "`x` must be a numpy array"),
    ({"x": np.array([None, 1])}, TypeError, "`x` must be a numpy array of numbers"),
    ({"batch_size": 0}, ValueError, "`batch_size` must be a positive integer, got 0"),
    ({"batch_size": -4}, ValueError, "`batch_size` must be a positive integer, got -4"),
    ({"batch_size": 2.5}, TypeError, "`batch_size` must be a positive integer, got 2.5"),
    ({"batch_size": True}, TypeError, "`batch_size` must be a positive integer, got True"),
    ({"batch_size": "8"}, TypeError, "`batch_size` must be a positive integer, got '8'"),
    ({"epochs": 0}, ValueError, "`epochs` must be a positive integer, got 0"),
    ({"steps": 1.5}, TypeError, "`steps` must be a positive integer or None, got 1.5"),
    ({"validation_data": X_VAL}, TypeError, "`validation_data` must be a tuple"),
    ({"validation_data": (X_VAL, Y_VAL[:3])}, ValueError, r"`validation_data\[1\]` must have as"),
    ({"verbose": 3}, ValueError, "`verbose` must be 0, 1, 2 or 'auto', got 3"),
    ({"callbacks": [print]}, TypeError, r"`callbacks\[0\]` must be an optim.training.Callback"),
    ({"metrics": {"loss": len}}, ValueError, "`metrics` names must be"),
    ({"metrics": [len]}, TypeError, "`metrics` must be a dict"),
    ({"optimizer": "sgd"}, TypeError, "`optimizer` must be an optim.Optimizer, got 'sgd'"),
    ({"loss": None}, TypeError, "`loss` must be a callable loss"),
    ({"var_list": []}, ValueError, "`var_list` must hold at least one variable"),
    ({"seed": -1}, ValueError, "`seed` must be a non-negative integer, got -1"),
    ({"global_step": 3}, TypeError, "`global_step` must be an integer scalar"),
]


@pytest.mark.parametrize("override, error, match", BAD_INPUT, ids=[m for _, _, m in BAD_INPUT])
def test_bad_input_raises_before_any_step(graph, override, error, match):
    w, c, loss = make_model()
    step = optim.train.get_or_create_global_step()
    recorder = Recorder()
    kwargs = dict(
        loss=loss,
        x=X,
        y=Y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        callbacks=[recorder],
        verbose=0,
        global_step=step,
    )
    kwargs.update(override)
    with pytest.raises(error, match=match):
        fit(**kwargs)
    assert loss.calls == [] and recorder.events == []
    np.testing.assert_array_equal(w.numpy(), np.zeros(3))
    assert int(step.numpy()) == 0


@pytest.mark.parametrize("via", ["fit", "Trainer.fit", "evaluate"])
def test_a_per_example_loss_is_told_to_reduce_over_the_batch(graph, via):
    """fit takes no grad_loss: its error must not suggest one (compute_gradients' does)."""
    w = optim.Variable(np.zeros(3), name="w")
    momentum = optim.train.MomentumOptimizer(0.1, 0.9)

    def per_example(x, y):
        return ((x @ w.value - y) ** 2).astype(np.float32)

    with pytest.raises(ValueError) as info:
        if via == "fit":
            fit(per_example, X, Y, optimizer=momentum, batch_size=8, verbose=0)
        else:
            trainer = Trainer(per_example, X, Y, optimizer=momentum, batch_size=8)
            if via == "evaluate":
                trainer.evaluate(X_VAL, Y_VAL)
            else:
                trainer.fit(epochs=2, verbose=0)
    message = str(info.value)
    assert message.startswith(
        "`loss` must return a scalar, got an array of shape (8,) and dtype float32; reduce it "
        "over the batch (np.mean or np.sum)"
    )
    assert "grad_loss" not in message and info.value.__cause__ is None
    np.testing.assert_array_equal(w.numpy(), np.zeros(3))
    assert momentum.iterations == 0 and momentum.get_slot(w, "momentum") is None


def test_compute_gradients_keeps_its_grad_loss_advice(graph):
    w = optim.Variable(np.zeros(3), name="w")
    opt = optim.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match=r"shape \(50,\); reduce it .* pass `grad_loss`"):
        opt.compute_gradients(lambda: (X @ w.value - Y) ** 2, var_list=[w])
    [(grad, var)] = opt.compute_gradients(
        lambda: (X @ w.value - Y) ** 2, [w], grad_loss=np.ones(50)
    )  # the advice works: the gradient of the sum, 2 X^T (X w - y) at w = 0
    assert var is w
    np.testing.assert_allclose(grad, -2.0 * X.T @ Y, rtol=1e-12)


def test_bad_loss_and_metric_values(graph):
    w, c, loss = make_model()
    opt = optim.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="metric 'm' must return a real scalar"):
        fit(loss, X, Y, optimizer=opt, metrics={"m": lambda x, y: x}, verbose=0)
    np.testing.assert_array_equal(w.numpy(), np.zeros(3))  # the metric runs before the update
    assert math.isfinite(Trainer(loss, X, Y, optimizer=opt).evaluate(X_VAL, Y_VAL)["loss"])


def test_one_process_sums_travel_as_a_list_without_an_array(graph, monkeypatch):
    """The single-process Distribution gets each step's sums as the list the trainer built
    (no array is made for it), and the logged means are the batch-weighted means."""
    from optim.training import data as data_module
    from optim.training import trainer as trainer_module

    seen = []
    original = data_module.Distribution.reduce_sums

    def reduce_sums(self, sums):
        seen.append(type(sums))
        return original(self, sums)

    monkeypatch.setattr(data_module.Distribution, "reduce_sums", reduce_sums)
    made = []
    real_array = np.array

    def array(*args, **kwargs):
        made.append(args)
        return real_array(*args, **kwargs)

    monkeypatch.setattr(trainer_module.np, "array", array)  # the trainer module's numpy
    w = optim.Variable(np.zeros(1), name="w")
    y = np.arange(7.0)
    trainer = Trainer(
        lambda xb, yb: anp.mean((w.value - yb) ** 2),
        y[:, None],
        y,
        optimizer=optim.train.GradientDescentOptimizer(0.0),  # w stays 0: known losses
        batch_size=3,
        shuffle=False,
    )
    history = trainer.fit(epochs=1, validation_data=(y[:, None], y), verbose=0)
    monkeypatch.setattr(trainer_module.np, "array", real_array)
    assert seen == [list] * 4  # 3 steps (3, 3, 1 rows), then the validation pass
    assert not any(len(a) == 1 and isinstance(a[0], list) for a in made)
    expected = float(np.mean(y**2))
    assert history.history["loss"] == [pytest.approx(expected, rel=1e-15)]
    assert history.history["val_loss"] == [pytest.approx(expected, rel=1e-15)]
