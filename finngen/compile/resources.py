"""Analytic FPGA resource estimates (LUT, FF, BRAM36, DSP) per streaming stage.

Calibrated against yosys ``synth_xilinx -family xc7 -flatten`` on the generated components:
``bench/calibrate_resources.py`` synthesizes a sweep, fits the :data:`LUT` coefficients and
prints the model's error (``docs/calibration.md`` has the table). Two kinds of terms:

* memories are counted the way yosys maps them (:func:`memory`): its ``memory_libmap`` pass
  prices every candidate (block RAM tiles, LUT RAM cells, plain logic) and takes the cheapest,
  so the LUT-versus-BRAM decision here is the same cost comparison, with yosys' own costs;
* datapath and control logic are linear in a few widths, with the fitted coefficients below.
  Flip-flops are counted from the registers the components declare.

No stage uses a DSP: the MVTUs add and subtract (XNOR-popcount or +-x) but never multiply, and
yosys only maps multipliers to DSP48E1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from . import pipeline

__all__ = ["Resources", "estimate_stage", "estimate", "fifo", "memory", "memory_kind", "lut_terms",
           "payload_bits", "LUT"]


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
# LUTs per unit of each term of lut_terms(). bench/calibrate_resources.py fits them to the
# sweep in bench/calibration.json (least squares on the relative error, per component kind) and
# prints them; docs/calibration.md records the fit and its error.
LUT = {
    # MVTU, per PE
    "xnor_popcount": 2.74,   # per SIMD lane, bipolar input: XNOR with the weight, popcount tree
    "int_mac": 3.06,         # per SIMD lane and input bit, integer input: +-x, adder tree
    "accumulate": 0.52,      # per accumulator bit: accumulator adder, 2c - n, threshold compare
    "rom_logic": 1.14,       # per LUT of the weight/threshold ROMs in logic (_rom_luts_per_bit)
    # MVTU, once: fold counters, pipeline flags, the replay mux, valid-tap count, handshakes
    "mvtu_control": 82.73,
    # sliding window unit, per line-buffer address bit: its dozen counters and pointer adders
    # are about that wide
    "swu_address": 18.84,
    # max pool: per lane and element bit (compare and select; bipolar: an OR), and once
    "pool_lane": 1.73,
    "pool_control": 13.53,
    # width converter (index counter, handshakes), FIFO per pointer bit (two pointers, the
    # level counter, full/empty), top level per bit of the output beat counter (TLAST)
    "dwc_control": 4.94,
    "fifo_pointer": 4.7,
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
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in shapes)


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


def _bram36(depth, width):
    """Block RAMs in RAMB36 units; yosys takes RAMB36 over two RAMB18 (259 < 262)."""
    b18 = RAMB18_COST * _blocks(depth, width, RAMB18_SHAPES)
    b36 = RAMB36_COST * _blocks(depth, width, RAMB36_SHAPES)
    if b36 <= b18:
        return _blocks(depth, width, RAMB36_SHAPES)
    return 0.5 * _blocks(depth, width, RAMB18_SHAPES)


def _rom_luts_per_bit(depth):
    """LUTs per output bit of a ROM in logic, as yosys/abc map the MVTU's ROMs, which a counter
    addresses: LUT5s of 32 words joined by 2:1 muxes in LUTs. (A ROM read straight from a port or
    a plain register packs 64 words per LUT6 and joins four with MUXF7/MUXF8, no LUTs: about a
    quarter of this. The sweep's memory probes show both.)"""
    if depth <= 1:
        return 0            # a constant
    return 2 * math.ceil(depth / 32) - 1


def memory(depth: int, width: int, *, rom: bool = False, sync: bool = True,
           single_port: bool = False) -> Resources:
    """The resources of one memory as yosys maps it, including its read register (the FFs of a
    synchronous read port, which a block RAM has inside). ``single_port``: reads and writes share
    one address (LUT RAM then packs 64 x 1 per LUT). A ROM in logic is counted as yosys maps one
    that a counter addresses, as in the MVTU (:func:`_rom_luts_per_bit`)."""
    if depth < 1 or width < 1:
        return Resources()
    kind = memory_kind(depth, width, rom=rom, sync=sync)
    read_ff = width if sync else 0
    if kind == "bram":
        return Resources(bram36=_bram36(depth, width))
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
        return Resources(lut=width * _rom_luts_per_bit(depth), ff=read_ff if depth > 1 else 0)
    # a RAM of a word or two in registers, with a mux per bit to read it
    return Resources(lut=width * (depth - 1), ff=depth * width + read_ff)


def fifo(width: int, depth: int) -> Resources:
    """A StreamFIFO (amaranth SyncFIFOBuffered): a ``depth - 1`` word memory with a synchronous
    read port (its read register is the output register), two pointers and a level counter."""
    ptr = _bits(depth)
    return memory(depth - 1, width) + Resources(lut=LUT["fifo_pointer"] * ptr, ff=3 * ptr + 1)


# -- stages ------------------------------------------------------------------------------------

def _bits(n):
    """The width of an amaranth ``Signal(range(n))``."""
    return max(0, (n - 1).bit_length())


def lut_terms(stage: pipeline.Stage) -> dict:
    """The fitted terms of a stage's LUTs: {coefficient name: quantity}. The estimate is
    ``fixed_luts + sum(LUT[name] * quantity)``; calibration fits LUT from these."""
    layer = stage.layer
    if stage.kind == "matrix":
        pe, simd = stage.fold.pe, stage.fold.simd
        lanes = ("xnor_popcount", simd) if layer.in_type.bipolar else ("int_mac", simd * layer.in_type.bits)
        terms = {"xnor_popcount": 0, "int_mac": 0}
        terms[lanes[0]] = pe * lanes[1]
        terms["accumulate"] = pe * layer.acc_bits
        terms["rom_logic"] = _rom_logic(stage)[0]
        terms["mvtu_control"] = 1
        return terms
    if stage.kind == "window":
        return {"swu_address": _bits(_line_buffer(stage)[0])}
    if stage.kind == "pool":
        per_lane = 1 if layer.in_type.bipolar else layer.in_type.bits
        return {"pool_lane": stage.lanes_in * per_lane if layer.kernel > 1 else 0, "pool_control": 1}
    if stage.kind == "convert":
        return {"dwc_control": 1 if stage.lanes_in != stage.lanes_out else 0}
    raise ValueError(f"unknown stage kind {stage.kind!r}")


def _beat_bits(layer, simd):
    """The width of an MVTU input beat: data, plus a mask bit per lane when the layer pads."""
    return simd * layer.in_type.bits + (simd if layer.has_padding else 0)


def _line_buffer(stage):
    """(depth, width) of the sliding window's line buffer (as finngen.hw.swu sizes it)."""
    layer, simd = stage.layer, stage.fold.simd
    k, s, p = layer.kernel, layer.stride, layer.pad
    rows = max(k + s, 2 * k - 2 * p + s - 1)
    return rows * layer.in_shape.width * (layer.in_shape.channels // simd), simd * layer.in_type.bits


def _rom_logic(stage) -> tuple:
    """The MVTU's ROMs, one per PE for the weights (SIMD bits x NF*SF words) and, in hidden
    layers, one for the thresholds (threshold and invert bits x NF words; one word is a
    constant). Returns (LUTs of those in logic, Resources of the rest: block RAMs and the
    read registers). yosys decides block RAM or logic per memory; in logic, identical bit
    columns (across PEs too) merge, which matters for shallow threshold ROMs: a column of d
    words is one of 2**d functions, so n random columns give about 2**d (1 - (1 - 2**-d)**n)."""
    layer, pe, simd = stage.layer, stage.fold.pe, stage.fold.simd
    nf, sf = layer.out_channels // pe, layer.fan_in // simd
    banks = [(nf * sf, simd)]
    if layer.threshold is not None and nf > 1:
        banks.append((nf, layer.threshold_bits + 1))
    luts, rest = 0, Resources()
    for depth, width in banks:
        if memory_kind(depth, width, rom=True) != "logic":
            rest += pe * memory(depth, width, rom=True)
            continue
        columns = pe * width
        if depth < 16:
            functions = 2 ** depth
            columns = functions * (1 - (1 - 1 / functions) ** columns)
        one = memory(depth, 1, rom=True)
        luts += columns * one.lut
        rest += Resources(ff=columns * one.ff)
    return luts, rest


def _fixed(stage) -> Resources:
    """The analytic part of a stage: its memories, the LUTs that are not fitted, and its FFs."""
    layer = stage.layer
    if stage.kind == "matrix":
        pe, simd = stage.fold.pe, stage.fold.simd
        nf, sf = layer.out_channels // pe, layer.fan_in // simd
        beat = _beat_bits(layer, simd)
        # the weight and threshold ROMs: block RAMs, and the read registers of those in logic
        # (their LUTs are the fitted rom_logic term)
        roms = _rom_logic(stage)[1]
        # per PE: accumulator (a popcount of the fan-in for bipolar inputs), output register
        acc = _bits(layer.fan_in + 1) if layer.in_type.bipolar else layer.acc_bits
        per_pe = Resources(ff=acc + layer.out_type.bits)
        # shared: the input register, the replay buffer of one pixel's vector (when there is
        # more than one neuron fold), the fold counters and pipeline flags, the padding count
        shared = Resources(ff=beat + _bits(nf) + _bits(sf) + _bits(nf * sf) + 5
                           + (_bits(layer.fan_in + 1) if layer.has_padding else 0))
        if nf > 1:
            shared += memory(sf, beat)
        return roms + pe * per_pe + shared
    if stage.kind == "window":
        depth, width = _line_buffer(stage)
        k, s = layer.kernel, layer.stride
        shape, out = layer.in_shape, layer.out_shape
        cf = shape.channels // stage.fold.simd
        col = (shape.width * cf + s * cf).bit_length() + 1
        counters = (_bits(out.height) + _bits(out.width) + 2 * _bits(k) + 2 * _bits(cf)
                    + (shape.height + s).bit_length() + (shape.width + s).bit_length() + 2
                    + 4 * _bits(depth) + 2 * col + 3 + _bits(shape.height) + _bits(shape.width) + 2)
        # padding taps leave as zeros: an AND per data bit behind the line buffer
        pad_mux = width if layer.has_padding else 0
        return memory(depth, width) + Resources(lut=pad_mux, ff=counters)
    if stage.kind == "pool":
        n, bits = stage.lanes_in, layer.in_type.bits
        shape, k = layer.in_shape, layer.kernel
        cf = shape.channels // n
        counters = _bits(shape.height) + _bits(shape.width) + _bits(cf) + 2 * _bits(k) \
            + _bits(layer.out_shape.width * cf) + 1
        # read-modify-write through one address: a single-port LUT RAM with asynchronous read
        maxima = memory(layer.out_shape.width * cf, n * bits, sync=False, single_port=True) \
            if k > 1 else Resources()
        return maxima + Resources(ff=n * bits + counters)
    if stage.kind == "convert":
        return _converter(stage.elem_type.bits, stage.lanes_in, stage.lanes_out)
    raise ValueError(f"unknown stage kind {stage.kind!r}")


def _converter(bits, n_in, n_out):
    """Registers and output muxes of StreamWidthConverter: a splitter holds one wide beat and
    selects a part (a LUT6 is a 4:1 mux); a gatherer keeps ratio-1 parts and the output beat."""
    if n_in == n_out:
        return Resources()
    if n_in % n_out == 0:
        ratio = n_in // n_out
        return Resources(lut=n_out * bits * math.ceil((ratio - 1) / 3),
                         ff=n_in * bits + _bits(ratio) + 1)
    if n_out % n_in == 0:
        ratio = n_out // n_in
        return Resources(lut=ratio, ff=n_out * bits + (ratio - 1) * n_in * bits + _bits(ratio) + 1)
    wide = math.lcm(n_in, n_out)
    return _converter(bits, n_in, wide) + _converter(bits, wide, n_out)


def estimate_stage(stage: pipeline.Stage) -> Resources:
    """The resources of one stage's component (without the FIFO in front of it)."""
    fitted = sum(LUT[name] * q for name, q in lut_terms(stage).items())
    return _fixed(stage) + Resources(lut=fitted)


def payload_bits(stage: pipeline.Stage) -> int:
    """The width of a stage's output beat (what the FIFO behind it stores)."""
    if stage.kind == "window":     # the window beat carries the padding mask too
        return _beat_bits(stage.layer, stage.lanes_out)
    out_type = stage.layer.out_type if stage.kind == "matrix" else stage.elem_type
    return stage.lanes_out * out_type.bits


def estimate(chain) -> tuple:
    """(total, per stage) for a chain from :func:`finngen.compile.pipeline.stages`: each stage's
    component plus the FIFO that feeds it (``pipeline.fifo_depth`` beats of the producer's
    output), and the top level's output beat counter."""
    per_stage = []
    for k, stage in enumerate(chain):
        r = estimate_stage(stage)
        if k:
            r += fifo(payload_bits(chain[k - 1]), pipeline.fifo_depth(chain[k - 1], stage))
        per_stage.append(r)
    count = _bits(chain[-1].beats_out)
    top = Resources(lut=LUT["top"] * count, ff=count)
    return sum(per_stage, top), per_stage
