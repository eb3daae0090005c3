"""The compiled TF-world step: ``JitClosure.bind`` and ``optim.fit`` on the jax backend.

``fit`` trains through ``optim.jit_closure(loss, var_list).bind(x_batch, y_batch)``: on jax the
step's value and gradients are one compiled call per batch shape. Checked here: the same
training as autograd's (float64, to rounding), compilation once per shape (a trace counter),
every variable the loss reads is an argument (a non-trainable variable a callback changes is
seen), ``None`` for a variable the loss does not reach, the first call's value checks, and
``jit_compile=False`` for a loss that reads other Python state.
"""

from __future__ import annotations

import numpy as np
import pytest

import optim
import optim.numpy as onp

jax = pytest.importorskip("jax")
pytestmark = pytest.mark.jax

X = np.random.default_rng(4).normal(size=(40, 3))
T = np.random.default_rng(5).normal(size=(40, 2))


def model(seed=3):
    rng = np.random.default_rng(seed)
    W = optim.Variable(rng.normal(size=(3, 2)), name="W")
    b = optim.Variable(np.zeros(2), name="b")
    return W, b


def train(engine, jit_compile=True, epochs=3, batch_size=16, callbacks=()):
    W, b = model()
    runs = []

    def loss(x, y):
        runs.append(len(x))  # a Python side effect: once per trace when compiled
        return onp.mean((onp.tanh(x @ W.value) + b.value - y) ** 2)

    with optim.use_backend(engine):
        history = optim.fit(
            loss, X, T, optimizer=optim.AdamOptimizer(0.05), var_list=[W, b],
            batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks,
            validation_data=(X[:10], T[:10]), jit_compile=jit_compile,
        )  # fmt: skip
    return W.numpy(), b.numpy(), history.history, runs


def test_fit_on_jax_trains_as_on_autograd():
    W_ag, b_ag, h_ag, runs_ag = train("autograd")
    W_jx, b_jx, h_jx, runs_jx = train("jax")
    np.testing.assert_allclose(W_jx, W_ag, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b_jx, b_ag, rtol=1e-12, atol=1e-14)
    for name in ("loss", "val_loss"):
        np.testing.assert_allclose(h_jx[name], h_ag[name], rtol=1e-12)
    steps = 3 * 3  # 40 examples in batches of 16: 16, 16, 8
    assert len(runs_ag) == steps + 3  # autograd runs the loss per step and per evaluation
    # jax: the first step's general path (eager), one trace per compiled kind and batch shape
    assert len(runs_jx) <= 6 < len(runs_ag)


def test_fit_with_jit_compile_false_runs_the_loss_every_step():
    W_c, _, _, _ = train("jax")
    W_e, _, _, runs = train("jax", jit_compile=False)
    assert len(runs) == 9 + 3
    np.testing.assert_allclose(W_e, W_c, rtol=1e-12, atol=1e-14)


def test_fit_on_jax_sees_a_variable_a_callback_changes():
    """A non-trainable variable read by the loss is an argument of the compiled step."""

    def run(engine):
        W, b = model()
        scale = optim.Variable(1.0, trainable=False, name="scale")

        class Anneal(optim.training.Callback):
            def on_train_batch_end(self, step, logs=None):
                scale.assign(scale.array * 0.5)

        with optim.use_backend(engine):
            history = optim.fit(
                lambda x, y: scale.value * onp.mean((x @ W.value + b.value - y) ** 2),
                X, T, optimizer=optim.GradientDescentOptimizer(0.1), var_list=[W, b],
                batch_size=8, epochs=1, verbose=0, callbacks=[Anneal()],
            )  # fmt: skip
        return W.numpy(), history.history["loss"]

    W_ag, loss_ag = run("autograd")
    W_jx, loss_jx = run("jax")
    np.testing.assert_allclose(W_jx, W_ag, rtol=1e-12)
    np.testing.assert_allclose(loss_jx, loss_ag, rtol=1e-12)
    W_frozen, _ = model()  # what a frozen scale of 1.0 would have given
    frozen = optim.fit(
        lambda x, y: onp.mean((x @ W_frozen.value - y) ** 2), X, T,
        optimizer=optim.GradientDescentOptimizer(0.1), var_list=[W_frozen], batch_size=8,
        epochs=1, verbose=0,
    )  # fmt: skip
    assert not np.allclose(loss_jx, frozen.history["loss"])


def test_bind_compiles_once_per_shape_and_follows_the_batch():
    W, b = model()
    runs = []

    def loss(x, y):
        runs.append(1)
        return onp.mean((x @ W.value + b.value - y) ** 2)

    step = optim.jit_closure(loss, [W, b])
    opt = optim.GradientDescentOptimizer(0.1)
    with optim.use_backend("jax"):
        for i in range(5):
            x, y = X[8 * i : 8 * i + 8], T[8 * i : 8 * i + 8]
            before = W.numpy(), b.numpy()
            (gw, _), (gb, _) = opt.compute_gradients(step.bind(x, y), var_list=[W, b])
            residual = x @ before[0] + before[1] - y
            np.testing.assert_allclose(gw, 2 * x.T @ residual / residual.size, rtol=1e-12)
            np.testing.assert_allclose(gb, 2 * residual.sum(0) / residual.size, rtol=1e-12)
            opt.apply_gradients([(gw, W), (gb, b)])
    # the first call on the general path (eager trace), then one compiled trace
    assert len(runs) == 2


def test_bind_gives_none_for_a_variable_not_reached():
    W, b = model()
    unused = optim.Variable(np.ones(4), name="unused")
    step = optim.jit_closure(
        lambda x: onp.sum(x @ W.value) + 0.0 * onp.sum(jax.lax.stop_gradient(b.value)), [W, b]
    )
    opt = optim.GradientDescentOptimizer(0.1)
    with optim.use_backend("jax"):
        for _ in range(3):  # the general path, then the compiled one twice
            grads = opt.compute_gradients(step.bind(X), var_list=[W, b, unused])
            (gw, _), (gb, _), (gu, _) = grads
            np.testing.assert_allclose(gw, np.tile(X.sum(0)[:, None], (1, 2)))
            assert gb is None and gu is None


def test_bind_finds_variables_outside_var_list():
    W, _ = model()
    shift = optim.Variable(np.zeros(2), trainable=False, name="shift")
    step = optim.jit_closure(lambda x: onp.sum(x @ W.value + shift.value))  # no var_list
    with optim.use_backend("jax"):
        first = float(step(X))
        shift.assign([1.0, 2.0])
        second = float(step(X))
        for _ in range(3):
            ((gw, _),) = optim.GradientDescentOptimizer(0.1).compute_gradients(
                step.bind(X), var_list=[W]
            )
    assert step.inputs == (W, shift)
    np.testing.assert_allclose(second - first, 3.0 * len(X), rtol=1e-12)
    np.testing.assert_allclose(gw, np.tile(X.sum(0)[:, None], (1, 2)), rtol=1e-12)


def test_bind_keeps_the_tf_worlds_value_checks():
    W, _ = model()
    step = optim.jit_closure(lambda x: x @ W.value, [W])  # not a scalar
    opt = optim.GradientDescentOptimizer(0.1)
    before = W.numpy()
    with optim.use_backend("jax"):
        for _ in range(2):
            with pytest.raises(ValueError, match="must return a scalar"):
                opt.minimize(step.bind(X), var_list=[W])
    np.testing.assert_array_equal(W.array, before)


def test_fit_rejects_a_non_bool_jit_compile():
    W, _ = model()
    with pytest.raises(TypeError, match="jit_compile"):
        optim.fit(lambda x, y: onp.sum(x @ W.value), X, T, optimizer=optim.AdamOptimizer(),
                  var_list=[W], jit_compile="yes")  # fmt: skip


@pytest.mark.parametrize("engine", ["autograd", "jax"])
def test_fit_with_a_non_scalar_loss_gives_fits_advice(engine):
    W, _ = model()
    before = W.numpy()
    with optim.use_backend(engine), pytest.raises(ValueError, match="scalar"):
        optim.fit(lambda x, y: x @ W.value, X, T, optimizer=optim.AdamOptimizer(),
                  var_list=[W], verbose=0)  # fmt: skip
    np.testing.assert_array_equal(W.array, before)
