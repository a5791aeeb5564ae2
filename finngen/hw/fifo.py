"""A stream FIFO: :class:`amaranth.lib.fifo.SyncFIFOBuffered` behind stream interfaces, read
through registers and a small tail FIFO when its storage may be block RAM."""
from amaranth.hdl import Module, Shape, Signal, Value
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..compile.kinds.fifo import Fifo

__all__ = ["StreamFIFO", "BUFFERED_LATENCY"]

# Cycles from a beat entering an empty FIFO of depth 2 or more to the same beat valid at its
# output: it passes the storage and its registered read port.
BUFFERED_LATENCY = 2


class StreamFIFO(wiring.Component):
    """A first-in first-out buffer between two streams of the same payload shape.

    A FIFO whose storage is block RAM (:attr:`finngen.compile.kinds.Fifo.registered`) keeps the
    block away from every path but one: a SyncFIFOBuffered of the block, registers that take
    the block's read data and nothing else (:attr:`~finngen.compile.kinds.Fifo.READ_REGISTERS`),
    then a small FIFO of :attr:`~finngen.compile.kinds.Fifo.TAIL` beats in LUTs or flip-flops
    that the consumer reads. The block is read while a count of the tail's free entries (beats
    in the registers included) allows, so the consumer's ready never reaches the block's read
    enable, and the placer can split the route from the block over several cycles. It still
    moves a beat every cycle (the count's round trip is the tail's depth), holds ``depth``
    beats, and adds the registers' and the tail's latency.

    Parameters
    ----------
    shape : shape-like
        The payload shape (any shape-castable, e.g. a data layout).
    depth : int
        Beats it holds; at least 1. From depth 3 on, one beat per cycle in and out; depths 1
        and 2 (an output register behind a 0 or 1 entry FIFO) move a beat every other cycle.

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``
    """

    def __init__(self, shape, depth):
        width = Shape.cast(shape).width
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"A FIFO depth must be a positive integer, not {depth!r}")
        self.depth = depth
        self._shape = shape
        self.registered = Fifo(width, depth).registered
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    @property
    def latency(self) -> int:
        """Cycles from a beat entering the empty FIFO to the same beat valid at its output
        (depth 1 is a single register; a registered FIFO adds its registers and its tail)."""
        if self.depth == 1:
            return 1
        return BUFFERED_LATENCY + self.registered * (Fifo.READ_REGISTERS + BUFFERED_LATENCY)

    def elaborate(self, platform):
        m = Module()
        width = len(Value.cast(self.i.payload))
        tail = Fifo.TAIL if self.registered else 0
        m.submodules.fifo = buf = fifo.SyncFIFOBuffered(width=width, depth=self.depth - tail)
        m.d.comb += [
            buf.w_data.eq(Value.cast(self.i.payload)),
            buf.w_en.eq(self.i.valid),
            self.i.ready.eq(buf.w_rdy),
        ]
        if not self.registered:
            m.d.comb += [
                Value.cast(self.o.payload).eq(buf.r_data),
                self.o.valid.eq(buf.r_rdy),
                buf.r_en.eq(self.o.ready),
            ]
            return m
        m.submodules.tail = out = StreamFIFO(self._shape, tail)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        free = Signal(range(tail + 1), init=tail)
        taken = buf.r_rdy & buf.r_en
        m.d.comb += buf.r_en.eq(free != 0)
        data, valid = buf.r_data, taken
        for k in range(Fifo.READ_REGISTERS - 1):
            later = Signal(width, name=f"read{k}", reset_less=True), Signal(name=f"read{k}_valid")
            m.d.sync += [later[0].eq(data), later[1].eq(valid)]
            data, valid = later
        m.d.sync += [
            Value.cast(out.i.payload).eq(data),
            out.i.valid.eq(valid),
            free.eq(free - taken + (self.o.valid & self.o.ready)),
        ]
        return m
