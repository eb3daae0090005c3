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
from .lookahead import LookaheadOptimizer, WrapperOptimizer
from .momentum import MomentumOptimizer
from .muon import MuonOptimizer
from .nadam import NadamOptimizer
from .prodigy import ProdigyOptimizer
from .proximal import ProximalAdagradOptimizer, ProximalGradientDescentOptimizer
from .radam import RAdamOptimizer
from .rmsprop import RMSPropOptimizer
from .sam import SAMOptimizer
from .schedule_free import ScheduleFreeAdamWOptimizer, ScheduleFreeSGDOptimizer

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
    "MuonOptimizer",
    "ScheduleFreeSGDOptimizer",
    "ScheduleFreeAdamWOptimizer",
    "ProdigyOptimizer",
    "SAMOptimizer",
    "LookaheadOptimizer",
    "WrapperOptimizer",
]
