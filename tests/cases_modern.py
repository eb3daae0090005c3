"""Battery cases for Lion, RAdam, LAMB and Adafactor (``CASES`` joins tests/cases.py's table).

Adafactor keeps its row and column factors in slots of their own shapes
(``slots_shaped_like_variable=False``).

Convergence settings (5000 steps at most; the battery's tolerances unchanged):

* Lion at Keras' defaults reaches both minima at ``learning_rate=0.001`` in 4000 steps (its
  steps are exactly ``lr`` per coordinate, so the error settles at about ``2 * lr``).
* RAdam's first five steps are un-adapted SGD with momentum (``rho_t <= 5``), which diverges on
  Rosenbrock from (-1.2, 1) for ``learning_rate >= 0.008``; at 0.005, ``beta2=0.999`` rectifies
  too slowly (0.38 away after 5000 steps) and ``beta2=0.99`` converges in 2000.
* LAMB's steps are ``lr * ||w||`` long, and Rosenbrock's valley from (-1.2, 1) runs through the
  origin, where LAMB crawls: a constant rate either stays there for most of the run (0.005: it
  arrives near step 4700) or oscillates near the tolerance (0.006: 3-4.4e-2). An exponentially
  decaying rate (0.04 to 0.001 over 3000 steps, a schedule read from the global step) leaves the
  origin by step 1250 and ends within 3e-3.
* Adafactor's step is ``max(epsilon_2, RMS(w)) * min(lr, 1/sqrt(t))``: ``epsilon_2=1`` lets it
  leave the quadratic's zero start, and ``clip_threshold=0.5`` damps the valley's zigzag.
"""

from __future__ import annotations

import optim
from optim.algorithms.adafactor import AdafactorOptimizer
from optim.algorithms.lamb import LAMBOptimizer
from optim.algorithms.lion import LionOptimizer
from optim.algorithms.radam import RAdamOptimizer
from tests import reference_modern as reference
from tests.cases import Case


def _exponential_decay(start: float, end: float, steps: int):
    """A zero-argument learning rate going from ``start`` to ``end`` over ``steps`` global steps."""

    def learning_rate() -> float:
        step = int(optim.train.get_global_step().value)
        return start * (end / start) ** min(1.0, step / steps)

    return learning_rate


def _bad(name: str, low: float, low_text: str, high: float | None = None, high_text: str = ""):
    """Out-of-range, NaN, infinite and wrong-type values for hyperparameter ``name``."""
    bad = [
        ({name: low}, ValueError, rf"`{name}` must be {low_text}, got {low!r}"),
        ({name: float("nan")}, ValueError, rf"`{name}` must be finite, got nan"),
        ({name: float("inf")}, ValueError, rf"`{name}` must be finite, got inf"),
        ({name: "0.5"}, TypeError, rf"`{name}` must be a float or a zero-argument callable"),
        ({name: True}, TypeError, rf"`{name}` must be a float or a zero-argument callable"),
    ]
    if high is not None:
        bad.append(({name: high}, ValueError, rf"`{name}` must be {high_text}, got {high!r}"))
    return tuple(bad)


_LR_BAD = _bad("learning_rate", -1.0, ">= 0")
_BETA_BAD = _bad("beta1", -0.1, r"in \[0, 1\)", 1.0, r"in \[0, 1\)") + _bad(
    "beta2", -0.1, r"in \[0, 1\)", 1.0, r"in \[0, 1\)"
)
_EPSILON_BAD = _bad("epsilon", -1e-8, ">= 0")

_LION_CONVERGE = {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.99}
_LAMB_CONVERGE = {"learning_rate": _exponential_decay(0.04, 0.001, 3000), "weight_decay": 0.0}
_RADAM_CONVERGE = {"learning_rate": 0.005, "beta2": 0.99}

CASES = [
    Case(
        "lion",
        LionOptimizer,
        reference.lion,
        {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.99},
        slots=("momentum",),
        sparse="lazy",
        converge_hyper=_LION_CONVERGE,
        converge_steps=4000,
        bad=_LR_BAD
        + _bad("beta1", 0.0, r"in \(0, 1\]", 1.5, r"in \(0, 1\]")
        + _bad("beta2", -0.5, r"in \[0, 1\]", 1.01, r"in \[0, 1\]"),
    ),
    Case(
        # beta1 = 1: the step is sign(m) alone; beta2 = 0: m is the last gradient.
        "lion_beta1_1_beta2_0",
        LionOptimizer,
        reference.lion,
        {"learning_rate": 0.01, "beta1": 1.0, "beta2": 0.0},
        slots=("momentum",),
        sparse="lazy",
        converge_hyper=_LION_CONVERGE,
        converge_steps=4000,
    ),
    Case(
        # Default betas: rho_t <= 5 (un-adapted) for t <= 5, rectified from t = 6.
        "radam",
        RAdamOptimizer,
        reference.radam,
        {"learning_rate": 0.01},
        slots=("m", "v"),
        sparse="dense",
        converge_hyper=_RADAM_CONVERGE,
        converge_steps=2500,
        bad=_LR_BAD + _BETA_BAD + _EPSILON_BAD,
    ),
    Case(
        "radam_beta2_0.9_epsilon",
        RAdamOptimizer,
        reference.radam,
        {"learning_rate": 0.01, "beta1": 0.5, "beta2": 0.9, "epsilon": 0.1},
        slots=("m", "v"),
        sparse="dense",
        converge_hyper={"learning_rate": 0.005},
        converge_steps=2500,
    ),
    Case(
        # beta2 = 0.5: rho_inf = 3 < 5, never rectified (bias-corrected momentum SGD);
        # beta1 = 0: plain SGD.
        "radam_never_rectified_sgd",
        RAdamOptimizer,
        reference.radam,
        {"learning_rate": 0.01, "beta1": 0.0, "beta2": 0.5},
        slots=("m", "v"),
        sparse="dense",
        converge_hyper={"learning_rate": 0.005, "beta1": 0.9},
        converge_steps=2500,
    ),
    Case(
        "lamb",
        LAMBOptimizer,
        reference.lamb,
        {"learning_rate": 0.01},
        slots=("m", "v"),
        converge_hyper=_LAMB_CONVERGE,
        converge_steps=3000,
        bad=_LR_BAD + _BETA_BAD + _EPSILON_BAD + _bad("weight_decay", -0.01, ">= 0"),
    ),
    Case(
        "lamb_weight_decay",
        LAMBOptimizer,
        reference.lamb,
        {"learning_rate": 0.01, "beta1": 0.5, "beta2": 0.9, "epsilon": 1e-3, "weight_decay": 0.1},
        slots=("m", "v"),
        # Weight decay moves the fixed point off the minimum: converge without it (and with the
        # default betas and epsilon, as the "lamb" case).
        converge_hyper={**_LAMB_CONVERGE, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-6},
        converge_steps=3000,
    ),
]

_ADAFACTOR_CONVERGE = {"learning_rate": 0.005, "epsilon_2": 1.0, "clip_threshold": 0.5}

CASES += [
    Case(
        "adafactor",
        AdafactorOptimizer,
        reference.adafactor,
        {"learning_rate": 0.1},
        slots=("v", "vc", "vr"),
        slots_shaped_like_variable=False,
        converge_hyper=_ADAFACTOR_CONVERGE,
        converge_steps=4000,
        bad=_LR_BAD
        + _bad("beta_2_decay", 0.5, "<= 0")
        + _bad("epsilon_1", -1e-30, ">= 0")
        + _bad("epsilon_2", -1e-3, ">= 0")
        + _bad("clip_threshold", 0.0, "> 0")
        + (({"relative_step": 1}, TypeError, r"`relative_step` must be a bool, got 1"),),
    ),
    Case(
        # Keras' golden configuration: rho = 1/sqrt(t) from t = 5, clipping at 0.9.
        "adafactor_keras_golden",
        AdafactorOptimizer,
        reference.adafactor,
        {
            "learning_rate": 0.5,
            "beta_2_decay": -0.65,
            "epsilon_1": 1e-15,
            "epsilon_2": 1e-4,
            "clip_threshold": 0.9,
            "relative_step": False,
        },
        slots=("v", "vc", "vr"),
        slots_shaped_like_variable=False,
        converge_hyper=_ADAFACTOR_CONVERGE,
        converge_steps=4000,
    ),
]
