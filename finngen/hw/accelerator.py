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
from .fifo import StreamFIFO
from ..compile import pipeline

__all__ = ["Accelerator", "AxiStreamTop", "stage_names"]


class Accelerator(wiring.Component):
    """A network's datapath for one folding.

    Parameters
    ----------
    network : :class:`~finngen.ir.Network`
    folds : dict
        Layer name -> :class:`~finngen.compile.folding.Fold` for every matrix layer and every
        pool on the input (:func:`finngen.compile.folding.folded_layers`).

    Members
    -------
    i : ``In(stream.Signature(unsigned(in_width)))``
    o : ``Out(stream.Signature(StructLayout({"data": unsigned(out_width), "last": 1})))``
    """

    def __init__(self, network: ir.Network, folds: dict):
        self.network = network
        self.stages = pipeline.stages(network, folds)
        self.interface = pipeline.interface(self.stages)
        self.in_width, self.out_width = self.interface["in_width"], self.interface["out_width"]
        self.out_beats = self.interface["out_beats"]
        super().__init__({
            "i": In(stream.Signature(unsigned(self.in_width))),
            "o": Out(stream.Signature(data.StructLayout({"data": unsigned(self.out_width), "last": 1}))),
        })

    def elaborate(self, platform):
        m = Module()
        components = [stage.component() for stage in self.stages]
        for name, component in zip(stage_names(self.stages), components):
            m.submodules[name] = component

        # input: the elements sit in the low bits of the byte-aligned word
        first = components[0]
        m.d.comb += [first.i.valid.eq(self.i.valid), self.i.ready.eq(first.i.ready),
                     first.i.payload.eq(self.i.payload[:len(Value.cast(first.i.payload))])]

        for k, (spec, producer, consumer) in enumerate(zip(pipeline.fifos(self.stages), components,
                                                           components[1:])):
            fifo = spec.component(producer.o.payload.shape())
            m.submodules[f"fifo{k}"] = fifo
            wiring.connect(m, producer.o, fifo.i)
            wiring.connect(m, fifo.o, consumer.i)

        # each residual unit's skip path: the fork's second output through its FIFO to the join
        for k, (fork, join, spec) in enumerate(pipeline.skips(self.stages)):
            fifo = spec.component(components[fork].skip.payload.shape())
            m.submodules[f"skip{k}"] = fifo
            wiring.connect(m, components[fork].skip, fifo.i)
            wiring.connect(m, fifo.o, components[join].skip)

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
    Vivado's block design and cocotbext-axi expect them.

    ``m_axis_tlast`` marks the last beat of a frame whose input ended with ``s_axis_tlast``, so a
    DMA transfer of a batch of frames (TLAST on its final beat only) comes back as one transfer,
    and frames sent one packet each come back one packet each. A queue of one flag per frame
    carries TLAST across the pipeline; :data:`FRAMES_IN_FLIGHT` frames fit in it, more than a
    pipeline holds, so it never slows the stream.
    """

    FRAMES_IN_FLIGHT = 32

    def __init__(self, accelerator: Accelerator):
        self.accelerator = accelerator
        self.s_axis_tdata = Signal(accelerator.in_width)
        self.s_axis_tvalid = Signal()
        self.s_axis_tready = Signal()
        self.s_axis_tlast = Signal()
        self.m_axis_tdata = Signal(accelerator.out_width)
        self.m_axis_tvalid = Signal()
        self.m_axis_tready = Signal()
        self.m_axis_tlast = Signal()

    @property
    def ports(self):
        return [self.s_axis_tdata, self.s_axis_tvalid, self.s_axis_tready, self.s_axis_tlast,
                self.m_axis_tdata, self.m_axis_tvalid, self.m_axis_tready, self.m_axis_tlast]

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = a = self.accelerator
        m.submodules.ends = ends = StreamFIFO(1, self.FRAMES_IN_FLIGHT)
        beats = a.stages[0].beats_in
        count = Signal(range(beats))
        in_final, out_final = Signal(), Signal()
        # a frame's final beat goes in only when its flag has room, and comes out only with its flag
        in_open = ~in_final | ends.i.ready
        out_open = ~out_final | ends.o.valid
        m.d.comb += [
            in_final.eq(count == beats - 1), out_final.eq(a.o.payload.last),
            a.i.payload.eq(self.s_axis_tdata), a.i.valid.eq(self.s_axis_tvalid & in_open),
            self.s_axis_tready.eq(a.i.ready & in_open),
            ends.i.payload.eq(self.s_axis_tlast), ends.i.valid.eq(self.s_axis_tvalid & a.i.ready & in_final),
            self.m_axis_tdata.eq(a.o.payload.data), self.m_axis_tlast.eq(out_final & ends.o.payload),
            self.m_axis_tvalid.eq(a.o.valid & out_open), a.o.ready.eq(self.m_axis_tready & out_open),
            ends.o.ready.eq(a.o.valid & self.m_axis_tready & out_final),
        ]
        with m.If(self.s_axis_tvalid & self.s_axis_tready):
            m.d.sync += count.eq(Mux(in_final, 0, count + 1))
        return m
