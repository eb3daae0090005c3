import gc

import pytest

import optim


@pytest.fixture
def graph():
    """A fresh default graph for the test, so the registry holds only its variables."""
    gc.collect()
    with optim.Graph().as_default() as g:
        yield g
