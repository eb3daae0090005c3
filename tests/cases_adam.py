"""Battery cases for Adadelta, RMSProp, Adam, AdamW, Adamax and Nadam (see tests/cases.py).

Convergence settings were tuned on the battery's problems (quadratic, 2-D Rosenbrock from
(-1.2, 1)) and pass in float32 and float64 with the battery's tolerances. Adadelta is the
slowest: near the Rosenbrock minimum it behaves like gradient descent with a small adaptive
rate, and 5000 steps at ``learning_rate=0.1, rho=0.7`` end about 0.033 from (1, 1).
"""

from __future__ import annotations

from optim.algorithms.adadelta import AdadeltaOptimizer
from optim.algorithms.adam import AdamOptimizer, AdamWOptimizer
from optim.algorithms.adamax import AdamaxOptimizer
from optim.algorithms.nadam import NadamOptimizer
from optim.algorithms.rmsprop import RMSPropOptimizer
from tests import reference_adam as ref
from tests.cases import Case

_LR_BAD = (
    ({"learning_rate": -1.0}, ValueError, r"`learning_rate` must be >= 0, got -1.0"),
    ({"learning_rate": float("nan")}, ValueError, r"`learning_rate` must be finite, got nan"),
    ({"learning_rate": "0.1"}, TypeError, r"`learning_rate` must be a float or a zero-argument"),
)
_EPSILON_BAD = (
    ({"epsilon": -1e-8}, ValueError, r"`epsilon` must be >= 0, got -1e-08"),
    ({"epsilon": float("inf")}, ValueError, r"`epsilon` must be finite, got inf"),
    ({"epsilon": None}, TypeError, r"`epsilon` must be a float or a zero-argument callable"),
)
_BETAS_BAD = (
    ({"beta1": 1.0}, ValueError, r"`beta1` must be in \[0, 1\), got 1.0"),
    ({"beta1": -0.1}, ValueError, r"`beta1` must be in \[0, 1\), got -0.1"),
    ({"beta1": float("nan")}, ValueError, r"`beta1` must be finite, got nan"),
    ({"beta2": 1.5}, ValueError, r"`beta2` must be in \[0, 1\), got 1.5"),
    ({"beta2": [0.9]}, TypeError, r"`beta2` must be a float or a zero-argument callable"),
)
_AMSGRAD_BAD = (({"amsgrad": 1}, TypeError, r"`amsgrad` must be a bool, got 1"),)

_ADAM = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
_ADAMW = {"weight_decay": 0.01, "learning_rate": 0.01, "beta1": 0.9, "beta2": 0.99}

CASES: list[Case] = [
    Case(
        "adadelta",
        AdadeltaOptimizer,
        ref.adadelta,
        {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-6},
        slots=("accum", "accum_update"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.1, "rho": 0.7, "epsilon": 1e-6},
        converge_steps=5000,
        bad=_LR_BAD
        + (
            ({"rho": 1.5}, ValueError, r"`rho` must be in \[0, 1\], got 1.5"),
            ({"rho": -0.5}, ValueError, r"`rho` must be in \[0, 1\], got -0.5"),
            ({"rho": float("nan")}, ValueError, r"`rho` must be finite, got nan"),
            ({"epsilon": 0.0}, ValueError, r"`epsilon` must be > 0, got 0.0"),
            ({"epsilon": float("-inf")}, ValueError, r"`epsilon` must be finite, got -inf"),
            ({"epsilon": "1e-8"}, TypeError, r"`epsilon` must be a float or a zero-argument"),
        ),
    ),
    Case(
        "rmsprop",
        RMSPropOptimizer,
        ref.rmsprop,
        {"learning_rate": 0.01, "decay": 0.9, "momentum": 0.0, "epsilon": 1e-10},
        slots=("momentum", "rms"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.002},
        converge_steps=5000,
        bad=_LR_BAD
        + _EPSILON_BAD
        + (
            ({"decay": 1.01}, ValueError, r"`decay` must be in \[0, 1\], got 1.01"),
            ({"decay": float("nan")}, ValueError, r"`decay` must be finite, got nan"),
            ({"decay": "0.9"}, TypeError, r"`decay` must be a float or a zero-argument"),
            ({"momentum": -0.9}, ValueError, r"`momentum` must be >= 0, got -0.9"),
            ({"momentum": float("inf")}, ValueError, r"`momentum` must be finite, got inf"),
        ),
    ),
    Case(
        "rmsprop_momentum",
        RMSPropOptimizer,
        ref.rmsprop,
        {"learning_rate": 0.01, "decay": 0.9, "momentum": 0.9, "epsilon": 1e-10},
        slots=("momentum", "rms"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.0005},
        converge_steps=3000,
    ),
    Case(
        "rmsprop_centered",
        RMSPropOptimizer,
        ref.rmsprop,
        {"learning_rate": 0.01, "decay": 0.9, "momentum": 0.0, "epsilon": 1e-6, "centered": True},
        slots=("mg", "momentum", "rms"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.001},
        converge_steps=4000,
        bad=(({"centered": "yes"}, TypeError, r"`centered` must be a bool, got 'yes'"),),
    ),
    Case(
        "rmsprop_centered_momentum",
        RMSPropOptimizer,
        ref.rmsprop,
        {
            "learning_rate": 0.01,
            "decay": 0.95,
            "momentum": 0.9,
            "epsilon": 1e-5,
            "centered": True,
        },
        slots=("mg", "momentum", "rms"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.0005},
        converge_steps=3000,
    ),
    Case(
        "adam",
        AdamOptimizer,
        ref.adam,
        _ADAM,
        slots=("m", "v"),
        sparse="dense",
        converge_hyper={"learning_rate": 0.05},
        converge_steps=2000,
        bad=_LR_BAD + _BETAS_BAD + _EPSILON_BAD + _AMSGRAD_BAD,
    ),
    Case(
        "adam_amsgrad",
        AdamOptimizer,
        ref.adam,
        {**_ADAM, "amsgrad": True},
        slots=("m", "v", "vhat"),
        sparse="dense",
        converge_hyper={"learning_rate": 0.05},
        converge_steps=2000,
    ),
    Case(
        "adamw",
        AdamWOptimizer,
        ref.adamw,
        _ADAMW,
        slots=("m", "v"),
        sparse="dense",
        # Decoupled decay moves the fixed point off the minimum by ~weight_decay: keep it small.
        converge_hyper={"learning_rate": 0.05, "weight_decay": 0.001},
        converge_steps=2000,
        bad=_LR_BAD
        + _BETAS_BAD
        + _AMSGRAD_BAD
        + (
            ({"weight_decay": -0.01}, ValueError, r"`weight_decay` must be >= 0, got -0.01"),
            ({"weight_decay": float("nan")}, ValueError, r"`weight_decay` must be finite"),
            # None is off (the base's weight decay, Keras 3's None), not a bad value.
            ({"weight_decay": "0.1"}, TypeError, r"`weight_decay` must be a float or a zero-arg"),
            (
                {"weight_decay_scale": "lr"},
                ValueError,
                r"`weight_decay_scale` must be 'learning_rate' or 'none', got 'lr'",
            ),
            (
                {"weight_decay_scale": None},
                TypeError,
                r"`weight_decay_scale` must be a string, got None",
            ),
            (
                {"exclude_from_weight_decay": 3},
                TypeError,
                r"`exclude_from_weight_decay` must be a list of optim.Variable objects",
            ),
            (
                {"exclude_from_weight_decay": ["bias", 3]},
                TypeError,
                r"`exclude_from_weight_decay` must hold optim.Variable objects or name "
                r"patterns \(str\), got 3",
            ),
            (
                {"exclude_from_weight_decay": ["("]},
                ValueError,
                r"`exclude_from_weight_decay` patterns must be valid regular expressions, "
                r"got '\('",
            ),
        ),
    ),
    Case(
        "adamw_unscaled_amsgrad",
        AdamWOptimizer,
        ref.adamw,
        {**_ADAMW, "weight_decay": 0.001, "weight_decay_scale": "none", "amsgrad": True},
        slots=("m", "v", "vhat"),
        sparse="dense",
        converge_hyper={"learning_rate": 0.05, "weight_decay": 1e-5, "beta2": 0.999},
        converge_steps=2000,
    ),
    Case(
        "adamax",
        AdamaxOptimizer,
        ref.adamax,
        {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7},
        slots=("m", "v"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.02, "beta2": 0.99},
        converge_steps=3000,
        bad=_LR_BAD + _BETAS_BAD + _EPSILON_BAD,
    ),
    Case(
        "nadam",
        NadamOptimizer,
        ref.nadam,
        {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7},
        slots=("m", "v"),
        sparse="dense",
        converge_hyper={"learning_rate": 0.01},
        converge_steps=4000,
        bad=_LR_BAD
        + _BETAS_BAD
        + _EPSILON_BAD
        + (
            ({"schedule_decay": -0.004}, ValueError, r"`schedule_decay` must be >= 0, got -0"),
            ({"schedule_decay": float("inf")}, ValueError, r"`schedule_decay` must be finite"),
            ({"schedule_decay": "k3"}, TypeError, r"`schedule_decay` must be a float or a zero"),
        ),
    ),
    Case(
        "nadam_keras3",
        NadamOptimizer,
        ref.nadam,
        {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "schedule_decay": 1.0},
        slots=("m", "v"),
        sparse="dense",
        converge_hyper={"learning_rate": 0.05},
        converge_steps=2000,
    ),
]
