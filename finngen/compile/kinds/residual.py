"""A residual unit's fork and join, and the skip FIFO between them.

The skip FIFO must hold every skip beat the fork sends while the branch has not yet given the
sums of that beat's pixel: when it is full the fork stops, and a branch that is still waiting
for input to finish a pixel (a sliding window waits for the rows below) never does, so too
small a FIFO deadlocks, and one a little too small slows the pipeline. What the branch holds
back is counted in pixels, which every stream of the branch shares (its layers keep the map's
height and width): each stage's :attr:`~finngen.compile.kinds.base.Stage.held_pixels` and
latency, each FIFO's depth in pixels of the stream it carries, and the pixel at the join.
"""
from __future__ import annotations

from dataclasses import dataclass

from ... import ir
from ..resources import Resources, memory, range_bits
from .base import LaneStage
from .convert import WidthConverter
from .fifo import Fifo


class _BeatForBeat(LaneStage):
    """A stage that gives a beat for every beat it takes, one per cycle."""

    @property
    def beats_out(self) -> int:
        return self.beats_in

    @property
    def cycles(self) -> int:
        return self.beats_in


@dataclass(frozen=True)
class Fork(_BeatForBeat):
    """A :class:`finngen.hw.residual.StreamFork` of ``lanes`` bits per beat in front of the
    branch of ``layer``."""
    layer: ir.Residual
    lanes: int

    kind = "fork"
    short = "fork"
    title = "stream fork"

    @property
    def latency(self) -> int:
        return 0

    @property
    def out_shape(self):
        return self.layer.in_shape

    def golden_beats(self, x, y) -> list:
        """The branch gets the fork's input unchanged."""
        from ...sim.beats import pack_beats
        return pack_beats(x, self.out_type.bits, self.lanes)

    def lut_terms(self) -> dict:
        return {}

    def fixed_resources(self) -> Resources:
        """Two 'sent' flags and the valid/ready logic around them."""
        return Resources(lut=4, ff=2)

    def component(self):
        from ...hw.residual import StreamFork
        return StreamFork(self.lanes)


@dataclass(frozen=True)
class Join(_BeatForBeat):
    """A :class:`finngen.hw.residual.ResidualJoin` behind the branch's last matrix unit (``lanes``
    its PE), fed by the fork's ``skip`` FIFO."""
    layer: ir.JoinLayer
    lanes: int
    skip: Fifo

    kind = "join"
    short = "join"
    title = "residual join"

    @classmethod
    def behind(cls, layer: ir.JoinLayer, lanes: int, before) -> Join:
        """The join of ``layer`` behind the stages ``before`` (which end with its branch, from the
        last :class:`Fork` on), its skip FIFO sized to what that branch holds back."""
        forks = [k for k, stage in enumerate(before) if isinstance(stage, Fork)]
        if not forks:   # judged alone (the planner's budgets): only its cycles matter
            return cls(layer, lanes, Fifo(lanes, 1))
        fork = before[forks[-1]]
        branch = list(before[forks[-1]:])
        provisional = cls(layer, lanes, Fifo(fork.lanes, 1))    # its FIFO's depth does not matter here
        # each of a stage's pipeline registers (its latency) holds at most a beat, at most a pixel
        pixels = 1 + sum(stage.held_pixels + stage.latency for stage in branch[1:])
        for producer, consumer in zip(branch, branch[1:] + [provisional]):
            per_pixel = max(1, producer.beats_out // producer.out_shape.pixels)
            pixels += -(-Fifo.between(producer, consumer).depth // per_pixel)
        return cls(layer, lanes, Fifo(fork.lanes, pixels * (layer.shape.channels // fork.lanes)))

    @property
    def skip_lanes(self) -> int:
        return self.skip.width

    @property
    def out_type(self) -> ir.DataType:
        """Bits, from the sums it takes in."""
        return ir.BIPOLAR

    @property
    def latency(self) -> int:
        """The output register."""
        return 1

    def details(self) -> dict:
        """The skip FIFO the compiler sized: beats, and bits of storage."""
        return {"skip_fifo_depth": self.skip.depth, "skip_fifo_bits": self.skip.depth * self.skip.width}

    def lut_terms(self) -> dict:
        """Its skip FIFO's pointers, and the regrouping of skip beats when the lanes differ."""
        return {**self._converter().lut_terms(), **self.skip.lut_terms()}

    def _converter(self) -> WidthConverter:
        return WidthConverter(self.layer, ir.BIPOLAR, self.skip_lanes, self.lanes)

    def fixed_resources(self) -> Resources:
        """Two comparisons and a select per lane, the threshold tables (LUT RAM or logic read
        asynchronously), the channel-fold counter and output register, the skip FIFO and its
        width converter."""
        nf = self.layer.shape.channels // self.lanes
        bits = ir.signed_bits(int(self.layer.threshold.min()), int(self.layer.threshold.max()))
        compare = self.lanes * (self.layer.in_type.bits + 1)
        tables = memory(nf, self.lanes * 2 * (bits + 1), rom=True, sync=False)
        return (tables + self.skip.fixed_resources() + self._converter().fixed_resources()
                + Resources(lut=compare, ff=self.lanes + 1 + range_bits(nf)))

    def component(self):
        from ...hw.residual import ResidualJoin
        return ResidualJoin(self.layer, self.lanes, self.skip_lanes)
