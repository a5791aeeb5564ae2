"""Components chained as the compiler chains them, against the golden model of two layers:
sliding window -> MVTU -> width converter -> FIFO -> max pool; and the stage kinds' facts
against the components they build."""
import pytest
from amaranth.hdl import Fragment, Shape

from finngen import ir
from finngen.compile import pipeline
from finngen.compile.folding import Fold
from finngen.sim.cases import conv_pool_case, run_case
from finngen.sim.layers import matrix_layer, pool_layer
from finngen.sim.streams import Traffic


@pytest.mark.rtl
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


def _width(port):
    return Shape.cast(port.payload.shape()).width


def test_stage_kinds_match_their_components():
    """Every kind (a pool on the input, converters both ways, padded and unpadded windows,
    integer and bipolar units): the beat widths and latency a stage states are its
    component's, consecutive components connect, and a unit's cycles are its component's.
    Each component elaborates."""
    u4 = ir.DataType(4)
    layers = [pool_layer((8, 8, 6), 2, u4, name="pool0"),
              matrix_layer(1, (4, 4, 6), 8, kernel=3, pad=1, in_type=u4, name="conv0"),
              matrix_layer(2, (4, 4, 8), 16, kernel=2, stride=2, name="conv1"),
              matrix_layer(3, (1, 1, 64), 10, last=True, name="fc")]
    net = ir.Network("n", ir.InputSpec("x", (6, 8, 8), u4), layers, ir.OutputSpec("y", (10,)))
    # conv1's SIMD 32 is its whole 2x2x8 window: two kernel rows a read, from two banks per row
    chain = pipeline.stages(net, {"pool0": Fold(3, 3), "conv0": Fold(4, 2), "conv1": Fold(2, 32),
                                  "fc": Fold(5, 16)})
    assert pipeline.labels(chain) == ["pool0", "dwc0", "swu0", "mvtu0", "dwc1", "swu1", "mvtu1", "dwc2", "mvtu2"]
    components = [stage.component() for stage in chain]
    assert _width(components[0].i) == chain[0].lanes_in * chain[0].elem_type.bits
    for stage, component in zip(chain, components):
        assert _width(component.o) == stage.payload_bits, stage
        assert stage.latency == component.latency, stage
        if stage.mac_lanes:
            assert component.cycles_per_pixel * stage.layer.out_shape.pixels == stage.cycles
    for producer, consumer, fifo in zip(components, components[1:], pipeline.fifos(chain)):
        assert _width(producer.o) == _width(consumer.i) == fifo.width
        buffer = fifo.component(producer.o.payload.shape())
        assert buffer.depth == fifo.depth
        Fragment.get(buffer, None)
    for component in components:
        Fragment.get(component, None)
