"""optim: TensorFlow 1 style optimizers on numpy.

Gradients come from reverse-mode automatic differentiation (HIPS autograd) by default; any call
can take a user-supplied gradient function or finite differences instead (``gradient=``).
"""

from . import clipping, datasets, nn, numpy, plotting, pytree, schedules, train, training
from .accumulation import GradientAccumulationOptimizer
from .algorithms import *  # noqa: F403
from .algorithms import __all__ as _algorithms
from .backend import get_backend, set_backend, use_backend
from .backends.autograd import AutogradBackend
from .checkpoint import (
    CheckpointError,
    CheckpointManager,
    latest_checkpoint,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from .clipping import clip_by_global_norm, clip_by_norm, clip_by_value, global_norm
from .ema import ExponentialMovingAverage
from .gradcheck import GradientCheck, assert_gradients_close, check_gradients
from .gradient_ops import (
    Op,
    RegisterGradient,
    custom_gradient,
    gradient_override_map,
    stop_gradient,
)
from .gradients import (
    Autodiff,
    FiniteDifferences,
    GradientSource,
    JitClosure,
    LossWithGradient,
    UserGradient,
    as_gradient_source,
    hessian,
    hessian_vector_product,
    jit_closure,
)
from .multi import MultiOptimizer
from .optimizer import Optimizer
from .scipy import (
    ExternalOptimizerInterface,
    ScipyOptimizerInterface,
    minimize,
    optimizer_names,
    scipy_method,
)
from .sparse import IndexedSlices
from .training import fit
from .validation import Interval
from .variables import (
    Graph,
    Variable,
    get_default_graph,
    get_global_step,
    get_or_create_global_step,
    global_variables,
    reset_default_graph,
    trainable_variables,
)

__version__ = "0.1.0"

__all__ = [
    "train",
    "training",
    "schedules",
    "clipping",
    "plotting",
    "pytree",
    "fit",
    "minimize",
    "scipy_method",
    "optimizer_names",
    "ScipyOptimizerInterface",
    "ExternalOptimizerInterface",
    "GradientAccumulationOptimizer",
    "MultiOptimizer",
    "ExponentialMovingAverage",
    "save_checkpoint",
    "restore_checkpoint",
    "read_checkpoint",
    "CheckpointManager",
    "CheckpointError",
    "latest_checkpoint",
    "clip_by_value",
    "clip_by_norm",
    "clip_by_global_norm",
    "global_norm",
    "nn",
    "numpy",
    "datasets",
    "Variable",
    "Graph",
    "get_default_graph",
    "reset_default_graph",
    "trainable_variables",
    "global_variables",
    "get_global_step",
    "get_or_create_global_step",
    "Optimizer",
    *_algorithms,
    "Interval",
    "IndexedSlices",
    "GradientSource",
    "Autodiff",
    "UserGradient",
    "LossWithGradient",
    "FiniteDifferences",
    "as_gradient_source",
    "custom_gradient",
    "RegisterGradient",
    "gradient_override_map",
    "stop_gradient",
    "Op",
    "check_gradients",
    "assert_gradients_close",
    "GradientCheck",
    "hessian_vector_product",
    "hessian",
    "jit_closure",
    "JitClosure",
    "AutogradBackend",
    "get_backend",
    "set_backend",
    "use_backend",
]
