"""The matrix-vector-threshold unit (MVTU): one binarized matrix layer, folded FINN-style.

``pe`` processing elements each compute one output channel; each reads ``simd`` input
elements per cycle. For every output pixel the unit takes the ``fan_in / simd`` beats of its
input vector once, keeps them in a small buffer and replays them for each of the
``out_channels / pe`` neuron folds, so a pixel takes exactly ``(MH / PE) * (MW / SIMD)`` cycles.

Pipeline (one stall signal for all stages, so a stalled memory read port simply holds its data):

* stage 0: fold counters pick the weight word (``nf * SF + sf``), the threshold (``nf``) and the
  input beat (from the stream while ``nf == 0``, else from the buffer); all memory reads are
  synchronous, so their data arrives in stage 1, together with the registered input beat;
* stage 1: XNOR-popcount (bipolar inputs) or a signed sum of ``+-x`` (integer inputs) per PE,
  added to the accumulators; on the last synapse fold the finished sums are thresholded (or
  passed on as signed integers in the last layer) into the output register.
"""
import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir
from ..compile.kinds.matrix import cycles_per_pixel
from .arith import popcount, tree_sum
from .packing import lanes, require_divisor, window_shape

__all__ = ["MVTU", "cycles_per_pixel"]


class MVTU(wiring.Component):
    """Matrix-vector-threshold unit for one :class:`~finngen.ir.MatrixLayer`.

    Parameters
    ----------
    layer : :class:`~finngen.ir.MatrixLayer`
        Weights, thresholds (or ``None`` for the last layer) and types.
    pe : int
        Output channels computed in parallel; divides ``layer.out_channels``.
    simd : int
        Input elements consumed per cycle; divides ``layer.fan_in``.

    Members
    -------
    i : ``In(stream.Signature(window_shape(in_type, simd, layer.has_padding)))``
        The input vectors, ``fan_in / simd`` beats per output pixel in (ky, kx, c) order.
    o : ``Out(stream.Signature(unsigned(pe * out_bits)))``
        ``out_channels / pe`` beats per pixel; channel ``nf * pe + p`` in lane ``p``. One bit per
        channel for hidden layers, a signed ``acc_bits`` integer for the last layer.
    """

    def __init__(self, layer, pe, simd):
        # Amaranth warns about Elaboratables never elaborated; one whose arguments are
        # rejected here was never meant to be.
        self._MustUse__silence = True
        if not isinstance(layer, ir.MatrixLayer):
            raise TypeError(f"An MVTU implements an ir.MatrixLayer, not {layer!r}")
        require_divisor(layer.out_channels, pe, "PE", f"the output channels of {layer.name}")
        require_divisor(layer.fan_in, simd, "SIMD", f"the fan-in of {layer.name}")
        self._MustUse__silence = False
        self.layer = layer
        self.pe = pe
        self.simd = simd
        self.neuron_folds = layer.out_channels // pe
        self.synapse_folds = layer.fan_in // simd
        self.out_bits = layer.out_type.bits
        super().__init__({
            "i": In(stream.Signature(window_shape(layer.in_type, simd, layer.has_padding))),
            "o": Out(stream.Signature(unsigned(pe * self.out_bits))),
        })

    @property
    def cycles_per_pixel(self):
        return cycles_per_pixel(self.layer, self.pe, self.simd)

    # -- memory contents ----------------------------------------------------------------------

    def weight_words(self, p):
        """PE ``p``'s weight memory: word ``nf * SF + sf`` holds row ``nf * PE + p``, columns
        ``[sf * SIMD, (sf + 1) * SIMD)``, column ``j`` at bit ``j``."""
        rows = self.layer.weights[p::self.pe].reshape(-1, self.simd).astype(np.uint64)
        # shifts in Python ints: SIMD can exceed 64
        return [sum(int(bit) << j for j, bit in enumerate(row)) for row in rows]

    def threshold_words(self, p):
        """PE ``p``'s threshold memory: entry ``nf`` for channel ``nf * PE + p``."""
        layer = self.layer
        return [{"threshold": int(t), "invert": int(inv)}
                for t, inv in zip(layer.threshold[p::self.pe], layer.invert[p::self.pe])]

    # -- hardware -------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        layer, pe, simd = self.layer, self.pe, self.simd
        NF, SF = self.neuron_folds, self.synapse_folds
        masked = layer.has_padding

        # Stage 0: fold counters. The whole pipeline advances unless the output register holds a
        # beat that is not being taken.
        advance = Signal()
        m.d.comb += advance.eq(~self.o.valid | self.o.ready)
        nf = Signal(range(NF))
        sf = Signal(range(SF))
        waddr = Signal(range(NF * SF))
        from_input = Signal()
        fire = Signal()
        m.d.comb += [
            from_input.eq(nf == 0),
            self.i.ready.eq(advance & from_input),
            fire.eq(advance & (~from_input | self.i.valid)),
        ]
        with m.If(fire):
            m.d.sync += waddr.eq(Mux(waddr == NF * SF - 1, 0, waddr + 1))
            with m.If(sf == SF - 1):
                m.d.sync += [sf.eq(0), nf.eq(Mux(nf == NF - 1, 0, nf + 1))]
            with m.Else():
                m.d.sync += sf.eq(sf + 1)

        # The input vector of the current pixel, replayed for the neuron folds nf > 0.
        beat_in = Value.cast(self.i.payload)
        beat_reg = Signal(len(beat_in))
        with m.If(fire & from_input):
            m.d.sync += beat_reg.eq(beat_in)
        if NF > 1:
            m.submodules.vector = vector = memory.Memory(shape=len(beat_in), depth=SF, init=[])
            wr = vector.write_port()
            rd = vector.read_port()
            m.d.comb += [wr.addr.eq(sf), wr.data.eq(beat_in), wr.en.eq(fire & from_input),
                         rd.addr.eq(sf), rd.en.eq(advance)]

        weights, thresholds = [], []
        threshold_layout = data.StructLayout({"threshold": signed(layer.threshold_bits), "invert": 1})
        for p in range(pe):
            mem = memory.Memory(shape=simd, depth=NF * SF, init=self.weight_words(p))
            m.submodules[f"weights{p}"] = mem
            port = mem.read_port()
            m.d.comb += [port.addr.eq(waddr), port.en.eq(advance)]
            weights.append(port.data)
            if layer.threshold is not None:
                mem = memory.Memory(shape=threshold_layout, depth=NF, init=self.threshold_words(p))
                m.submodules[f"thresholds{p}"] = mem
                port = mem.read_port()
                m.d.comb += [port.addr.eq(nf), port.en.eq(advance)]
                thresholds.append(port.data)

        # Stage 1.
        valid1 = Signal()
        first1 = Signal()
        last1 = Signal()
        from_input1 = Signal()
        with m.If(advance):
            m.d.sync += [valid1.eq(fire), first1.eq(sf == 0), last1.eq(sf == SF - 1),
                         from_input1.eq(from_input)]
        beat1 = Signal(len(beat_in))
        m.d.comb += beat1.eq(Mux(from_input1, beat_reg, rd.data) if NF > 1 else beat_reg)
        beat1 = data.View(self.i.payload.shape(), beat1) if masked else beat1
        x = beat1.data if masked else beat1
        mask = beat1.mask if masked else Const((1 << simd) - 1, simd)

        consumed = Signal()
        m.d.comb += consumed.eq(valid1 & advance)
        sums = self._sums(m, x, mask, weights, first1, consumed)

        lanes_out = []
        for p, s in enumerate(sums):
            if layer.threshold is None:
                lanes_out.append(s)
            else:
                t = thresholds[p]
                lanes_out.append((s >= t.threshold) ^ t.invert)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(valid1 & last1)
            with m.If(valid1 & last1):
                m.d.sync += self.o.payload.eq(Cat(*lanes_out))
        return m

    def _sums(self, m, x, mask, weights, first, consumed):
        """Accumulate one beat per cycle; return each PE's sum including the current beat, as a
        signed ``acc_bits`` value (meaningful on the last synapse fold)."""
        layer, simd = self.layer, self.simd
        sums = []
        if layer.in_type.bipolar:
            # s = 2 * popcount(xnor(a, w) & valid) - n_valid; count agreements, and (only when
            # padding makes it vary) the valid taps, which every PE shares.
            if layer.has_padding:
                n_valid = Signal(range(layer.fan_in + 1))
                n_valid_now = Mux(first, 0, n_valid) + popcount(mask)
                with m.If(consumed):
                    m.d.sync += n_valid.eq(n_valid_now)
            else:
                n_valid_now = layer.fan_in
            for p, w in enumerate(weights):
                count = Signal(range(layer.fan_in + 1), name=f"count{p}")
                count_now = Mux(first, 0, count) + popcount(~(x ^ w) & mask)
                with m.If(consumed):
                    m.d.sync += count.eq(count_now)
                s = Signal(signed(layer.acc_bits), name=f"sum{p}")
                m.d.comb += s.eq(2 * count_now - n_valid_now)
                sums.append(s)
        else:
            # Partial sums of any subset of taps lie within [acc_min, acc_max] (each tap's range
            # contains 0), so an acc_bits accumulator cannot overflow.
            xs = lanes(x, layer.in_type, simd)
            for p, w in enumerate(weights):
                acc = Signal(signed(layer.acc_bits), name=f"acc{p}")
                terms = [Mux(mask[j], Mux(w[j], xs[j], -xs[j]), 0) for j in range(simd)]
                s = Signal(signed(layer.acc_bits), name=f"sum{p}")
                m.d.comb += s.eq(Mux(first, 0, acc) + tree_sum(terms))
                with m.If(consumed):
                    m.d.sync += acc.eq(s)
                sums.append(s)
        return sums
