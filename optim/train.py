"""``tf.train``'s names, so code written against ``tf.compat.v1.train`` reads the same.

Example:
    >>> from optim import train
    >>> step = train.get_or_create_global_step()
    >>> lr = train.exponential_decay(0.1, step, decay_steps=1000, decay_rate=0.96)
    >>> opt = train.AdamOptimizer(lr)
"""

from .accumulation import GradientAccumulationOptimizer
from .algorithms import *  # noqa: F403
from .algorithms import __all__ as _algorithms
from .checkpoint import CheckpointManager, Saver, latest_checkpoint
from .ema import ExponentialMovingAverage
from .multi import MultiOptimizer
from .optimizer import Optimizer
from .schedules import (
    cosine_decay,
    cosine_decay_restarts,
    cyclic,
    cyclic_momentum,
    exponential_decay,
    inverse_time_decay,
    linear_cosine_decay,
    linear_warmup,
    natural_exp_decay,
    noisy_linear_cosine_decay,
    one_cycle,
    one_cycle_momentum,
    piecewise_constant,
    polynomial_decay,
    sequential,
    warmup_cosine_decay,
    warmup_stable_decay,
)
from .variables import get_global_step, get_or_create_global_step

__all__ = [
    "Optimizer",
    *_algorithms,
    "GradientAccumulationOptimizer",
    "MultiOptimizer",
    "get_global_step",
    "get_or_create_global_step",
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
    "ExponentialMovingAverage",
    "Saver",
    "CheckpointManager",
    "latest_checkpoint",
]
