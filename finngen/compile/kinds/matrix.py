"""Matrix-vector-threshold unit: one binarized matrix layer, folded as (PE, SIMD)."""
from __future__ import annotations

from dataclasses import dataclass

from ... import ir
from ..folding import Fold
from ..resources import (SLICE_DEPTH, Resources, block_ram_read, bram36, column_depth, memory, range_bits,
                         rom_luts_per_bit, rom_style)
from .base import Stage
from .window import beat_bits


def cycles_per_pixel(layer: ir.MatrixLayer, pe: int, simd: int) -> int:
    """Cycles the unit spends on one output pixel in steady state: it reads the MW/SIMD beats of
    the pixel's vector once and replays them for MH/PE neuron folds (finngen.hw.mvtu)."""
    return (layer.out_channels // pe) * (layer.fan_in // simd)


def memory_shapes(layer: ir.MatrixLayer, pe: int, simd: int) -> tuple:
    """(depth, width) of the unit's weight memory, NF*SF words of PE*SIMD bits, and of its
    threshold memory, NF words of PE entries (None for the last layer)."""
    nf, sf = layer.out_channels // pe, layer.fan_in // simd
    thresholds = (nf, pe * (layer.threshold_bits + 1)) if layer.threshold is not None else None
    return (nf * sf, pe * simd), thresholds


def memory_styles(layer: ir.MatrixLayer, pe: int, simd: int, weights: str | None = None) -> tuple:
    """Where the unit's (weight, threshold) memories go, ``"block"`` or ``"logic"``: what
    finngen.hw.mvtu builds and :class:`MatrixUnit` prices. :func:`~finngen.compile.resources.
    rom_style` decides, unless ``weights`` (a :class:`~finngen.compile.folding.Fold`'s) places
    the weights."""
    styles = tuple(shape and rom_style(*shape) for shape in memory_shapes(layer, pe, simd))
    return (weights or styles[0], styles[1])


# PEs that read one copy of a threshold memory in logic (finngen.hw.mvtu). Few neuron folds
# make many of its bit columns the same function of the fold, and synthesis merges their word
# registers into a handful that each reach every PE's compare: at PE 32 that routing alone took
# most of a 150 MHz cycle. A copy per few PEs, its own fold counter and word register, bounds
# that fan-out to the copy's compares.
THRESHOLD_COPY_PES = 4

# Stages before the end of the pipeline at which a unit reads its threshold memory: read, word
# register, compare (finngen.hw.mvtu); the fold number travels in the stage flags that far.
THRESHOLD_LEAD = 3


def threshold_copies(layer: ir.MatrixLayer, pe: int, simd: int) -> list:
    """The PE lanes (``range``s) each copy of the unit's threshold memory serves: one copy in
    block RAM (its word bits are distinct outputs), of one word, or of PE lanes up to
    :data:`THRESHOLD_COPY_PES`; else a copy per :data:`THRESHOLD_COPY_PES` lanes."""
    style = memory_styles(layer, pe, simd)[1]
    size = THRESHOLD_COPY_PES if style == "logic" and layer.out_channels > pe else pe
    return [range(first, min(first + size, pe)) for first in range(0, pe, size)]


# Columns of a ROM in logic that one copy of its address register reads (finngen.hw.mvtu). A
# column is a LUT of the address bits, so one address register drives every column: conv1 of
# CNV-W1A1 at --fps 9000 (12 words of 3,072 bits) spent 3.2 ns of a 6.7 ns cycle routing its
# 4-bit address across the ROM, and abc built columns from other columns' LUTs, anywhere in the
# ROM (three LUTs and 2.5 ns of routing each on the worst path). A copy per few hundred columns
# keeps each address net in one region, and columns of different copies share no logic.
ROM_COPY_COLUMNS = 256


def rom_copies(columns: int) -> list:
    """The bit columns (``range``s, in order) that each copy of the address register of a ROM in
    logic, ``columns`` bits wide, serves: one copy up to :data:`ROM_COPY_COLUMNS` columns (a
    narrow unit's ROMs), else as many as keep each at most that many, of equal width."""
    copies = -(-columns // ROM_COPY_COLUMNS)
    bounds = [c * columns // copies for c in range(copies + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]


# Lanes (PE x SIMD) that one copy of a unit's input beat feeds (finngen.hw.mvtu). Every PE reads
# every bit of the beat, so one beat register reaches across the whole unit: at conv1 of
# CNV-W1A1 at --fps 9000 (PE 32 x SIMD 96) the route from a beat bit to a far PE's popcount
# took 4.7 ns of a 6.7 ns cycle; its conv2 (PE 8 x SIMD 144) with one beat register reached its
# first tree rank in 6.93 ns, while PE 64 x SIMD 16 met 150 MHz with one.
BEAT_COPY_LANES = 1024


def beat_copies(layer: ir.MatrixLayer, pe: int, simd: int) -> list:
    """The PE lanes (``range``s) that each copy of the unit's input beat serves: none for a unit
    of at most :data:`BEAT_COPY_LANES` lanes (it reads its one beat register), else as many
    copies as keep each at most that many, in a register rank of its own (a stage of latency,
    which registers the weights again beside them)."""
    copies = min(pe, -(-pe * simd // BEAT_COPY_LANES))
    if copies == 1:
        return []
    bounds = [c * pe // copies for c in range(copies + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]


def wide_stages(layer: ir.MatrixLayer, pe: int, simd: int) -> int:
    """Stages a unit that has :func:`beat_copies` adds (0 for a narrower one): the copies' rank,
    and a register of each PE's tree sum before its accumulator, so that the accumulator's adder
    has its cycle alone (with the copies in place, nextpnr put one PE's last tree adder 2.7 ns of
    routing away from its accumulator's adder in conv1 of CNV-W1A1, 7.95 ns in all)."""
    return 2 if beat_copies(layer, pe, simd) else 0


def weight_slices(layer: ir.MatrixLayer, pe: int, simd: int, weights: str | None = None) -> int:
    """How many depth slices of :data:`~finngen.compile.resources.SLICE_DEPTH` words the unit
    reads its weight memory in: one unless it sits in block RAM and is deeper than one column of
    blocks holds (:func:`~finngen.compile.resources.column_depth`); then the slices lie side by
    side in one memory of that depth, whose words are registered before muxes pick the slice,
    four ways a cycle (finngen.hw.mvtu, :func:`weight_stages`)."""
    (depth, width), _ = memory_shapes(layer, pe, simd)
    if memory_styles(layer, pe, simd, weights)[0] != "block" or depth <= column_depth(width):
        return 1
    return -(-depth // SLICE_DEPTH)


# Slices a level of the join after a sliced weight memory picks from, registered: a 4:1 mux is one
# LUT6 on Xilinx and one slice (two LUT4 and a PFUMX) on ECP5, a level of logic on either.
JOIN = 4


def join_groups(slices: int) -> list:
    """Words each registered level of the join of ``slices`` slices puts out (the last: 1)."""
    groups = []
    while slices > 1:
        slices = -(-slices // JOIN)
        groups.append(slices)
    return groups


def weight_stages(layer: ir.MatrixLayer, pe: int, simd: int, weights: str | None = None) -> int:
    """Cycles from the weight address to the registered weight word: the read and its register,
    then, for weights read in several slices (:func:`weight_slices`), one more per registered
    level of 4:1 muxes that joins them (:func:`join_groups`)."""
    return 2 + len(join_groups(weight_slices(layer, pe, simd, weights)))


def replay_registered(layer: ir.MatrixLayer, pe: int, simd: int) -> bool:
    """Whether the unit registers its replay buffer's read (one pixel's input beats, kept for
    the neuron folds after the first) before the mux that picks the beat: when the buffer may sit
    in block RAM (:func:`~finngen.compile.resources.block_ram_read`). A block's read data leaves
    it late (5.8 ns on an ECP5 DP16KD without its output register, which yosys does not use) and
    the weights fill the block RAM columns, so the block can land far from the mux: LFC's last
    layer (PE 1, SIMD 1, 1,024 one-bit beats) put that read, its route and the mux into 11 ns. A
    buffer in LUT RAM reads into a register already."""
    nf, sf = layer.out_channels // pe, layer.fan_in // simd
    return nf > 1 and block_ram_read(sf, beat_bits(layer.in_type, simd, layer.has_padding))


def beat_stages(layer: ir.MatrixLayer, pe: int, simd: int, weights: str | None = None) -> int:
    """Cycles from the fold counters to the registered input beat and weight word: the weights'
    :func:`weight_stages`, or three when the replay read takes a register of its own
    (:func:`replay_registered`) and the weights only two; the weight memory is then read a cycle
    later, from a copy of its address, which costs a few flip-flops where the word would cost
    ``PE * SIMD``."""
    return max(weight_stages(layer, pe, simd, weights), 2 + replay_registered(layer, pe, simd))


def weight_lag(layer: ir.MatrixLayer, pe: int, simd: int, weights: str | None = None) -> int:
    """Cycles the weight memory is read after the fold counters pick its address, each a copy
    of the address: what :func:`beat_stages` adds to :func:`weight_stages`."""
    return beat_stages(layer, pe, simd, weights) - weight_stages(layer, pe, simd, weights)


@dataclass(frozen=True)
class MatrixUnit(Stage):
    """A :class:`finngen.hw.mvtu.MVTU` for ``layer`` at ``fold``."""
    layer: ir.MatrixLayer
    fold: Fold

    kind = "matrix"
    short = "mvtu"
    title = "matrix unit"

    @property
    def elem_type(self) -> ir.DataType:
        return self.layer.in_type

    @property
    def out_type(self) -> ir.DataType:
        return self.layer.out_type

    @property
    def lanes_in(self) -> int:
        return self.fold.simd

    @property
    def lanes_out(self) -> int:
        return self.fold.pe

    @property
    def pe(self) -> int:
        return self.fold.pe

    @property
    def simd(self) -> int:
        return self.fold.simd

    @property
    def mac_lanes(self) -> int:
        return self.fold.pe * self.fold.simd

    def details(self) -> dict:
        """The matrix height (output channels) and width (fan-in), as FINN calls them, and where
        the weights sit (block RAM or logic)."""
        return {"mh": self.layer.out_channels, "mw": self.layer.fan_in, "weights": self.memory_styles[0]}

    @property
    def memory_styles(self) -> tuple:
        return memory_styles(self.layer, self.fold.pe, self.fold.simd, self.fold.weights)

    @property
    def weight_words(self) -> int:
        """The depth of its weight memory (:func:`memory_shapes`)."""
        return memory_shapes(self.layer, self.fold.pe, self.fold.simd)[0][0]

    @property
    def neuron_folds(self) -> int:
        return self.layer.out_channels // self.fold.pe

    @property
    def synapse_folds(self) -> int:
        return self.layer.fan_in // self.fold.simd

    @property
    def beats_in(self) -> int:
        return self.layer.out_shape.pixels * self.synapse_folds

    @property
    def beats_out(self) -> int:
        return self.layer.out_shape.size // self.fold.pe

    @property
    def cycles(self) -> int:
        return self.layer.out_shape.pixels * cycles_per_pixel(self.layer, self.fold.pe, self.fold.simd)

    @property
    def burst_in(self) -> int:
        """One pixel's vector, then nothing while it is replayed for the other neuron folds."""
        return self.synapse_folds

    @property
    def burst_out(self) -> int:
        return self.neuron_folds

    @property
    def latency(self) -> int:
        from ...hw.mvtu import MVTU
        return MVTU.latency_of(self.layer, self.fold.pe, self.fold.simd, self.fold.weights)

    @property
    def in_beat_bits(self) -> int:
        return beat_bits(self.layer.in_type, self.fold.simd, self.layer.has_padding)

    def lut_terms(self) -> dict:
        layer, pe, simd = self.layer, self.fold.pe, self.fold.simd
        bipolar = layer.in_type.bipolar
        return {"xnor_popcount": pe * simd if bipolar else 0,
                "int_mac": 0 if bipolar else pe * simd * layer.in_type.bits,
                "accumulate": pe * layer.acc_bits,
                "rom_logic": self._roms()[0],
                "mvtu_control": 1}

    def fixed_resources(self) -> Resources:
        from ...hw.arith import tree_levels, tree_register_bits
        from ...hw.fifo import BUFFERED_LATENCY
        from ...hw.mvtu import MVTU
        from .fifo import Fifo
        layer, pe, simd = self.layer, self.fold.pe, self.fold.simd
        nf, sf = self.neuron_folds, self.synapse_folds
        beat = self.in_beat_bits
        bipolar, thresholded = layer.in_type.bipolar, layer.threshold is not None
        # the weight and threshold ROMs with the registers of their words: block RAMs, and
        # for those in logic their address and word registers (their LUTs are the fitted
        # rom_logic term)
        roms = self._roms()[1]
        # the pipeline (finngen.hw.mvtu): per PE the tree's register ranks, the running sum
        # and the accumulator, the bipolar sum and the output bit
        term_bits = 1 if bipolar else layer.in_type.bits + 1
        per_pe = Resources(ff=tree_register_bits(simd, term_bits, before=0 if bipolar else 1)
                           + layer.acc_bits * (2 + bipolar) + thresholded)
        # shared: the input beat and its registered copies, the replay buffer of one pixel's vector
        # (more than one neuron fold) and its read register, fold counters and the weight
        # address's copies, the flags that travel with each stage, a padded bipolar layer's
        # valid-tap count, and the output FIFO with its free count
        beats = beat_stages(layer, pe, simd, self.fold.weights)
        replay = replay_registered(layer, pe, simd)
        lag = weight_lag(layer, pe, simd, self.fold.weights)
        # a wide unit's rank of input beat copies, each with its load flag, and the weights again,
        # then the trees' sums registered (and a padded bipolar layer's valid-tap count)
        copies = beat_copies(layer, pe, simd)
        sum_bits = term_bits + tree_levels(simd)
        fanout = Resources(ff=len(copies) * (beat + 1) + pe * simd
                           + (pe + (layer.has_padding and bipolar)) * sum_bits) if copies else Resources()
        stages = MVTU.latency_of(layer, pe, simd, self.fold.weights) - BUFFERED_LATENCY
        out_depth = MVTU.out_depth_of(layer, pe, simd, self.fold.weights)
        # the fold travels as far as its last reader: the replay buffer's mux in stage 1 (2 when
        # its read is registered), or one threshold memory (copies count folds of their own)
        fold_stages = (stages - THRESHOLD_LEAD if thresholded and len(threshold_copies(layer, pe, simd)) == 1
                       else 1 + replay)
        shared = Resources(ff=(beats + replay) * beat + range_bits(nf) + range_bits(sf) + (1 + lag) * range_bits(nf * sf)
                           + stages * 3 + fold_stages * range_bits(nf) + range_bits(out_depth + 1))
        if layer.has_padding and bipolar:
            shared += Resources(ff=tree_register_bits(simd, 1) + 2 * layer.acc_bits)
        if nf > 1:      # the replay buffer and the copy of its write address
            shared += memory(sf, beat) + Resources(ff=range_bits(sf))
        return roms + pe * per_pe + shared + fanout + Fifo(pe * layer.out_type.bits, out_depth).resources()

    def _roms(self) -> tuple:
        """The weight and (hidden layers) threshold memories where :func:`memory_styles` puts
        them, and the registers their words are read into. Returns (LUTs of those in logic,
        Resources of the rest: block RAMs and their word registers (a sliced weight memory's
        too, and the muxes that join its slices, :func:`weight_slices`); for a ROM in logic the
        register of its address and of its word). In logic, identical bit columns
        merge, with their registers, which matters for shallow threshold ROMs: a column of d
        words is one of 2**d functions, so n random columns give about 2**d (1 - (1 - 2**-d)**n).
        A threshold memory in logic is one ROM per copy (:func:`threshold_copies`), columns
        merging within a copy, and several copies have a fold counter each. A wide ROM in logic has a
        copy of its address register per :func:`rom_copies` slice, columns merging within a slice."""
        layer, pe, simd = self.layer, self.fold.pe, self.fold.simd
        weights, thresholds = memory_shapes(layer, pe, simd)
        weight_style, threshold_style = self.memory_styles
        roms = [(weights, weight_style, weight_slices(layer, pe, simd, self.fold.weights))]
        luts, rest = 0, Resources()
        if thresholds is not None:
            depth, width = thresholds
            copies = threshold_copies(layer, pe, simd)
            roms += [((depth, width // pe * len(lanes)), threshold_style, 1) for lanes in copies]
            if len(copies) > 1:
                rest += len(copies) * Resources(ff=range_bits(depth))
        for (depth, columns), style, slices in roms:
            if style == "block" and slices > 1:
                # the slices side by side and their words registered, then a registered level of
                # 4:1 muxes (a LUT6 each) per JOIN times the slices, the last one the word's
                # register; the select held until each level takes its two bits
                groups = join_groups(slices)
                select = range_bits(slices)
                rest += Resources(lut=columns * sum(groups), bram36=bram36(SLICE_DEPTH, slices * columns),
                                  ff=(slices + sum(groups)) * columns + 2 * select
                                  + sum(select - 2 * level for level in range(1, len(groups))))
                continue
            if style == "block":
                rest += Resources(bram36=bram36(depth, columns), ff=columns)
                continue
            copies = rom_copies(columns)
            if depth < 16:
                functions = 2 ** depth
                columns = sum(functions * (1 - (1 - 1 / functions) ** len(c)) for c in copies)
            # (each of several address copies loads a bit at an XOR of its own, a few LUTs that
            # the fitted rom_logic term takes in)
            luts += columns * rom_luts_per_bit(depth)
            rest += Resources(ff=len(copies) * range_bits(depth) + columns)
        return luts, rest

    def component(self):
        from ...hw.mvtu import MVTU
        return MVTU(self.layer, self.fold.pe, self.fold.simd, weights=self.fold.weights)
