"""BLAS threads for the benchmarks that time numpy and scipy side by side.

numpy and scipy each bundle their own OpenBLAS, each with its own thread pool. A run that
alternates between them (an objective's matrix products in numpy's, L-BFGS-B's vector
operations in scipy's) makes each library's call wait for the other's threads, still spinning
after their last call, to give up the cores. On the 2-core reference machine, scipy's own
L-BFGS-B on the digits logistic regression measured 7.7 to 9.4 ms per evaluation with two
threads per pool, and 0.77 ms with one; its objective alone costs about 0.6 ms either way.
The benchmarks therefore cap both pools, by default at one thread, and print the cap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def blas_threads(threads: int) -> Iterator[str]:
    """Caps every BLAS pool at ``threads`` inside the block (as they were, after it).

    Yields a one-line description for the benchmark's header. Needs threadpoolctl, which
    scikit-learn (the digits data) brings; without it nothing is capped, and the line says so.
    """
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        yield "BLAS threads: not capped (threadpoolctl is not installed)"
        return
    import numpy  # noqa: F401 - both OpenBLAS pools must be loaded before they are capped
    import scipy.linalg  # noqa: F401

    with threadpool_limits(limits=threads, user_api="blas"):
        pools = [f"{p['filepath'].rsplit('/', 1)[-1]}={p['num_threads']}"
                 for p in threadpool_info() if p["user_api"] == "blas"]  # fmt: skip
        yield f"BLAS threads: {', '.join(pools)} (--blas-threads; benchmarks/blas_threads.py)"
