"""A stream FIFO: :class:`amaranth.lib.fifo.SyncFIFOBuffered` behind stream interfaces, with an
output register when its storage is block RAM."""
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

    A FIFO whose storage is block RAM (:attr:`finngen.compile.kinds.Fifo.registered`) reads it
    into flip-flops: a SyncFIFOBuffered two beats shallower, then a two-entry skid buffer (the
    output register and a spare). The block's read data reaches only those registers, and its
    read enable only registers' outputs: the buffer asks for the next beat while its spare is
    free, not when the consumer is ready, so no ready path crosses to the block either. It
    still moves a beat every cycle, holds ``depth`` beats, and adds a cycle of latency.

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
        self.registered = Fifo(width, depth).registered
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    @property
    def latency(self) -> int:
        """Cycles from a beat entering the empty FIFO to the same beat valid at its output
        (depth 1 is a single register; a registered FIFO adds its output register)."""
        return 1 if self.depth == 1 else BUFFERED_LATENCY + self.registered

    def elaborate(self, platform):
        m = Module()
        width = len(Value.cast(self.i.payload))
        m.submodules.fifo = buf = fifo.SyncFIFOBuffered(width=width, depth=self.depth - 2 * self.registered)
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
        payload = Value.cast(self.o.payload)
        spare, spare_valid = Signal(width), Signal()
        m.d.comb += buf.r_en.eq(~spare_valid)
        with m.If(~self.o.valid | self.o.ready):
            with m.If(spare_valid):
                m.d.sync += [payload.eq(spare), self.o.valid.eq(1), spare_valid.eq(0)]
            with m.Else():
                m.d.sync += [payload.eq(buf.r_data), self.o.valid.eq(buf.r_rdy)]
        with m.Elif(buf.r_rdy & ~spare_valid):
            m.d.sync += [spare.eq(buf.r_data), spare_valid.eq(1)]
        return m
