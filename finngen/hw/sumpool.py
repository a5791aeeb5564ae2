"""Average pooling (kernel == stride) as integer window sums on a raster-order stream.

nnabla's AveragePooling divides each window's sum by ``kernel**2``; finngen folds that division
into what follows (:class:`~finngen.ir.SumPoolLayer`), so this unit only adds. It follows
:class:`~finngen.hw.pool.MaxPool`: each input beat starts a window's running sums, adds to them,
or completes them and leaves; the running sums of one output row (``W / k`` pixels) live in a
small memory with an asynchronous read port, so read-modify-write takes one cycle. Rows and
columns that do not fill a window are consumed and dropped. A bipolar bit counts as +-1.

When the layer has thresholds (``BN -> AveragePooling -> BinaryTanh``), each finished sum leaves
as the bit ``(S >= threshold) != invert`` of its channel; otherwise as the signed sum itself,
which the next matrix unit takes in its integer mode.
"""
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir
from .packing import beat_shape, lanes, require_divisor

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
        # Amaranth warns about Elaboratables never elaborated; one whose arguments are
        # rejected here was never meant to be.
        self._MustUse__silence = True
        if not isinstance(layer, ir.SumPoolLayer):
            raise TypeError(f"SumPool implements an ir.SumPoolLayer, not {layer!r}")
        require_divisor(layer.in_shape.channels, channels_per_beat, "channels_per_beat",
                        f"the channels of {layer.name}")
        k, shape = layer.kernel, layer.in_shape
        if k < 1 or shape.height < k or shape.width < k:
            raise ValueError(f"{layer.name}: kernel {k} does not fit the input {shape}")
        expected = ir.Shape(shape.height // k, shape.width // k, shape.channels)
        if layer.out_shape != expected:
            raise ValueError(f"{layer.name}: output shape {layer.out_shape} should be {expected}")
        if (layer.threshold is None) != (layer.invert is None):
            raise ValueError(f"{layer.name}: thresholds and invert go together, not {layer.threshold!r} "
                             f"and {layer.invert!r}")
        self._MustUse__silence = False
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
        k = layer.kernel
        H, W = layer.in_shape.height, layer.in_shape.width
        OW = layer.out_shape.width
        CF = layer.in_shape.channels // n
        bits = layer.sum_type.bits

        # input position; (ky, kx) within the window, `base` = ox * CF
        y, x, cf = Signal(range(H)), Signal(range(W)), Signal(range(CF))
        ky, kx = Signal(range(k)), Signal(range(k))
        base = Signal(range(OW * CF))
        inside = (y < layer.out_shape.height * k) & (x < OW * k)

        advance = Signal()
        take = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance),
                     take.eq(self.i.valid & advance)]
        first = (ky == 0) & (kx == 0)
        last = (ky == k - 1) & (kx == k - 1)

        elements = [Signal(signed(bits), name=f"tap{p}") for p in range(n)]
        m.d.comb += [e.eq(v) for e, v in zip(elements, self._taps(layer, n))]
        if k > 1:
            m.submodules.sums = sums = memory.Memory(shape=n * bits, depth=OW * CF, init=[])
            rd = sums.read_port(domain="comb")
            wr = sums.write_port()
            addr = base + cf
            so_far = [part.as_signed() for part in (rd.data[p * bits:(p + 1) * bits] for p in range(n))]
            totals = [Mux(first, e, s + e) for e, s in zip(elements, so_far)]
            m.d.comb += [rd.addr.eq(addr), wr.addr.eq(addr), wr.data.eq(Cat(*[t[:bits] for t in totals])),
                         wr.en.eq(take & inside & ~last)]
        else:
            totals = elements

        if layer.threshold is None:
            result = Cat(*[t[:bits] for t in totals])
        else:
            # one word of n thresholds per channel fold, read as the beat arrives
            word = data.ArrayLayout(data.StructLayout({"threshold": signed(layer.threshold_bits), "invert": 1}), n)
            m.submodules.thresholds = rom = memory.Memory(shape=word, depth=CF, init=self.threshold_words())
            port = rom.read_port(domain="comb")
            m.d.comb += port.addr.eq(cf)
            result = Cat(*[(t >= port.data[p].threshold) ^ port.data[p].invert for p, t in enumerate(totals)])

        with m.If(advance):
            m.d.sync += self.o.valid.eq(take & inside & last)
        with m.If(take & inside & last):
            m.d.sync += self.o.payload.eq(result)

        with m.If(take):
            with m.If(cf == CF - 1):
                m.d.sync += cf.eq(0)
                with m.If(x == W - 1):
                    m.d.sync += [x.eq(0), kx.eq(0), base.eq(0), y.eq(Mux(y == H - 1, 0, y + 1)),
                                 ky.eq(Mux((ky == k - 1) | (y == H - 1), 0, ky + 1))]
                with m.Else():
                    m.d.sync += [x.eq(x + 1), kx.eq(Mux(kx == k - 1, 0, kx + 1))]
                    with m.If((kx == k - 1) & (x < OW * k)):
                        m.d.sync += base.eq(base + CF)
            with m.Else():
                m.d.sync += cf.eq(cf + 1)
        return m

    def _taps(self, layer, n):
        """Each lane's element as its value: a bipolar bit is +-1, an integer itself."""
        values = lanes(self.i.payload, layer.in_type, n)
        if layer.in_type.bipolar:
            return [Mux(v, Const(1, signed(2)), Const(-1, signed(2))) for v in values]
        return values
