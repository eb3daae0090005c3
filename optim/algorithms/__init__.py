"""One module per optimizer family: a public class and its private in-place kernel."""

from .adagrad import AdagradOptimizer
from .adagrad_da import AdagradDAOptimizer
from .ftrl import FtrlOptimizer
from .gradient_descent import GradientDescentOptimizer
from .momentum import MomentumOptimizer
from .proximal import ProximalAdagradOptimizer, ProximalGradientDescentOptimizer

__all__ = [
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "AdagradOptimizer",
    "AdagradDAOptimizer",
    "FtrlOptimizer",
    "ProximalGradientDescentOptimizer",
    "ProximalAdagradOptimizer",
]
