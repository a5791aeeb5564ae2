"""The sliding window unit (SWU): a feature map in, the MVTU's input vectors out.

The input is a feature map in raster order, ``word`` channels per beat. For every output pixel
the unit emits the ``k * k * C / simd`` beats of its window in (ky, kx, c) order, ``simd``
elements each (any divisor of ``k * k * C``); taps in the zero padding come out as data 0 with
the mask bits 0. How it reads (:func:`finngen.compile.kinds.window.reads`): a window is ``k`` row
segments of ``k * C`` elements, each a run of consecutive line-buffer words; every cycle the
reader takes ``banks`` consecutive words (a chunk) of one segment, or of ``rows`` consecutive
segments at once, and ``gather`` reads make an output beat. Word ``a`` of a row lives in bank
``a mod banks`` at ``a // banks``, and every row starts in bank 0, so a chunk starting at word
column ``q * banks + phase`` reads address ``q + 1`` in the banks below ``phase`` and ``q`` in
the others, then rotates the words into place. (A chunk reaching into the left or right padding
reads garbage for the words outside the row, which are masked; the words inside get the right
addresses.) When a read takes several rows, each ring row has banks of its own
(:func:`~finngen.compile.kinds.window.row_banks`), all read at once, and the read's rows are
rotated into place likewise.

Rows live in a ring buffer of a few rows (:attr:`SlidingWindow.rows`: ``k + stride``, or up to
``2k - 2pad + stride - 1``; never the whole image). A writer fills it from the input stream
while a reader walks the windows:

* the reader starts a window only once the writer has passed the window's last (bottom-right)
  pixel in raster order, so every tap it reads is already written;
* the writer writes a row only if it is fewer than ``rows`` rows ahead of the first row the
  reader still needs, so it never overwrites a row in use. The spare rows let the writer fill
  the next window row, and the next frame's first window, while the reader is still busy.

``ahead`` counts how many frames the writer is ahead of the reader (-1: the reader has finished a
frame whose unused bottom rows are still arriving; 2: the writer has finished the next frame).
"""
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
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
        Window elements per output beat: a divisor of the fan-in ``k * k * C``, the SIMD of the
        MVTU it feeds. It sets the input beat (:attr:`reads`, ``.word`` channels).

    Members
    -------
    i : ``In(stream.Signature(beat_shape(in_type, reads.word)))``
    o : ``Out(stream.Signature(window_shape(in_type, simd, layer.has_padding)))``
    """

    def __init__(self, layer, simd):
        if not isinstance(layer, ir.MatrixLayer):
            raise TypeError(f"A sliding window unit feeds an ir.MatrixLayer, not {layer!r}")
        require_divisor(layer.fan_in, simd, "SIMD", f"the fan-in (kernel taps x input channels) of {layer.name}")
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
        self.reads = window.reads(layer, simd)
        self.rows = window.rows(layer)
        super().__init__({
            "i": In(stream.Signature(beat_shape(layer.in_type, self.reads.word))),
            "o": Out(stream.Signature(window_shape(layer.in_type, simd, layer.has_padding))),
        })

    @staticmethod
    def latency_of(gather: int, registered: bool) -> int:
        """Cycles from the input beat that completes a window (the last of its bottom-right
        pixel), when the reader waits for it, to the window's first beat valid on ``o``: the
        writer's position register, the read, its data (and their register, for a line buffer
        that may be block RAM: :func:`~finngen.compile.kinds.window.read_registered`), the
        further ``gather - 1`` reads of the beat and the output register."""
        return 2 + gather + registered

    @property
    def latency(self) -> int:
        return self.latency_of(self.reads.gather, window.read_registered(self.layer, self.simd))

    def elaborate(self, platform):
        m = Module()
        layer, reads = self.layer, self.reads
        k, s, (p, pw) = layer.kernel, layer.stride, layer.pads     # pw: nnabla's per-axis padding
        H, W = layer.in_shape.height, layer.in_shape.width
        OH, OW = layer.out_shape.height, layer.out_shape.width
        CF = layer.in_shape.channels // reads.word     # words per pixel
        T, G, N = reads.banks, reads.gather, reads.rows
        J = k * CF // T                                # chunks per row segment
        R = self.rows
        RB = window.row_banks(layer, self.simd)        # 1, or R: each ring row in banks of its own
        row_q = window.row_words(layer, self.simd) // T     # a row's addresses in each bank
        depth, width = window.line_buffer(layer, self.simd)
        row_words = W * CF                                  # a row's words holding pixels

        memories = [[] for _ in range(RB)]      # [row bank][bank]: (write port, read port)
        for r in range(RB):
            for b in range(T):
                m.submodules[f"lines{r}_{b}"] = bank = memory.Memory(shape=width, depth=depth, init=[])
                memories[r].append((bank.write_port(), bank.read_port()))

        def ring(name, row):
            """Registers holding where ring row ``row`` (mod R) starts: its row bank, and the
            address of its first word in that row bank's banks (one of them is constant)."""
            row %= R
            return (Signal(range(RB), name=f"{name}_bank", init=row % RB),
                    Signal(range(depth), name=f"{name}_base", init=row // RB * row_q))

        def step(position, rows):
            """``position`` moved on by the constant ``rows`` rows."""
            bank, base = position
            if RB == 1:
                return bank, add_mod(base, rows % R * row_q, depth)
            return add_mod(bank, rows % R, RB), base

        def assign(position, value):
            return [position[0].eq(value[0]), position[1].eq(value[1])]

        # -- reader position (registers) --
        oy, ox = Signal(range(OH)), Signal(range(OW))
        ky, j = Signal(range(k)), Signal(range(J))      # ky: the read's first kernel row
        gathered = Signal(range(G))            # reads of the current output beat so far
        # with a pad of k or more, whole windows lie in the padding: top runs up to H + p - k
        top = Signal(signed(len(Const(H + p + s)) + 1), init=-p)     # oy * s - p
        left = Signal(signed(len(Const(W + pw + s)) + 1), init=-pw)    # ox * s - pw
        frame_row = ring("frame", 0)           # the reader frame's row 0
        top_row = ring("top", -p)              # ... row `top`
        read_row = ring("read", -p)            # ... row top + ky
        col_shape = signed(len(Const(row_words + (pw + s) * CF)) + 1)
        # the window's first word column (left * CF), and the chunk's (left * CF + j * T), the
        # first also as floor quotient and phase by T, kept incrementally (no divider in hardware)
        start = -pw * CF
        q0, r0 = divmod(start, T)
        left_col, col = Signal(col_shape, init=start), Signal(col_shape, init=start)
        left_q = Signal(col_shape, init=q0)
        phase = Signal(range(T), init=r0)      # the same for every chunk of a window
        # The chunk's address in bank 0 (the read row's base plus the chunk column's quotient, at
        # the address's width: a padding column's address is any, its word masked), kept with
        # the positions it follows: added in the cycle of the read, that sum went through a LUT
        # RAM and its depth muxes into the read register (CNV-W1A1's fifth window at --fps 3000,
        # 10.21 ns, the accelerator's worst path). Bank b reads the next word if b < phase.
        bits = len(Const(depth - 1))
        raddr = Signal(bits, init=(read_row[1].init + q0) % (1 << bits))
        ahead = Signal(signed(3))

        # -- writer position --
        wy, wx = Signal(range(H)), Signal(range(W))
        wcf = Signal(range(CF))
        wphase = Signal(range(T))
        write_row = ring("write", 0)
        waddr = Signal(range(depth))            # the word's address in its bank

        # The writer may write row wy (of frame reader + ahead) if it is fewer than R rows past
        # the first row the reader still needs. Both sides of that compare are registers, set
        # with the positions they follow: from the positions, their adders and clamps ran
        # through `ready` into the input FIFO's output register (CNV-W1A1's third window at
        # --fps 3000: 10.75 ns, the accelerator's worst path).
        # writer_row: wy + H if the writer is a frame ahead, - H if behind (with ahead == 2 it
        # may write nothing, whatever it holds)
        writer_row = Signal(signed(len(Const(2 * H)) + 1))

        def row_limit(top):
            """The first row the writer may not write while the reader's window row starts at
            ``top``. (A window below the image, with a pad of k or more, needs no row: the
            next is the next frame's row 0.)"""
            return Mux(top < 0, 0, Mux(top > H, H, top)) + R

        limit = Signal(range(H + R + 1), init=R)       # row_limit(top)
        m.d.comb += self.i.ready.eq((ahead != 2) & (writer_row < limit))
        write = self.i.valid & self.i.ready
        for r, banks in enumerate(memories):
            for b, (wr, _) in enumerate(banks):
                m.d.comb += [wr.addr.eq(waddr), wr.data.eq(self.i.payload),
                             wr.en.eq(write & (write_row[0] == r) & (wphase == b))]
        row_done = (wx == W - 1) & (wcf == CF - 1)
        writer_done = Signal()
        m.d.comb += writer_done.eq(write & (wy == H - 1) & row_done)
        with m.If(write):
            m.d.sync += [wphase.eq(Mux(wphase == T - 1, 0, wphase + 1)),
                         waddr.eq(Mux(wphase == T - 1, waddr + 1, waddr))]
            with m.If(row_done):
                # the next row starts in bank 0, past this row's padding words
                next_row = step(write_row, 1)
                m.d.sync += [wphase.eq(0), waddr.eq(next_row[1])] + assign(write_row, next_row)
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

        def top_to(value):
            return corner(top, value, last_y, H) + [limit.eq(row_limit(value))]

        def first_window():
            """The column registers of a row's first window (constants)."""
            return [left_col.eq(start), col.eq(start), left_q.eq(q0), phase.eq(r0)]

        def next_window():
            """The column registers of the window ``s`` pixels on: quotient and phase follow
            with a carry. Returns them and the window's quotient."""
            q, r = divmod(s * CF, T)
            carry = phase + r >= T
            next_q = left_q + q + carry
            return [left_col.eq(left_col + s * CF), col.eq(left_col + s * CF), left_q.eq(next_q),
                    phase.eq(Mux(carry, phase + r - T, phase + r))], next_q

        def read_from(row, quotient):
            """The reader on ring row ``row`` at the chunk column of quotient ``quotient``."""
            return assign(read_row, row) + [raddr.eq(row[1] + quotient)]

        available = (ahead > 0) | ((ahead == 0) & ((wy > last_y) | ((wy == last_y) & (wx > last_x))))

        # Pipeline: stage 0 issues the (synchronous) reads, stage 1 has their data (a line buffer
        # that may be block RAM registers them again, kinds.window.read_registered says why), then
        # the output register (the read data go nowhere else), where a beat's reads gather. One
        # stall signal for all, so the read ports and registers hold their data while the output
        # waits.
        advance = Signal()
        read = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), read.eq(advance & available)]
        for banks in memories:
            for b, (_, rd) in enumerate(banks):
                m.d.comb += [rd.addr.eq(raddr + (b < phase)), rd.en.eq(advance)]
        # a word is a tap of the image if its row is and its column lies within the row
        taps = Cat(~((top + ky + n < 0) | (top + ky + n >= H)) & (col >= -i) & (col < row_words - i)
                   for n in range(N) for i in range(T))

        def stage(values, n, reset_less=False):
            """``values`` in the registers of stage ``n``, which load when the pipeline advances."""
            held = {key: Signal(Value.cast(v).shape(), name=f"{key}{n}", reset_less=reset_less)
                    for key, v in values.items()}
            with m.If(advance):
                m.d.sync += [held[key].eq(v) for key, v in values.items()]
            return held

        flags = stage({"valid": read, "last": gathered == G - 1, "taps": taps, "phase": phase,
                       "bank": read_row[0]}, 1)
        read_data = {f"lines{r}_{b}_data": rd.data for r, banks in enumerate(memories)
                     for b, (_, rd) in enumerate(banks)}
        if window.read_registered(layer, self.simd):
            flags, read_data = stage(flags, 2), stage(read_data, 2, reset_less=True)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(flags["valid"] & flags["last"])
        # row n of the read comes from row bank (bank + n) mod RB, its word i from bank (phase + i) mod T
        in_order = [[Signal(width) for _ in range(T)] for _ in range(RB)]    # [row of the read][bank]
        with m.Switch(flags["bank"]):
            for first in range(RB):
                with m.Case(first):
                    m.d.comb += [in_order[n][b].eq(read_data[f"lines{(first + n) % RB}_{b}_data"])
                                 for n in range(RB) for b in range(T)]
        words = [Signal(width) for _ in range(N * T)]
        with m.Switch(flags["phase"]):
            for first in range(T):
                with m.Case(first):
                    m.d.comb += [words[n * T + i].eq(in_order[n][(first + i) % T])
                                 for n in range(N) for i in range(T)]
        with m.If(advance & flags["valid"]):
            if layer.has_padding:
                # a beat's earlier reads move down as the next arrives above them
                data, mask = self.o.payload.data, self.o.payload.mask
                chunk = Cat(Mux(flags["taps"][i], word, 0) for i, word in enumerate(words))
                chunk_mask = Cat(flags["taps"][i].replicate(reads.word) for i in range(N * T))
                m.d.sync += [data.eq(Cat(data[len(chunk):], chunk)),
                             mask.eq(Cat(mask[len(chunk_mask):], chunk_mask))]
            else:
                chunk = Cat(*words)
                m.d.sync += self.o.payload.eq(Cat(self.o.payload[len(chunk):], chunk))

        reader_done = Signal()
        with m.If(read):
            m.d.sync += [gathered.eq(Mux(gathered == G - 1, 0, gathered + 1)),
                         col.eq(col + T), raddr.eq(raddr + 1)]    # a row segment's words are consecutive
            with m.If(j == J - 1):
                m.d.sync += j.eq(0)
                with m.If(ky == k - N):
                    m.d.sync += ky.eq(0)
                    with m.If(ox == OW - 1):
                        m.d.sync += [ox.eq(0)] + first_window() + corner(left, -pw, last_x, W)
                        with m.If(oy == OH - 1):
                            # next frame: its row 0 follows this frame's last row in the ring
                            next_frame = step(frame_row, H)
                            # = step(next_frame, -p), from the register: the two steps chained
                            # put four carry chains between frame_row and top_row (CNV-W1A1's
                            # fifth window at --fps 3000, its worst path: 10.77 ns)
                            next_top = step(frame_row, H - p)
                            m.d.sync += ([oy.eq(0)] + assign(frame_row, next_frame) + assign(top_row, next_top)
                                         + read_from(next_top, q0) + top_to(-p))
                            m.d.comb += reader_done.eq(1)
                        with m.Else():
                            next_top = step(top_row, s)
                            m.d.sync += ([oy.eq(oy + 1)] + assign(top_row, next_top) + read_from(next_top, q0)
                                         + top_to(top + s))
                    with m.Else():
                        columns, next_q = next_window()
                        m.d.sync += ([ox.eq(ox + 1)] + columns + read_from(top_row, next_q)
                                     + corner(left, left + s, last_x, W))
                with m.Else():
                    m.d.sync += [ky.eq(ky + N), col.eq(left_col)] + read_from(step(read_row, N), left_q)
            with m.Else():
                m.d.sync += j.eq(j + 1)

        m.d.sync += [ahead.eq(ahead + writer_done - reader_done),
                     writer_row.eq(writer_row + (write & row_done) - Mux(reader_done, H, 0))]
        return m
