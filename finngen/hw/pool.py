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
from .packing import beat_shape, lanes
from .poolwalk import check_pool_shape, walk

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
        check_pool_shape(layer, channels_per_beat)
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
        OW = layer.out_shape.width
        CF = layer.in_shape.channels // n

        advance = Signal()
        take = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance),
                     take.eq(self.i.valid & advance)]
        at = walk(m, layer, n, take)

        beat = self.i.payload
        if k > 1:
            m.submodules.maxima = maxima = memory.Memory(shape=len(beat), depth=OW * CF, init=[])
            rd = maxima.read_port(domain="comb")
            wr = maxima.write_port()
            merged = Cat(*[Mux(a > b, a, b) for a, b in zip(lanes(rd.data, layer.in_type, n),
                                                             lanes(beat, layer.in_type, n))])
            result = Mux(at.first, beat, merged)
            m.d.comb += [rd.addr.eq(at.addr), wr.addr.eq(at.addr), wr.data.eq(result),
                         wr.en.eq(take & at.inside & ~at.last)]
        else:
            result = beat

        with m.If(advance):
            m.d.sync += self.o.valid.eq(take & at.inside & at.last)
        with m.If(take & at.inside & at.last):
            m.d.sync += self.o.payload.eq(result)
        return m
