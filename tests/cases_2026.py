"""Battery cases for the 2026 optimizers: Muon, Schedule-Free SGD/AdamW, Prodigy, Lookahead.

``CASES`` joins tests/cases.py's table; the oracles are tests/reference_2026.py's.

* **Muon**: the battery's (3, 4) variable takes the Muon step (a non-square matrix, so the
  shape factor ``sqrt(4 / 3)`` is exercised) and its (5,) variable the AdamW fallback; the
  convergence problems are vectors, so they check the AdamW branch (the Muon branch converges
  in tests/test_parity_2026.py).
* **Schedule-Free**: the variables hold ``y`` (train mode); the oracle's state has ``z``.
  The eval point ``x`` and the train/eval swap are tested in tests/test_parity_2026.py.
* **Prodigy**: one ``d`` estimate couples every variable of a step, so its oracle is joint
  (``joint_oracle=True``). ``d0`` and ``growth_rate`` are left at their defaults where the
  callable-hyperparameter check would turn a float into a callable (``d0`` is not a
  hyperparameter: it is the initial state).
* **Lookahead** wraps SGD with momentum (a factory builds both); its slots are its own
  ``slow`` and the wrapped optimizer's ``momentum``.
* **SAM is not a battery case.** The battery drives every optimizer through
  ``apply_gradients`` with precomputed random gradients, which SAM refuses by design (it must
  re-evaluate the loss at ``w + e``). Its oracle check (Foret et al.'s algorithm, every step),
  gradient-evaluation count, non-finite policies, bad hyperparameters and state round trip are
  in tests/test_parity_2026.py, on an analytic loss.
"""

from __future__ import annotations

from typing import Any

import optim
from optim.algorithms.lookahead import LookaheadOptimizer
from optim.algorithms.muon import MuonOptimizer
from optim.algorithms.prodigy import ProdigyOptimizer
from optim.algorithms.schedule_free import ScheduleFreeAdamWOptimizer, ScheduleFreeSGDOptimizer
from tests import reference_2026 as reference
from tests.cases import Case


def _bad(name: str, low: Any, low_text: str, high: Any = None, high_text: str = ""):
    """Out-of-range, NaN, infinite and wrong-type values for hyperparameter ``name``."""
    bad = [
        ({name: low}, ValueError, rf"`{name}` must be {low_text}, got {low!r}"),
        ({name: float("nan")}, ValueError, rf"`{name}` must be finite, got nan"),
        ({name: float("inf")}, ValueError, rf"`{name}` must be finite, got inf"),
        ({name: "0.5"}, TypeError, rf"`{name}` must be a float or a zero-argument callable"),
    ]
    if high is not None:
        bad.append(({name: high}, ValueError, rf"`{name}` must be {high_text}, got {high!r}"))
    return tuple(bad)


_LR_BAD = _bad("learning_rate", -1.0, ">= 0")
_BETA = r"in \[0, 1\)"
_OPEN = r"in \(0, 1\)"

# -- Muon --------------------------------------------------------------------------------------
_MUON_SLOTS = ("momentum", "m", "v")
_MUON_CONVERGE = {"learning_rate": 0.05, "weight_decay": 0.0}

CASES = [
    Case(
        "muon",
        MuonOptimizer,
        reference.muon,
        {"learning_rate": 0.02},
        slots=_MUON_SLOTS,
        converge_hyper=_MUON_CONVERGE,
        converge_steps=3000,
        bad=_LR_BAD
        + _bad("momentum", -0.1, _BETA, 1.0, _BETA)
        + _bad("weight_decay", -0.1, ">= 0")
        + _bad("epsilon", 0.0, "> 0")
        + _bad("adam_learning_rate", -1.0, ">= 0")
        + _bad("adam_beta1", -0.1, _BETA, 1.0, _BETA)
        + _bad("adam_beta2", -0.1, _BETA, 1.0, _BETA)
        + _bad("adam_epsilon", -1.0, ">= 0")
        + _bad("adam_weight_decay", -1.0, ">= 0")
        + (
            ({"ns_steps": 0}, ValueError, r"`ns_steps` must be a positive integer, got 0"),
            ({"ns_steps": 2.0}, TypeError, r"`ns_steps` must be a positive integer, got 2.0"),
            ({"use_nesterov": 1}, TypeError, r"`use_nesterov` must be a bool, got 1"),
            ({"adjust_lr_fn": "rms"}, ValueError, r"`adjust_lr_fn` must be one of"),
            ({"ns_coefficients": (1.0, 2.0)}, TypeError, r"`ns_coefficients` must be a tuple"),
            ({"ns_coefficients": (1.0, 2.0, float("nan"))}, ValueError,
             r"`ns_coefficients\[2\]` must be finite"),
        ),  # fmt: skip
    ),
    Case(
        # No Nesterov, RMS-matching scale, 3 iterations, decay off; an AdamW of its own.
        "muon_plain_match_rms_adamw",
        MuonOptimizer,
        reference.muon,
        {
            "learning_rate": 0.01,
            "momentum": 0.5,
            "use_nesterov": False,
            "weight_decay": 0.0,
            "ns_steps": 3,
            "adjust_lr_fn": "match_rms_adamw",
            "adam_learning_rate": 0.005,
            "adam_beta1": 0.5,
            "adam_beta2": 0.9,
            "adam_epsilon": 1e-3,
            "adam_weight_decay": 0.1,
        },
        slots=_MUON_SLOTS,
        converge_hyper={**_MUON_CONVERGE, "adam_learning_rate": 0.05, "adam_weight_decay": 0.0,
                        "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_epsilon": 1e-8},
        converge_steps=3000,
    ),  # fmt: skip
]

# -- Schedule-Free -----------------------------------------------------------------------------
_SF_COMMON_BAD = (
    _bad("weight_decay", -0.1, ">= 0")
    + _bad("r", -1.0, ">= 0")
    + _bad("weight_lr_power", -1.0, ">= 0")
    + (
        ({"warmup_steps": -1}, ValueError, r"`warmup_steps` must be an integer >= 0, got -1"),
        ({"warmup_steps": 1.5}, TypeError, r"`warmup_steps` must be an integer >= 0, got 1.5"),
    )
)

CASES += [
    Case(
        "schedule_free_sgd",
        ScheduleFreeSGDOptimizer,
        reference.schedule_free_sgd,
        {"learning_rate": 0.1},
        slots=("z",),
        converge_hyper={"learning_rate": 0.004},
        converge_steps=5000,
        bad=_LR_BAD + _bad("momentum", 0.0, _OPEN, 1.0, _OPEN) + _SF_COMMON_BAD,
    ),
    Case(
        # Warmup (c follows lr_max**1 during it), polynomial weights and decay at y.
        "schedule_free_sgd_warmup_r_decay",
        ScheduleFreeSGDOptimizer,
        reference.schedule_free_sgd,
        {"learning_rate": 0.1, "momentum": 0.8, "weight_decay": 0.01, "warmup_steps": 5,
         "r": 0.5, "weight_lr_power": 1.0},
        slots=("z",),
        # Polynomial weights (r = 2) favour the late iterates: 5e-3 from Rosenbrock's minimum.
        converge_hyper={"learning_rate": 0.003, "weight_decay": 0.0, "r": 2.0},
        converge_steps=5000,
    ),  # fmt: skip
    Case(
        "schedule_free_adamw",
        ScheduleFreeAdamWOptimizer,
        reference.schedule_free_adamw,
        {"learning_rate": 0.01},
        slots=("z", "v"),
        # r = 2 weights the late iterates: Rosenbrock within 3e-3 (r = 0: 0.3 at lr 0.02).
        converge_hyper={"learning_rate": 0.05, "r": 2.0},
        converge_steps=3000,
        bad=_LR_BAD
        + _bad("beta1", 0.0, _OPEN, 1.0, _OPEN)
        + _bad("beta2", -0.1, _BETA, 1.0, _BETA)
        + _bad("epsilon", -1.0, ">= 0")
        + _SF_COMMON_BAD,
    ),
    Case(
        "schedule_free_adamw_warmup_r_decay",
        ScheduleFreeAdamWOptimizer,
        reference.schedule_free_adamw,
        {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3,
         "weight_decay": 0.05, "warmup_steps": 4, "r": 1.0, "weight_lr_power": 3.0},
        slots=("z", "v"),
        converge_hyper={"learning_rate": 0.05, "r": 2.0, "weight_decay": 0.0, "epsilon": 1e-8},
        converge_steps=3000,
    ),  # fmt: skip
]

# -- Prodigy -----------------------------------------------------------------------------------
CASES += [
    Case(
        "prodigy",
        ProdigyOptimizer,
        reference.prodigy,
        {"learning_rate": 1.0},
        slots=("p0", "s", "m", "v"),
        joint_oracle=True,
        converge_hyper={"learning_rate": 1.0},
        converge_steps=3000,
        bad=_LR_BAD
        + _bad("beta1", -0.1, _BETA, 1.0, _BETA)
        + _bad("beta2", -0.1, _BETA, 1.0, _BETA)
        + _bad("beta3", -0.1, _BETA, 1.0, _BETA)
        + _bad("epsilon", 0.0, "> 0")
        + _bad("weight_decay", -0.1, ">= 0")
        + _bad("d_coef", 0.0, "> 0")
        + _bad("growth_rate", 0.0, "> 0")
        + (
            ({"d0": 0.0}, ValueError, r"`d0` must be > 0, got 0.0"),
            ({"d0": "1e-6"}, TypeError, r"`d0` must be a float, got '1e-6'"),
            ({"decouple": 0}, TypeError, r"`decouple` must be a bool, got 0"),
            ({"use_bias_correction": "yes"}, TypeError, r"`use_bias_correction` must be a bool"),
            ({"safeguard_warmup": None}, TypeError, r"`safeguard_warmup` must be a bool"),
        ),
    ),
    Case(
        # beta1 = 0 (no m: the step uses the gradient and the new d), coupled decay, a
        # bounded growth of d, an explicit beta3.
        "prodigy_beta1_0_coupled_growth",
        ProdigyOptimizer,
        reference.prodigy,
        {"learning_rate": 1.0, "beta1": 0.0, "beta3": 0.9, "weight_decay": 0.1,
         "decouple": False, "growth_rate": 1.02},
        slots=("p0", "s", "v"),
        joint_oracle=True,
        # With beta1 = 0 and beta3 = 0.9, d overshoots on Rosenbrock (3 to 300 away after 3000
        # steps): converge at the default betas, without decay.
        converge_hyper={"weight_decay": 0.0, "beta1": 0.9, "beta3": None, "growth_rate": None},
        converge_steps=3000,
    ),  # fmt: skip
    Case(
        "prodigy_bias_correction_safeguard_decay",
        ProdigyOptimizer,
        reference.prodigy,
        {"learning_rate": 1.0, "use_bias_correction": True, "safeguard_warmup": True,
         "d_coef": 2.0, "weight_decay": 0.01},
        slots=("p0", "s", "m", "v"),
        joint_oracle=True,
        # Bias correction's small early steps leave Rosenbrock's valley unfinished (0.3-0.6
        # away after 3000 steps): converge without it and without decay.
        converge_hyper={"weight_decay": 0.0, "d_coef": 1.0, "use_bias_correction": False},
        converge_steps=3000,
    ),  # fmt: skip
]


# -- Lookahead ---------------------------------------------------------------------------------
class LookaheadMomentum(LookaheadOptimizer):
    """Lookahead around TF1's MomentumOptimizer, built from the oracle's argument names (a class,
    as the other tests read a case's class attributes). The non-finite options go to the
    wrapped optimizer, whose policy the wrapper takes."""

    def __init__(
        self,
        learning_rate: Any = 0.1,
        momentum: Any = 0.9,
        sync_period: int = 6,
        slow_step_size: Any = 0.5,
        **kwargs: Any,
    ) -> None:
        options = ("nonfinite", "max_consecutive_nonfinite")
        policy = {k: kwargs.pop(k) for k in options if k in kwargs}
        fast = optim.train.MomentumOptimizer(learning_rate, momentum, **policy)
        super().__init__(fast, sync_period, slow_step_size, **kwargs)


CASES += [
    Case(
        "lookahead_momentum",
        LookaheadMomentum,
        reference.lookahead_momentum,
        {"learning_rate": 0.1, "momentum": 0.9, "sync_period": 6, "slow_step_size": 0.5},
        slots=("slow", "momentum"),
        converge_hyper={"learning_rate": 0.0005},
        converge_steps=4000,
        bad=_bad("slow_step_size", -0.1, r"in \[0, 1\]", 1.5, r"in \[0, 1\]")
        + (
            ({"sync_period": 0}, ValueError, r"`sync_period` must be a positive integer, got 0"),
            ({"sync_period": "6"}, TypeError, r"`sync_period` must be a positive integer"),
        ),
    ),
    Case(
        # Every step a sync, alpha = 0.8: the slow weights trail the fast ones each step.
        "lookahead_sync_every_step",
        LookaheadMomentum,
        reference.lookahead_momentum,
        {"learning_rate": 0.05, "momentum": 0.5, "sync_period": 1, "slow_step_size": 0.8},
        slots=("slow", "momentum"),
        converge_hyper={"learning_rate": 0.002, "momentum": 0.9},
        converge_steps=4000,
    ),
    Case(
        "lookahead_period_5_alpha_0",
        LookaheadMomentum,
        reference.lookahead_momentum,
        # alpha = 0: the variables return to their initial value at every sync.
        {"learning_rate": 0.1, "momentum": 0.9, "sync_period": 5, "slow_step_size": 0.0},
        slots=("slow", "momentum"),
        converge_hyper={"learning_rate": 0.0005, "slow_step_size": 0.5},
        converge_steps=4000,
    ),
]
