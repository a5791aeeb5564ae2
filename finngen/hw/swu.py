"""The sliding window unit (SWU): a feature map in, the MVTU's input vectors out.

The input is a feature map in raster order with ``simd`` channels per beat (``C / simd`` beats
per pixel). For every output pixel the unit emits the ``k * k * C / simd`` beats of its window in
(ky, kx, c) order; taps in the zero padding come out as data 0 with the mask bits 0.

Rows live in a ring buffer of a few rows (:attr:`SlidingWindow.rows`: ``k + stride``, or up to
``2k - 2pad + stride - 1``; never the whole image) in one memory. A writer fills it from the
input stream while a reader walks the windows:

* the reader starts a window only once the writer has passed the window's last (bottom-right)
  pixel in raster order, so every tap it reads is already written;
* the writer writes a row only if it is fewer than ``rows`` rows ahead of the first row the
  reader still needs, so it never overwrites a row in use. The spare rows let the writer fill
  the next window row, and the next frame's first window, while the reader is still busy.

``ahead`` counts how many frames the writer is ahead of the reader (-1: the reader has finished a
frame whose unused bottom rows are still arriving; 2: the writer has finished the next frame).
"""
from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir
from ..compile.kinds import window
from .arith import add_mod
from .packing import beat_shape, require_divisor, window_shape

__all__ = ["SlidingWindow"]


class SlidingWindow(wiring.Component):
    """Sliding window generator for the input of one convolutional :class:`~finngen.ir.MatrixLayer`.

    Parameters
    ----------
    layer : :class:`~finngen.ir.MatrixLayer`
        Gives the input shape, kernel, stride, padding and element type.
    simd : int
        Channels per beat, in and out; divides the layer's input channels (so a beat never
        straddles two pixels), and is the SIMD of the MVTU it feeds.

    Members
    -------
    i : ``In(stream.Signature(beat_shape(in_type, simd)))``
    o : ``Out(stream.Signature(window_shape(in_type, simd, layer.has_padding)))``
    """

    def __init__(self, layer, simd):
        if not isinstance(layer, ir.MatrixLayer):
            raise TypeError(f"A sliding window unit feeds an ir.MatrixLayer, not {layer!r}")
        require_divisor(layer.in_shape.channels, simd, "SIMD", f"the input channels of {layer.name}")
        if layer.stride < 1 or layer.kernel < 1:
            raise ValueError(f"{layer.name}: kernel and stride must be positive")
        if min(layer.pads) < 0:
            raise ValueError(f"{layer.name}: padding {layer.pads} must not be negative")
        shape = layer.in_shape
        for size, out, pad in zip((shape.height, shape.width), (layer.out_shape.height, layer.out_shape.width),
                                  layer.pads):
            if out != ir.conv_output_size(size, layer.kernel, layer.stride, pad) or out < 1:
                raise ValueError(f"{layer.name}: output shape {layer.out_shape} does not follow from "
                                 f"{shape}, kernel {layer.kernel}, stride {layer.stride}, pad {layer.pads}")
        self.layer = layer
        self.simd = simd
        self.rows = window.rows(layer)
        super().__init__({
            "i": In(stream.Signature(beat_shape(layer.in_type, simd))),
            "o": Out(stream.Signature(window_shape(layer.in_type, simd, layer.has_padding))),
        })

    # Cycles from the input beat that completes a window (the last of its bottom-right pixel),
    # when the reader waits for it, to the window's first beat valid on ``o``: the writer's
    # position register, the read, its data and the output register.
    latency = 3

    def elaborate(self, platform):
        m = Module()
        layer = self.layer
        k, s, (p, pw) = layer.kernel, layer.stride, layer.pads     # pw: nnabla's per-axis padding
        H, W = layer.in_shape.height, layer.in_shape.width
        OH, OW = layer.out_shape.height, layer.out_shape.width
        CF = layer.in_shape.channels // self.simd
        R = self.rows
        row_words = W * CF
        depth = R * row_words

        m.submodules.lines = lines = memory.Memory(shape=len(self.i.payload), depth=depth, init=[])
        wr = lines.write_port()
        rd = lines.read_port()

        # -- reader position (registers) --
        oy, ox = Signal(range(OH)), Signal(range(OW))
        ky, kx, cf = Signal(range(k)), Signal(range(k)), Signal(range(CF))
        # with a pad of k or more, whole windows lie in the padding: top runs up to H + p - k
        top = Signal(signed(len(Const(H + p + s)) + 1), init=-p)     # oy * s - p
        left = Signal(signed(len(Const(W + pw + s)) + 1), init=-pw)    # ox * s - pw
        frame_base = Signal(range(depth))      # address of the reader frame's row 0
        top_base = Signal(range(depth), init=(-p * row_words) % depth)   # ... of row `top`
        row_base = Signal(range(depth), init=(-p * row_words) % depth)   # ... of row top + ky
        col_shape = signed(len(Const(row_words + (pw + s) * CF)) + 1)
        left_col = Signal(col_shape, init=-pw * CF)   # left * CF: the window's first column address
        col = Signal(col_shape, init=-pw * CF)        # (left + kx) * CF + cf
        ahead = Signal(signed(3))

        # -- writer position --
        wy, wx = Signal(range(H)), Signal(range(W))
        wcf = Signal(range(CF))
        waddr = Signal(range(depth))

        # The writer may write row wy (of frame reader + ahead) if it is fewer than R rows past
        # the first row the reader still needs.
        # (a window below the image, with a pad of k or more, needs none: the next is the next frame's row 0)
        first_needed = Mux(top < 0, 0, Mux(top > H, H, top))
        writer_row = wy + Mux(ahead == 1, H, 0) - Mux(ahead == -1, H, 0)
        m.d.comb += self.i.ready.eq((ahead != 2) & (writer_row < first_needed + R))
        write = self.i.valid & self.i.ready
        m.d.comb += [wr.addr.eq(waddr), wr.data.eq(self.i.payload), wr.en.eq(write)]
        writer_done = Signal()
        m.d.comb += writer_done.eq(write & (wy == H - 1) & (wx == W - 1) & (wcf == CF - 1))
        with m.If(write):
            m.d.sync += waddr.eq(Mux(waddr == depth - 1, 0, waddr + 1))
            with m.If(wcf == CF - 1):
                m.d.sync += wcf.eq(0)
                with m.If(wx == W - 1):
                    m.d.sync += [wx.eq(0), wy.eq(Mux(wy == H - 1, 0, wy + 1))]
                with m.Else():
                    m.d.sync += wx.eq(wx + 1)
            with m.Else():
                m.d.sync += wcf.eq(wcf + 1)

        # The reader may start (and continue) a window once the writer has passed its
        # bottom-right pixel in the reader's frame. That pixel is kept in registers, updated
        # with the window's corner, to keep its adders off the path to the read.
        # (clamped to the image: a window wholly in the padding waits for nothing beyond it)
        last_y = Signal(range(H), init=max(0, min(k - 1 - p, H - 1)))
        last_x = Signal(range(W), init=max(0, min(k - 1 - pw, W - 1)))

        def corner(position, value, last, size):
            end = value + (k - 1)
            return [position.eq(value), last.eq(Mux(end > size - 1, size - 1, Mux(end < 0, 0, end)))]

        available = (ahead > 0) | ((ahead == 0) & ((wy > last_y) | ((wy == last_y) & (wx > last_x))))

        # Pipeline: stage 0 issues the (synchronous) read, stage 1 has its data, stage 2 is the
        # output register (the read data go nowhere else). One stall signal for all, so the
        # read port holds its data while the output waits.
        advance = Signal()
        read = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), read.eq(advance & available)]
        y, x = top + ky, left + kx
        padding = (y < 0) | (y >= H) | (x < 0) | (x >= W)
        m.d.comb += [rd.addr.eq(row_base + col), rd.en.eq(advance)]
        valid1, padding1 = Signal(), Signal()
        with m.If(advance):
            m.d.sync += [valid1.eq(read), padding1.eq(padding), self.o.valid.eq(valid1)]
            beat = Mux(padding1, 0, rd.data)
            if layer.has_padding:
                m.d.sync += [self.o.payload.data.eq(beat),
                             self.o.payload.mask.eq(Mux(padding1, 0, (1 << self.simd) - 1))]
            else:
                m.d.sync += self.o.payload.eq(beat)

        reader_done = Signal()
        with m.If(read):
            m.d.sync += col.eq(col + 1)     # (kx, cf) run through consecutive addresses of a row
            with m.If(cf == CF - 1):
                m.d.sync += cf.eq(0)
                with m.If(kx == k - 1):
                    m.d.sync += [kx.eq(0), col.eq(left_col)]
                    with m.If(ky == k - 1):
                        m.d.sync += [ky.eq(0), row_base.eq(top_base)]
                        with m.If(ox == OW - 1):
                            m.d.sync += [ox.eq(0), left_col.eq(-pw * CF), col.eq(-pw * CF)] + corner(left, -pw, last_x, W)
                            with m.If(oy == OH - 1):
                                # next frame: its row 0 follows this frame's last row in the ring
                                next_frame = add_mod(frame_base, (H * row_words) % depth, depth)
                                next_top = add_mod(next_frame, (-p * row_words) % depth, depth)
                                m.d.sync += [oy.eq(0), frame_base.eq(next_frame), top_base.eq(next_top),
                                             row_base.eq(next_top)] + corner(top, -p, last_y, H)
                                m.d.comb += reader_done.eq(1)
                            with m.Else():
                                next_top = add_mod(top_base, (s * row_words) % depth, depth)
                                m.d.sync += [oy.eq(oy + 1), top_base.eq(next_top),
                                             row_base.eq(next_top)] + corner(top, top + s, last_y, H)
                        with m.Else():
                            m.d.sync += [ox.eq(ox + 1), left_col.eq(left_col + s * CF),
                                         col.eq(left_col + s * CF)] + corner(left, left + s, last_x, W)
                    with m.Else():
                        m.d.sync += [ky.eq(ky + 1), row_base.eq(add_mod(row_base, row_words, depth))]
                with m.Else():
                    m.d.sync += kx.eq(kx + 1)
            with m.Else():
                m.d.sync += cf.eq(cf + 1)

        m.d.sync += ahead.eq(ahead + writer_done - reader_done)
        return m
