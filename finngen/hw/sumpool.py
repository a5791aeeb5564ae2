"""Average pooling (kernel == stride) as integer window sums on a raster-order stream.

nnabla's AveragePooling divides each window's sum by ``kernel**2``; finngen folds that division
into what follows (:class:`~finngen.ir.SumPoolLayer`), so this unit only adds. It walks its
input as :class:`~finngen.hw.pool.MaxPool` does (:mod:`finngen.hw.poolwalk`): each input beat
starts a window's running sums, adds to them, or completes them and leaves; the running sums of
one output row (``W / k`` pixels) live in a small memory with an asynchronous read port, so
read-modify-write takes one cycle. Rows and columns that do not fill a window are consumed and
dropped. A bipolar bit counts as +-1.

When the layer has thresholds (``BN -> AveragePooling -> BinaryTanh``), each finished sum leaves
as the bit ``(S >= threshold) != invert`` of its channel; otherwise as the signed sum itself,
which the next matrix unit takes in its integer mode.
"""
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir
from .packing import beat_shape, lanes
from .poolwalk import check_pool_shape, walk

__all__ = ["SumPool"]


class SumPool(wiring.Component):
    """Window sums for one :class:`~finngen.ir.SumPoolLayer`, thresholded when it has thresholds.

    Parameters
    ----------
    layer : :class:`~finngen.ir.SumPoolLayer`
    channels_per_beat : int
        Elements per beat, in and out; divides the channels.

    Members
    -------
    i : ``In(stream.Signature(beat_shape(in_type, channels_per_beat)))``
    o : ``Out(stream.Signature(beat_shape(out_type, channels_per_beat)))``
        Channel ``cf * channels_per_beat + p`` of a pixel in lane ``p``: its bit, or its sum as a
        signed ``sum_type`` integer.
    """

    def __init__(self, layer, channels_per_beat):
        if not isinstance(layer, ir.SumPoolLayer):
            raise TypeError(f"SumPool implements an ir.SumPoolLayer, not {layer!r}")
        check_pool_shape(layer, channels_per_beat)
        if (layer.threshold is None) != (layer.invert is None):
            raise ValueError(f"{layer.name}: thresholds and invert go together, not {layer.threshold!r} "
                             f"and {layer.invert!r}")
        self.layer = layer
        self.channels_per_beat = channels_per_beat
        super().__init__({"i": In(stream.Signature(beat_shape(layer.in_type, channels_per_beat))),
                          "o": Out(stream.Signature(beat_shape(layer.out_type, channels_per_beat)))})

    def threshold_words(self):
        """Word ``cf``: the thresholds and invert bits of channels ``cf * n`` to ``cf * n + n - 1``."""
        n = self.channels_per_beat
        return [[{"threshold": int(t), "invert": int(inv)} for t, inv in zip(ts, invs)]
                for ts, invs in zip(self.layer.threshold.reshape(-1, n), self.layer.invert.reshape(-1, n))]

    def elaborate(self, platform):
        m = Module()
        layer, n = self.layer, self.channels_per_beat
        k, OW = layer.kernel, layer.out_shape.width
        CF = layer.in_shape.channels // n
        bits = layer.sum_type.bits

        advance = Signal()
        take = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance),
                     take.eq(self.i.valid & advance)]
        at = walk(m, layer, n, take)

        elements = [Signal(signed(bits), name=f"tap{p}") for p in range(n)]
        m.d.comb += [e.eq(v) for e, v in zip(elements, self._taps(layer, n))]
        if k > 1:
            m.submodules.sums = sums = memory.Memory(shape=n * bits, depth=OW * CF, init=[])
            rd = sums.read_port(domain="comb")
            wr = sums.write_port()
            so_far = [part.as_signed() for part in (rd.data[p * bits:(p + 1) * bits] for p in range(n))]
            totals = [Mux(at.first, e, s + e) for e, s in zip(elements, so_far)]
            m.d.comb += [rd.addr.eq(at.addr), wr.addr.eq(at.addr), wr.data.eq(Cat(*[t[:bits] for t in totals])),
                         wr.en.eq(take & at.inside & ~at.last)]
        else:
            totals = elements

        if layer.threshold is None:
            result = Cat(*[t[:bits] for t in totals])
        else:
            # one word of n thresholds per channel fold, read as the beat arrives
            word = data.ArrayLayout(data.StructLayout({"threshold": signed(layer.threshold_bits), "invert": 1}), n)
            m.submodules.thresholds = rom = memory.Memory(shape=word, depth=CF, init=self.threshold_words())
            port = rom.read_port(domain="comb")
            m.d.comb += port.addr.eq(at.cf)
            result = Cat(*[(t >= port.data[p].threshold) ^ port.data[p].invert for p, t in enumerate(totals)])

        with m.If(advance):
            m.d.sync += self.o.valid.eq(take & at.inside & at.last)
        with m.If(take & at.inside & at.last):
            m.d.sync += self.o.payload.eq(result)
        return m

    def _taps(self, layer, n):
        """Each lane's element as its value: a bipolar bit is +-1, an integer itself."""
        values = lanes(self.i.payload, layer.in_type, n)
        if layer.in_type.bipolar:
            return [Mux(v, Const(1, signed(2)), Const(-1, signed(2))) for v in values]
        return values
