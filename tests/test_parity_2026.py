"""The 2026 optimizers against their reference packages, and what the battery cannot reach.

* Muon vs ``torch.optim.Muon`` (its bfloat16 Newton-Schulz patched to the parameter dtype, and
  as shipped), its AdamW fallback vs ``torch.optim.AdamW``;
* Schedule-Free SGD/AdamW vs ``schedulefree`` (train point y after each step, x after eval),
  and the train/eval swap;
* Prodigy vs ``prodigyopt.Prodigy``;
* SAM vs the numpy oracle of Foret et al.'s algorithm (tests/reference_2026.py) and
  ``optax.contrib.sam``, its two gradient evaluations a step, its refusal of precomputed
  gradients;
* Lookahead vs ``optax.lookahead``.

A reference package that is not installed skips its tests, with the reason.
Tolerances: float64 rtol 1e-12; float32 1e-6 relative to the parameters' scale (the largest
entry), since an entry near zero has no relative precision of its own.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest

import optim
from tests import reference_2026 as reference

F64 = {"rtol": 1e-12, "atol": 1e-14}


def _close(actual, expected, dtype, what=""):
    actual, expected = np.asarray(actual), np.asarray(expected)
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(actual, expected, err_msg=what, **F64)
    else:
        scale = float(np.max(np.abs(expected)))
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6 * scale, err_msg=what)


DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])


# -- Muon vs torch.optim.Muon --------------------------------------------------------------------
def _native_newton_schulz(torch):
    """torch's _zeropower_via_newtonschulz with the bfloat16 cast removed (same operations)."""

    def zeropower(grad, ns_coefficients, ns_steps, eps):
        a, b, c = ns_coefficients
        x = grad.clone()
        if grad.size(0) > grad.size(1):
            x = x.T
        x = x / x.norm().clamp(min=eps)
        for _ in range(ns_steps):
            gram = x @ x.T
            update = torch.addmm(gram, gram, gram, beta=b, alpha=c)
            x = torch.addmm(x, update, x, beta=a)
        if grad.size(0) > grad.size(1):
            x = x.T
        return x

    return zeropower


def _muon_runs(torch, dtype, shape, steps, optim_kwargs, torch_kwargs, seed=0):
    """optim on (fan_in, fan_out) matrices, torch on their transposes; the same gradients."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=shape).astype(dtype)
    var = optim.Variable(w0.copy())
    opt = optim.train.MuonOptimizer(**optim_kwargs)
    param = torch.nn.Parameter(torch.tensor(w0.T.copy()))
    torch_opt = torch.optim.Muon([param], **torch_kwargs)
    for _ in range(steps):
        g = rng.normal(size=shape).astype(dtype)
        opt.apply_gradients([(g, var)])
        param.grad = torch.tensor(g.T.copy())
        torch_opt.step()
        yield w0, var.numpy(), param.detach().numpy().T, opt, var


_MUON_CONFIGS = [
    ({}, {}),
    ({"use_nesterov": False}, {"nesterov": False}),
    ({"adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.0}, {"adjust_lr_fn": "match_rms_adamw",
                                                              "weight_decay": 0.0}),
    ({"momentum": 0.8, "ns_steps": 3, "epsilon": 1e-5}, {"momentum": 0.8, "ns_steps": 3,
                                                        "eps": 1e-5}),
]  # fmt: skip


@DTYPES
@pytest.mark.parametrize("shape", [(8, 5), (5, 8), (6, 6)], ids=["tall", "wide", "square"])
@pytest.mark.parametrize("config", _MUON_CONFIGS, ids=["default", "plain", "rms", "options"])
def test_muon_matches_torch_with_native_precision_iteration(monkeypatch, dtype, shape, config):
    """torch's iteration patched to the parameter dtype: rounding apart, the same steps."""
    torch = pytest.importorskip("torch", reason="torch is needed for the Muon parity test")
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no torch.optim.Muon")
    import torch.optim._muon as torch_muon

    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", _native_newton_schulz(torch))
    optim_kwargs, torch_kwargs = config
    steps = 20 if dtype == np.float64 else 10
    for t, (_, mine, theirs, _, _) in enumerate(
        _muon_runs(torch, dtype, shape, steps, {"learning_rate": 0.02, **optim_kwargs},
                   {"lr": 0.02, **torch_kwargs})
    ):  # fmt: skip
        _close(mine, theirs, dtype, f"step {t + 1}")


def test_muon_differs_from_shipped_torch_by_its_bfloat16_iteration():
    """torch as shipped runs Newton-Schulz in bfloat16: within 2 % of the parameter change,
    and measurably apart (this class computes in the variable's dtype)."""
    torch = pytest.importorskip("torch", reason="torch is needed for the Muon parity test")
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no torch.optim.Muon")
    *_, (w0, mine, theirs, _, _) = _muon_runs(
        torch, np.float64, (16, 8), 20, {"learning_rate": 0.02}, {"lr": 0.02}
    )
    gap = np.linalg.norm(mine - theirs) / np.linalg.norm(theirs - w0)
    assert 1e-4 < gap < 2e-2


@DTYPES
def test_muon_fallback_matches_torch_adamw(dtype):
    torch = pytest.importorskip("torch", reason="torch is needed for the AdamW parity test")
    rng = np.random.default_rng(1)
    shapes = [(7,), (2, 3, 4), ()]
    inits = [rng.normal(size=s).astype(dtype) for s in shapes]
    variables = [optim.Variable(x.copy(), name=f"w{i}") for i, x in enumerate(inits)]
    opt = optim.train.MuonOptimizer(
        0.5, adam_learning_rate=0.01, adam_beta1=0.8, adam_beta2=0.99, adam_epsilon=1e-6,
        adam_weight_decay=0.1,
    )  # fmt: skip
    params = [torch.nn.Parameter(torch.tensor(x.copy())) for x in inits]
    torch_opt = torch.optim.AdamW(params, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    for t in range(20 if dtype == np.float64 else 5):
        grads = [rng.normal(size=s).astype(dtype) for s in shapes]
        opt.apply_gradients(zip(grads, variables))
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g.copy())
        torch_opt.step()
        for var, p in zip(variables, params):
            _close(var.value, p.detach().numpy(), dtype, f"{var.name} step {t + 1}")
    assert opt.get_slot(variables[0], "momentum") is None
    assert opt.get_slot(variables[1], "m") is not None


def test_muon_shape_factor_reads_fan_in_fan_out():
    opt = optim.train.MuonOptimizer()
    assert opt.shape_factor((3, 12)) == 2.0  # fan_out / fan_in = 4
    assert opt.shape_factor((12, 3)) == 1.0
    rms = optim.train.MuonOptimizer(adjust_lr_fn="match_rms_adamw")
    assert rms.shape_factor((3, 16)) == pytest.approx(0.8)


def test_muon_orthogonalises_and_converges_on_a_matrix_problem():
    """The Newton-Schulz output has singular values near 1; Muon solves a matrix least squares
    (a 2-D variable, so the Muon branch) to 1e-3 with a decaying rate."""
    rng = np.random.default_rng(5)
    u = rng.normal(size=(12, 6))
    s = np.linalg.svd(optim.algorithms.muon.newton_schulz(u, (3.4445, -4.7750, 2.0315), 5, 1e-7),
                      compute_uv=False)  # fmt: skip
    assert 0.6 < s.min() and s.max() < 1.2
    a = rng.normal(size=(20, 6))
    target = rng.normal(size=(6, 4))
    b = a @ target
    w = optim.Variable(np.zeros((6, 4)))
    step = optim.Variable(0, trainable=False)
    opt = optim.train.MuonOptimizer(
        lambda k: 0.05 * 0.998**k, weight_decay=0.0
    )
    for _ in range(3000):
        opt.minimize(lambda: anp.mean((anp.dot(a, w.value) - b) ** 2), step, [w])
    np.testing.assert_allclose(w.value, target, atol=1e-3)


# -- Schedule-Free vs schedulefree -------------------------------------------------------------
_SF_CONFIGS = [
    {},
    {"warmup_steps": 5, "r": 0.5, "weight_decay": 0.01},
    {"warmup_steps": 3, "weight_lr_power": 1.0, "r": 1.0},
]


def _schedule_free_pair(kind, dtype, config, foreach, rng):
    torch = pytest.importorskip("torch", reason="torch is needed for schedulefree")
    schedulefree = pytest.importorskip("schedulefree", reason="the schedulefree parity test")
    inits = [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=5).astype(dtype)]
    variables = [optim.Variable(x.copy(), name=f"w{i}") for i, x in enumerate(inits)]
    params = [torch.nn.Parameter(torch.tensor(x.copy())) for x in inits]
    if kind == "sgd":
        opt = optim.train.ScheduleFreeSGDOptimizer(0.1, momentum=0.85, **config)
        ref = schedulefree.SGDScheduleFree(params, lr=0.1, momentum=0.85, foreach=foreach,
                                           **config)  # fmt: skip
    else:
        opt = optim.train.ScheduleFreeAdamWOptimizer(0.02, beta1=0.85, beta2=0.99, **config)
        ref = schedulefree.AdamWScheduleFree(params, lr=0.02, betas=(0.85, 0.99),
                                             foreach=foreach, **config)  # fmt: skip
    ref.train()
    return torch, variables, params, opt, ref


@DTYPES
@pytest.mark.parametrize("kind", ["sgd", "adamw"])
@pytest.mark.parametrize("config", _SF_CONFIGS, ids=["default", "warmup_r_decay", "power_1"])
@pytest.mark.parametrize("foreach", [False, True], ids=["loop", "foreach"])
def test_schedule_free_matches_schedulefree(dtype, kind, config, foreach):
    rng = np.random.default_rng(2)
    torch, variables, params, opt, ref = _schedule_free_pair(kind, dtype, config, foreach, rng)
    for t in range(30):
        grads = [rng.normal(size=v.shape).astype(dtype) for v in variables]
        opt.apply_gradients(zip(grads, variables))
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g.copy())  # schedulefree divides the gradient in place
        ref.step()
        for var, p in zip(variables, params):
            _close(var.value, p.detach().numpy(), dtype, f"y of {var.name} step {t + 1}")
    opt.eval()
    ref.eval()
    for var, p in zip(variables, params):
        _close(var.value, p.detach().numpy(), dtype, f"x of {var.name}")
    opt.train()
    ref.train()
    for var, p in zip(variables, params):
        _close(var.value, p.detach().numpy(), dtype, f"y of {var.name} after train()")


def _schedule_free_run(steps=6):
    rng = np.random.default_rng(4)
    w = optim.Variable(rng.normal(size=(3, 2)), name="w")
    opt = optim.train.ScheduleFreeAdamWOptimizer(0.05, warmup_steps=2)
    grads = [rng.normal(size=(3, 2)) for _ in range(steps)]
    return w, opt, grads


def test_schedule_free_eval_holds_x_train_holds_y(graph):
    w, opt, grads = _schedule_free_run()
    assert opt.training
    for g in grads:
        opt.apply_gradients([(g, w)])
    y, z = w.numpy(), opt.get_slot(w, "z").copy()
    opt.eval()
    assert not opt.training
    np.testing.assert_allclose(w.value, reference.schedule_free_x(y, z, 0.9), **F64)
    x = w.numpy()
    opt.eval()  # idempotent
    np.testing.assert_array_equal(w.value, x)
    opt.train()
    opt.train()
    assert opt.training
    np.testing.assert_allclose(w.value, y, **F64)
    np.testing.assert_array_equal(opt.get_slot(w, "z"), z)  # z never moves in a swap


def test_schedule_free_step_in_eval_mode_raises_and_changes_nothing(graph):
    w, opt, grads = _schedule_free_run()
    opt.apply_gradients([(grads[0], w)])
    opt.eval()
    before = [w.numpy()] + [s.copy() for s in opt.variables()]
    state = opt.state_dict()
    with pytest.raises(RuntimeError, match=r"eval mode.*Call train\(\)"):
        opt.apply_gradients([(grads[1], w)])
    with pytest.raises(RuntimeError, match=r"eval mode"):
        opt.minimize(lambda: anp.sum(w.value**2), var_list=[w])
    for a, b in zip(before, [w.numpy()] + list(opt.variables())):
        np.testing.assert_array_equal(a, b)
    after = opt.state_dict()["schedule_free"]
    assert {k: v for k, v in after.items() if k != "y"} == {
        k: v for k, v in state["schedule_free"].items() if k != "y"
    }
    assert after["y"].keys() == state["schedule_free"]["y"].keys()
    for name, y in after["y"].items():
        np.testing.assert_array_equal(y, state["schedule_free"]["y"][name])
    assert opt.iterations == 1


def test_schedule_free_swap_before_the_first_step_is_a_no_op(graph):
    w = optim.Variable(np.ones(3))
    opt = optim.train.ScheduleFreeSGDOptimizer()
    opt.eval()
    np.testing.assert_array_equal(w.value, np.ones(3))
    opt.train()
    opt.apply_gradients([(np.ones(3), w)])
    np.testing.assert_allclose(w.value, np.ones(3) - 1.0)  # step 1: x = z = w - lr * g


def test_schedule_free_state_keeps_the_mode_and_resumes_bit_identically():
    with optim.Graph().as_default():
        w, opt, grads = _schedule_free_run()
        for g in grads:
            opt.apply_gradients([(g, w)])
        straight = w.numpy()
    with optim.Graph().as_default():
        w, opt, grads = _schedule_free_run()
        for g in grads[:3]:
            opt.apply_gradients([(g, w)])
        opt.eval()  # saved in eval mode: the checkpoint holds x
        saved, state = w.numpy(), opt.state_dict()
    assert state["schedule_free"]["train_mode"] is False
    with optim.Graph().as_default():
        w2 = optim.Variable(saved, name="w")
        opt2 = optim.train.ScheduleFreeAdamWOptimizer(0.05, warmup_steps=2)
        opt2.load_state_dict(state, [w2])
        assert not opt2.training
        opt2.train()
        for g in grads[3:]:
            opt2.apply_gradients([(g, w2)])
        np.testing.assert_allclose(w2.value, straight, **F64)  # the swap rounds once each way
        broken = dict(state, schedule_free={"lr_max": 0.1})
        before = opt2.state_dict()
        with pytest.raises(ValueError, match=r"`state\['schedule_free'\]` must be a dict"):
            opt2.load_state_dict(broken, [w2])
        assert opt2.state_dict()["schedule_free"] == before["schedule_free"]


# -- Prodigy vs prodigyopt -------------------------------------------------------------------------
_PRODIGY_CONFIGS = [
    {},
    {"weight_decay": 0.1},
    {"weight_decay": 0.1, "decouple": False},
    {"beta1": 0.0},
    {"beta1": 0.0, "weight_decay": 0.05, "decouple": False},
    {"growth_rate": 1.02},
    {"use_bias_correction": True, "safeguard_warmup": True, "d_coef": 2.0},
    {"beta3": 0.9, "d0": 1e-5, "epsilon": 1e-6},
]


@DTYPES
@pytest.mark.parametrize("config", _PRODIGY_CONFIGS, ids=lambda c: "-".join(c) or "default")
def test_prodigy_matches_prodigyopt(dtype, config):
    """Two variables (one all zeros: prodigyopt's scalar p0), a zero first gradient (its early
    return), then random gradients; float32 over 5 steps (see the class note)."""
    torch = pytest.importorskip("torch", reason="torch is needed for prodigyopt")
    prodigyopt = pytest.importorskip("prodigyopt", reason="the prodigyopt parity test")
    rng = np.random.default_rng(3)
    inits = [rng.normal(size=(4, 3)).astype(dtype), np.zeros(5, dtype)]
    variables = [optim.Variable(x.copy(), name=f"w{i}") for i, x in enumerate(inits)]
    params = [torch.nn.Parameter(torch.tensor(x.copy())) for x in inits]
    torch_config = dict(config)
    torch_config["betas"] = (torch_config.pop("beta1", 0.9), 0.999)
    torch_config["eps"] = torch_config.pop("epsilon", 1e-8)
    opt = optim.train.ProdigyOptimizer(1.0, **config)
    ref = prodigyopt.Prodigy(params, lr=1.0, **torch_config)
    for t in range(30 if dtype == np.float64 else 5):
        grads = [rng.normal(size=x.shape).astype(dtype) for x in inits]
        if t == 0:
            grads = [np.zeros_like(g) for g in grads]
        opt.apply_gradients(zip(grads, variables))
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g.copy())
        ref.step()
        for var, p in zip(variables, params):
            _close(var.value, p.detach().numpy(), dtype, f"{var.name} step {t + 1}")
        assert opt.d == pytest.approx(ref.param_groups[0]["d"], rel=1e-12 if dtype == np.float64
                                      else 1e-6)  # fmt: skip
    if dtype == np.float64:
        assert opt.d > 1e-6 or config.get("use_bias_correction")  # d grew from d0


def test_prodigy_zero_gradient_and_zero_rate_change_nothing(graph):
    w = optim.Variable(np.arange(3.0), name="w")
    opt = optim.train.ProdigyOptimizer(lambda k: 0.0 if k == 1 else 1.0)
    opt.apply_gradients([(np.zeros(3), w)])  # all-zero: the early return
    np.testing.assert_array_equal(w.value, np.arange(3.0))
    assert opt.state_dict()["prodigy"]["k"] == 0
    before = [w.numpy()] + [s.copy() for s in opt.variables()]
    opt.apply_gradients([(np.ones(3), w)])  # rate 0 (iteration 1): not even the slots move
    for a, b in zip(before, [w.numpy()] + list(opt.variables())):
        np.testing.assert_array_equal(a, b)
    opt.apply_gradients([(np.ones(3), w)])
    assert not np.array_equal(w.value, np.arange(3.0))
    assert opt.state_dict()["prodigy"]["k"] == 1


# -- SAM ---------------------------------------------------------------------------------------
_H = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
_B = np.array([1.0, -0.5, 0.25])
_M = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.7]])


def _sam_loss_terms(w, v, np_=np):
    """An analytic loss of a vector ``w`` and a matrix ``v``: 0.5 w'Hw - b'w + 0.1 sum sin(3w)
    + 0.5 ||M' w - v_col||^2-like coupling, the same formula for autograd and numpy."""
    coupling = np_.sum((np_.dot(w, _M) - np_.sum(v, axis=0)) ** 2)
    return (0.5 * np_.dot(w, np_.dot(_H, w)) - np_.dot(_B, w) + 0.1 * np_.sum(np_.sin(3 * w))
            + 0.5 * coupling + 0.05 * np_.sum(v**4))  # fmt: skip


def _sam_numpy_gradients(ws):
    """The hand-derived gradient of :func:`_sam_loss_terms` (independent of autograd)."""
    w, v = ws
    r = w @ _M - v.sum(axis=0)
    gw = _H @ w - _B + 0.3 * np.cos(3 * w) + _M @ r
    gv = -np.broadcast_to(r, v.shape) + 0.2 * v**3
    return [gw, gv]


def _sam_problem():
    rng = np.random.default_rng(6)
    w = optim.Variable(rng.normal(size=3), name="w")
    v = optim.Variable(rng.normal(size=(2, 2)), name="v")
    return w, v


@pytest.mark.parametrize(
    "adaptive,eta", [(False, 0.0), (True, 0.0), (True, 0.01)], ids=["sam", "asam", "asam_eta"]
)
def test_sam_matches_foret_oracle(graph, adaptive, eta):
    w, v = _sam_problem()
    ws = [w.numpy(), v.numpy()]
    velocity = [np.zeros_like(x) for x in ws]
    opt = optim.train.SAMOptimizer(optim.train.MomentumOptimizer(0.05, 0.9), rho=0.1,
                                   adaptive=adaptive, eta=eta)  # fmt: skip
    calls = []

    def loss():
        calls.append(1)
        return _sam_loss_terms(w.value, v.value, anp)

    for t in range(15):
        value = opt.minimize(loss, var_list=[w, v])
        assert value == pytest.approx(_sam_loss_terms(*ws), rel=1e-12)
        g_sam = reference.sam_gradients(_sam_numpy_gradients, ws, 0.1, adaptive, eta)
        velocity = [0.9 * a + g for a, g in zip(velocity, g_sam)]
        ws = [x - 0.05 * a for x, a in zip(ws, velocity)]
        for var, expected in zip((w, v), ws):
            np.testing.assert_allclose(var.value, expected, err_msg=f"step {t + 1}", **F64)
        np.testing.assert_allclose(opt.get_slot(w, "momentum"), velocity[0], **F64)
    assert opt.gradient_evaluations == 30 and len(calls) == 30  # two a step
    assert opt.iterations == 15 and opt.inner_optimizer.iterations == 15


def test_sam_perturbation_formulas():
    ws = [np.array([1.0, -2.0]), np.array([[0.0, 3.0]])]
    gs = [np.array([3.0, 0.0]), np.array([[4.0, 0.0]])]
    e = optim.algorithms.sam.sam_perturbation(ws, gs, 0.5, False, 0.0)
    np.testing.assert_allclose(e[0], [0.3, 0.0])  # rho g / ||g||, ||g|| = 5 over both
    np.testing.assert_allclose(e[1], [[0.4, 0.0]])
    e = optim.algorithms.sam.sam_perturbation(ws, gs, 0.5, True, 0.0)
    np.testing.assert_allclose(e[0], [0.5, 0.0])  # T = |w|: T g = (3, 0 | 0, 0), norm 3
    np.testing.assert_array_equal(e[1], [[0.0, 0.0]])  # |w| = 0 there
    zero = optim.algorithms.sam.sam_perturbation(ws, [np.zeros(2), np.zeros((1, 2))], 0.5,
                                                 False, 0.0)  # fmt: skip
    assert all(not z.any() for z in zero)  # a zero gradient: no perturbation, no NaN


def test_sam_matches_optax_sam(graph):
    optax = pytest.importorskip("optax", reason="the optax.contrib.sam parity test")
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    with jax.enable_x64(True):
        w, v = _sam_problem()
        params = {"w": jnp.asarray(w.numpy()), "v": jnp.asarray(v.numpy())}
        tx = optax.contrib.sam(optax.sgd(0.05), optax.chain(optax.contrib.normalize(),
                                                            optax.sgd(0.1)))  # fmt: skip
        state = tx.init(params)
        grad = jax.jit(jax.grad(lambda p: _sam_loss_terms(p["w"], p["v"], jnp)))
        update = jax.jit(tx.update)  # compiled once: eager dispatch took seconds
        opt = optim.train.SAMOptimizer(optim.train.GradientDescentOptimizer(0.05), rho=0.1)
        for t in range(10):
            for _ in range(2):  # transparent mode: ascent call, then descent call
                updates, state = update(grad(params), state, params)
                params = optax.apply_updates(params, updates)
            opt.minimize(lambda: _sam_loss_terms(w.value, v.value, anp), var_list=[w, v])
            np.testing.assert_allclose(w.value, np.asarray(params["w"]), err_msg=str(t), **F64)
            np.testing.assert_allclose(v.value, np.asarray(params["v"]), err_msg=str(t), **F64)


def test_sam_apply_gradients_raises_and_changes_nothing(graph):
    w, v = _sam_problem()
    opt = optim.train.SAMOptimizer(optim.train.MomentumOptimizer(0.1, 0.9))
    opt.minimize(lambda: _sam_loss_terms(w.value, v.value, anp), var_list=[w, v])
    before = [w.numpy(), v.numpy()] + [s.copy() for s in opt.variables()]
    with pytest.raises(TypeError, match=r"cannot apply precomputed gradients.*minimize\(loss"):
        opt.apply_gradients([(np.ones(3), w), (np.ones((2, 2)), v)])
    for a, b in zip(before, [w.numpy(), v.numpy()] + list(opt.variables())):
        np.testing.assert_array_equal(a, b)
    assert opt.iterations == 1


def test_sam_restores_the_weights_exactly(graph):
    """With a zero learning rate the step is the identity: w + e is undone bit for bit."""
    w, v = _sam_problem()
    before = [w.numpy(), v.numpy()]
    opt = optim.train.SAMOptimizer(optim.train.GradientDescentOptimizer(0.0), rho=0.3)
    opt.minimize(lambda: _sam_loss_terms(w.value, v.value, anp), var_list=[w, v])
    np.testing.assert_array_equal(w.value, before[0])
    np.testing.assert_array_equal(v.value, before[1])


def test_sam_nonfinite_policies(graph):
    w = optim.Variable(np.ones(3), name="w")
    opt = optim.train.SAMOptimizer(optim.train.GradientDescentOptimizer(0.1))
    with pytest.raises(FloatingPointError, match=r"Non-finite loss \(nan\).*\['w'\]"):
        opt.minimize(lambda: anp.sum(w.value**2) + np.nan, var_list=[w])
    np.testing.assert_array_equal(w.value, np.ones(3))
    # Finite at w, not at w + e (the ascent leaves the loss's domain, w < 1.0001).
    with pytest.raises(FloatingPointError, match=r"at w \+ e"), np.errstate(invalid="ignore"):
        opt.minimize(lambda: -anp.sum(anp.log(1.0001 - w.value)), var_list=[w])
    np.testing.assert_array_equal(w.value, np.ones(3))
    assert opt.iterations == 0 and opt.gradient_evaluations == 3
    skip = optim.train.SAMOptimizer(optim.train.GradientDescentOptimizer(0.1, nonfinite="skip"))
    assert skip.nonfinite == "skip"  # the wrapped optimizer's policy
    skip.minimize(lambda: anp.sum(w.value**2) + np.nan, var_list=[w])
    assert skip.skipped_steps == 1 and skip.iterations == 1 and skip.gradient_evaluations == 1
    np.testing.assert_array_equal(w.value, np.ones(3))
    with pytest.raises(ValueError, match=r"`nonfinite` must not be 'propagate'"):
        optim.train.SAMOptimizer(optim.train.GradientDescentOptimizer(0.1), nonfinite="propagate")


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"rho": -0.1}, ValueError, r"`rho` must be >= 0, got -0.1"),
        ({"rho": float("nan")}, ValueError, r"`rho` must be finite, got nan"),
        ({"rho": "0.05"}, TypeError, r"`rho` must be a float or a zero-argument callable"),
        ({"eta": -1.0}, ValueError, r"`eta` must be >= 0, got -1.0"),
        ({"adaptive": 1}, TypeError, r"`adaptive` must be a bool, got 1"),
    ],
)
def test_sam_bad_hyperparameters_raise(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        optim.train.SAMOptimizer(optim.train.GradientDescentOptimizer(0.1), **kwargs)


def test_wrappers_need_an_optimizer():
    for cls in (optim.train.SAMOptimizer, optim.train.LookaheadOptimizer):
        with pytest.raises(TypeError, match=r"`optimizer` must be an optim.Optimizer, got 0.1"):
            cls(0.1)


def test_sam_state_round_trip_is_bit_identical():
    def run(steps, state=None, values=None):
        with optim.Graph().as_default():
            w, v = _sam_problem()
            if values is not None:
                w.assign(values[0])
                v.assign(values[1])
            opt = optim.train.SAMOptimizer(optim.train.AdamOptimizer(0.05), rho=0.1)
            if state is not None:
                opt.load_state_dict(state, [w, v])
            for _ in range(steps):
                opt.minimize(lambda: _sam_loss_terms(w.value, v.value, anp), var_list=[w, v])
            return [w.numpy(), v.numpy()], opt.state_dict()

    straight, _ = run(8)
    values, state = run(3)
    assert state["kind"] == "SAMOptimizer" and state["inner"]["kind"] == "AdamOptimizer"
    resumed, _ = run(5, state, values)
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)


# -- Lookahead vs optax.lookahead ----------------------------------------------------------------
@pytest.mark.parametrize("sync_period,alpha", [(6, 0.5), (3, 0.8), (1, 0.3)])
def test_lookahead_matches_optax(graph, sync_period, alpha):
    optax = pytest.importorskip("optax", reason="the optax.lookahead parity test")
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    rng = np.random.default_rng(8)
    w0 = rng.normal(size=(3, 2))
    grads = [rng.normal(size=(3, 2)) for _ in range(23)]
    with jax.enable_x64(True):
        tx = optax.lookahead(optax.sgd(0.1, momentum=0.9), sync_period, alpha)
        params = optax.LookaheadParams.init_synced(jnp.asarray(w0))
        state = tx.init(params)
        w = optim.Variable(w0.copy(), name="w")
        opt = optim.train.LookaheadOptimizer(optim.train.MomentumOptimizer(0.1, 0.9),
                                             sync_period, alpha)  # fmt: skip
        for t, g in enumerate(grads):
            updates, state = tx.update(jnp.asarray(g), state, params)
            params = optax.apply_updates(params, updates)
            opt.apply_gradients([(g, w)])
            np.testing.assert_allclose(w.value, np.asarray(params.fast), err_msg=str(t), **F64)
            np.testing.assert_allclose(opt.get_slot(w, "slow"), np.asarray(params.slow),
                                       err_msg=str(t), **F64)  # fmt: skip
            if (t + 1) % sync_period == 0:  # right after a sync: fast == slow
                np.testing.assert_array_equal(w.value, opt.get_slot(w, "slow"))


# -- contracts shared with the rest of optim -----------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: optim.train.ProdigyOptimizer(1.0, d0=1.0),  # a step of ~d: well past the box
        lambda: optim.train.LookaheadOptimizer(optim.train.GradientDescentOptimizer(1.0), 1, 0.9),
    ],
    ids=["prodigy", "lookahead"],
)
def test_constraints_project_after_the_real_update(graph, make):
    """Prodigy steps in _finish and Lookahead syncs after its fast step: both project there."""
    w = optim.Variable(np.zeros(3), constraint=lambda x: np.clip(x, -0.1, 0.1))
    opt = make()
    for _ in range(3):
        opt.apply_gradients([(np.array([1.0, -1.0, 0.5]), w)])
        assert np.all(np.abs(w.value) <= 0.1), w.value
    assert np.abs(w.value).max() > 0.09  # it moved, up to the box


def test_wrappers_are_not_method_names():
    names = optim.optimizer_names()
    assert {"muon", "prodigy", "schedule_free_sgd", "schedule_free_adamw"} <= set(names)
    assert not {"sam", "lookahead", "wrapper"} & set(names)


def test_sam_keeps_float32_and_counts_per_step(graph):
    w = optim.Variable(np.array([0.5, -1.0, 2.0], np.float32), name="w")
    opt = optim.train.SAMOptimizer(optim.train.AdamOptimizer(0.01), rho=0.05, adaptive=True)
    for step in range(1, 4):
        opt.minimize(lambda: anp.sum(w.value**4), var_list=[w])
        assert opt.gradient_evaluations == 2 * step
    assert w.dtype == np.float32 and w.shape == (3,)
    assert all(state.dtype == np.float32 for state in opt.variables())
    assert opt.get_slot_names() == ["m", "v"]


@pytest.mark.parametrize("shape", [(8, 5), (5, 8)], ids=["tall", "wide"])
def test_muon_matches_optax_muon_without_nesterov(shape):
    """optax's layout is optim's ((in, out), the same shape factor). Without Nesterov its bias
    correction cancels in the normalisation, and eps=0 (optax adds it, torch clamps by it)
    leaves the two iterations identical: the 2-D branch agrees to rounding."""
    optax = pytest.importorskip("optax", reason="the optax.contrib.muon parity test")
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    rng = np.random.default_rng(9)
    w0 = rng.normal(size=shape)
    with jax.enable_x64(True):
        tx = optax.contrib.muon(0.02, eps=0.0, nesterov=False, weight_decay=0.1)
        params = jnp.asarray(w0)
        state = tx.init(params)
        update = jax.jit(tx.update)  # one compile instead of thousands of eager dispatches
        with optim.Graph().as_default():
            w = optim.Variable(w0.copy())
            opt = optim.train.MuonOptimizer(0.02, use_nesterov=False, weight_decay=0.1,
                                            epsilon=1e-30)  # fmt: skip
            for t in range(20):
                g = rng.normal(size=shape)
                updates, state = update(jnp.asarray(g), state, params)
                params = optax.apply_updates(params, updates)
                opt.apply_gradients([(g, w)])
                _close(w.value, np.asarray(params), np.float64, f"step {t + 1}")
