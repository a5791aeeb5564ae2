"""The planner: the cheapest folding that meets a cycle budget, and the fastest a board builds.

It plans the pipeline that will be built. Each candidate fold of a layer a folding names
(matrix layers, pools on the input) is judged by the real stages it adds behind the stages
planned before it (:func:`finngen.compile.pipeline.layer_stages`): the width converter its
SIMD needs, its window, its unit, and the pools that inherit its lanes. A candidate meets the
budget when every one of those stages does; its cost is their LUTs and those of the FIFOs in
front of them, so a plan costs what :func:`finngen.compile.pipeline.estimate` says, and the
planner finds the cheapest exactly.

A board limits a design twice: its resources, and the AXI DMA that feeds the accelerator,
whose stream is at most 1024 bits wide (:class:`Limits`). The stream widths depend on the first
and the last layer alone, so candidates too wide are skipped while planning; resources depend
on everything, so :func:`fastest` tests the whole plan.

Where a weight memory goes follows one rule (:func:`finngen.compile.resources.rom_style`), which
prices a block RAM at a fixed exchange rate; a plan for a board then moves the weights that rule
leaves in LUTs into the block RAM the plan leaves idle (:func:`place_weights`).

Which of the plans meeting a budget ``--fps`` builds (not always the cheapest) is
:mod:`finngen.compile.objective`'s choice.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .. import ir
from ..board import vivado
from . import folding, kinds, pipeline
from .folding import Fold


@dataclass(frozen=True)
class Limits:
    """What a board can build: what fits its resources (``board.fits``, in its own family's
    units) and, behind an AXI DMA (Zynq boards), a stream no wider than the DMA carries."""
    board: object
    stream_bits: int | None = vivado.DMA_WIDTHS[-1]

    @classmethod
    def of(cls, board) -> Limits:
        return cls(board, vivado.DMA_WIDTHS[-1] if board.family == "zynq" else None)

    def fits(self, chain) -> bool:
        """Whether the board builds the whole ``chain``."""
        if self.stream_bits is not None:
            interface = pipeline.interface(chain)
            if max(interface["in_width"], interface["out_width"]) > self.stream_bits:
                return False
        return self.board.fits(pipeline.estimate(chain)[0])


def candidates(layer) -> list:
    """Every legal fold of a layer a folding names."""
    if isinstance(layer, ir.PoolLayer):
        return [Fold(lanes, lanes) for lanes in folding.divisors(layer.in_shape.channels)]
    return [Fold(pe, simd) for pe in folding.divisors(layer.out_channels) for simd in folding.legal_simd(layer)]


def _units(network) -> list:
    """[(layer, the pools after it that inherit its lanes)] for each layer a folding names."""
    units = []
    named = folding.folded_layers(network)
    for layer in pipeline.flat(network):
        if layer in named:
            units.append((layer, []))
        else:
            units[-1][1].append(layer)
    return units


class _Planner:
    """Plans for one network and board. Planning is a shortest path through the layers: what
    a layer's fold costs depends on the plan before it only through the lanes of the stream it
    reads (the width converter and FIFO in front of it), so the cheapest plan ending in each
    such width is all that needs keeping. What each candidate adds is remembered, as the same
    candidates are judged at every budget. A residual unit's join is the exception: its skip
    FIFO depends on every fold of its branch, so it is costed exactly for the plans kept, but a
    plan dropped earlier in the branch for a few LUTs is not revisited for a shallower FIFO."""

    def __init__(self, network: ir.Network, limits: Limits | None):
        self.network, self.limits = network, limits
        self.units = _units(network)
        self.judged, self.luts = {}, {}

    def added(self, k, fold, chain, branch) -> tuple | None:
        """(stages, LUTs, cycles per frame) that unit ``k`` at ``fold`` adds behind ``chain``
        (which ends inside the residual ``branch``, or ()): its layer's stages and those of the
        pools that inherit its lanes, the LUTs of those, of the FIFOs in front of them and, for
        the last unit, of the top level, and the cycles of the slowest. None if a stream it sets
        (the input's, the output's) is wider than the DMA carries."""
        # inside a residual branch, the join's skip FIFO depends on the branch planned so far
        key = (k, fold, chain[-1].lanes_out if chain else None, branch)
        if key not in self.judged:
            layer, followers = self.units[k]
            stages = _added(layer, followers, fold, *pipeline.tail(chain, self.network), before=chain)
            last = k == len(self.units) - 1
            luts = sum(self.lut(part) for part in stages + pipeline.fifos(chain[-1:] + stages))
            if last:
                luts += pipeline.top(stages[-1]).lut
            interface = pipeline.interface(stages)
            widest = self.limits.stream_bits if self.limits is not None else None
            fit = widest is None or ((k > 0 or interface["in_width"] <= widest)
                                     and (not last or interface["out_width"] <= widest))
            self.judged[key] = (stages, luts, pipeline.cycles_per_frame(stages)) if fit else None
        return self.judged[key]

    def lut(self, part) -> float:
        """The LUTs of a stage or FIFO (the same ones recur behind every plan)."""
        if part not in self.luts:
            self.luts[part] = part.resources().lut
        return self.luts[part]

    def plan(self, budget: int) -> dict | None:
        # lanes behind the plan so far -> (LUTs, MAC lanes, folds, stages) of the cheapest plan
        plans = {None: (0, 0, {}, [])}
        for k, (layer, _) in enumerate(self.units):
            extended = {}
            for luts, lanes, folds, chain in plans.values():
                branch = pipeline.open_branch(chain)
                for fold in candidates(layer):
                    judged = self.added(k, fold, chain, branch)
                    if judged is None or judged[2] > budget:
                        continue
                    stages, more, _ = judged
                    key = (luts + more, lanes + fold.pe * fold.simd)
                    end = stages[-1].lanes_out
                    if end not in extended or key < extended[end][:2]:
                        extended[end] = (*key, {**folds, layer.name: fold}, chain + stages)
            if not extended:
                return None
            plans = extended
        return min(plans.values(), key=lambda p: p[:2])[2]


def _added(layer, followers, fold, lanes, elem, before=()) -> list:
    """The stages ``layer`` at ``fold`` and its ``followers`` (pools, a residual unit's fork or
    join) add behind a stream of ``lanes`` elements of ``elem`` per beat, behind the stages
    ``before`` (:func:`finngen.compile.pipeline.layer_stages`)."""
    added = pipeline.layer_stages(layer, fold, lanes, elem, before)
    for follower in followers:
        added += pipeline.layer_stages(follower, None, added[-1].lanes_out, added[-1].out_type, list(before) + added)
    return added


def plan(network: ir.Network, budget: int, limits: Limits | None = None) -> dict | None:
    """The folds (of every layer a folding names) of the pipeline with the fewest LUTs in which
    every stage takes at most ``budget`` cycles per frame (and, with ``limits``, the streams fit
    the DMA, and weights fill the block RAM left idle: :func:`place_weights`), or None if there
    is none. Among equally cheap ones, the fewest MAC lanes."""
    return _placed(network, _Planner(network, limits).plan(budget), limits)


# The deepest weight memory a plan leaves in logic while the board has the block RAM for it.
# abc builds a deeper ROM's bit columns on ECP5 as chains of LUT4s that share logic with columns
# far away, as deep as the design's longest logic path: CNV-W1A1's conv2 at --fps 3000 (192
# words of 384 bits) put seven chained LUT4s and 8.6 ns of routing between its address register
# and its word register, 92.5 MHz; read in registered 128-word slices still six, 95.0 MHz; in
# block RAM, one registered read: 103.3 MHz and 7,444 LUT4 fewer.
LOGIC_ROM_WORDS = 128


def place_weights(network: ir.Network, folds: dict, limits: Limits) -> dict:
    """``folds`` with weight memories that the rule leaves in logic moved to block RAM, those
    that save the most LUTs per BRAM36 first. One deeper than :data:`LOGIC_ROM_WORDS` moves
    while the design still fits the board; any other while each move lowers the largest share
    of any of the board's resources the design takes: block RAM the design leaves idle is worth
    LUTs whatever the rule's exchange rate says, until it is the scarcer of the two."""
    chain = pipeline.stages(network, folds)
    moves = []
    for stage in chain:
        if isinstance(stage, kinds.MatrixUnit) and stage.memory_styles[0] == "logic":
            now = stage.resources()
            then = replace(stage, fold=replace(stage.fold, weights="block")).resources()
            deep = stage.weight_words > LOGIC_ROM_WORDS
            if then.lut < now.lut or deep:
                moves.append((deep, (now.lut - then.lut) / (then.bram36 - now.bram36), stage.layer.name))
    peak = _peak_share(chain, limits.board)
    for deep, _, name in sorted(moves, reverse=True):
        trial = {**folds, name: replace(folds[name], weights="block")}
        stages = pipeline.stages(network, trial)
        share = _peak_share(stages, limits.board)
        if share < peak or deep and limits.fits(stages):
            folds, peak = trial, share
    return folds


def _peak_share(chain, board) -> float:
    used = board.usage(pipeline.estimate(chain)[0])
    return max(used[key] / board.resources[key] for key in board.resources)


def _placed(network, folds, limits):
    return folds if folds is None or limits is None else place_weights(network, folds, limits)


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


def plans(network: ir.Network, limits: Limits | None = None):
    """(budget, folds) of the cheapest plan at each of :func:`budgets` that has one, fastest first."""
    planner = _Planner(network, limits)
    for budget in budgets(network):
        folds = _placed(network, planner.plan(budget), limits)
        if folds is not None:
            yield budget, folds


def plans_from(network: ir.Network, budget: int, limits: Limits | None = None):
    """(budget, folds) of the cheapest plan at ``budget``, then at each faster one of
    :func:`budgets`, slowest first, until a budget has none (a plan meeting a budget meets
    every looser one, so no faster budget has one either)."""
    planner = _Planner(network, limits)
    for tighter in reversed([b for b in budgets(network) if b <= budget]):
        folds = _placed(network, planner.plan(tighter), limits)
        if folds is None:
            return
        yield tighter, folds


def fastest(network: ir.Network, limits: Limits) -> tuple:
    """(budget, folds) of the fastest plan the board builds, or (None, None).

    The budgets are tried fastest first. A bisection would need the cheapest plan to use no
    more of any resource at a slower budget, and it does not: a slower fold deepens the weight
    ROMs, which then go to block RAM instead of logic (tests/test_planner.py shows a board on
    which only budgets in the middle fit)."""
    for budget, folds in plans(network, limits):
        if limits.fits(pipeline.stages(network, folds)):
            return budget, folds
    return None, None
