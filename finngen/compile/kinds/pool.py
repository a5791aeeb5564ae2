"""Max pool: kernel == stride, on a raster-order stream."""
from __future__ import annotations

from dataclasses import dataclass

from ... import ir
from ..resources import Resources, memory, range_bits
from .base import LaneStage


@dataclass(frozen=True)
class Pool(LaneStage):
    """A :class:`finngen.hw.pool.MaxPool` with ``lanes`` channels per beat, in and out."""
    layer: ir.PoolLayer
    lanes: int

    kind = "pool"
    short = "pool"
    title = "max pool"

    @property
    def beats_out(self) -> int:
        return self.layer.out_shape.size // self.lanes

    @property
    def cycles(self) -> int:
        """One input beat per cycle; the output beats leave in between."""
        return self.beats_in

    @property
    def burst_out(self) -> int:
        """A window row's maxima all leave during the window's last input row, one every
        ``kernel`` input pixels: a whole output row, which a slower consumer takes at its pace."""
        return self.layer.out_shape.width * (self.layer.in_shape.channels // self.lanes)

    @property
    def latency(self) -> int:
        from ...hw.pool import MaxPool
        return MaxPool.latency

    def lut_terms(self) -> dict:
        """Compare and select per lane and element bit (bipolar: an OR); a 1x1 pool passes data."""
        layer = self.layer
        per_lane = 1 if layer.in_type.bipolar else layer.in_type.bits
        return {"pool_lane": self.lanes * per_lane if layer.kernel > 1 else 0, "pool_control": 1}

    @property
    def running_bits(self) -> int:
        """The width of a lane's running value in the memory (an average pool's sum is wider)."""
        return self.layer.in_type.bits

    def fixed_resources(self) -> Resources:
        layer, n = self.layer, self.lanes
        bits, shape, k = self.running_bits, layer.in_shape, layer.kernel
        cf = shape.channels // n
        counters = range_bits(shape.height) + range_bits(shape.width) + range_bits(cf) + 2 * range_bits(k) \
            + range_bits(layer.out_shape.width * cf) + 1
        # read-modify-write through one address: a single-port LUT RAM with asynchronous read
        maxima = memory(layer.out_shape.width * cf, n * bits, sync=False, single_port=True) \
            if k > 1 else Resources()
        return maxima + Resources(ff=n * self.out_type.bits + counters)

    def component(self):
        from ...hw.pool import MaxPool
        return MaxPool(self.layer, self.lanes)
