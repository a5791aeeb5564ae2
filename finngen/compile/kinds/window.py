"""Sliding window unit: a feature map in, a matrix unit's input vectors out."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ... import ir
from ..resources import Resources, block_ram_read, memory, range_bits
from .base import LaneStage


def needed(layer: ir.MatrixLayer) -> bool:
    """Whether ``layer`` reads its input through a sliding window: every layer but a 1x1
    convolution with stride 1 and no padding (or a fully connected one), which reads the stream
    as it comes. A one-pixel input still needs the window when the layer pads: the matrix unit
    expects all ``k * k`` taps, the padding ones masked."""
    return (layer.kernel, layer.stride, layer.has_padding) != (1, 1, False)


def rows(layer: ir.MatrixLayer) -> int:
    """Rows of the line buffer (finngen.hw.swu): ``k + stride`` let the writer fill the next
    window row while the reader works on the current one; during a frame's last window row the
    writer must also get the next frame's first window (rows 0 .. k-1-pad) in, or the reader
    waits at every frame start, which takes up to ``2k - 2pad + stride - 1`` rows. (With a pad
    of k or more the first windows lie wholly in the padding and need no rows at all.)"""
    k, s, p = layer.kernel, layer.stride, layer.pads[0]
    return max(k + s, 2 * k - 2 * p + s - 1)


@dataclass(frozen=True)
class Reads:
    """How a sliding window with SIMD ``S`` (a divisor of the fan-in ``k * k * C``) reads its
    line buffer. A window in (ky, kx, c) order is ``k`` row segments of ``k * C`` elements, each
    contiguous in the line buffer. A beat is ``S / chunk`` chunks of ``chunk = gcd(S, k * C)``
    elements, each a contiguous part of one row segment. When a chunk is a whole row segment, a
    read takes the ``rows`` segments of a beat at once, one from each of as many consecutive
    rows (the line buffer then keeps every row in memories of its own); otherwise a read takes
    one chunk and ``gather`` reads make a beat (more than one only when a beat spans kernel
    rows). A line-buffer word holds ``word = gcd(chunk, C)`` elements (the unit's input lanes: a
    word never straddles two pixels), so a chunk is ``banks = chunk / word`` words, one from each
    of as many memories."""
    chunk: int
    rows: int
    gather: int
    word: int
    banks: int


def reads(layer: ir.MatrixLayer, simd: int) -> Reads:
    """The :class:`Reads` of ``layer``'s sliding window at SIMD ``simd``."""
    segment = layer.kernel * layer.in_shape.channels
    chunk = math.gcd(simd, segment)
    word = math.gcd(chunk, layer.in_shape.channels)
    per_beat = simd // chunk
    rows_at_once = per_beat if chunk == segment else 1
    return Reads(chunk, rows_at_once, per_beat // rows_at_once, word, chunk // word)


def row_banks(layer: ir.MatrixLayer, simd: int) -> int:
    """How many sets of banks the line buffer's rows are spread over: one, or one per row when
    a read takes several rows."""
    return rows(layer) if reads(layer, simd).rows > 1 else 1


def row_words(layer: ir.MatrixLayer, simd: int) -> int:
    """Words between two rows of the line buffer: a row's words, rounded up to a multiple of the
    banks so that every row starts in bank 0."""
    r = reads(layer, simd)
    words = layer.in_shape.width * (layer.in_shape.channels // r.word)
    return -(-words // r.banks) * r.banks


def memories(layer: ir.MatrixLayer, simd: int) -> int:
    """The line buffer's memories: :attr:`Reads.banks` for each set of :func:`row_banks`."""
    return reads(layer, simd).banks * row_banks(layer, simd)


def line_buffer(layer: ir.MatrixLayer, simd: int) -> tuple:
    """(depth, width) of each of the line buffer's :func:`memories` (finngen.hw.swu): :func:`rows`
    rows of :func:`row_words` words, shared out word by word over the banks (and row by row over
    the :func:`row_banks`)."""
    return (rows(layer) * row_words(layer, simd) // memories(layer, simd),
            reads(layer, simd).word * layer.in_type.bits)


def read_registered(layer: ir.MatrixLayer, simd: int) -> bool:
    """Whether the window registers its line buffer's read data before the muxes that put the
    words in order: when the memories may be block RAM
    (:func:`~finngen.compile.resources.block_ram_read`). A block's read data leaves it late (5.6
    ns on an ECP5 DP16KD without its output register, which yosys does not use) and the weights
    fill the block RAM columns, so the block can land far from the muxes: in CNV-W1A1 at --fps
    3000 the route from the third window's line buffer through two levels of its read muxes
    took 12.3 ns. A line buffer in LUT RAM reads into a register already."""
    return block_ram_read(*line_buffer(layer, simd))


def beat_bits(dtype: ir.DataType, count: int, masked: bool) -> int:
    """The width of a matrix unit's input beat: ``count`` elements, plus a mask bit per element
    when the layer pads (finngen.hw.packing.window_shape lays them out)."""
    return count * dtype.bits + (count if masked else 0)


@dataclass(frozen=True)
class SlidingWindow(LaneStage):
    """A :class:`finngen.hw.swu.SlidingWindow` giving ``lanes`` (the SIMD of its matrix unit)
    elements of a window per beat, taking :attr:`Reads.word` channels per beat."""
    layer: ir.MatrixLayer
    lanes: int

    @property
    def reads(self) -> Reads:
        return reads(self.layer, self.lanes)

    @property
    def lanes_in(self) -> int:
        return self.reads.word

    kind = "window"
    short = "swu"
    title = "sliding window"

    def golden_beats(self, x, y) -> list:
        """Every output pixel's window in (ky, kx, c) order, with the padding mask."""
        from ... import golden
        from ...sim.beats import pack_windows
        shape = self.layer.in_shape
        vectors, valid = golden.windows(self.layer, np.reshape(x, (-1, shape.height, shape.width, shape.channels)))
        return pack_windows(self.layer, vectors, valid, self.lanes)

    def place(self, beat: int, lane: int) -> str:
        layer = self.layer
        per_pixel = layer.fan_in // self.lanes
        pixel, first = divmod(beat, per_pixel)
        y, x = divmod(pixel, layer.out_shape.width)
        ky, rest = divmod(first * self.lanes + lane, layer.kernel * layer.in_shape.channels)
        kx, ch = divmod(rest, layer.in_shape.channels)
        return f"output pixel (y={y}, x={x}), window tap (ky={ky}, kx={kx}, channel {ch})"

    @property
    def beats_out(self) -> int:
        return self.layer.out_shape.pixels * self.layer.fan_in // self.lanes

    @property
    def cycles(self) -> int:
        """It writes each input beat once and reads a beat's chunks once, at most one write and
        one read per cycle (a read takes all of a beat's chunks, or ``gather`` reads do)."""
        return max(self.beats_in, self.beats_out * self.reads.gather)

    @property
    def latency(self) -> int:
        from ...hw.swu import SlidingWindow as Component
        return Component.latency_of(self.reads.gather, read_registered(self.layer, self.lanes))

    @property
    def payload_bits(self) -> int:
        return beat_bits(self.layer.in_type, self.lanes, self.layer.has_padding)

    @property
    def held_pixels(self) -> int:
        """Its line buffer's rows, and the window being given out."""
        return rows(self.layer) * self.layer.in_shape.width + 1

    @property
    def memories(self) -> int:
        """The line buffer's memories: :func:`memories`."""
        return memories(self.layer, self.lanes)

    @property
    def line_buffer(self) -> tuple:
        """(depth, width) of each of the line buffer's memories: :func:`line_buffer`."""
        return line_buffer(self.layer, self.lanes)

    def lut_terms(self) -> dict:
        """Its dozen counters and pointer adders are about as wide as a line-buffer address."""
        return {"swu_address": range_bits(self.line_buffer[0])}

    def fixed_resources(self) -> Resources:
        layer, r = self.layer, self.reads
        depth, width = self.line_buffer
        k, s, (ph, pw) = layer.kernel, layer.stride, layer.pads
        shape, out = layer.in_shape, layer.out_shape
        cf = shape.channels // r.word
        col = (shape.width * cf + (pw + s) * cf).bit_length() + 1
        counters = (range_bits(out.height) + range_bits(out.width) + 2 * range_bits(k) + 2 * range_bits(cf)
                    + (shape.height + ph + s).bit_length() + (shape.width + pw + s).bit_length() + 2
                    + 4 * range_bits(depth) + 2 * col + 3 + range_bits(shape.height)
                    + range_bits(shape.width) + 2)
        # padding taps leave as zeros: an AND per data bit behind the line buffer
        luts = r.rows * r.chunk * layer.in_type.bits if layer.has_padding else 0
        if r.banks > 1:
            # the read's column as quotient and phase, the writer's row, a mask bit per word; per
            # further bank a read address adder, a pair of column compares, and a banks:1 mux per
            # bit that rotates the words of a read into place (a LUT6 muxes 4 inputs)
            counters += 2 * col + 2 * range_bits(r.banks) + range_bits(depth) + r.banks
            luts += (r.banks - 1) * (range_bits(depth) + (col if layer.has_padding else 0))
            luts += r.rows * r.chunk * layer.in_type.bits * math.ceil((r.banks - 1) / 3)
        if r.rows > 1:
            # a read's rows from the ring rows' banks: a (ring rows):1 mux per bit, the mask bits
            # and column compares of the further rows
            read_bits = r.rows * r.chunk * layer.in_type.bits
            luts += read_bits * math.ceil((rows(layer) - 1) / 3) + (r.rows - 1) * r.banks * col
            counters += range_bits(rows(layer)) * 5 + (r.rows - 1) * r.banks
        # the two sides of the write permission's compare, registers: the writer's row and the limit
        counters += (2 * shape.height).bit_length() + 1 + range_bits(shape.height + rows(layer) + 1)
        # the output register, where the reads of a beat gather (a word's mask bits are one)
        counters += 2 * range_bits(r.gather) + self.lanes * layer.in_type.bits
        counters += self.lanes // r.word if layer.has_padding else 0
        if read_registered(layer, self.lanes):
            # every memory's read data again, and the read's flags: valid, last, taps, phase, row bank
            counters += self.memories * width + 2 + r.rows * r.banks + range_bits(r.banks) + range_bits(
                row_banks(layer, self.lanes))
        return memory(depth, width) * self.memories + Resources(lut=luts, ff=counters)

    def component(self):
        from ...hw.swu import SlidingWindow as Component
        return Component(self.layer, self.lanes)
