"""``scipy.optimize.minimize`` both ways, and TF contrib's ``ScipyOptimizerInterface``.

Three doors into the same engines:

* :func:`minimize` is ``scipy.optimize.minimize`` with pytrees and autodiff. ``method`` is either
  one of scipy's methods (the call goes to scipy, with the gradient, Hessian-vector products and
  Hessians taken by the autodiff backend: autograd, or jax with ``backend="jax"``) or any optim
  optimizer (``"adam"``, ``MomentumOptimizer``, an instance...), run by a first-order loop with
  scipy's stopping rules, bounds by projection and scipy's result object.
* :func:`scipy_method` packs an optim optimizer as a scipy *custom method*:
  ``scipy.optimize.minimize(fun, x0, method=optim.scipy_method("adam", learning_rate=0.01))``.
  It runs the same first-order loop.
* :class:`ScipyOptimizerInterface` is TF1 contrib's bridge for the world of Variables and
  zero-argument closures: pack the variables, minimize with scipy (or an optim optimizer), write
  the solution back into the variables.

One module per job:

* ``registry``: optimizer names -> classes, and what ``method=`` means;
* ``arguments``: the checks of ``x0``, ``jac``, ``callback`` and ``bounds``;
* ``evaluation``: the scalar check of ``fun``'s output and ``fun`` as a function of its leaves
  (what the one gradient path, :func:`optim.gradients.value_and_gradients`, differentiates);
* ``first_order``: the first-order loop (its stopping rules are in its docstring);
* ``bridge``: scipy's own methods on the pytree problem;
* ``minimize``, ``method``, ``interface``: the three doors.

Inside this package ``import scipy`` is absolute and reaches the real scipy.
"""

from .interface import ExternalOptimizerInterface, ScipyOptimizerInterface
from .method import scipy_method
from .minimize import minimize
from .registry import SCIPY_METHODS, optimizer_names

__all__ = [
    "minimize",
    "scipy_method",
    "optimizer_names",
    "ScipyOptimizerInterface",
    "ExternalOptimizerInterface",
    "SCIPY_METHODS",
]
