# amaranth: UnusedElaboratable=no
"""Stream plumbing: width converters and FIFOs keep every element, in order, at full rate."""
import numpy as np
import pytest

from finngen import ir
from finngen.hw import StreamFIFO, StreamWidthConverter
from finngen.sim.cases import dwc_case, fifo_case, run_case
from finngen.sim.streams import Traffic


@pytest.mark.parametrize("n_in, n_out", [(4, 2), (2, 4), (1, 8), (8, 1), (2, 3), (6, 4), (5, 5)])
@pytest.mark.parametrize("dtype", [ir.BIPOLAR, ir.DataType(3, signed=True)], ids=str)
def test_dwc(n_in, n_out, dtype):
    case = dwc_case(dtype, n_in, n_out, 24 * 10, seed=n_in * n_out)
    run_case(case, Traffic(seed=1, valid_prob=0.5, ready_prob=0.7))
    run_case(case, Traffic(seed=2, valid_prob=0.8, ready_prob=0.3))
    result = run_case(case, Traffic())
    # the narrow side moves every cycle
    narrow = result.in_cycles if n_in <= n_out else result.out_cycles
    assert set(np.diff(narrow).tolist()) == {1}


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 16])
def test_fifo(depth):
    case = fifo_case(ir.DataType(4), 3, depth, 60, seed=depth)
    run_case(case, Traffic(seed=1, valid_prob=0.5, ready_prob=0.7))
    run_case(case, Traffic(seed=2, valid_prob=0.9, ready_prob=0.2))
    result = run_case(case, Traffic())
    # SyncFIFOBuffered is an unbuffered FIFO of depth - 1 plus an output register: from depth 3
    # on it moves a beat every cycle, below that every other cycle
    rate = {1} if depth >= 3 else {2}
    assert set(np.diff(result.in_cycles).tolist()) == rate
    assert set(np.diff(result.out_cycles).tolist()) == rate


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_block_ram_fifo_reads_into_a_register(seed):
    """A FIFO deep and wide enough for block RAM (127 x 36 bits: one RAMB18 / DP16KD) reads it
    through two registers into a small tail FIFO: bit exact under seeded random back-pressure, a
    beat every cycle in and out without it, the latency it states (the storage, its read port,
    the registers, the tail) and still ``depth`` beats held while the sink waits. A 16 x 12 one
    (LUT RAM) stays as it was."""
    case = fifo_case(ir.DataType(4), 9, 128, 400, seed=seed)
    fifo = case.component
    assert fifo.registered and fifo.latency == 6
    run_case(case, Traffic(seed=seed, valid_prob=0.7, ready_prob=0.6, burst=4))
    run_case(case, Traffic(seed=seed + 10, valid_prob=0.9, ready_prob=0.3, burst=8))
    result = run_case(case, Traffic())
    assert set(np.diff(result.in_cycles).tolist()) == set(np.diff(result.out_cycles).tolist()) == {1}
    assert result.out_cycles[0] - result.in_cycles[0] == fifo.latency
    held = run_case(case, Traffic(ready_pattern="0" * 300 + "1" * 500))
    assert sum(cycle < 300 for cycle in held.in_cycles) == fifo.depth
    small = StreamFIFO(12, 16)
    assert not small.registered and small.latency == 2


def test_fifo_carries_layouts():
    """A FIFO takes any payload shape, e.g. the MVTU's data-plus-mask layout."""
    from amaranth.hdl import Fragment
    from finngen.hw.packing import window_shape
    for depth in (4, 2048):     # in LUT RAM, and in block RAM with its tail
        fifo = StreamFIFO(window_shape(ir.BIPOLAR, 4, masked=True), depth)
        Fragment.get(fifo, None)
        assert fifo.i.payload.shape() == fifo.o.payload.shape() == window_shape(ir.BIPOLAR, 4, masked=True)
    assert fifo.registered


@pytest.mark.parametrize("args, error", [
    ((ir.BIPOLAR, 0, 2), ValueError), ((ir.BIPOLAR, 2, 1.5), ValueError), ((1, 2, 2), TypeError)])
def test_dwc_rejects(args, error):
    with pytest.raises(error):
        StreamWidthConverter(*args)


def test_fifo_rejects_zero_depth():
    with pytest.raises(ValueError, match="depth"):
        StreamFIFO(8, 0)
