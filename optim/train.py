"""``tf.train``'s names, so code written against ``tf.compat.v1.train`` reads the same.

Example:
    >>> from optim import train
    >>> step = train.get_or_create_global_step()
    >>> opt = train.GradientDescentOptimizer(0.5)
"""

from .algorithms.gradient_descent import GradientDescentOptimizer
from .algorithms.momentum import MomentumOptimizer
from .optimizer import Optimizer
from .variables import get_global_step, get_or_create_global_step

__all__ = [
    "Optimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "get_global_step",
    "get_or_create_global_step",
]
