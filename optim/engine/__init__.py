"""The update engine: fused kernels over flat per-dtype buffers.

- :mod:`optim.engine.numpy_kernels`: pure numpy, block by block (always available).
- :mod:`optim.engine.numba_kernels`: one-pass multithreaded numba kernels (the ``fast``
  extra, ``pip install "optim[fast]"``), imported only on demand.
- :mod:`optim.engine.kernels`: :func:`~optim.engine.kernels.get_kernel` picks one of them.

Importing this package never imports numba.
"""
