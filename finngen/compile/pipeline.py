"""The accelerator as a chain of streaming stages, with the cycles each spends per frame.

This is the one description of the datapath: the hardware assembly instantiates one component
per stage, and the throughput prediction and the report read the same stages.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from . import folding
from .. import ir
from .folding import Fold


@dataclass(frozen=True)
class Stage:
    """One streaming component: ``kind`` is "convert", "window", "matrix" or "pool"."""
    kind: str
    layer: object            # the IR layer it serves
    elem_type: ir.DataType   # the element type it takes in
    lanes_in: int            # elements per input beat
    lanes_out: int           # elements per output beat
    beats_in: int            # input beats per frame
    beats_out: int           # output beats per frame
    cycles: int              # cycles per frame at full speed
    fold: Fold | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.layer.name}"


def stages(network: ir.Network, folds: dict) -> list:
    """The stages of ``network`` with the matrix layers folded as ``folds`` (name -> Fold)."""
    chain = []
    lanes = None        # elements per beat of the stream so far; None before the first stage
    elem = network.input.stream_type
    for layer in network.layers:
        size_in = layer.in_shape.size
        if isinstance(layer, ir.MatrixLayer):
            fold = folds[layer.name]
            folding.check(layer, fold)
            if lanes is not None and lanes != fold.simd:
                chain.append(_convert(layer, elem, size_in, lanes, fold.simd))
            if needs_window(layer):
                chain.append(Stage("window", layer, elem, fold.simd, fold.simd, size_in // fold.simd,
                                   layer.out_shape.pixels * layer.fan_in // fold.simd,
                                   folding.window_cycles(layer, fold), fold))
            chain.append(Stage("matrix", layer, elem, fold.simd, fold.pe,
                               layer.out_shape.pixels * layer.fan_in // fold.simd,
                               layer.out_shape.size // fold.pe, folding.matrix_cycles(layer, fold), fold))
            lanes = fold.pe
        else:
            if lanes is None:
                lanes = _largest_divisor(layer.in_shape.channels, 8)
            beats = size_in // lanes
            chain.append(Stage("pool", layer, elem, lanes, lanes, beats, layer.out_shape.size // lanes,
                               folding.pool_cycles(layer, lanes)))
        elem = layer.out_type
    return chain


def needs_window(layer: ir.MatrixLayer) -> bool:
    """A 1x1 convolution with stride 1 and no padding reads its input stream as it comes."""
    return layer.in_shape.pixels > 1 and (layer.kernel, layer.stride, layer.pad) != (1, 1, 0)


def _convert(layer, elem, size, lanes_in, lanes_out):
    cycles = max(size // lanes_in, size // lanes_out)
    return Stage("convert", layer, elem, lanes_in, lanes_out, size // lanes_in, size // lanes_out, cycles)


def _largest_divisor(n, at_most):
    return max(d for d in range(1, min(n, at_most) + 1) if n % d == 0)


def bottleneck(chain) -> Stage:
    return max(chain, key=lambda s: s.cycles)


def cycles_per_frame(chain) -> int:
    """Steady-state cycles per frame: the slowest stage sets the pace of the whole pipeline."""
    return bottleneck(chain).cycles


def fifo_depth(producer: Stage, consumer: Stage) -> int:
    """Beats of buffering between two stages so that neither stalls the slower one.

    A matrix unit takes its input in bursts (one pixel's vector, then nothing while it replays
    it for the other neuron folds), and a producer delivers in bursts of one pixel's outputs:
    two of the larger burst absorb both."""
    burst = max(_burst(producer, out=True), _burst(consumer, out=False))
    return max(4, 1 << math.ceil(math.log2(2 * burst)))


def _burst(stage: Stage, out: bool) -> int:
    layer = stage.layer
    if stage.kind == "matrix":
        return layer.out_channels // stage.fold.pe if out else layer.fan_in // stage.fold.simd
    pixels = layer.out_shape.pixels if out else layer.in_shape.pixels
    return max(1, (stage.beats_out if out else stage.beats_in) // max(1, pixels))
