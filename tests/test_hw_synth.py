"""Every component synthesizes for a 7-series FPGA: no latches, no combinational loops."""
import pytest

from finngen import ir
from finngen.hw import MVTU, MaxPool, SlidingWindow, StreamFIFO, StreamWidthConverter
from finngen.hw.packing import beat_shape
from finngen.sim.layers import matrix_layer, pool_layer
from finngen.sim.synth import LATCHES, synthesize


@pytest.mark.synth
def test_components_synthesize():
    conv = matrix_layer(0, (8, 8, 16), 32, kernel=3, pad=1, name="conv")
    fc = matrix_layer(0, (1, 1, 64), 10, in_type=ir.DataType(8, signed=True), last=True, name="fc")
    cells = synthesize({
        "mvtu_conv": MVTU(conv, 4, 16),
        "mvtu_fc_last": MVTU(fc, 2, 8),
        "swu": SlidingWindow(conv, 16),
        "pool": MaxPool(pool_layer((8, 8, 32), 2), 8),
        "dwc": StreamWidthConverter(ir.BIPOLAR, 4, 6),
        "fifo": StreamFIFO(beat_shape(ir.BIPOLAR, 16), 32),
    })
    for name, counts in cells.items():
        assert not any(counts.get(cell) for cell in LATCHES), (name, counts)
        luts = sum(n for cell, n in counts.items() if cell.startswith("LUT"))
        assert luts > 0 and counts.get("FDRE", 0) > 0, (name, counts)
    # the MVTU's weights (32 x 288 bits) and the line buffers become memories or logic, not
    # registers per bit; its flip-flops are the pipeline's (about 500 at PE 4, SIMD 16)
    assert cells["mvtu_conv"]["FDRE"] < 32 * 288 // 10
