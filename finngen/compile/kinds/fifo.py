"""The FIFO between two stages, sized so that neither stalls the slower one."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..resources import Resources, block_ram_read, memory, range_bits, with_fitted
from .base import Stage


@dataclass(frozen=True)
class Fifo:
    """A :class:`finngen.hw.fifo.StreamFIFO` of ``depth`` beats of ``width`` bits."""
    width: int
    depth: int

    # registers a registered FIFO's block read passes before its tail (finngen.hw.fifo): the
    # block may land far from the FIFO's consumer (the weights fill the block RAM columns), and
    # its read data leaves it late; with one register nextpnr put that register 65 rows from the
    # block in LFC (10.5 ns), with two the route splits over a cycle that starts early
    READ_REGISTERS = 2
    # beats of a registered FIFO's tail: the round trip of its free count (read, the registers,
    # tail write, tail output, count)
    TAIL = 3 + READ_REGISTERS

    @classmethod
    def between(cls, producer: Stage, consumer: Stage) -> Fifo:
        """The FIFO from ``producer``'s output to ``consumer``'s input. A matrix unit takes its
        input in bursts (one pixel's vector, then nothing while it replays it for the other
        neuron folds), and a producer delivers in bursts of one pixel's outputs: two of the
        larger burst absorb both."""
        burst = max(producer.burst_out, consumer.burst_in)
        return cls(producer.payload_bits, max(4, 1 << math.ceil(math.log2(2 * burst))))

    @property
    def registered(self) -> bool:
        """Whether its reads pass registers of flip-flops behind the storage: when the storage
        may be block RAM on either family (:func:`~finngen.compile.resources.block_ram_read`:
        ECP5 puts a 64 x 32 FIFO in a DP16KD, whose read then set LFC's clock). A block RAM read
        (without the block's own output register, which yosys does not use here) is slow to
        leave the block, and the weights fill the block RAM columns, so the FIFO's block can land
        far from its consumer; the registers (:data:`READ_REGISTERS`) give that route cycles of
        its own. A FIFO in LUT RAM or flip-flops already reads into a register, so it does not
        pay."""
        return self.depth > 2 and block_ram_read(self.depth - 1, self.width)

    def lut_terms(self) -> dict:
        """Two pointers, the level counter and full/empty, per pointer bit."""
        return {"fifo_pointer": range_bits(self.depth)}

    def fixed_resources(self) -> Resources:
        """amaranth's SyncFIFOBuffered: a ``depth - 1`` word memory with a synchronous read port
        (its read register is the output register). A :attr:`registered` one is a
        SyncFIFOBuffered of ``depth - TAIL`` beats, the registers behind it with their valid
        flags, the free count (a few LUTs) and the tail, a FIFO of :data:`TAIL` beats."""
        if not self.registered:
            ptr = range_bits(self.depth)
            return memory(self.depth - 1, self.width) + Resources(ff=3 * ptr + 1)
        ptr = range_bits(self.depth - self.TAIL)
        free = range_bits(self.TAIL + 1)
        return (memory(self.depth - self.TAIL - 1, self.width)
                + Resources(lut=free, ff=3 * ptr + 1 + self.READ_REGISTERS * (self.width + 1) + free)
                + Fifo(self.width, self.TAIL).resources())

    def resources(self) -> Resources:
        return with_fitted(self.fixed_resources(), self.lut_terms())

    def component(self, shape):
        """The FIFO for beats of ``shape``: the producing component's payload shape (a padded
        window beat is a data/mask layout)."""
        from ...hw.fifo import StreamFIFO
        return StreamFIFO(shape, self.depth)
