"""``tf.train``'s names, so code written against ``tf.compat.v1.train`` reads the same.

Example:
    >>> from optim import train
    >>> step = train.get_or_create_global_step()
    >>> opt = train.GradientDescentOptimizer(0.5)
"""

from .algorithms import *  # noqa: F403
from .algorithms import __all__ as _algorithms
from .optimizer import Optimizer
from .variables import get_global_step, get_or_create_global_step

__all__ = [
    "Optimizer",
    *_algorithms,
    "get_global_step",
    "get_or_create_global_step",
]
