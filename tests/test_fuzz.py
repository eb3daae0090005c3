"""Property-based fuzzing of the boundaries: random pytrees and random hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest

import optim

# ---------------------------------------------------------------------------------------------
# Falsifying examples the fuzz found, kept as regular tests


@pytest.mark.parametrize("arg", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("value", [10**400, -(10**400)])
def test_a_clip_option_beyond_float_range_is_a_value_error(arg, value):
    # Found by the constructor fuzz: float(10**400) raised OverflowError.
    with pytest.raises(ValueError, match=rf"`{arg}` must be a finite number > 0, got -?1000"):
        optim.train.AdamOptimizer(0.1, **{arg: value})
    with pytest.raises(ValueError, match=r"`clip_norm` must be a finite number > 0, got -?1000"):
        optim.clip_by_norm(np.ones(2), value)
