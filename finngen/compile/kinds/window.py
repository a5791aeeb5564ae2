"""Sliding window unit: a feature map in, a matrix unit's input vectors out."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import ir
from ..resources import Resources, memory, range_bits
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


def beat_bits(dtype: ir.DataType, count: int, masked: bool) -> int:
    """The width of a matrix unit's input beat: ``count`` elements, plus a mask bit per element
    when the layer pads (finngen.hw.packing.window_shape lays them out)."""
    return count * dtype.bits + (count if masked else 0)


@dataclass(frozen=True)
class SlidingWindow(LaneStage):
    """A :class:`finngen.hw.swu.SlidingWindow` with ``simd`` channels per beat, in and out."""
    layer: ir.MatrixLayer
    lanes: int

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
        """It reads each input beat once and writes each window beat once, at most one of each
        per cycle."""
        return max(self.beats_in, self.beats_out)

    @property
    def latency(self) -> int:
        from ...hw.swu import SlidingWindow as Component
        return Component.latency

    @property
    def payload_bits(self) -> int:
        return beat_bits(self.layer.in_type, self.lanes, self.layer.has_padding)

    @property
    def held_pixels(self) -> int:
        """Its line buffer's rows, and the window being given out."""
        return rows(self.layer) * self.layer.in_shape.width + 1

    @property
    def line_buffer(self) -> tuple:
        """(depth, width) of the line buffer: :func:`rows` rows of beats."""
        shape = self.layer.in_shape
        return (rows(self.layer) * shape.width * (shape.channels // self.lanes),
                self.lanes * self.layer.in_type.bits)

    def lut_terms(self) -> dict:
        """Its dozen counters and pointer adders are about as wide as a line-buffer address."""
        return {"swu_address": range_bits(self.line_buffer[0])}

    def fixed_resources(self) -> Resources:
        layer = self.layer
        depth, width = self.line_buffer
        k, s, (ph, pw) = layer.kernel, layer.stride, layer.pads
        shape, out = layer.in_shape, layer.out_shape
        cf = shape.channels // self.lanes
        col = (shape.width * cf + (pw + s) * cf).bit_length() + 1
        counters = (range_bits(out.height) + range_bits(out.width) + 2 * range_bits(k) + 2 * range_bits(cf)
                    + (shape.height + ph + s).bit_length() + (shape.width + pw + s).bit_length() + 2
                    + 4 * range_bits(depth) + 2 * col + 3 + range_bits(shape.height)
                    + range_bits(shape.width) + 2)
        # padding taps leave as zeros: an AND per data bit behind the line buffer
        pad_mux = width if layer.has_padding else 0
        return memory(depth, width) + Resources(lut=pad_mux, ff=counters)

    def component(self):
        from ...hw.swu import SlidingWindow as Component
        return Component(self.layer, self.lanes)
