"""``optim.scipy_method``: an optim optimizer as a ``scipy.optimize.minimize`` custom method.

The custom method runs the first-order loop of :mod:`optim.scipy.first_order`, the same loop
as ``optim.minimize(method=<optim optimizer>)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scipy.optimize import OptimizeResult

from ..optimizer import Optimizer
from .arguments import check_callback, check_jac, check_x0, standardize_bounds
from .evaluation import short_repr
from .first_order import minimize_first_order, tol_into_options, warn_second_order
from .registry import constructor_parameters, lookup_optimizer, optimizer_names, spec_name

__all__ = ["scipy_method"]


class _ScipyMethod:
    """An optim optimizer as a scipy custom method (see :func:`scipy_method`)."""

    def __init__(self, spec: Any, hyperparameters: dict[str, Any]) -> None:
        self.spec = spec
        self.hyperparameters = dict(hyperparameters)

    def __call__(
        self,
        fun: Callable[..., Any],
        x0: Any,
        args: Any = (),
        jac: Any = None,
        hess: Any = None,
        hessp: Any = None,
        bounds: Any = None,
        constraints: Any = (),
        callback: Callable[..., Any] | None = None,
        **options: Any,
    ) -> OptimizeResult:
        if not callable(fun):
            raise TypeError(f"`fun` must be callable, got {fun!r}.")
        if not isinstance(args, tuple):
            args = (args,)
        leaves0, treedef = check_x0(x0)
        check_jac(jac)
        check_callback(callback)
        std_bounds = standardize_bounds(bounds, treedef)
        if constraints:
            raise ValueError(
                f"`constraints` must be empty for the optim optimizer {spec_name(self.spec)!r} "
                f"(first-order methods take bounds only), got {short_repr(constraints)}."
            )
        warn_second_order(self.spec, hess, hessp, stacklevel=4)
        tol = options.pop("tol", None)
        options = {**self.hyperparameters, **options}
        tol_into_options(options, tol)
        return minimize_first_order(
            fun,
            leaves0,
            treedef,
            args,
            self.spec,
            jac,
            std_bounds,
            callback,
            options,
            stacklevel=4,
        )

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v!r}" for k, v in self.hyperparameters.items())
        return f"optim.scipy_method({spec_name(self.spec)!r}{hyper})"


def scipy_method(optimizer: Any, **hyperparameters: Any) -> Callable[..., OptimizeResult]:
    """An optim optimizer as a ``scipy.optimize.minimize`` custom method.

    Example:
        >>> res = scipy.optimize.minimize(
        ...     fun, x0, jac=grad, method=optim.scipy_method("adam", learning_rate=0.01),
        ...     options={"maxiter": 5000, "gtol": 1e-6})

    The returned callable follows scipy's custom-method protocol: it is called as
    ``method(fun, x0, args=args, jac=jac, hess=hess, hessp=hessp, bounds=bounds,
    constraints=constraints, callback=callback, **options)`` (plus ``tol=`` when given) and
    returns an ``OptimizeResult``. It runs the same loop as ``optim.minimize(method=...)``:

    * ``options`` arrive as keywords: the loop's (``maxiter``, ``gtol``, ``ftol``, ``norm``,
      ``disp``) and the optimizer's constructor arguments, which override ``hyperparameters``;
      any other keyword is accepted and warned about with ``OptimizeWarning``, as scipy's own
      methods do.
    * ``jac`` arrives as a callable (scipy turns ``jac=True`` into one) or as ``None``. scipy
      also turns ``"2-point"`` / ``"3-point"`` / ``"cs"`` into ``None`` for custom methods, so
      ``None`` means the optimizer's own gradient source: autodiff, unless built with
      ``gradient=`` (``scipy_method("adam", gradient="3-point")`` for finite differences).
    * ``bounds`` arrive raw (a ``Bounds``, pairs or a pytree of pairs) and are kept by
      projection; ``callback`` arrives raw and is called in the form its signature asks for,
      with ``StopIteration`` ending the run (``status=99``); ``constraints`` must be empty.

    It also works through ``scipy.optimize.basinhopping(fun, x0, minimizer_kwargs={"method":
    optim.scipy_method(...)})``.

    Args:
        optimizer: a name from :func:`optimizer_names`, an ``optim.Optimizer`` subclass or an
            instance (its state carries over between calls; pass a name or class for a fresh
            optimizer per call).
        **hyperparameters: constructor arguments of the optimizer (``learning_rate=0.01``...).

    Raises:
        ValueError: an unknown optimizer name (the message lists the valid ones).
        TypeError: anything else than a name, class or instance; hyperparameters given with an
            instance, or not accepted by the class.
    """
    if isinstance(optimizer, Optimizer) or (
        isinstance(optimizer, type) and issubclass(optimizer, Optimizer)
    ):
        spec = optimizer
    elif isinstance(optimizer, str):
        spec = lookup_optimizer(optimizer)
        if spec is None:
            raise ValueError(
                f"`optimizer` must be an optim optimizer name {optimizer_names()}, an "
                f"optim.Optimizer subclass or instance, got {optimizer!r}."
            )
    else:
        raise TypeError(
            "`optimizer` must be an optim optimizer name, an optim.Optimizer subclass or "
            f"instance, got {optimizer!r}."
        )
    if hyperparameters:
        if isinstance(spec, Optimizer):
            raise TypeError(
                f"`hyperparameters` must be empty with an optimizer instance ({spec!r}); pass "
                f"its class or name instead, got {hyperparameters!r}."
            )
        named, _ = constructor_parameters(spec)
        unknown = sorted(set(hyperparameters) - set(named))
        if unknown:
            raise TypeError(
                f"`hyperparameters` must be arguments of {spec.__name__} "
                f"({sorted(named)}), got {unknown!r}."
            )
    return _ScipyMethod(spec, hyperparameters)
