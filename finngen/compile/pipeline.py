"""The accelerator as a chain of streaming stages, with the cycles each spends per frame.

This is the one description of the datapath: the hardware assembly instantiates each stage's
component with a FIFO (:class:`~finngen.compile.kinds.Fifo`) between consecutive ones, and the
planner, the throughput prediction, the resource estimate and the report read the same chain.
"""
from __future__ import annotations

from .. import ir
from ..errors import ModelError
from . import folding, kinds
from .kinds import window
from .resources import LUT, Resources, range_bits


def layer_stages(layer, fold, lanes, elem, before=()) -> list:
    """The stages that implement ``layer`` at ``fold`` when the stream in front of it carries
    ``lanes`` elements of ``elem`` per beat (``lanes`` None: the accelerator's input, whose
    width the layer chooses). A pool runs at the lanes it is given; only a pool on the input has
    a fold of its own (its lanes as PE). A residual unit (an item of :func:`flat`) is a fork at
    the lanes it is given, and its join sizes its skip FIFO from the stages ``before`` it."""
    if isinstance(layer, ir.Residual):
        return [kinds.Fork(layer, lanes)]
    if isinstance(layer, ir.JoinLayer):
        return [kinds.Join.behind(layer, lanes, before)]
    if isinstance(layer, ir.PoolLayer):
        if lanes is None:
            folding.check_pool(layer, fold)
            lanes = fold.pe
        return [kinds.Pool(layer, lanes)]
    if isinstance(layer, ir.SumPoolLayer):     # never on the input (frontend.exactness.golden_only)
        return [kinds.SumPool(layer, lanes)]
    folding.check(layer, fold)
    chain = [kinds.SlidingWindow(layer, fold.simd)] if window.needed(layer) else []
    chain.append(kinds.MatrixUnit(layer, fold))
    if lanes is not None and lanes != chain[0].lanes_in:
        chain.insert(0, kinds.WidthConverter(layer, elem, lanes, chain[0].lanes_in))
    return chain


def stages(network: ir.Network, folds: dict) -> list:
    """The stages of ``network`` with its layers folded as ``folds`` (layer name -> Fold: every
    matrix layer, and each pool that reads the accelerator's input)."""
    chain = []
    for layer in flat(network):
        chain += layer_stages(layer, folds.get(layer.name), *tail(chain, network), before=chain)
    return chain


def flat(network: ir.Network) -> list:
    """The layers in stream order, each residual unit as itself (its fork) then its branch (the
    last of which, its join, also reads the skip path)."""
    items = []
    for layer in network.layers:
        if isinstance(layer, ir.Residual):
            if not any(isinstance(item, ir.MatrixLayer) for item in items):
                raise ModelError(f"residual unit {layer.name!r}: a fork of the accelerator's input is not "
                                 "supported in hardware (put a matrix layer before it)")
            items += [layer] + layer.branch
        else:
            items.append(layer)
    return items


def _ends(chain, kind) -> list:
    return [k for k, stage in enumerate(chain) if isinstance(stage, kind)]


def skips(chain) -> list:
    """(fork index, join index, skip FIFO) of every residual unit in ``chain`` (units do not nest)."""
    return [(f, j, chain[j].skip) for f, j in zip(_ends(chain, kinds.Fork), _ends(chain, kinds.Join))]


def open_branch(chain) -> tuple:
    """The stages of a residual branch that ``chain`` ends inside (from its fork), else ()."""
    forks = _ends(chain, kinds.Fork)
    return tuple(chain[forks[-1]:]) if len(forks) > len(_ends(chain, kinds.Join)) else ()


def tail(chain, network) -> tuple:
    """(lanes, element type) of the stream behind ``chain``, the stages of the first layers of
    ``network`` (lanes None before the first stage: the accelerator's input)."""
    if chain:
        return chain[-1].lanes_out, chain[-1].out_type
    return None, network.input.stream_type


def fifos(chain) -> list:
    """The FIFO in front of every stage but the first."""
    return [kinds.Fifo.between(producer, consumer) for producer, consumer in zip(chain, chain[1:])]


def bottleneck(chain):
    return max(chain, key=lambda s: s.cycles)


def cycles_per_frame(chain) -> int:
    """Steady-state cycles per frame: the slowest stage sets the pace of the whole pipeline."""
    return bottleneck(chain).cycles


def labels(chain) -> list:
    """Short unique names of the stages, FINN style: the kind's abbreviation and its count
    among the stages of that kind so far (``swu0``, ``mvtu0``, ``pool0``, ``dwc0``, ``mvtu1``)."""
    seen, names = {}, []
    for stage in chain:
        n = seen.get(stage.short, 0)
        seen[stage.short] = n + 1
        names.append(f"{stage.short}{n}")
    return names


def estimate(chain) -> tuple:
    """(total, per stage) resources of a chain: each stage's component plus the FIFO that feeds
    it, and the top level's output beat counter (TLAST)."""
    per_stage = [stage.resources() for stage in chain]
    for k, fifo in enumerate(fifos(chain), start=1):
        per_stage[k] += fifo.resources()
    return sum(per_stage, top(chain[-1])), per_stage


def top(last) -> Resources:
    """The top level behind the ``last`` stage: a counter of its output beats that marks the
    last one of each frame (TLAST)."""
    count = range_bits(last.beats_out)
    return Resources(lut=LUT["top"] * count, ff=count)


def byte_width(bits: int) -> int:
    """The smallest multiple of 8 that holds ``bits``: an AXI4-Stream TDATA width."""
    return -(-bits // 8) * 8


def interface(chain) -> dict:
    """What the host needs to pack input words and unpack output words (see finngen.codec): the
    first stage's lanes in the low bits of a byte-aligned input word, the last stage's likewise
    in the output word."""
    first, last = chain[0], chain[-1]
    return {"in_lanes": first.lanes_in, "in_width": byte_width(first.lanes_in * first.elem_type.bits),
            "in_bits": first.elem_type.bits,
            "out_lanes": last.lanes_out, "out_width": byte_width(last.payload_bits),
            "out_bits": last.out_type.bits, "out_signed": last.out_type.signed, "out_beats": last.beats_out}
