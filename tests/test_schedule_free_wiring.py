"""Schedule-Free's train/eval modes through optim.fit, checkpoints, EMA and optim.modes.

The variables of a Schedule-Free optimizer hold the training point y while it trains and the
average x (the point to evaluate) in eval mode. Each test compares fit, or a checkpointed run,
with a hand-written loop that calls eval()/train() itself.
"""

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from optim import modes
from optim.checkpoint import read_checkpoint, restore_checkpoint, save_checkpoint
from optim.ema import ExponentialMovingAverage
from optim.train import ScheduleFreeAdamWOptimizer, ScheduleFreeSGDOptimizer
from optim.training import LambdaCallback, ModelCheckpoint, MovingAverage, Trainer, fit

RNG = np.random.default_rng(3)
X = RNG.normal(size=(40, 4))
Y = X @ RNG.normal(size=(4, 2)) + 0.1 * RNG.normal(size=(40, 2))
X_VAL, Y_VAL = RNG.normal(size=(16, 4)), RNG.normal(size=(16, 2))
BATCH = 8  # 5 steps an epoch


def make_model():
    w = optim.Variable(np.zeros((4, 2)), name="w")
    b = optim.Variable(np.full(2, 0.5), name="b")

    def loss(x, y):
        return anp.mean((x @ w.value + b.value - y) ** 2)

    return [w, b], loss


def make_opt():
    return optim.train.ScheduleFreeAdamWOptimizer(0.05, warmup_steps=3, weight_decay=0.01)


def manual_run(epochs, on_step=None):
    """What fit(shuffle=False) does, by hand: returns (variables, loss, optimizer) in train mode."""
    variables, loss = make_model()
    opt = make_opt()
    for _ in range(epochs):
        for start in range(0, len(X), BATCH):
            xb, yb = X[start : start + BATCH], Y[start : start + BATCH]
            opt.minimize(lambda xb=xb, yb=yb: loss(xb, yb), var_list=variables)
            if on_step is not None:
                on_step(opt, variables)
    return variables, loss, opt


def values(variables):
    return [v.numpy().copy() for v in variables]


def assert_same(a, b):
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def assert_same_state(opt_a, opt_b):
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["iterations"] == sb["iterations"]
    for slot, table in sa["slots"].items():
        for name, array in table.items():
            np.testing.assert_array_equal(array, sb["slots"][slot][name], err_msg=slot + name)
    for key in ("lr_max", "weight_sum", "train_mode"):
        assert sa["schedule_free"][key] == sb["schedule_free"][key], key


def test_fit_validates_on_x_and_returns_in_eval_mode(graph):
    variables, loss, ref = manual_run(epochs=2)
    y_point = values(variables)
    loss_at_y = float(loss(X_VAL, Y_VAL))
    ref.eval()
    x_point = values(variables)
    assert float(loss(X_VAL, Y_VAL)) != loss_at_y  # the test can tell the two points apart
    # fit's validation: the mean over batches of BATCH, weighted by their sizes
    halves = [(X_VAL[:BATCH], Y_VAL[:BATCH]), (X_VAL[BATCH:], Y_VAL[BATCH:])]
    loss_at_x = sum(float(loss(xv, yv)) * len(xv) for xv, yv in halves) / len(X_VAL)

    with optim.Graph().as_default():
        variables2, loss2 = make_model()
        opt = make_opt()
        history = fit(
            loss2, X, Y, optimizer=opt, var_list=variables2, batch_size=BATCH, epochs=2,
            shuffle=False, validation_data=(X_VAL, Y_VAL), verbose=0,
        )  # fmt: skip
        assert history.history["val_loss"][-1] == loss_at_x
        assert opt.training is False  # fit leaves the weights to use in the variables
        assert_same(values(variables2), x_point)
        opt.train()
        assert_same(values(variables2), y_point)


def test_validation_leaves_training_bit_identical(graph):
    variables, _, ref = manual_run(epochs=3)
    seen = []
    with optim.Graph().as_default():
        variables2, loss2 = make_model()
        opt = make_opt()
        probe = LambdaCallback(
            on_epoch_begin=lambda epoch, logs: seen.append(opt.training),
            on_train_batch_begin=lambda step, logs: seen.append(opt.training),
            on_train_batch_end=lambda step, logs: seen.append(opt.training),
            on_epoch_end=lambda epoch, logs: seen.append(opt.training),
        )
        fit(
            loss2, X, Y, optimizer=opt, var_list=variables2, batch_size=BATCH, epochs=3,
            shuffle=False, validation_data=(X_VAL, Y_VAL), callbacks=[probe], verbose=0,
        )  # fmt: skip
        opt.train()
        assert_same(values(variables2), values(variables))
        assert_same_state(opt, ref)
    # on_epoch_begin and the batches in train mode, on_epoch_end in eval mode, every epoch
    assert seen == ([True] * 11 + [False]) * 3


def test_trainer_evaluate_uses_x_and_keeps_the_mode(graph):
    variables, loss = make_model()
    opt = make_opt()
    trainer = Trainer(loss, X, Y, optimizer=opt, var_list=variables, batch_size=BATCH)
    trainer.fit(steps=4, verbose=0)
    opt.train()
    y_point = values(variables)
    got = trainer.evaluate(X_VAL, Y_VAL)["loss"]
    assert opt.training is True
    assert_same(values(variables), y_point)  # y restored bit for bit
    opt.eval()
    assert got == float(loss(X_VAL, Y_VAL))
    assert trainer.evaluate(X_VAL, Y_VAL)["loss"] == got
    assert opt.training is False


@pytest.mark.parametrize("save_freq", ["epoch", 3])
def test_checkpoint_mid_fit_resumes_bit_identically(graph, tmp_path, save_freq):
    with optim.Graph().as_default():
        straight, loss = make_model()
        opt = make_opt()
        fit(loss, X, Y, optimizer=opt, var_list=straight, batch_size=BATCH, epochs=4,
            validation_data=(X_VAL, Y_VAL), verbose=0)  # fmt: skip
    stop = {"epochs": 2} if save_freq == "epoch" else {"steps": 9}
    with optim.Graph().as_default():
        first, loss1 = make_model()
        opt1 = make_opt()
        fit(loss1, X, Y, optimizer=opt1, var_list=first, batch_size=BATCH, **stop,
            validation_data=(X_VAL, Y_VAL), verbose=0,
            callbacks=[ModelCheckpoint(tmp_path, save_freq=save_freq)])  # fmt: skip
        # The file holds x, the point to evaluate, not the training point y.
        latest = optim.checkpoint.latest_checkpoint(tmp_path)
        assert_same(list(read_checkpoint(latest)["variables"].values()), values(first))
        opt1.train()
        assert not np.array_equal(read_checkpoint(latest)["variables"]["w"], first[0].numpy())
    with optim.Graph().as_default():
        second, loss2 = make_model()
        opt2 = make_opt()
        cb = ModelCheckpoint(tmp_path, save_freq=save_freq, resume=True)
        fit(loss2, X, Y, optimizer=opt2, var_list=second, batch_size=BATCH, epochs=4,
            validation_data=(X_VAL, Y_VAL), verbose=0, callbacks=[cb])  # fmt: skip
        assert cb.restored_from is not None
        assert_same(values(second), values(straight))
        assert_same_state(opt2, opt)
        opt.train()
        opt2.train()
        assert_same(values(second), values(straight))


def test_checkpoint_saved_in_train_mode_restores_train_mode_exactly(graph, tmp_path):
    variables, loss, opt = manual_run(epochs=1)
    y_point = values(variables)
    path = save_checkpoint(tmp_path / "c.npz", variables, opt)
    assert opt.training is True
    assert_same(values(variables), y_point)  # saving put y back bit for bit
    opt.eval()
    x_point = values(variables)
    opt.train()
    data = read_checkpoint(path)
    assert data["optimizer_training"] is True
    assert_same([data["variables"]["w"], data["variables"]["b"]], x_point)
    with optim.Graph().as_default():
        fresh, _ = make_model()
        opt2 = make_opt()
        restore_checkpoint(path, fresh, opt2)
        assert opt2.training is True
        assert_same(values(fresh), y_point)
        restore_checkpoint(path, fresh)  # without the optimizer: the file's weights, x
        assert_same(values(fresh), x_point)


def test_restored_eval_state_recomputes_y_when_x_was_changed(graph):
    """train() restores the saved y only while the variables are still the x it came from."""
    variables, _, opt = manual_run(epochs=1)
    opt.eval()
    variables[0].assign(variables[0].numpy() + 1.0)
    z = opt.get_slot(variables[0], "z").copy()
    moved = variables[0].numpy().copy()
    opt.train()
    beta = 0.9
    np.testing.assert_allclose(variables[0].numpy(), beta * moved + (1 - beta) * z, rtol=1e-12)


def test_moving_average_averages_x_and_leaves_training_unchanged(graph):
    variables_ref, _, ref = manual_run(epochs=2)
    ema_ref = ExponentialMovingAverage(0.8)

    def average_x(opt, variables):
        opt.eval()
        ema_ref.apply(variables)
        opt.train()

    with optim.Graph().as_default():
        variables_manual, _, manual = manual_run(epochs=2, on_step=average_x)
        averages_of_x = [ema_ref.average(v).copy() for v in variables_manual]
        assert_same(values(variables_manual), values(variables_ref))
    with optim.Graph().as_default():
        variables2, loss2 = make_model()
        opt = make_opt()
        ema = ExponentialMovingAverage(0.8)
        fit(loss2, X, Y, optimizer=opt, var_list=variables2, batch_size=BATCH, epochs=2,
            shuffle=False, callbacks=[MovingAverage(ema)], verbose=0)  # fmt: skip
        for v, expected in zip(variables2, averages_of_x):
            np.testing.assert_array_equal(ema.average(v), expected)
        opt.train()
        assert_same(values(variables2), values(variables_ref))  # EMA changed no step


def test_wrappers_forward_the_modes(graph):
    variables, loss = make_model()
    sam = optim.train.SAMOptimizer(make_opt(), rho=0.01)
    assert modes.has_modes(sam) and sam.training is True
    for _ in range(2):  # after one step x == y == z
        sam.minimize(lambda: loss(X, Y), var_list=variables)
    y_point = values(variables)
    with modes.evaluation_mode(sam):
        assert sam.inner_optimizer.training is False
        assert not np.array_equal(variables[0].numpy(), y_point[0])
    assert sam.training is True
    assert_same(values(variables), y_point)
    plain = optim.train.SAMOptimizer(optim.train.AdamOptimizer(0.1))
    assert not modes.has_modes(plain) and plain.training is None


def test_modes_do_nothing_for_optimizers_without_them(graph):
    variables, loss = make_model()
    opt = optim.train.AdamOptimizer(0.1)
    opt.minimize(lambda: loss(X, Y), var_list=variables)
    before = values(variables)
    assert not modes.has_modes(opt) and not modes.has_modes(None)
    with modes.evaluation_mode(opt):
        modes.set_training(opt, True)
    assert_same(values(variables), before)


# -- optim.minimize returns the average x ---------------------------------------------------------
TARGET = np.array([1.0, -2.0, 0.5])


def _fun(x):
    return anp.sum((x - TARGET) ** 2 * np.array([1.0, 3.0, 0.5]))


def _jac(x):
    return 2 * (x - TARGET) * np.array([1.0, 3.0, 0.5])


@pytest.mark.parametrize(
    "method, make",
    [
        ("schedule_free_adamw", lambda: ScheduleFreeAdamWOptimizer(0.1, warmup_steps=2)),
        ("schedule_free_sgd", lambda: ScheduleFreeSGDOptimizer(0.1, warmup_steps=2)),
    ],
)
def test_minimize_returns_x_of_a_manual_loop(graph, method, make):
    steps = 25
    opt = make()
    w = optim.Variable(np.zeros(3), name="w")
    for _ in range(steps):
        opt.apply_gradients([(_jac(w.numpy()), w)])
    y_point = w.numpy().copy()
    opt.eval()
    x_point = w.numpy().copy()
    assert not np.array_equal(x_point, y_point)

    options = {"maxiter": steps, "gtol": 0.0, "ftol": 0.0, "learning_rate": 0.1, "warmup_steps": 2}
    res = optim.minimize(_fun, np.zeros(3), jac=_jac, method=method, options=options)
    assert res.nit == steps
    np.testing.assert_array_equal(res.x, x_point)
    assert res.fun == float(_fun(x_point))
    np.testing.assert_array_equal(res.jac, _jac(x_point))
    assert res.njev == steps + 2  # x0, each step, and the average at the end


def test_minimize_leaves_an_instance_in_train_mode(graph):
    """An instance passed as method can run again: the call put it back in train mode (a step
    in eval mode would raise), and its state carries over."""
    options = {"maxiter": 10, "gtol": 0.0, "ftol": 0.0}
    opt = optim.train.ScheduleFreeSGDOptimizer(0.1)
    first = optim.minimize(_fun, np.zeros(3), jac=_jac, method=opt, options=options)
    assert opt.training is True
    second = optim.minimize(_fun, first.x, jac=_jac, method=opt, options=options)
    assert opt.iterations == 20 and second.nit == 10
    assert second.fun < first.fun
