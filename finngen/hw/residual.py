"""A residual unit's two ends: the stream fork, and the join that thresholds the branch's sums
by the skip bit.

The fork copies each beat to the branch and to the skip path. The skip path (a FIFO built by
:mod:`finngen.hw.accelerator`, sized by :mod:`finngen.compile.kinds.residual`) brings each
pixel's bits to the join while the branch computes that pixel's sums; the join then outputs,
per channel, ``(s >= threshold[x]) != invert[x]`` with ``x`` the skip bit
(:class:`~finngen.ir.JoinLayer`).
"""
from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir
from .dwc import StreamWidthConverter
from .packing import beat_shape, lanes, require_divisor

__all__ = ["StreamFork", "ResidualJoin"]


class StreamFork(wiring.Component):
    """Each input beat to both outputs, each taking it when it is ready (an eager fork: neither
    output's ``valid`` waits for the other's ``ready``).

    Parameters
    ----------
    shape : shape-like
        The payload shape of all three streams.

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``: to the branch
    skip : ``Out(stream.Signature(shape))``: to the skip path
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)),
                          "skip": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        outputs = [self.o, self.skip]
        sent = [Signal(name=f"sent{k}") for k in range(2)]    # this beat already went out there
        done = [Signal(name=f"done{k}") for k in range(2)]    # ... or goes out now
        for out, was, now in zip(outputs, sent, done):
            m.d.comb += [out.payload.eq(self.i.payload), out.valid.eq(self.i.valid & ~was),
                         now.eq(was | out.ready)]
        m.d.comb += self.i.ready.eq(done[0] & done[1])
        with m.If(self.i.valid):
            for was, now in zip(sent, done):
                m.d.sync += was.eq(now & ~self.i.ready)
        return m


class ResidualJoin(wiring.Component):
    """The join of a residual unit: the branch's sums and the skip bits, channel for channel.

    Parameters
    ----------
    layer : :class:`~finngen.ir.JoinLayer`
    channels_per_beat : int
        Sums per input beat and bits per output beat (the branch's last PE); divides the channels.
    skip_per_beat : int
        Bits per skip beat (the fork's lanes), regrouped inside when they differ.

    Members
    -------
    i : ``In(stream.Signature(beat_shape(layer.in_type, channels_per_beat)))``
    skip : ``In(stream.Signature(unsigned(skip_per_beat)))``
    o : ``Out(stream.Signature(unsigned(channels_per_beat)))``
    """

    def __init__(self, layer, channels_per_beat, skip_per_beat):
        self._MustUse__silence = True
        if not isinstance(layer, ir.JoinLayer):
            raise TypeError(f"ResidualJoin implements an ir.JoinLayer, not {layer!r}")
        for what, n in (("channels_per_beat", channels_per_beat), ("skip_per_beat", skip_per_beat)):
            require_divisor(layer.shape.channels, n, what, f"the channels of {layer.name}")
        self._MustUse__silence = False
        self.layer, self.pe, self.skip_lanes = layer, channels_per_beat, skip_per_beat
        super().__init__({"i": In(stream.Signature(beat_shape(layer.in_type, channels_per_beat))),
                          "skip": In(stream.Signature(unsigned(skip_per_beat))),
                          "o": Out(stream.Signature(unsigned(channels_per_beat)))})

    @property
    def threshold_bits(self) -> int:
        return ir.signed_bits(int(self.layer.threshold.min()), int(self.layer.threshold.max()))

    def threshold_words(self, p):
        """Lane ``p``'s table: entry ``nf`` for channel ``nf * PE + p``, both skip values."""
        t, inv = self.layer.threshold, self.layer.invert
        return [{"t0": int(t[0, c]), "i0": int(inv[0, c]), "t1": int(t[1, c]), "i1": int(inv[1, c])}
                for c in range(p, self.layer.shape.channels, self.pe)]

    def elaborate(self, platform):
        m = Module()
        pe, NF = self.pe, self.layer.shape.channels // self.pe
        if self.skip_lanes != pe:
            m.submodules.skip_converter = converter = StreamWidthConverter(ir.BIPOLAR, self.skip_lanes, pe)
            wiring.connect(m, wiring.flipped(self.skip), converter.i)
            skip = converter.o
        else:
            skip = self.skip

        advance, take = Signal(), Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), take.eq(advance & self.i.valid & skip.valid),
                     self.i.ready.eq(advance & skip.valid), skip.ready.eq(advance & self.i.valid)]
        nf = Signal(range(NF))
        with m.If(take):
            m.d.sync += nf.eq(Mux(nf == NF - 1, 0, nf + 1))

        bits = self.threshold_bits
        layout = data.StructLayout({"t0": signed(bits), "i0": 1, "t1": signed(bits), "i1": 1})
        sums = lanes(self.i.payload, self.layer.in_type, pe)
        out = []
        for p in range(pe):
            m.submodules[f"thresholds{p}"] = mem = memory.Memory(shape=layout, depth=NF,
                                                                 init=self.threshold_words(p))
            port = mem.read_port(domain="comb")
            m.d.comb += port.addr.eq(nf)
            x = skip.payload[p]
            out.append((sums[p] >= Mux(x, port.data.t1, port.data.t0)) ^ Mux(x, port.data.i1, port.data.i0))
        with m.If(advance):
            m.d.sync += self.o.valid.eq(take)
        with m.If(take):
            m.d.sync += self.o.payload.eq(Cat(*out))
        return m
