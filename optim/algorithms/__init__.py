"""One module per optimizer family: a public class and its private in-place kernel."""

from .adadelta import AdadeltaOptimizer
from .adafactor import AdafactorOptimizer
from .adagrad import AdagradOptimizer
from .adagrad_da import AdagradDAOptimizer
from .adam import AdamOptimizer, AdamWOptimizer
from .adamax import AdamaxOptimizer
from .ftrl import FtrlOptimizer
from .gradient_descent import GradientDescentOptimizer
from .lamb import LAMBOptimizer
from .lion import LionOptimizer
from .momentum import MomentumOptimizer
from .nadam import NadamOptimizer
from .proximal import ProximalAdagradOptimizer, ProximalGradientDescentOptimizer
from .radam import RAdamOptimizer
from .rmsprop import RMSPropOptimizer

__all__ = [
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "AdagradOptimizer",
    "AdagradDAOptimizer",
    "AdadeltaOptimizer",
    "RMSPropOptimizer",
    "AdamOptimizer",
    "FtrlOptimizer",
    "ProximalGradientDescentOptimizer",
    "ProximalAdagradOptimizer",
    "AdamWOptimizer",
    "AdamaxOptimizer",
    "NadamOptimizer",
    "LionOptimizer",
    "AdafactorOptimizer",
    "RAdamOptimizer",
    "LAMBOptimizer",
]
