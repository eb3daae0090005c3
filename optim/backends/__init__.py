"""The autodiff engines behind :class:`optim.backend.Backend`, one module each.

* :mod:`optim.backends.autograd`: HIPS autograd, reverse mode on numpy (the default);
* :mod:`optim.backends.jax`: JAX, with jit compilation of pure functions (optional:
  ``pip install "optim[jax]"``).

An engine is imported the first time :func:`optim.get_backend` is asked for it, never by
``import optim``. These are the only modules of optim that import an autodiff package.
"""
