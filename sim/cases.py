"""Test cases: a component, its input beats and the golden model's expected output beats.

The same case runs in Amaranth's simulator (:func:`finngen.sim.streams.simulate`) for broad
sweeps and in an RTL simulator (:func:`finngen.sim.runner.run_stream_test`) for the representative
runs.
"""
from dataclasses import dataclass

from amaranth.lib import wiring

from finngen import golden, ir
from finngen.compile.kinds import cycles_per_pixel
from finngen.hw import MVTU, MaxPool, SlidingWindow, StreamFIFO, StreamWidthConverter
from finngen.hw.packing import beat_shape

from .beats import pack_beats, pack_windows, unpack_beats
from .layers import random_stream


@dataclass
class Case:
    component: wiring.Component
    in_beats: list
    expected: list
    lane_bits: int            # element width of the output, for readable mismatch reports
    out_count: int            # elements per output beat
    out_type: ir.DataType
    busy_cycles: int = 0      # cycles the component needs beyond one per beat (MVTU folding)

    def max_cycles(self, traffic):
        """A generous bound for the run, for timeouts."""
        cycles = 200 + 4 * (len(self.in_beats) + len(self.expected) + self.busy_cycles)
        return int(cycles / traffic.rate)

    def decode(self, beat):
        return unpack_beats([beat], self.out_type, self.out_count)


def mvtu_case(layer, pe, simd, frames=2, seed=0, weights=None):
    """An MVTU fed the golden model's window vectors directly (no sliding window unit); its
    weights placed as ``weights`` says (None: by the rule)."""
    x = random_stream(seed, layer.in_shape, layer.in_type, frames)
    vectors, valid = golden.windows(layer, x)
    out = golden.forward_layer(layer, x)
    bits = layer.out_type.bits
    mvtu = MVTU(layer, pe, simd, weights=weights)
    return Case(mvtu, pack_windows(layer, vectors, valid, simd), pack_beats(out, bits, pe), bits,
                pe, layer.out_type, frames * layer.out_shape.pixels * cycles_per_pixel(layer, pe, simd))


def swu_case(layer, simd, frames=2, seed=0):
    x = random_stream(seed, layer.in_shape, layer.in_type, frames)
    vectors, valid = golden.windows(layer, x)
    swu = SlidingWindow(layer, simd)
    # the mask (if any) sits above the data: the lanes are the data elements
    return Case(swu, pack_beats(x, layer.in_type.bits, swu.reads.word),
                pack_windows(layer, vectors, valid, simd), layer.in_type.bits, simd, layer.in_type,
                frames * layer.out_shape.pixels * (layer.fan_in // simd) * swu.reads.gather)


def pool_case(layer, channels_per_beat, frames=2, seed=0):
    x = random_stream(seed, layer.in_shape, layer.in_type, frames)
    bits = layer.in_type.bits
    return Case(MaxPool(layer, channels_per_beat), pack_beats(x, bits, channels_per_beat),
                pack_beats(golden.forward_layer(layer, x), bits, channels_per_beat),
                bits, channels_per_beat, layer.in_type)


def dwc_case(elem_type, n_in, n_out, elements, seed=0):
    x = random_stream(seed, ir.Shape(1, 1, elements), elem_type, 1)
    return Case(StreamWidthConverter(elem_type, n_in, n_out), pack_beats(x, elem_type.bits, n_in),
                pack_beats(x, elem_type.bits, n_out), elem_type.bits, n_out, elem_type)


def fifo_case(elem_type, count, depth, beats, seed=0):
    x = random_stream(seed, ir.Shape(1, 1, beats * count), elem_type, 1)
    data = pack_beats(x, elem_type.bits, count)
    return Case(StreamFIFO(beat_shape(elem_type, count), depth), data, data,
                elem_type.bits, count, elem_type)


class Chain(wiring.Component):
    """Components connected in series (each ``o`` to the next ``i``): a test top level."""

    def __init__(self, *stages):
        self.stages = stages
        super().__init__({"i": stages[0].signature.members["i"],
                          "o": stages[-1].signature.members["o"]})

    def elaborate(self, platform):
        from amaranth.hdl import Module
        m = Module()
        for n, stage in enumerate(self.stages):
            m.submodules[f"stage{n}"] = stage
        wiring.connect(m, wiring.flipped(self.i), self.stages[0].i)
        for a, b in zip(self.stages, self.stages[1:]):
            wiring.connect(m, a.o, b.i)
        wiring.connect(m, self.stages[-1].o, wiring.flipped(self.o))
        return m


def conv_pool_case(conv, pe, simd, pool, next_simd, fifo_depth=16, frames=2, seed=0):
    """A hidden conv layer with its pool, as the compiler would chain them:
    sliding window -> MVTU -> width converter (PE to the pool's lanes) -> FIFO -> max pool."""
    x = random_stream(seed, conv.in_shape, conv.in_type, frames)
    y = golden.forward_layer(pool, golden.forward_layer(conv, x))
    stages = [SlidingWindow(conv, simd), MVTU(conv, pe, simd),
              StreamWidthConverter(conv.out_type, pe, next_simd),
              StreamFIFO(beat_shape(conv.out_type, next_simd), fifo_depth), MaxPool(pool, next_simd)]
    return Case(Chain(*stages), pack_beats(x, conv.in_type.bits, stages[0].reads.word), pack_beats(y, 1, next_simd),
                1, next_simd, conv.out_type, frames * conv.out_shape.pixels * cycles_per_pixel(conv, pe, simd))


def run_case(case, traffic, rtl_name=None):
    """Run ``case`` in Amaranth's simulator, or in the RTL simulator when ``rtl_name`` is given
    (the build directory's name); check every output beat; return the :class:`Result`."""
    from .runner import run_stream_test
    from .streams import check_beats, simulate
    if rtl_name:
        return run_stream_test(case.component, rtl_name, case.in_beats, case.expected, traffic,
                               lane_bits=case.lane_bits, max_cycles=case.max_cycles(traffic))
    result = simulate(case.component, case.in_beats, len(case.expected), traffic,
                      case.max_cycles(traffic))
    check_beats(result.beats, case.expected, case.decode)
    return result
