"""Choosing an update kernel: numba when it is installed, else the blocked numpy path.

The two implementations share names, signatures and results (bit for bit):
:mod:`optim.engine.numba_kernels` needs the ``fast`` extra (``pip install "optim[fast]"``);
:mod:`optim.engine.numpy_kernels` always works. This module imports numba only when a numba
kernel is asked for.

The environment variable ``OPTIM_ENGINE`` sets the default choice: ``numpy`` forces the
numpy path (tests, and CI's run without the extra), ``numba`` requires numba (an
``ImportError`` if it is missing), ``auto`` or unset picks numba when it imports, and ``off``
turns the flat engine off: the optimizers update variable by variable, as before it existed
(benchmarks compare the two).

Example:
    >>> from optim.engine.kernels import get_kernel
    >>> adam = get_kernel("adam", dtype=np.float32)
    >>> adam(var, m, v, None, grad, alpha, beta1, beta2, epsilon)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from . import numpy_kernels

__all__ = [
    "ENGINES",
    "ENV_VAR",
    "KERNEL_NAMES",
    "available",
    "chosen_engine",
    "engine_enabled",
    "get_kernel",
    "load_numba",
]

ENV_VAR = "OPTIM_ENGINE"
"""The environment variable read by :func:`get_kernel` when ``prefer`` is None."""

ENGINES = ("auto", "numba", "numpy", "off")
"""The accepted values of ``prefer`` and of ``OPTIM_ENGINE`` (``off``: the optimizers keep
their per-variable updates and no flat layout is built; :func:`get_kernel` refuses it)."""

KERNEL_NAMES = numpy_kernels.KERNEL_NAMES

_INSTALL_HINT = (
    'The numba update kernels need numba: pip install "optim[fast]" (or pip install numba).'
)


def load_numba() -> ModuleType:
    """Imports and returns :mod:`optim.engine.numba_kernels` (and with it numba).

    Raises:
        ImportError: numba is not installed (the message says ``pip install "optim[fast]"``).
    """
    try:
        return importlib.import_module(".numba_kernels", __package__)
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def available() -> bool:
    """Whether the numba kernels can be used (imports numba on the first call)."""
    try:
        load_numba()
    except ImportError:
        return False
    return True


def _engine(prefer: Any) -> str:
    if prefer is None:
        prefer = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
        source = f"${ENV_VAR}"
    else:
        source = "`prefer`"
    if not isinstance(prefer, str):
        raise TypeError(f"`prefer` must be one of {ENGINES} or None, got {prefer!r}.")
    if prefer not in ENGINES:
        raise ValueError(f"{source} must be one of {ENGINES}, got {prefer!r}.")
    return prefer


def engine_enabled(prefer: str | None = None) -> bool:
    """Whether the flat engine is on (``prefer``, else ``OPTIM_ENGINE``, is not ``"off"``).

    Raises:
        ValueError: an unknown value.
    """
    return _engine(prefer) != "off"


def chosen_engine(dtype: Any = None, prefer: str | None = None) -> str:
    """``"numba"`` or ``"numpy"``: the implementation :func:`get_kernel` gives for ``dtype``.

    Raises:
        ValueError: an unknown ``prefer`` or ``OPTIM_ENGINE`` value, or the engine is off.
        TypeError: ``prefer`` not a string.
    """
    engine = _engine(prefer)
    if engine == "off":
        raise ValueError(f"The flat engine is off ({ENV_VAR}=off): no kernel is used.")
    if engine == "auto":
        if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
            return "numpy"
        return "numba" if available() else "numpy"
    return engine


def get_kernel(name: str, dtype: Any = None, prefer: str | None = None) -> Callable[..., None]:
    """The kernel ``name`` for buffers of ``dtype``, from numba or numpy.

    Args:
        name: one of :data:`KERNEL_NAMES` (``"adam"``, ``"momentum"``, ...).
        dtype: the buffers' dtype, or None (any). numba compiles float32 and float64 only;
            other dtypes get the numpy kernel under ``"auto"``.
        prefer: ``"auto"`` (numba if it imports, else numpy), ``"numba"`` (required) or
            ``"numpy"``; None (default) reads ``OPTIM_ENGINE`` and falls back to ``"auto"``.

    Returns:
        The kernel function; both implementations take the same positional arguments.

    Raises:
        ValueError: an unknown ``name``, ``prefer`` or ``OPTIM_ENGINE`` value.
        TypeError: ``prefer`` not a string, or ``"numba"`` asked for a dtype it cannot compile.
        ImportError: ``"numba"`` asked for and numba is not installed.
    """
    if not isinstance(name, str) or name not in KERNEL_NAMES:
        raise ValueError(f"`name` must be one of {KERNEL_NAMES}, got {name!r}.")
    if chosen_engine(dtype, prefer) == "numpy":
        return getattr(numpy_kernels, name)
    module = load_numba()
    if dtype is not None and np.dtype(dtype) not in module.SUPPORTED_DTYPES:
        raise TypeError(
            f"`dtype` must be float32 or float64 for the numba kernels, got {np.dtype(dtype)}."
        )
    return getattr(module, name)
