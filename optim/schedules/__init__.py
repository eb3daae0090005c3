"""Learning-rate schedules as pure functions of the step, one :class:`Schedule` mechanism.

Each schedule function checks its arguments once and returns a :class:`Schedule`: a pure
function ``fn(step) -> float`` bound to where the global step is read (an ``optim.Variable``, a
zero-argument callable or a number). An optimizer given a schedule as a hyperparameter evaluates
it once per ``apply_gradients`` at the current step; ``schedule(step)`` evaluates it anywhere.

- :mod:`optim.schedules.base`: the :class:`Schedule` object and the step checks.
- :mod:`optim.schedules.tf1`: TF1's ``tf.train.*_decay`` family (and ``warmup_cosine_decay``).
- :mod:`optim.schedules.torch_family`: torch's schedules beyond TF1's (``one_cycle``,
  ``cyclic`` and the momenta they cycle), warmup-stable-decay, and composition
  (``linear_warmup``, ``sequential``).
  torch's ``CosineAnnealingWarmRestarts`` is :func:`cosine_decay_restarts` (see its mapping).

Schedules compose: ``linear_warmup`` and ``sequential`` take any schedule, of either family.
"""

from .base import Schedule
from .tf1 import (
    cosine_decay,
    cosine_decay_restarts,
    exponential_decay,
    inverse_time_decay,
    linear_cosine_decay,
    natural_exp_decay,
    noisy_linear_cosine_decay,
    piecewise_constant,
    polynomial_decay,
    warmup_cosine_decay,
)
from .torch_family import (
    cyclic,
    cyclic_momentum,
    linear_warmup,
    one_cycle,
    one_cycle_momentum,
    sequential,
    warmup_stable_decay,
)

__all__ = [
    "Schedule",
    "exponential_decay",
    "piecewise_constant",
    "polynomial_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "cosine_decay",
    "cosine_decay_restarts",
    "linear_cosine_decay",
    "noisy_linear_cosine_decay",
    "warmup_cosine_decay",
    "one_cycle",
    "one_cycle_momentum",
    "cyclic",
    "cyclic_momentum",
    "linear_warmup",
    "sequential",
    "warmup_stable_decay",
]
