"""Max pooling with kernel == stride on a raster-order stream.

Each input beat either starts a window's running maximum, updates it, or completes it and leaves
as an output beat. The running maxima of one output row (``W / k`` pixels) live in a small
memory with an asynchronous read port, so read-modify-write takes one cycle and back-to-back
beats of the same window need no forwarding. Rows and columns that do not fill a window are
consumed and dropped. On bipolar data (1 bit, +1 = 1) the maximum is an OR.
"""
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir
from .packing import beat_shape, lanes, require_divisor

__all__ = ["MaxPool"]


class MaxPool(wiring.Component):
    """Max pooling for one :class:`~finngen.ir.PoolLayer`.

    Parameters
    ----------
    layer : :class:`~finngen.ir.PoolLayer`
    channels_per_beat : int
        Elements per beat, in and out; divides the channels.

    Members
    -------
    i : ``In(stream.Signature(beat_shape(in_type, channels_per_beat)))``
    o : ``Out(stream.Signature(beat_shape(in_type, channels_per_beat)))``
    """

    def __init__(self, layer, channels_per_beat):
        if not isinstance(layer, ir.PoolLayer):
            raise TypeError(f"MaxPool implements an ir.PoolLayer, not {layer!r}")
        require_divisor(layer.in_shape.channels, channels_per_beat, "channels_per_beat",
                        f"the channels of {layer.name}")
        k, shape = layer.kernel, layer.in_shape
        if k < 1 or shape.height < k or shape.width < k:
            raise ValueError(f"{layer.name}: kernel {k} does not fit the input {shape}")
        expected = ir.Shape(shape.height // k, shape.width // k, shape.channels)
        if layer.out_shape != expected:
            raise ValueError(f"{layer.name}: output shape {layer.out_shape} should be {expected}")
        self.layer = layer
        self.channels_per_beat = channels_per_beat
        shape = beat_shape(layer.in_type, channels_per_beat)
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    # Cycles from the beat that completes a window to its maximum valid on ``o``: the output
    # register.
    latency = 1

    def elaborate(self, platform):
        m = Module()
        layer, n = self.layer, self.channels_per_beat
        k = layer.kernel
        H, W = layer.in_shape.height, layer.in_shape.width
        OW = layer.out_shape.width
        CF = layer.in_shape.channels // n

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
        beat = self.i.payload
        if k > 1:
            m.submodules.maxima = maxima = memory.Memory(shape=len(beat), depth=OW * CF, init=[])
            rd = maxima.read_port(domain="comb")
            wr = maxima.write_port()
            addr = base + cf
            merged = Cat(*[Mux(a > b, a, b) for a, b in zip(lanes(rd.data, layer.in_type, n),
                                                             lanes(beat, layer.in_type, n))])
            result = Mux(first, beat, merged)
            m.d.comb += [rd.addr.eq(addr), wr.addr.eq(addr), wr.data.eq(result),
                         wr.en.eq(take & inside & ~last)]
        else:
            result = beat

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
