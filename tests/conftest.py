import gc
import os

import pytest

# Under pytest-xdist one worker process runs per core, so the cores are shared: OpenMP threads
# that spin between numba kernel calls would wait on descheduled siblings (milliseconds per
# call, see optim/engine/numba_kernels.py). Set before any kernel runs; results are unchanged.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import optim


@pytest.fixture
def graph():
    """A fresh default graph for the test, so the registry holds only its variables."""
    gc.collect()
    with optim.Graph().as_default() as g:
        yield g
