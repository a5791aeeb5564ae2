"""Average pool as integer window sums: kernel == stride, on a raster-order stream."""
from __future__ import annotations

from dataclasses import dataclass

from ... import ir
from ..resources import Resources, memory
from .pool import Pool


@dataclass(frozen=True)
class SumPool(Pool):
    """A :class:`finngen.hw.sumpool.SumPool` with ``lanes`` channels per beat, in and out. It
    walks its input as the max pool does (beats, cycles, bursts and latency are the same); what
    differs is its element: a sum ``sum_type`` bits wide, then a threshold per channel or not."""
    layer: ir.SumPoolLayer
    lanes: int

    kind = "sumpool"
    short = "avg"
    title = "average pool"

    @property
    def out_type(self):
        return self.layer.out_type

    def details(self) -> dict:
        return {"sum_bits": self.layer.sum_type.bits, "thresholds": self.layer.threshold is not None}

    def lut_terms(self) -> dict:
        """An adder per lane and sum bit where the max pool has a compare and select (the same
        carry chain); thresholds add a comparator per lane and threshold bit, and the ROM that
        holds them (in :meth:`fixed_resources`). Not calibrated on its own."""
        layer = self.layer
        adders = self.lanes * layer.sum_type.bits if layer.kernel > 1 else 0
        compares = self.lanes * layer.threshold_bits if layer.threshold is not None else 0
        return {"pool_lane": adders + compares, "pool_control": 1}

    @property
    def running_bits(self) -> int:
        return self.layer.sum_type.bits

    def fixed_resources(self) -> Resources:
        """The max pool's memory and counters at the sums' width, and the threshold ROM."""
        layer = self.layer
        rom = Resources() if layer.threshold is None else \
            memory(layer.in_shape.channels // self.lanes, self.lanes * (layer.threshold_bits + 1), rom=True, sync=False)
        return super().fixed_resources() + rom

    def component(self):
        from ...hw.sumpool import SumPool as Component
        return Component(self.layer, self.lanes)
