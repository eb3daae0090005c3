"""The active backend's array namespace, for a loss written once for both engines.

``optim.numpy.exp`` is ``autograd.numpy.exp`` while autograd is the active backend and
``jax.numpy.exp`` under ``optim.use_backend("jax")`` (or ``set_backend``, or inside
``minimize(..., backend="jax")``): each attribute is looked up on
``optim.get_backend().numpy`` when it is read. Together with :mod:`optim.nn`, whose fused
losses also follow the active backend, a loss needs no rewrite to switch engines.

Read the attributes through the module at call time (``onp.sum(x)`` inside the loss);
``from optim.numpy import sum`` binds the engine active at import.

Example:
    >>> import optim.numpy as onp
    >>> loss = lambda: onp.sum(onp.tanh(x @ W.value) ** 2)
    >>> with optim.use_backend("jax"):
    ...     optim.AdamOptimizer(0.01).minimize(loss, var_list=[W])
"""

from __future__ import annotations

from typing import Any

from .backend import get_backend


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(get_backend().numpy, name)


def __dir__() -> list[str]:
    return sorted(set(dir(get_backend().numpy)) | set(globals()))
