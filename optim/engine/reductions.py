"""Reductions over a flat gradient buffer: the non-finite check and the global norm.

With the flat layout a step's gradients sit in one buffer (:meth:`Arena.gather`), so the
checks that look at every gradient become one pass over it:

* :func:`all_finite` answers the optimizer's non-finite policy: numba's multithreaded count
  (:mod:`optim.engine.numba_reductions`) for large float32/float64 buffers when numba is the
  engine, else one numpy sum (a finite sum has finite terms), with ``np.isfinite`` only when
  the sum is not finite;
* :func:`segment_square_sums` gives each variable's sum of squared gradient entries, for
  clipping by global norm. Each sum is numpy's pairwise sum over the segment, the same
  reduction the per-variable path (:func:`optim.clipping.global_norm`) takes over each
  gradient, so the norm, and the clipped gradients, are the same to the bit.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence

import numpy as np

from .kernels import chosen_engine
from .threads import run_chunks, thread_count

__all__ = ["all_finite", "segment_square_sums"]


def all_finite(buffer: np.ndarray, *, parallel: bool = False) -> bool:
    """Whether every entry of a floating-point array is finite.

    Args:
        buffer: the flat gradient (1-D and C-contiguous for ``parallel``), or any array.
        parallel: use numba's multithreaded count when numba is the engine (``OPTIM_ENGINE``)
            and the dtype is float32 or float64, else numpy's sums in threads (one chunk
            each, from half a million elements on); the caller passes True for buffers large
            enough to pay for the threads (see :class:`optim.engine.fused.FusedEngine`).

    Raises:
        ImportError: ``OPTIM_ENGINE=numba`` without numba installed.
        ValueError: ``OPTIM_ENGINE=off`` or an unknown value, with ``parallel``.
    """
    if parallel and buffer.dtype in (np.float32, np.float64):
        if chosen_engine(buffer.dtype) == "numba":
            module = importlib.import_module(".numba_reductions", __package__)
            return module.count_nonfinite(buffer) == 0
    if parallel and buffer.ndim == 1 and buffer.size >= _THREADED_MIN_SIZE:
        # numpy's sums in threads, one chunk each (ufunc reductions release the GIL)
        sums: dict[int, bool] = {}

        def chunk(start: int, stop: int) -> None:
            sums[start] = _sum_is_finite(buffer[start:stop])

        run_chunks(chunk, buffer.size, thread_count(), _CHUNK_ALIGN)
        if all(sums.values()):
            return True
    elif _sum_is_finite(buffer):
        return True
    return bool(np.isfinite(buffer).all())


_THREADED_MIN_SIZE = 1 << 19  # elements: below this one thread sums faster than two
_CHUNK_ALIGN = 1 << 16


def _sum_is_finite(values: np.ndarray) -> bool:
    """Whether numpy's sum of ``values`` is finite, which implies every entry is."""
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(np.add.reduce(values, axis=None))


def segment_square_sums(
    buffer: np.ndarray, offsets: Sequence[int], scratch: np.ndarray
) -> np.ndarray:
    """Each segment's sum of squares, ``[sum(buffer[a:b] ** 2) for consecutive a, b]``.

    Args:
        buffer: the flat gradient (1-D).
        offsets: the segment boundaries, ``len(segments) + 1`` increasing entries from 0 to
            ``buffer.size``.
        scratch: a 1-D array of ``buffer``'s size and dtype, overwritten with the squares.

    Returns:
        The sums, an array of ``buffer``'s dtype (``inf`` where a square or a sum overflows).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        np.square(buffer, out=scratch)
        return np.array(
            [np.add.reduce(scratch[a:b]) for a, b in zip(offsets[:-1], offsets[1:])],
            dtype=buffer.dtype,
        )
