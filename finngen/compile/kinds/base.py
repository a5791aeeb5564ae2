"""What every stage kind defines: the base class of :mod:`finngen.compile.kinds`."""
from __future__ import annotations

from ..resources import Resources, with_fitted


class Stage:
    """One streaming component of the accelerator and every fact the compiler uses about it.

    A stage kind (a subclass) is the one place that says, for its component: the beats it takes
    and gives per frame and the cycles that costs (``beats_in``, ``beats_out``, ``cycles``), how
    bursty each side is (``burst_in``, ``burst_out``: what the FIFOs around it absorb), the
    width of its output beat (``payload_bits``), its latency, its resource terms
    (:meth:`lut_terms`, :meth:`fixed_resources`) and the Amaranth component that implements it
    (:meth:`component`, importing :mod:`finngen.hw` only when called). The pipeline, the
    planner, the resource model, the accelerator, the report and the benchmarks all read these.

    Attributes every kind sets: ``layer`` (the IR layer it serves), ``elem_type`` (the element
    type it takes in), ``out_type`` (the element type it gives), ``lanes_in`` and ``lanes_out``
    (elements per beat on either side).
    """

    kind = ""           # "convert", "window", "matrix", "pool": report and instance names
    short = ""          # the kind's abbreviation in stage labels
    title = ""          # what a user calls it: "matrix unit", ...

    # -- throughput -----------------------------------------------------------------------------

    @property
    def beats_in(self) -> int:
        """Input beats per frame."""
        raise NotImplementedError

    @property
    def beats_out(self) -> int:
        """Output beats per frame."""
        raise NotImplementedError

    @property
    def cycles(self) -> int:
        """Cycles per frame at full speed (no stalls from either side)."""
        raise NotImplementedError

    @property
    def burst_in(self) -> int:
        """Beats the stage takes back to back, then pauses: by default one pixel's beats of its
        layer's input."""
        return max(1, self.beats_in // max(1, self.layer.in_shape.pixels))

    @property
    def burst_out(self) -> int:
        """Beats the stage gives back to back: by default one pixel's beats of its layer's output."""
        return max(1, self.beats_out // max(1, self.layer.out_shape.pixels))

    @property
    def latency(self) -> int:
        """Cycles from a beat entering to the first beat it causes leaving, at full speed: the
        register stages of the component, which states them itself (the one place that knows its
        pipeline; tests/test_timing.py measures each in simulation)."""
        raise NotImplementedError

    @property
    def held_pixels(self) -> int:
        """Pixels of its input stream the stage can take in before it gives out the first of
        them (what a residual unit's skip FIFO must wait through): a pixel being read and one
        being given out. A sliding window holds its line buffer's rows."""
        return 2

    # -- the output beat ------------------------------------------------------------------------

    @property
    def payload_bits(self) -> int:
        """The width of the output beat (what the FIFO behind the stage stores)."""
        return self.lanes_out * self.out_type.bits

    # -- folding, for the report ----------------------------------------------------------------

    @property
    def pe(self) -> int:
        """Output lanes (a matrix unit's PE)."""
        return self.lanes_out

    @property
    def simd(self) -> int:
        """Input lanes (a matrix unit's SIMD)."""
        return self.lanes_in

    @property
    def mac_lanes(self) -> int:
        """Multiply-accumulate (XNOR-popcount) lanes: none but a matrix unit's PE x SIMD."""
        return 0

    def details(self) -> dict:
        """Kind-specific facts for the report."""
        return {}

    # -- resources ------------------------------------------------------------------------------

    def lut_terms(self) -> dict:
        """The fitted terms of the stage's LUTs, {name in resources.LUT: quantity}; calibration
        (bench/calibrate_resources.py) fits the coefficients from these."""
        raise NotImplementedError

    def fixed_resources(self) -> Resources:
        """The analytic part of the stage: its memories, the LUTs that are not fitted, its FFs."""
        raise NotImplementedError

    def resources(self) -> Resources:
        """The stage's component, without the FIFO in front of it."""
        return with_fitted(self.fixed_resources(), self.lut_terms())

    # -- the output stream, for testbenches and probes --------------------------------------------

    @property
    def out_shape(self):
        """The feature map whose elements the output beats carry, in stream order."""
        return self.layer.out_shape

    def golden_beats(self, x, y) -> list:
        """The output beats (Python ints) for the golden model's input ``x`` and output ``y`` of
        the stage's layer, all frames."""
        from ...sim.beats import pack_beats
        return pack_beats(y, self.out_type.bits, self.lanes_out)

    def place(self, beat: int, lane: int) -> str:
        """Where element ``lane`` of output beat ``beat`` (counted within a frame) belongs."""
        shape = self.out_shape
        pixel, first = divmod(beat * self.lanes_out, shape.channels)
        y, x = divmod(pixel, shape.width)
        return f"pixel (y={y}, x={x}), channel {first + lane}"

    # -- hardware -------------------------------------------------------------------------------

    def component(self):
        """The :mod:`finngen.hw` component that implements the stage."""
        raise NotImplementedError


class LaneStage(Stage):
    """A stage that takes and gives ``lanes`` elements per beat of its layer's input type (a
    pool; a window gives ``lanes`` and takes fewer); subclasses are dataclasses with the fields
    ``layer`` and ``lanes``."""

    @property
    def elem_type(self):
        return self.layer.in_type

    @property
    def out_type(self):
        return self.layer.in_type

    @property
    def lanes_in(self) -> int:
        return self.lanes

    @property
    def lanes_out(self) -> int:
        return self.lanes

    @property
    def beats_in(self) -> int:
        return self.layer.in_shape.size // self.lanes_in

