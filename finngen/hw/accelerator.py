"""The whole accelerator: the stages of :mod:`finngen.compile.pipeline` chained through FIFOs.

The input takes ``lanes_in`` elements per beat in the low bits of a byte-aligned word (what an
AXI4-Stream TDATA carries); the output gives the last stage's lanes the same way, with ``last``
set on the final beat of every frame's result.
"""
import re

from amaranth.hdl import Elaboratable, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import ir
from ..compile import pipeline
from .dwc import StreamWidthConverter
from .fifo import StreamFIFO
from .mvtu import MVTU
from .pool import MaxPool
from .swu import SlidingWindow

__all__ = ["Accelerator", "AxiStreamTop", "byte_width", "stage_names"]


def byte_width(bits: int) -> int:
    """The smallest multiple of 8 that holds ``bits``."""
    return -(-bits // 8) * 8


class Accelerator(wiring.Component):
    """A network's datapath for one folding.

    Parameters
    ----------
    network : :class:`~finngen.ir.Network`
    folds : dict
        Layer name -> :class:`~finngen.compile.folding.Fold` for every matrix layer.

    Members
    -------
    i : ``In(stream.Signature(unsigned(in_width)))``
    o : ``Out(stream.Signature(StructLayout({"data": unsigned(out_width), "last": 1})))``
    """

    def __init__(self, network: ir.Network, folds: dict):
        self.network = network
        self.stages = pipeline.stages(network, folds)
        first, last = self.stages[0], self.stages[-1]
        self.in_lanes, self.out_lanes = first.lanes_in, last.lanes_out
        self.in_type, self.out_type = first.elem_type, network.last.out_type
        self.in_width = byte_width(self.in_lanes * self.in_type.bits)
        self.out_width = byte_width(self.out_lanes * self.out_type.bits)
        self.out_beats = last.beats_out
        super().__init__({
            "i": In(stream.Signature(unsigned(self.in_width))),
            "o": Out(stream.Signature(data.StructLayout({"data": unsigned(self.out_width), "last": 1}))),
        })

    @property
    def interface(self) -> dict:
        """What the host needs to pack input words and unpack output words (see finngen.codec)."""
        return {"in_lanes": self.in_lanes, "in_width": self.in_width, "in_bits": self.in_type.bits,
                "out_lanes": self.out_lanes, "out_width": self.out_width, "out_bits": self.out_type.bits,
                "out_signed": self.out_type.signed, "out_beats": self.out_beats}

    def elaborate(self, platform):
        m = Module()
        components = [self.component(stage) for stage in self.stages]
        for name, component in zip(stage_names(self.stages), components):
            m.submodules[name] = component

        # input: the elements sit in the low bits of the byte-aligned word
        first = components[0]
        m.d.comb += [first.i.valid.eq(self.i.valid), self.i.ready.eq(first.i.ready),
                     first.i.payload.eq(self.i.payload[:len(Value.cast(first.i.payload))])]

        for k, (producer, consumer) in enumerate(zip(components, components[1:])):
            depth = pipeline.fifo_depth(self.stages[k], self.stages[k + 1])
            fifo = StreamFIFO(producer.o.payload.shape(), depth)
            m.submodules[f"fifo{k}"] = fifo
            wiring.connect(m, producer.o, fifo.i)
            wiring.connect(m, fifo.o, consumer.i)

        # output: count beats to mark the last one of each frame
        last = components[-1]
        count = Signal(range(self.out_beats))
        final = Signal()
        m.d.comb += [
            final.eq(count == self.out_beats - 1),
            self.o.valid.eq(last.o.valid), last.o.ready.eq(self.o.ready),
            self.o.payload.data.eq(last.o.payload), self.o.payload.last.eq(final),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += count.eq(Mux(final, 0, count + 1))
        return m

    @staticmethod
    def component(stage):
        """The Amaranth component of one stage (also run alone by ``finngen testbench``)."""
        if stage.kind == "matrix":
            return MVTU(stage.layer, stage.fold.pe, stage.fold.simd)
        if stage.kind == "window":
            return SlidingWindow(stage.layer, stage.fold.simd)
        if stage.kind == "pool":
            return MaxPool(stage.layer, stage.lanes_in)
        return StreamWidthConverter(stage.elem_type, stage.lanes_in, stage.lanes_out)


def stage_names(stages) -> list:
    """The instance name of every stage, ``s<k>_<kind>_<layer>``: what the waves and the
    testbench's probes show."""
    return [f"s{k}_{stage.kind}_{_identifier(stage.layer.name)}" for k, stage in enumerate(stages)]


def _identifier(name: str) -> str:
    """Layer names come from the model file: keep only what every Verilog and TCL tool accepts
    (the stage index in front keeps the names unique)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:48]


class AxiStreamTop(Elaboratable):
    """The accelerator with AXI4-Stream port names (``s_axis_*`` in, ``m_axis_*`` out), as
    Vivado's block design and cocotbext-axi expect them."""

    def __init__(self, accelerator: Accelerator):
        self.accelerator = accelerator
        self.s_axis_tdata = Signal(accelerator.in_width)
        self.s_axis_tvalid = Signal()
        self.s_axis_tready = Signal()
        self.m_axis_tdata = Signal(accelerator.out_width)
        self.m_axis_tvalid = Signal()
        self.m_axis_tready = Signal()
        self.m_axis_tlast = Signal()

    @property
    def ports(self):
        return [self.s_axis_tdata, self.s_axis_tvalid, self.s_axis_tready,
                self.m_axis_tdata, self.m_axis_tvalid, self.m_axis_tready, self.m_axis_tlast]

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = a = self.accelerator
        m.d.comb += [
            a.i.payload.eq(self.s_axis_tdata), a.i.valid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(a.i.ready),
            self.m_axis_tdata.eq(a.o.payload.data), self.m_axis_tlast.eq(a.o.payload.last),
            self.m_axis_tvalid.eq(a.o.valid), a.o.ready.eq(self.m_axis_tready),
        ]
        return m
