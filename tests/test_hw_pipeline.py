"""Components chained as the compiler chains them, against the golden model of two layers:
sliding window -> MVTU -> width converter -> FIFO -> max pool."""
import pytest

from finngen.sim.cases import conv_pool_case, run_case
from finngen.sim.layers import matrix_layer, pool_layer
from finngen.sim.streams import Traffic


def test_conv_pool_chain_rtl():
    """Verilator: a padded 3x3 bipolar conv (PE 2, SIMD 2) and a 2x2 max pool on 4 lanes,
    two frames back to back, random valid gaps and back-pressure."""
    conv = matrix_layer(11, (6, 6, 4), 8, kernel=3, pad=1, name="conv")
    case = conv_pool_case(conv, 2, 2, pool_layer((6, 6, 8), 2), 4, frames=2, seed=3)
    run_case(case, Traffic(seed=4, valid_prob=0.7, ready_prob=0.7), rtl_name="conv_pool")


@pytest.mark.parametrize("pe, simd, lanes", [(4, 1, 2), (1, 3, 1), (8, 3, 8)])
def test_conv_pool_chain(pe, simd, lanes):
    """Amaranth simulator: stride 2 with dropped pool rows/columns and other foldings."""
    conv = matrix_layer(pe, (9, 9, 3), 8, kernel=3, stride=2, pad=1, name="conv")
    pool = pool_layer((5, 5, 8), 2)
    case = conv_pool_case(conv, pe, simd, pool, lanes, frames=2, seed=pe)
    run_case(case, Traffic(seed=simd, valid_prob=0.8, ready_prob=0.6))
