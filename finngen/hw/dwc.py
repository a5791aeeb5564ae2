"""Stream width conversion between the PE lanes of one layer and the SIMD lanes of the next.

Both sides carry the same elements in the same order, only grouped differently. A converter
either splits each input beat into ``n_in / n_out`` output beats, gathers ``n_out / n_in`` input
beats into one, or, when neither divides the other, gathers up to ``lcm(n_in, n_out)`` and splits
that (a frame that fills whole beats on both sides fills whole lcm beats too).
"""
import math

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir

__all__ = ["StreamWidthConverter"]


class StreamWidthConverter(wiring.Component):
    """Regroup a stream of ``elem_type`` elements from ``n_in`` to ``n_out`` per beat.

    Parameters
    ----------
    elem_type : :class:`~finngen.ir.DataType`
        The element type (only its width matters).
    n_in, n_out : int
        Elements per input and output beat. Without back-pressure the narrower side moves a
        beat every cycle (the wider one every ``wide / narrow`` cycles).

    Members
    -------
    i : ``In(stream.Signature(unsigned(n_in * bits)))``
    o : ``Out(stream.Signature(unsigned(n_out * bits)))``
    """

    def __init__(self, elem_type, n_in, n_out):
        if not isinstance(elem_type, ir.DataType):
            raise TypeError(f"elem_type must be an ir.DataType, not {elem_type!r}")
        for name, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, int) or n < 1:
                raise ValueError(f"{name} must be a positive integer, not {n!r}")
        self.elem_type = elem_type
        self.n_in = n_in
        self.n_out = n_out
        bits = elem_type.bits
        super().__init__({"i": In(stream.Signature(unsigned(n_in * bits))),
                          "o": Out(stream.Signature(unsigned(n_out * bits)))})

    @property
    def latency(self) -> int:
        return self.latency_of(self.n_in, self.n_out)

    @staticmethod
    def latency_of(n_in, n_out) -> int:
        """Cycles from the input beat that completes an output beat to that beat valid on ``o``
        (a splitter's first part, a gatherer's whole): one per register stage, none when the
        widths are equal. (Static: the compiler's stage kind asks it without building one.)"""
        return 0 if n_in == n_out else 1 if n_in % n_out == 0 or n_out % n_in == 0 else 2

    def elaborate(self, platform):
        m = Module()
        n_in, n_out = self.n_in, self.n_out
        if n_in == n_out:
            wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
        elif n_in % n_out == 0:
            m.submodules.split = split = _Splitter(self.elem_type.bits, n_in, n_out)
            wiring.connect(m, wiring.flipped(self.i), split.i)
            wiring.connect(m, split.o, wiring.flipped(self.o))
        elif n_out % n_in == 0:
            m.submodules.gather = gather = _Gatherer(self.elem_type.bits, n_in, n_out)
            wiring.connect(m, wiring.flipped(self.i), gather.i)
            wiring.connect(m, gather.o, wiring.flipped(self.o))
        else:
            wide = math.lcm(n_in, n_out)
            m.submodules.gather = gather = _Gatherer(self.elem_type.bits, n_in, wide)
            m.submodules.split = split = _Splitter(self.elem_type.bits, wide, n_out)
            wiring.connect(m, wiring.flipped(self.i), gather.i)
            wiring.connect(m, gather.o, split.i)
            wiring.connect(m, split.o, wiring.flipped(self.o))
        return m


class _Splitter(wiring.Component):
    """One wide beat out as ``n_in / n_out`` narrow beats, lowest elements first."""

    def __init__(self, bits, n_in, n_out):
        self.bits, self.ratio, self.n_out = bits, n_in // n_out, n_out
        super().__init__({"i": In(stream.Signature(unsigned(n_in * bits))),
                          "o": Out(stream.Signature(unsigned(n_out * bits)))})

    def elaborate(self, platform):
        m = Module()
        width = self.n_out * self.bits
        word = Signal(len(self.i.payload))
        index = Signal(range(self.ratio))
        last = index == self.ratio - 1
        # Take the next wide beat when empty or while the last part leaves: no bubble.
        m.d.comb += [
            self.i.ready.eq(~self.o.valid | (self.o.ready & last)),
            self.o.payload.eq(word.word_select(index, width)),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += index.eq(Mux(last, 0, index + 1))
            with m.If(last):
                m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [word.eq(self.i.payload), self.o.valid.eq(1)]
        return m


class _Gatherer(wiring.Component):
    """``n_out / n_in`` narrow beats in, one wide beat out, first beat in the lowest elements."""

    def __init__(self, bits, n_in, n_out):
        self.bits, self.ratio, self.n_in = bits, n_out // n_in, n_in
        super().__init__({"i": In(stream.Signature(unsigned(n_in * bits))),
                          "o": Out(stream.Signature(unsigned(n_out * bits)))})

    def elaborate(self, platform):
        m = Module()
        parts = [Signal(len(self.i.payload), name=f"part{j}") for j in range(self.ratio - 1)]
        index = Signal(range(self.ratio))
        last = index == self.ratio - 1
        # The first ratio-1 parts wait in registers; the last goes straight into the output
        # register, which must be free (or leaving) then.
        m.d.comb += self.i.ready.eq(~last | ~self.o.valid | self.o.ready)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += index.eq(Mux(last, 0, index + 1))
            for j, part in enumerate(parts):
                with m.If(index == j):
                    m.d.sync += part.eq(self.i.payload)
            with m.If(last):
                m.d.sync += [self.o.payload.eq(Cat(*parts, self.i.payload)), self.o.valid.eq(1)]
        return m
