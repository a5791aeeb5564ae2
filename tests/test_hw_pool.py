# amaranth: UnusedElaboratable=no
"""Max pooling against the golden model, beat by beat."""
import numpy as np
import pytest

from finngen import ir
from finngen.hw import MaxPool
from finngen.sim.cases import pool_case, run_case
from finngen.sim.layers import pool_layer
from finngen.sim.streams import Traffic

# (in_shape, kernel, element type, channels per beat)
CONFIGS = {
    "bin-k2": ((4, 4, 4), 2, ir.BIPOLAR, 2),
    "bin-k2-drop": ((5, 7, 8), 2, ir.BIPOLAR, 8),
    "bin-k3-1lane": ((7, 6, 3), 3, ir.BIPOLAR, 1),
    "i4-k2-drop": ((5, 7, 4), 2, ir.DataType(4, signed=True), 1),
    "u4-k3": ((6, 6, 6), 3, ir.DataType(4), 3),
    "i8-k2-wide": ((4, 6, 4), 2, ir.DataType(8, signed=True), 4),
    "k1": ((3, 3, 2), 1, ir.BIPOLAR, 2),
    "whole-image": ((3, 3, 2), 3, ir.DataType(2, signed=True), 2),
}


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_pool_matches_golden(key):
    shape, kernel, dtype, lanes = CONFIGS[key]
    case = pool_case(pool_layer(shape, kernel, dtype), lanes, frames=3, seed=2)
    run_case(case, Traffic(seed=1, valid_prob=0.6, ready_prob=0.5))
    run_case(case, Traffic(seed=2, valid_prob=0.9, ready_prob=0.2))
    result = run_case(case, Traffic())
    # one input beat per cycle without back-pressure
    assert set(np.diff(result.in_cycles).tolist()) == {1}


@pytest.mark.parametrize("shape, kernel, lanes, match", [
    ((4, 4, 4), 2, 3, "channels_per_beat"),
    ((1, 4, 4), 2, 2, "does not fit"),
])
def test_pool_rejects(shape, kernel, lanes, match):
    with pytest.raises(ValueError, match=match):
        MaxPool(pool_layer(shape, kernel), lanes)
