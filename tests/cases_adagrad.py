"""Battery cases for the Adagrad family, FTRL and the proximal optimizers.

Configurations reach every branch: epsilon off/on (Adagrad), l1 off/on (AdagradDA, FTRL, both
proximal optimizers), shrinkage off/on, ``learning_rate_power`` at -0.5 (the sqrt path), at
another value (the pow path) and at 0 (fixed rate), and ``beta`` folded into l2.

Convergence settings: the battery checks the minimum of the *unregularized* loss, so the
regularized cases converge with small strengths (1e-3), which move the minimum by about 1e-3.
"""

from optim.algorithms.adagrad import AdagradOptimizer
from optim.algorithms.adagrad_da import AdagradDAOptimizer
from optim.algorithms.ftrl import FtrlOptimizer
from optim.algorithms.proximal import ProximalAdagradOptimizer, ProximalGradientDescentOptimizer
from tests import reference_adagrad as ref
from tests.cases import Case

_LR_BAD = (
    ({"learning_rate": -1.0}, ValueError, r"`learning_rate` must be >= 0, got -1.0"),
    ({"learning_rate": float("nan")}, ValueError, r"`learning_rate` must be finite, got nan"),
    ({"learning_rate": "0.1"}, TypeError, r"`learning_rate` must be a float or a zero-argument"),
)
_LR_POSITIVE_BAD = (
    ({"learning_rate": 0.0}, ValueError, r"`learning_rate` must be > 0, got 0.0"),
    ({"learning_rate": float("inf")}, ValueError, r"`learning_rate` must be finite, got inf"),
    ({"learning_rate": None}, TypeError, r"`learning_rate` must be a float or a zero-argument"),
)
_ACC = "initial_accumulator_value"
_ACC_BAD = (
    ({_ACC: 0.0}, ValueError, rf"`{_ACC}` must be > 0, got 0.0"),
    ({_ACC: -0.1}, ValueError, rf"`{_ACC}` must be > 0, got -0.1"),
    ({_ACC: float("nan")}, ValueError, rf"`{_ACC}` must be finite, got nan"),
    ({_ACC: [0.1]}, TypeError, rf"`{_ACC}` must be a float, got \[0.1\]"),
    ({_ACC: "0.1"}, TypeError, rf"`{_ACC}` must be a float, got '0.1'"),
)
_L1, _L2 = "l1_regularization_strength", "l2_regularization_strength"
_REG_BAD = (
    ({_L1: -0.1}, ValueError, rf"`{_L1}` must be >= 0, got -0.1"),
    ({_L1: float("inf")}, ValueError, rf"`{_L1}` must be finite, got inf"),
    ({_L1: [0.1]}, TypeError, rf"`{_L1}` must be a float or a zero-argument callable"),
    ({_L2: -1.0}, ValueError, rf"`{_L2}` must be >= 0, got -1.0"),
    ({_L2: float("nan")}, ValueError, rf"`{_L2}` must be finite, got nan"),
    ({_L2: True}, TypeError, rf"`{_L2}` must be a float or a zero-argument callable"),
)
_REG = {_L1: 0.05, _L2: 0.1}
_SMALL_REG = {_L1: 1e-3, _L2: 1e-3}

_DA_ACC = "initial_gradient_squared_accumulator_value"
_SHRINK = "l2_shrinkage_regularization_strength"

CASES = [
    # -- Adagrad -----------------------------------------------------------------------------
    Case(
        "adagrad",
        AdagradOptimizer,
        ref.adagrad,
        {"learning_rate": 0.1},
        slots=("accumulator",),
        sparse="lazy",
        converge_hyper={"learning_rate": 1.0},
        converge_steps=5000,
        bad=_LR_BAD + _ACC_BAD,
    ),
    Case(
        "adagrad-epsilon",
        AdagradOptimizer,
        ref.adagrad,
        {"learning_rate": 0.1, "epsilon": 0.1},
        slots=("accumulator",),
        sparse="lazy",
        converge_hyper={"learning_rate": 1.0, "epsilon": 0.1},
        converge_steps=5000,
        bad=(
            ({"epsilon": -1e-7}, ValueError, r"`epsilon` must be >= 0, got -1e-07"),
            ({"epsilon": float("inf")}, ValueError, r"`epsilon` must be finite, got inf"),
            ({"epsilon": "1e-7"}, TypeError, r"`epsilon` must be a float or a zero-argument"),
        ),
    ),
    # -- AdagradDA ---------------------------------------------------------------------------
    Case(
        "adagrad_da",
        AdagradDAOptimizer,
        ref.adagrad_da,
        {"learning_rate": 0.1},
        slots=("gradient_accumulator", "gradient_squared_accumulator"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.3},
        converge_steps=4000,
        needs_global_step=True,
        bad=_LR_BAD
        + (
            ({_DA_ACC: 0.0}, ValueError, rf"`{_DA_ACC}` must be > 0, got 0.0"),
            ({_DA_ACC: float("inf")}, ValueError, rf"`{_DA_ACC}` must be finite, got inf"),
            ({_DA_ACC: "0.1"}, TypeError, rf"`{_DA_ACC}` must be a float, got '0.1'"),
        ),
    ),
    Case(
        "adagrad_da-l1-l2",
        AdagradDAOptimizer,
        ref.adagrad_da,
        {"learning_rate": 0.1, **_REG},
        slots=("gradient_accumulator", "gradient_squared_accumulator"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.3, **_SMALL_REG},
        converge_steps=4000,
        needs_global_step=True,
        bad=_REG_BAD,
    ),
    # -- FTRL --------------------------------------------------------------------------------
    Case(
        "ftrl",
        FtrlOptimizer,
        ref.ftrl,
        {"learning_rate": 0.1},
        slots=("accum", "linear"),
        sparse="lazy",
        converge_hyper={"learning_rate": 1.0},
        converge_steps=5000,
        bad=_LR_POSITIVE_BAD
        + (
            ({_ACC: -0.1}, ValueError, rf"`{_ACC}` must be >= 0, got -0.1"),
            ({_ACC: float("nan")}, ValueError, rf"`{_ACC}` must be finite, got nan"),
            ({_ACC: None}, TypeError, rf"`{_ACC}` must be a float, got None"),
            ({"learning_rate_power": 0.5}, ValueError, r"`learning_rate_power` must be <= 0"),
            ({"learning_rate_power": float("-inf")}, ValueError, r"must be finite, got -inf"),
            ({"learning_rate_power": "-0.5"}, TypeError, r"`learning_rate_power` must be a float"),
            ({"beta": -0.1}, ValueError, r"`beta` must be >= 0, got -0.1"),
            ({"beta": float("nan")}, ValueError, r"`beta` must be finite, got nan"),
            ({"accum_name": 3}, TypeError, r"`accum_name` must be a non-empty string or None"),
            ({"linear_name": ""}, TypeError, r"`linear_name` must be a non-empty string or None"),
        ),
    ),
    Case(
        "ftrl-l1-l2",
        FtrlOptimizer,
        ref.ftrl,
        {"learning_rate": 0.1, **_REG},
        slots=("accum", "linear"),
        sparse="lazy",
        converge_hyper={"learning_rate": 1.0, **_SMALL_REG},
        converge_steps=5000,
        bad=_REG_BAD,
    ),
    Case(
        "ftrl-l2-shrinkage",
        FtrlOptimizer,
        ref.ftrl,
        {"learning_rate": 0.1, **_REG, _SHRINK: 0.1},
        slots=("accum", "linear"),
        sparse="lazy",
        converge_hyper={"learning_rate": 1.0, **_SMALL_REG, _SHRINK: 1e-3},
        converge_steps=5000,
        bad=(
            ({_SHRINK: -0.1}, ValueError, rf"`{_SHRINK}` must be >= 0, got -0.1"),
            ({_SHRINK: float("inf")}, ValueError, rf"`{_SHRINK}` must be finite, got inf"),
            ({_SHRINK: "0"}, TypeError, rf"`{_SHRINK}` must be a float or a zero-argument"),
        ),
    ),
    Case(
        "ftrl-power-beta",
        FtrlOptimizer,
        ref.ftrl,
        {"learning_rate": 0.1, "learning_rate_power": -0.3, "beta": 0.5, _L1: 0.05},
        slots=("accum", "linear"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.05, "learning_rate_power": -0.3, "beta": 0.1},
        converge_steps=5000,
    ),
    Case(
        "ftrl-fixed-rate",
        FtrlOptimizer,
        ref.ftrl,
        {"learning_rate": 0.1, "learning_rate_power": 0.0, "accum_name": "a", "linear_name": "z"},
        slots=("accum", "linear"),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.002},
        converge_steps=5000,
    ),
    # -- proximal ----------------------------------------------------------------------------
    Case(
        "proximal_gd",
        ProximalGradientDescentOptimizer,
        ref.proximal_gradient_descent,
        {"learning_rate": 0.1},
        sparse="lazy",
        converge_hyper={"learning_rate": 0.002},
        converge_steps=5000,
        bad=_LR_BAD + _REG_BAD,
    ),
    Case(
        "proximal_gd-l1-l2",
        ProximalGradientDescentOptimizer,
        ref.proximal_gradient_descent,
        {"learning_rate": 0.1, **_REG},
        sparse="lazy",
        converge_hyper={"learning_rate": 0.002, **_SMALL_REG},
        converge_steps=5000,
    ),
    Case(
        "proximal_gd-l2",
        ProximalGradientDescentOptimizer,
        ref.proximal_gradient_descent,
        {"learning_rate": 0.1, _L2: 0.1},
        sparse="lazy",
        converge_hyper={"learning_rate": 0.002, _L2: 1e-3},
        converge_steps=5000,
    ),
    Case(
        "proximal_adagrad",
        ProximalAdagradOptimizer,
        ref.proximal_adagrad,
        {"learning_rate": 0.1},
        slots=("accumulator",),
        sparse="lazy",
        converge_hyper={"learning_rate": 1.0},
        converge_steps=5000,
        bad=_LR_POSITIVE_BAD + _ACC_BAD + _REG_BAD,
    ),
    Case(
        "proximal_adagrad-l1-l2",
        ProximalAdagradOptimizer,
        ref.proximal_adagrad,
        {"learning_rate": 0.1, **_REG},
        slots=("accumulator",),
        sparse="lazy",
        converge_hyper={"learning_rate": 1.0, **_SMALL_REG},
        converge_steps=5000,
    ),
]
