"""Stage boundaries: the golden beats at every stage's output, and the first place the RTL differs.

A stage of :mod:`finngen.compile.pipeline` is one instance inside the accelerator, named by
:func:`finngen.hw.accelerator.stage_names` (``s<k>_<kind>_<layer>``: the names the waves show).
Its output port ``o`` carries, per frame, ``stage.beats_out`` beats; the golden model gives what
they must hold for the same frames, so the first stage whose beats differ is where the hardware
went wrong (the stages before it delivered the right stream).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finngen import golden, ir
from finngen.hw.accelerator import stage_names

from .beats import pack_beats, unpack_beats


@dataclass
class Boundary:
    """The output of stage ``index`` of a build: instance ``name``, serving ``stage.layer``."""
    index: int
    name: str
    stage: object

    @property
    def path(self):
        """The hierarchy from the top level to the stage instance."""
        return ["accelerator", self.name]

    def describe(self):
        return (f"stage {self.name} ({self.stage.title} of nnabla layer "
                f"{self.stage.layer.name!r})")


def boundaries(chain) -> list:
    return [Boundary(k, name, stage) for k, (name, stage) in enumerate(zip(stage_names(chain), chain))]


def layer_streams(network: ir.Network, stream):
    """{layer name: (its input stream, its output stream)} of the golden model on ``stream``."""
    streams, x = {}, np.asarray(stream)
    for layer in network.layers:
        y = golden.forward_layer(layer, x)
        if isinstance(layer, ir.Residual):
            # the branch's layers by name; the fork and the join share the unit's (its input, its output)
            inner = x
            for branch_layer in layer.branch[:-1]:
                streams[branch_layer.name] = (inner, golden.forward_layer(branch_layer, inner))
                inner = streams[branch_layer.name][1]
        streams[layer.name] = (x, y)
        x = y
    return streams


def input_beats(chain, stream) -> list:
    """The beats that enter the first stage."""
    return pack_beats(stream, chain[0].elem_type.bits, chain[0].lanes_in)


def output_beats(stage, streams) -> list:
    """The golden beats that ``stage`` outputs for all frames of ``streams`` (:func:`layer_streams`)."""
    x, y = streams[stage.layer.name]
    return stage.golden_beats(x, y)


def first_difference(chain, recorded: dict, streams: dict) -> str | None:
    """One line naming the first stage whose recorded output beats (``recorded``: {name: [bit
    strings]}) differ from the golden model's, with the layer, pixel, channel, expected and got;
    None if every stage matches."""
    for boundary in boundaries(chain):
        got = [int(b, 2) if set(b) <= {"0", "1"} else None for b in recorded.get(boundary.name, [])]
        want = output_beats(boundary.stage, streams)
        for n, w in enumerate(want):
            if n >= len(got):
                return (f"{boundary.describe()} stopped after {len(got)} of {len(want)} beats "
                        f"(frame {n // boundary.stage.beats_out})")
            if got[n] != w:
                return f"{boundary.describe()} differs first at " + _where(boundary.stage, n, got[n], w)
    return None


def _where(stage, beat, got, want):
    """Frame, place (pixel and channel, or window tap), expected and got of the first differing element."""
    lanes, dtype = stage.lanes_out, stage.out_type
    frame, beat = divmod(beat, stage.beats_out)
    if got is None:
        return f"frame {frame}, beat {beat}: got X/Z, expected {want:#x}"
    g, w = (unpack_beats([v & ((1 << dtype.bits * lanes) - 1)], dtype, lanes) for v in (got, want))
    lane = next(i for i in range(lanes) if g[i] != w[i]) if g != w else 0
    place = stage.place(beat, lane)
    if g == w:      # only a window beat carries more than its elements: the padding mask
        return f"frame {frame}, {place}: the padding mask differs"
    return f"frame {frame}, {place}: expected {_value(w[lane], dtype)}, got {_value(g[lane], dtype)}"


def _value(v, dtype):
    return ("+1" if v else "-1") if dtype.bipolar else str(v)
