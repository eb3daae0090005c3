"""A new optimizer written outside the package through TF1's hooks alone."""

import autograd.numpy as anp
import numpy as np

import optim


def _sign_momentum(var, m, grad, lr, beta):
    """m = beta*m + (1-beta)*g; var -= lr*sign(m), in place."""
    np.multiply(m, beta, out=m)
    m += (1 - beta) * grad
    var -= lr * np.sign(m)


class SignMomentum(optim.Optimizer):
    """signSGD with momentum, with a step counter kept as non-slot state."""

    def __init__(self, learning_rate, beta=0.9, use_locking=False, name="SignMomentum"):
        super().__init__(use_locking, name)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta", beta, optim.Interval(0.0, 1.0, high_open=True))
        self.prepared = 0

    def _create_slots(self, var_list):
        first = min(var_list, key=lambda v: v.name)
        self._create_non_slot_variable(0, "steps", colocate_with=first)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)

    def _prepare(self):
        super()._prepare()
        self.prepared += 1

    def _apply_dense(self, grad, var):
        _sign_momentum(
            var._value,
            self.get_slot(var, "m"),
            grad,
            self._get_hyper("learning_rate", var.dtype),
            self._get_hyper("beta", var.dtype),
        )

    def _finish(self, update_ops, name_scope):
        self._get_non_slot_variable("steps")[...] += 1


def test_user_defined_optimizer_runs_through_the_base_class(graph):
    w = optim.Variable(np.array([3.0, -2.0, 0.5]), name="w")
    b = optim.Variable(np.float64(1.0), name="b")
    opt = SignMomentum(0.1, beta=0.5)
    step = optim.train.get_or_create_global_step()
    ref_w, ref_b = w.numpy(), b.numpy()
    m_w, m_b = np.zeros(3), np.zeros(())
    for _ in range(4):
        loss = opt.minimize(lambda: anp.sum(w.value**2) + b.value**2, global_step=step)
        gw, gb = 2 * ref_w, 2 * ref_b
        assert loss == np.sum(ref_w**2) + ref_b**2
        m_w, m_b = 0.5 * m_w + 0.5 * gw, 0.5 * m_b + 0.5 * gb
        ref_w, ref_b = ref_w - 0.1 * np.sign(m_w), ref_b - 0.1 * np.sign(m_b)
    np.testing.assert_allclose(w.value, ref_w, rtol=1e-15)
    np.testing.assert_allclose(b.value, ref_b, rtol=1e-15)
    assert opt.get_slot_names() == ["m"]
    np.testing.assert_allclose(opt.get_slot(w, "m"), m_w, rtol=1e-15)
    assert opt.prepared == 4 and int(step.value) == 4
    assert opt._get_non_slot_variable("steps") == 4
    assert len(opt.variables()) == 3  # two slots and the counter


def test_user_defined_optimizer_validates_through_set_hyper():
    import pytest

    with pytest.raises(ValueError, match=r"`beta` must be in \[0, 1\), got 1.0"):
        SignMomentum(0.1, beta=1.0)
