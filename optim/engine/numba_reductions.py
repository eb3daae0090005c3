"""Reductions over a flat gradient buffer in numba: the non-finite check, multithreaded.

The count of NaN and infinite entries is taken on the buffer's bit patterns (an entry is not
finite exactly when all its exponent bits are set), so the loop is integer-only and
vectorizes, and each thread reads its share of the buffer once. It is exact: the same
answer as ``np.isfinite``, whatever the values.

This module imports numba when it is imported; :mod:`optim.engine.reductions` imports it
only when numba is chosen (see :func:`optim.engine.kernels.get_kernel`'s rules).
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        'optim.engine.numba_reductions needs numba: pip install "optim[fast]" (or pip install '
        "numba), or use optim.engine.reductions without it."
    ) from exc

__all__ = ["SUPPORTED_DTYPES", "count_nonfinite"]

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The dtypes :func:`count_nonfinite` takes (their bit patterns are viewed as unsigned)."""

_EXPONENT_MASKS = {
    np.dtype(np.float32): (np.uint32, np.uint32(0x7F800000)),
    np.dtype(np.float64): (np.uint64, np.uint64(0x7FF0000000000000)),
}
_BLOCK = 16384  # elements per task: each thread takes whole blocks


@numba.njit(parallel=True, cache=True)
def _count_exponent_saturated(bits, mask):
    n = bits.shape[0]
    blocks = (n + _BLOCK - 1) // _BLOCK
    count = 0
    for b in numba.prange(blocks):
        start = b * _BLOCK
        stop = min(start + _BLOCK, n)
        found = 0
        for i in range(start, stop):
            found += (bits[i] & mask) == mask
        count += found
    return count


def count_nonfinite(buffer: np.ndarray) -> int:
    """The number of NaN and infinite entries of a 1-D C-contiguous float32/float64 buffer.

    Raises:
        TypeError: another dtype.
        ValueError: not 1-D and C-contiguous.
    """
    dtype = buffer.dtype
    if dtype not in _EXPONENT_MASKS:
        raise TypeError(f"`buffer` must be float32 or float64, got {dtype}.")
    if buffer.ndim != 1 or not buffer.flags.c_contiguous:
        raise ValueError(f"`buffer` must be 1-D and C-contiguous, got shape {buffer.shape}.")
    unsigned, mask = _EXPONENT_MASKS[dtype]
    return int(_count_exponent_saturated(buffer.view(unsigned), mask))
