"""The table of optimizer cases that tests/test_battery.py runs every check over.

A case names an optimizer configuration, the independent oracle it must match and its
capabilities as flags (never ``if case.name == ...`` in a test). The constructor keyword
arguments in ``hyper`` are passed unchanged to the oracle, whose keyword names are the
optimizer's argument names.

Each optimizer family adds its rows in its own ``tests/cases_<family>.py`` (a module-level
``CASES`` list); they are collected below, in file-name order.
"""

from __future__ import annotations

import importlib
import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optim
from tests import reference


@dataclass(frozen=True)
class Case:
    name: str
    cls: Callable[..., optim.Optimizer]
    oracle: Callable[..., Any]
    hyper: dict[str, Any]
    # Slot names (and oracle state keys) compared step by step; a variable has those of them
    # that its oracle state has (Adafactor: factors for matrices, a full "v" for vectors).
    slots: tuple[str, ...] = ()
    # False when slots have shapes of their own (Adafactor's row and column factors).
    slots_shaped_like_variable: bool = True
    # Sparse rule: "lazy" (only touched rows change), "dense" (same as a dense gradient with
    # zero rows elsewhere), or None (no sparse support).
    sparse: str | None = None
    # Hyperparameters for the convergence checks, and their step count.
    converge_hyper: dict[str, Any] = field(default_factory=dict)
    converge_steps: int = 2000
    # Extra positional/keyword arguments needing objects (e.g. a global_step Variable).
    needs_global_step: bool = False
    # Bad constructor arguments: (kwargs overriding hyper, exception type, message regex).
    bad: tuple[tuple[dict[str, Any], type, str], ...] = ()
    # True when one step couples the variables (Prodigy's shared estimate): the oracle then
    # takes every variable at once, ``oracle(ws, gs, states, **hyper) -> (ws, states)``.
    joint_oracle: bool = False

    def make(self, **overrides: Any) -> optim.Optimizer:
        kwargs = {**self.hyper, **overrides}
        if self.needs_global_step:
            kwargs["global_step"] = optim.train.get_or_create_global_step()
        return self.cls(**kwargs)

    def __str__(self) -> str:
        return self.name


_LR_BAD = (
    ({"learning_rate": -1.0}, ValueError, r"`learning_rate` must be >= 0, got -1.0"),
    ({"learning_rate": float("nan")}, ValueError, r"`learning_rate` must be finite, got nan"),
    ({"learning_rate": "0.1"}, TypeError, r"`learning_rate` must be a float or a zero-argument"),
)

CASES: list[Case] = [
    Case(
        "gd",
        optim.train.GradientDescentOptimizer,
        reference.gradient_descent,
        {"learning_rate": 0.1},
        sparse="lazy",
        converge_hyper={"learning_rate": 0.002},
        converge_steps=20000,
        bad=_LR_BAD,
    ),
    Case(
        "momentum",
        optim.train.MomentumOptimizer,
        reference.momentum,
        {"learning_rate": 0.1, "momentum": 0.9},
        slots=("momentum",),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.0005},
        bad=_LR_BAD
        + (
            ({"momentum": -0.5}, ValueError, r"`momentum` must be >= 0, got -0.5"),
            ({"momentum": float("inf")}, ValueError, r"`momentum` must be finite, got inf"),
        ),
    ),
    Case(
        "nesterov",
        optim.train.MomentumOptimizer,
        reference.momentum,
        {"learning_rate": 0.1, "momentum": 0.9, "use_nesterov": True},
        slots=("momentum",),
        sparse="lazy",
        converge_hyper={"learning_rate": 0.0005},
        bad=(({"use_nesterov": 1}, TypeError, r"`use_nesterov` must be a bool, got 1"),),
    ),
]


for _path in sorted(pathlib.Path(__file__).parent.glob("cases_*.py")):
    CASES.extend(importlib.import_module(f"tests.{_path.stem}").CASES)
