"""The planner: the cheapest folding that meets a cycle budget, and the fastest a board builds.

It plans the pipeline that will be built. The layers a folding names (matrix layers, pools on
the input) are planned in network order; each candidate fold of a layer is judged by the real
stages it adds behind the stages already planned (:func:`finngen.compile.pipeline.layer_stages`):
the width converter its SIMD needs, its window, its unit, and the pools that inherit its lanes.
A candidate meets the budget when every one of those stages does, and its cost is their LUTs
and the FIFOs in front of them.

A board limits a design twice: its resources, and the AXI DMA that feeds the accelerator,
whose stream is at most 1024 bits wide (:class:`Limits`). The stream widths depend on the first
and the last layer alone, so candidates too wide are skipped while planning; resources depend
on everything, so :func:`fastest` tests the whole plan.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import ir
from ..board import vivado
from . import folding, pipeline
from .folding import Fold


@dataclass(frozen=True)
class Limits:
    """What a board can build: ``resources`` (``{"lut": ..., "ff": ..., "bram36": ..., "dsp": ...}``)
    and the widest stream its DMA carries."""
    resources: dict
    stream_bits: int = vivado.DMA_WIDTHS[-1]

    @classmethod
    def of(cls, board) -> Limits:
        return cls(board.resources)

    def streams_fit(self, chain, complete: bool) -> bool:
        """Whether the input stream of ``chain`` (and, when ``complete``, its output) fits the DMA."""
        interface = pipeline.interface(chain)
        return interface["in_width"] <= self.stream_bits and (not complete or interface["out_width"]
                                                              <= self.stream_bits)

    def fits(self, chain) -> bool:
        """Whether the board builds the whole ``chain``."""
        return self.streams_fit(chain, True) and pipeline.estimate(chain)[0].fits(self.resources)


def candidates(layer) -> list:
    """Every legal fold of a layer a folding names."""
    if isinstance(layer, ir.PoolLayer):
        return [Fold(lanes, lanes) for lanes in folding.divisors(layer.in_shape.channels)]
    return [Fold(pe, simd) for pe in folding.divisors(layer.out_channels) for simd in folding.legal_simd(layer)]


def _units(network) -> list:
    """[(layer, the pools after it that inherit its lanes)] for each layer a folding names."""
    units = []
    named = folding.folded_layers(network)
    for layer in network.layers:
        if layer in named:
            units.append((layer, []))
        else:
            units[-1][1].append(layer)
    return units


def _added(layer, followers, fold, lanes, elem) -> list:
    """The stages ``layer`` at ``fold`` and its ``followers`` add behind a stream of ``lanes``
    elements of ``elem`` per beat (:func:`finngen.compile.pipeline.layer_stages`)."""
    added = pipeline.layer_stages(layer, fold, lanes, elem)
    for pool in followers:
        added += pipeline.layer_stages(pool, None, added[-1].lanes_out, added[-1].out_type)
    return added


def _cost(chain, added) -> float:
    """LUTs of the added stages and of the FIFOs in front of them."""
    luts = sum(stage.resources().lut for stage in added)
    return luts + sum(fifo.resources().lut for fifo in pipeline.fifos(chain[-1:] + added))


def plan(network: ir.Network, budget: int, limits: Limits | None = None) -> dict | None:
    """The cheapest fold of every layer a folding names such that every stage takes at most
    ``budget`` cycles per frame (and, with ``limits``, the streams fit the DMA), or None if no
    fold of some layer meets it."""
    units = _units(network)
    chain, folds = [], {}
    for k, (layer, followers) in enumerate(units):
        lanes, elem = pipeline.tail(chain, network)
        best = None
        for fold in candidates(layer):
            added = _added(layer, followers, fold, lanes, elem)
            if pipeline.cycles_per_frame(added) > budget:
                continue
            if limits is not None and not limits.streams_fit(chain + added, complete=k == len(units) - 1):
                continue
            key = (_cost(chain, added), fold.pe * fold.simd)
            if best is None or key < best[0]:
                best = (key, fold, added)
        if best is None:
            return None
        folds[layer.name] = best[1]
        chain += best[2]
    return folds


def budgets(network: ir.Network) -> list:
    """Every cycles-per-frame value a layer's own stages reach at some fold, fastest first: the
    only budgets at which the cheapest plan can change. (A width converter between two layers
    is never slower than both: its narrow side carries the beats one of them takes or gives.)"""
    values = set()
    for layer, followers in _units(network):
        for fold in candidates(layer):
            lanes = None if isinstance(layer, ir.PoolLayer) else fold.simd
            values.add(pipeline.cycles_per_frame(_added(layer, followers, fold, lanes, layer.in_type)))
    return sorted(values)


def fastest(network: ir.Network, limits: Limits) -> tuple:
    """(budget, folds) of the fastest plan the board builds, or (None, None).

    The cheapest plan needs no more LUTs, FFs or BRAM at a slower budget (tests/test_planner.py
    checks this), so a bisection over the reachable budgets finds the boundary."""
    values = budgets(network)
    lo, hi = 0, len(values) - 1
    best = (None, None)
    while lo <= hi:
        mid = (lo + hi) // 2
        folds = plan(network, values[mid], limits)
        if folds is not None and limits.fits(pipeline.stages(network, folds)):
            best, hi = (values[mid], folds), mid - 1
        else:
            lo = mid + 1
    return best
