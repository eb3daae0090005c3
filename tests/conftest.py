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
    with optim.Graph().as_default() as g:
        yield g


# -- the engine the suite runs on --------------------------------------------------------------
# `pytest --backend jax FILES` runs the given tests with jax as the active autodiff engine (CI
# runs the TF contract, the battery's oracle check, the scipy table and custom_gradient so).
# Their losses are written with optim.numpy; a test that needs autograd itself is marked
# `autograd_only` and is skipped on another engine.
def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        default="autograd",
        choices=["autograd", "jax"],
        help="the autodiff engine active during the tests (default autograd)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "autograd_only: needs the autograd engine itself")
    backend = config.getoption("--backend")
    if backend != "autograd":
        optim.set_backend(backend)


def pytest_collection_modifyitems(config, items):
    backend = config.getoption("--backend")
    if backend == "autograd":
        return
    skip = pytest.mark.skip(reason=f"needs autograd itself; the suite runs on {backend}")
    for item in items:
        if "autograd_only" in item.keywords:
            item.add_marker(skip)
