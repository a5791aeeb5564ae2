"""Width converter: the PE lanes of one stage regrouped into the SIMD lanes of the next."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ... import ir
from ..resources import Resources, range_bits
from .base import Stage


@dataclass(frozen=True)
class WidthConverter(Stage):
    """A :class:`finngen.hw.dwc.StreamWidthConverter` in front of ``layer``'s stages.

    Parameters
    ----------
    layer
        The layer whose input stream it regroups.
    elem_type : :class:`~finngen.ir.DataType`
    lanes_in, lanes_out : int
        Elements per beat on either side.
    """
    layer: object
    elem_type: ir.DataType
    lanes_in: int
    lanes_out: int

    kind = "convert"
    short = "dwc"
    title = "width converter"

    @property
    def out_type(self) -> ir.DataType:
        return self.elem_type

    @property
    def out_shape(self):
        """It regroups its layer's input stream."""
        return self.layer.in_shape

    def golden_beats(self, x, y) -> list:
        from ...sim.beats import pack_beats
        return pack_beats(x, self.out_type.bits, self.lanes_out)

    @property
    def beats_in(self) -> int:
        return self.layer.in_shape.size // self.lanes_in

    @property
    def beats_out(self) -> int:
        return self.layer.in_shape.size // self.lanes_out

    @property
    def cycles(self) -> int:
        """The narrow side moves a beat every cycle."""
        return max(self.beats_in, self.beats_out)

    @property
    def latency(self) -> int:
        from ...hw.dwc import StreamWidthConverter
        return StreamWidthConverter.latency_of(self.lanes_in, self.lanes_out)

    def lut_terms(self) -> dict:
        return {"dwc_control": 1 if self.lanes_in != self.lanes_out else 0}

    def fixed_resources(self) -> Resources:
        return _converter(self.elem_type.bits, self.lanes_in, self.lanes_out)

    def component(self):
        from ...hw.dwc import StreamWidthConverter
        return StreamWidthConverter(self.elem_type, self.lanes_in, self.lanes_out)


def _converter(bits, n_in, n_out):
    """Registers and output muxes: a splitter holds one wide beat and selects a part (a LUT6 is
    a 4:1 mux); a gatherer keeps ratio-1 parts and the output beat; otherwise both, via lcm."""
    if n_in == n_out:
        return Resources()
    if n_in % n_out == 0:
        ratio = n_in // n_out
        return Resources(lut=n_out * bits * math.ceil((ratio - 1) / 3),
                         ff=n_in * bits + range_bits(ratio) + 1)
    if n_out % n_in == 0:
        ratio = n_out // n_in
        return Resources(lut=ratio, ff=n_out * bits + (ratio - 1) * n_in * bits + range_bits(ratio) + 1)
    wide = math.lcm(n_in, n_out)
    return _converter(bits, n_in, wide) + _converter(bits, wide, n_out)
