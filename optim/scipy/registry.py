"""The optimizer registry: names -> optim optimizer classes, and what ``method=`` means.

``method=`` is resolved here for every door of :mod:`optim.scipy`: one of scipy's methods (by
name, case-insensitive, or a callable custom method) or an optim optimizer (a name from
:func:`optimizer_names`, an ``optim.Optimizer`` subclass or an instance).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

from ..optimizer import Optimizer

__all__ = [
    "SCIPY_METHODS",
    "optimizer_names",
    "lookup_optimizer",
    "resolve_method",
    "display_name",
    "spec_name",
    "constructor_parameters",
]


#: scipy's built-in method names (``method=`` is matched case-insensitively, as scipy does).
SCIPY_METHODS = (
    "Nelder-Mead",
    "Powell",
    "CG",
    "BFGS",
    "Newton-CG",
    "L-BFGS-B",
    "TNC",
    "COBYLA",
    "COBYQA",
    "SLSQP",
    "trust-constr",
    "dogleg",
    "trust-ncg",
    "trust-exact",
    "trust-krylov",
)
_SCIPY_BY_LOWER = {m.lower(): m for m in SCIPY_METHODS}


_ALIASES = {"sgd": "gradient_descent", "gd": "gradient_descent"}
_algorithms_imported = False


def _import_algorithm_modules() -> None:
    """Imports every module of ``optim.algorithms`` once, so each family registers its classes."""
    global _algorithms_imported
    if _algorithms_imported:
        return
    from .. import algorithms

    for info in pkgutil.iter_modules(algorithms.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{algorithms.__name__}.{info.name}")
    _algorithms_imported = True


def display_name(cls: type) -> str:
    """The registry name of an optimizer class: ``MomentumOptimizer`` -> ``"momentum"``.

    Args:
        cls: an ``optim.Optimizer`` subclass.

    Returns:
        The class name without its ``Optimizer`` suffix, in snake_case (``"gradient_descent"``,
        ``"adagrad_da"``).
    """
    stem = cls.__name__.removesuffix("Optimizer") or cls.__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z]{2}|[A-Z][a-z])", "_", stem).lower()


def _normalize(name: str) -> str:
    key = re.sub(r"[\s_\-]", "", name).lower()
    return key.removesuffix("optimizer") or key


def _optimizer_classes() -> dict[str, type[Optimizer]]:
    """``{name: class}`` for every concrete optimizer defined in optim, found at call time."""
    _import_algorithm_modules()
    found: dict[str, type[Optimizer]] = {}
    stack = list(Optimizer.__subclasses__())
    seen: set[type] = set()
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if (
            not cls.__module__.startswith("optim.")
            or cls.__name__.startswith("_")
            or not cls.implements_dense_updates()
        ):
            continue
        found[display_name(cls)] = cls
    return dict(sorted(found.items()))


def optimizer_names() -> list[str]:
    """The optim optimizer names that ``method=`` accepts (aliases included), sorted.

    Names are matched ignoring case, ``_``, ``-`` and an ``Optimizer`` suffix, so ``"adam"``,
    ``"Adam"`` and ``"AdamOptimizer"`` are the same; ``"sgd"`` and ``"gd"`` mean
    ``"gradient_descent"``. The list is built when called, from every ``optim.Optimizer``
    subclass defined in optim: an optimizer added to ``optim/algorithms/`` is found without
    changes here.
    """
    classes = _optimizer_classes()
    aliases = [a for a, target in _ALIASES.items() if target in classes]
    return sorted([*classes, *aliases])


def lookup_optimizer(name: str) -> type[Optimizer] | None:
    """The optimizer class a name means (see :func:`optimizer_names`), or None.

    Args:
        name: matched ignoring case, ``_``, ``-`` and an ``Optimizer`` suffix; ``"sgd"`` and
            ``"gd"`` are aliases of ``"gradient_descent"``.

    Returns:
        The ``optim.Optimizer`` subclass, or None when no optimizer has that name.
    """
    classes = _optimizer_classes()
    by_key = {_normalize(n): cls for n, cls in classes.items()}
    key = _normalize(name)
    key = _normalize(_ALIASES.get(key, key))
    return by_key.get(key)


def _valid_methods_text() -> str:
    return (
        f"one of scipy's methods {list(SCIPY_METHODS)}, an optim optimizer name "
        f"{optimizer_names()}, an optim.Optimizer subclass or instance, or a callable "
        "(a scipy custom method)"
    )


def resolve_method(method: Any, constraints: Any, bounds: Any) -> tuple[str, Any]:
    """What ``method=`` means: ``("scipy", name or callable)`` or ``("optim", class or instance)``.

    Args:
        method: None (scipy's default for ``constraints`` and ``bounds``), a scipy method name
            (case-insensitive), an optim optimizer name, an ``optim.Optimizer`` subclass or
            instance, or a callable (a scipy custom method).
        constraints: the caller's constraints (only their truth is read, for the default).
        bounds: the caller's bounds (only ``is not None`` is read, for the default).

    Returns:
        ``("scipy", canonical name or callable)`` or ``("optim", class or instance)``.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
        TypeError: anything else that is not callable.
    """
    if method is None:
        if constraints:
            return "scipy", "SLSQP"
        return "scipy", "L-BFGS-B" if bounds is not None else "BFGS"
    if isinstance(method, Optimizer):
        return "optim", method
    if isinstance(method, type) and issubclass(method, Optimizer):
        return "optim", method
    if isinstance(method, str):
        scipy_name = _SCIPY_BY_LOWER.get(method.lower())
        if scipy_name is not None:
            return "scipy", scipy_name
        cls = lookup_optimizer(method)
        if cls is not None:
            return "optim", cls
        # scipy's words first (users' tests match on them), then what optim accepts.
        raise ValueError(
            f"Unknown solver {method}: `method` must be {_valid_methods_text()}, got {method!r}."
        )
    if callable(method):
        return "scipy", method
    raise TypeError(f"`method` must be {_valid_methods_text()}, got {method!r}.")


def constructor_parameters(cls: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """The named parameters of ``cls.__init__`` and whether it takes ``**kwargs``.

    Args:
        cls: an ``optim.Optimizer`` subclass.

    Returns:
        ``({name: inspect.Parameter}, takes_var_kwargs)``; a constructor with ``**kwargs`` also
        gets the base class's keyword-only options (``gradient``, ``nonfinite``...).
    """
    parameters = dict(inspect.signature(cls.__init__).parameters)
    parameters.pop("self", None)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    named = {k: p for k, p in parameters.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    if var_kw:  # the base class's keyword-only options travel through **kwargs
        base = inspect.signature(Optimizer.__init__).parameters
        for k, p in base.items():
            if p.kind is p.KEYWORD_ONLY:
                named.setdefault(k, p)
    return named, var_kw


def spec_name(spec: Any) -> str:
    """The name of a resolved optim method, for messages.

    Returns:
        The class name of an instance, else the registry name of the class
        (:func:`display_name`).
    """
    if isinstance(spec, Optimizer):
        return type(spec).__name__
    return display_name(spec)
