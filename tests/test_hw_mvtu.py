# amaranth: UnusedElaboratable=no
"""The matrix-vector-threshold unit against the golden model, beat by beat, and its cycle count."""
import re

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment

from finngen import ir
from finngen.compile.folding import Fold
from finngen.compile.kinds import MatrixUnit, cycles_per_pixel
from finngen.compile.kinds import matrix
from finngen.compile.kinds.matrix import (beat_copies, replay_registered, rom_copies, threshold_copies, weight_slices,
                                          wide_stages)
from finngen.hw import MVTU
from finngen.sim.cases import mvtu_case, run_case
from finngen.sim.layers import matrix_layer, random_config
from finngen.sim.streams import Traffic

U4, I3, U8, I8, I2 = (ir.DataType(4), ir.DataType(3, signed=True), ir.DataType(8),
                      ir.DataType(8, signed=True), ir.DataType(2, signed=True))

# (in_shape, out_channels, layer options, PE, SIMD)
CONFIGS = {
    "fc-bin": ((1, 1, 32), 16, {}, 4, 8),
    "fc-bin-parallel": ((1, 1, 16), 8, {}, 8, 16),
    # threshold memory copies of 4 and 2 PEs (kinds.matrix.threshold_copies), 3 folds
    "fc-bin-copies": ((1, 1, 16), 18, {}, 6, 8),
    "fc-bin-serial": ((1, 1, 6), 4, {}, 1, 1),
    "fc-bin-last": ((1, 1, 24), 6, {"last": True}, 2, 4),
    "fc-u8-last": ((1, 1, 12), 6, {"in_type": U8, "last": True}, 2, 4),
    "fc-i2-last-parallel": ((1, 1, 12), 6, {"in_type": I2, "last": True}, 6, 12),
    "conv-bin-pad": ((4, 4, 3), 4, {"kernel": 3, "pad": 1}, 2, 3),
    "conv-bin-pad-last": ((3, 3, 2), 4, {"kernel": 3, "pad": 1, "last": True}, 4, 6),
    "conv-bin-stride2": ((5, 5, 4), 6, {"kernel": 3, "stride": 2, "pad": 1}, 3, 4),
    "conv-bin-k2s2": ((4, 4, 2), 4, {"kernel": 2, "stride": 2}, 1, 8),
    "conv-u4-pad-last": ((3, 3, 3), 4, {"kernel": 3, "pad": 1, "in_type": U4, "last": True}, 4, 9),
    "conv-i3-pad": ((3, 4, 2), 3, {"kernel": 3, "pad": 1, "in_type": I3}, 1, 6),
    "conv-u8-nopad": ((4, 4, 3), 4, {"kernel": 3, "in_type": U8}, 2, 3),
    # weights and thresholds in block RAM (512 words of 32 and of 24 bits); all others in logic
    "fc-bin-block": ((1, 1, 8), 2048, {}, 4, 8),
}


def _layer(key, seed=0):
    shape, out_channels, options, pe, simd = CONFIGS[key]
    return matrix_layer(seed, shape, out_channels, name=key, **options), pe, simd


def _check_cycles(result, case, layer, pe, simd, frames):
    """Without back-pressure, output pixel n + 1 starts exactly (MH/PE)(MW/SIMD) cycles after
    pixel n, from the second pixel on (the first carries the pipeline latency only once)."""
    mvtu = case.component
    starts = np.asarray(result.out_cycles[::mvtu.neuron_folds])
    assert len(starts) == frames * layer.out_shape.pixels
    assert set(np.diff(starts).tolist()) == {cycles_per_pixel(layer, pe, simd)}
    # within a pixel, one output beat every MW/SIMD cycles
    steps = np.diff(np.asarray(result.out_cycles).reshape(len(starts), -1), axis=1)
    assert steps.size == 0 or set(steps.reshape(-1).tolist()) == {mvtu.synapse_folds}
    # and frame after frame: pixels * (MH/PE)(MW/SIMD) cycles per frame
    frame_starts = starts[::layer.out_shape.pixels]
    per_frame = layer.out_shape.pixels * cycles_per_pixel(layer, pe, simd)
    assert set(np.diff(frame_starts).tolist()) <= {per_frame}
    return int(starts[1] - starts[0])


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_mvtu_matches_golden(key):
    layer, pe, simd = _layer(key)
    case = mvtu_case(layer, pe, simd, frames=2, seed=1)
    # random valid gaps and back-pressure ...
    run_case(case, Traffic(seed=len(key), valid_prob=0.6, ready_prob=0.6))
    # ... and none: then the cycle count is exact
    result = run_case(case, Traffic())
    _check_cycles(result, case, layer, pe, simd, frames=2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(16))
def test_mvtu_random_configs(seed):
    """Random legal layers and foldings (conv and FC, all input types, last-layer mode)."""
    layer, pe, simd = random_config(seed, conv=seed % 4 != 0)
    case = mvtu_case(layer, pe, simd, frames=2, seed=seed)
    run_case(case, Traffic(seed=seed, valid_prob=0.7, ready_prob=0.7))
    _check_cycles(run_case(case, Traffic()), case, layer, pe, simd, frames=2)


@pytest.mark.rtl
def test_mvtu_rtl_binary_conv_with_padding():
    """Verilator: a padded bipolar conv layer with thresholds (constant channels included),
    first under random traffic, then a cycle count over 3 frames x 16 pixels."""
    layer, pe, simd = _layer("conv-bin-pad", seed=5)
    case = mvtu_case(layer, pe, simd, frames=3, seed=2)
    run_case(case, Traffic(seed=3, valid_prob=0.7, ready_prob=0.6), rtl_name="mvtu_conv")
    result = run_case(case, Traffic(), rtl_name="mvtu_conv")
    assert _check_cycles(result, case, layer, pe, simd, frames=3) == 2 * 9   # (4/2)(27/3)


@pytest.mark.rtl
def test_mvtu_rtl_threshold_copies():
    """Verilator: three neuron folds read from threshold memory copies of 4 and 2 PEs, each at
    its own fold counter, under random traffic, then the cycle count."""
    layer, pe, simd = _layer("fc-bin-copies", seed=3)
    case = mvtu_case(layer, pe, simd, frames=4, seed=6)
    run_case(case, Traffic(seed=8, valid_prob=0.7, ready_prob=0.6), rtl_name="mvtu_copies")
    result = run_case(case, Traffic(), rtl_name="mvtu_copies")
    assert _check_cycles(result, case, layer, pe, simd, frames=4) == 3 * 2   # (18/6)(16/8)


@pytest.mark.rtl
def test_mvtu_rtl_integer_last_layer():
    """Verilator: a signed 8-bit input, last-layer FC (outputs signed sums), wide SIMD."""
    layer = matrix_layer(7, (1, 1, 64), 10, in_type=I8, last=True, name="fc_last")
    case = mvtu_case(layer, 5, 16, frames=6, seed=4)
    run_case(case, Traffic(seed=5, valid_prob=0.8, ready_prob=0.5), rtl_name="mvtu_fc_last")
    result = run_case(case, Traffic(), rtl_name="mvtu_fc_last")
    assert _check_cycles(result, case, layer, 5, 16, frames=6) == 2 * 4   # (10/5)(64/16)


@pytest.mark.rtl
def test_mvtu_rtl_replay_buffer_in_block_ram():
    """Verilator: a replay buffer of 64 beats of 32 bits, which ECP5 puts in a block RAM, read
    into a register of its own before the beat mux, then a stage more for the beat and the
    weight word alike: the three neuron folds' sums bit exact under random back-pressure, and
    the latency the stage kind predicts, one more than with the buffer's read unregistered."""
    layer = matrix_layer(12, (1, 1, 2048), 3, name="replay", last=True)
    assert replay_registered(layer, 1, 32) and not replay_registered(layer, 3, 32)
    case = mvtu_case(layer, 1, 32, frames=2, seed=4)
    mvtu = case.component
    assert MatrixUnit(layer, Fold(1, 32)).latency == mvtu.latency == MVTU(layer, 3, 32).latency + 1
    run_case(case, Traffic(seed=14, valid_prob=0.7, ready_prob=0.6), rtl_name="mvtu_replay")
    result = run_case(case, Traffic(), rtl_name="mvtu_replay")
    assert _check_cycles(result, case, layer, 1, 32, frames=2) == 3 * 64
    assert result.out_cycles[0] - result.in_cycles[mvtu.synapse_folds - 1] == mvtu.latency


@pytest.mark.rtl
def test_mvtu_rtl_weights_deeper_than_a_block():
    """Verilator: weights in block RAM deeper than one block, 2,400 words of 20 bits read as five
    slices of 512 words side by side (the last part empty), registered, then joined four and
    one ways and two ways, a level a cycle: bit exact under random back-pressure, one output
    beat every MW/SIMD cycles, and two stages more than the same unit with its weights in
    logic, as its stage kind predicts. A last layer: its outputs are the sums, so a word from
    the wrong slice shows (a threshold could hide it)."""
    layer = matrix_layer(11, (1, 1, 40), 1200, name="deep", last=True)
    assert weight_slices(layer, 1, 20, "block") == 5
    case = mvtu_case(layer, 1, 20, frames=2, seed=3, weights="block")
    mvtu = case.component
    assert MatrixUnit(layer, Fold(1, 20, "block")).latency == mvtu.latency == \
        MVTU(layer, 1, 20, weights="logic").latency + 2
    run_case(case, Traffic(seed=13, valid_prob=0.7, ready_prob=0.6), rtl_name="mvtu_deep")
    result = run_case(case, Traffic(), rtl_name="mvtu_deep")
    _check_cycles(result, case, layer, 1, 20, frames=2)
    assert result.out_cycles[0] - result.in_cycles[mvtu.synapse_folds - 1] == mvtu.latency


def test_mvtu_names_no_wire_after_an_element():
    """The unit's RTL names no wire like `thresholds0[1]`: a register shaped as an array layout
    names one per element beside its own, and yosys 0.70's abc9 took bit 1 of `thresholds0` for
    the wire `thresholds0[1]` and stopped on an assert (CNV-W1A1's --timing build at --fps
    3000). "fc-bin-copies" has threshold registers of 4 and 2 lanes, "fc-bin-block" a threshold
    memory in block RAM."""
    for key in ("fc-bin-copies", "fc-bin-block"):
        text = rtlil.convert(MVTU(*_layer(key)))
        wires = re.findall(r"^\s*wire (?:\S+ )*(\S+)$", text, re.M)
        assert wires and not [name for name in wires if "[" in name]


def test_mvtu_memory_styles():
    """The memories go where resources.rom_style says: CONFIGS covers both places."""
    styles = {key: MVTU(*_layer(key)).memory_styles for key in CONFIGS}
    assert styles.pop("fc-bin-block") == ("block", "block")
    assert set(styles.values()) == {("logic", "logic"), ("logic", None)}


@pytest.mark.parametrize("weights", ["block", "logic"])
def test_mvtu_placed_weights_match_golden(weights):
    """A folding can place the weights itself (the planner moves some into idle block RAM):
    the same results and cycles from either place."""
    layer, pe, simd = _layer("conv-bin-pad")
    case = mvtu_case(layer, pe, simd, frames=2, seed=1, weights=weights)
    assert case.component.memory_styles == (weights, "logic")
    run_case(case, Traffic(seed=7, valid_prob=0.6, ready_prob=0.6))
    _check_cycles(run_case(case, Traffic()), case, layer, pe, simd, frames=2)


def test_mvtu_memory_layout():
    """One weight memory, as in FINN: word nf * SF + sf holds the SIMD columns of the PE rows
    of neuron fold nf, row nf * PE + p in lane p; one threshold word of PE entries per fold."""
    layer = matrix_layer(0, (1, 1, 8), 4)
    mvtu = MVTU(layer, 2, 4)
    Fragment.get(mvtu, None)                     # elaborates (and marks it used)
    words = mvtu.weight_words()
    assert len(words) == 4                       # (MH / PE) * (MW / SIMD) words of PE * SIMD bits
    row2, row3 = layer.weights[2], layer.weights[3]   # nf = 1: rows 2 and 3 in lanes 0 and 1
    assert words[2] == sum(int(b) << j for j, b in enumerate(list(row2[:4]) + list(row3[:4])))
    assert words[3] == sum(int(b) << j for j, b in enumerate(list(row2[4:]) + list(row3[4:])))
    assert [[t["threshold"] for t in word] for word in mvtu.threshold_words()] == \
        [list(layer.threshold[0:2]), list(layer.threshold[2:4])]


def test_mvtu_threshold_copies():
    """A threshold memory in logic has a copy per 4 PEs when there are several neuron folds
    (fc-bin-copies, which the golden and reset tests run, has two); in block RAM, or of a
    single fold, one."""
    assert threshold_copies(*_layer("fc-bin-copies")) == [range(0, 4), range(4, 6)]
    assert threshold_copies(*_layer("fc-bin-block")) == [range(4)]
    assert threshold_copies(*_layer("fc-bin-parallel")) == [range(8)]


def test_mvtu_wide_unit_rule():
    """Depth follows the width: CNV's conv1 at --fps 9000 (PE 32 x SIMD 96) reads its 3,072-bit
    weight ROM from 12 address copies and its beat from 3 copies, two stages more; a unit of
    1,024 lanes (PE 16 x SIMD 64) gets no stage, and a ROM of 256 columns one address register."""
    conv1 = matrix_layer(0, (3, 3, 64), 64, kernel=3)
    assert len(rom_copies(32 * 96)) == 12 and rom_copies(256) == [range(256)]
    assert beat_copies(conv1, 32, 96) == [range(0, 10), range(10, 21), range(21, 32)]
    assert wide_stages(conv1, 32, 96) == 2
    assert beat_copies(conv1, 16, 64) == [] and wide_stages(conv1, 16, 64) == 0
    assert MVTU(conv1, 32, 96).latency == MVTU(conv1, 16, 64).latency + 2


def test_mvtu_weight_address_copies(monkeypatch):
    """A weight memory in logic wider than ROM_COPY_COLUMNS is read as column slices, each at a
    copy of the address register of its own: forced on here for fc-bin's 32 columns (16 words,
    PE 4 x SIMD 8) by a bound of 12, three slices that cut PE lanes; bit exact under random
    back-pressure, and the same cycles."""
    monkeypatch.setattr(matrix, "ROM_COPY_COLUMNS", 12)
    assert rom_copies(32) == [range(0, 10), range(10, 21), range(21, 32)]
    layer, pe, simd = _layer("fc-bin")
    case = mvtu_case(layer, pe, simd, frames=2, seed=2)
    names = {name for _, name, _ in Fragment.get(case.component, None).subfragments}
    assert {"weights0", "weights1", "weights2"} <= names and "weights" not in names
    run_case(case, Traffic(seed=9, valid_prob=0.6, ready_prob=0.6))
    _check_cycles(run_case(case, Traffic()), case, layer, pe, simd, frames=2)


@pytest.mark.parametrize("key", ["conv-bin-pad", "conv-u8-nopad", "fc-bin-copies"])
def test_mvtu_beat_copies(monkeypatch, key):
    """A unit wider than BEAT_COPY_LANES registers its input beat once more, a copy per group of
    PEs, and its weights with it, and registers its trees' sums: forced on here by a bound of 4
    lanes (padded bipolar, 8-bit and threshold copies cases), bit exact under random
    back-pressure, the same cycles, and two stages more than without, as its stage kind
    predicts."""
    layer, pe, simd = _layer(key)
    narrow = MVTU(layer, pe, simd).latency
    monkeypatch.setattr(matrix, "BEAT_COPY_LANES", 4)
    assert len(beat_copies(layer, pe, simd)) == min(pe, -(-pe * simd // 4)) > 1
    case = mvtu_case(layer, pe, simd, frames=2, seed=4)
    mvtu = case.component
    assert MatrixUnit(layer, Fold(pe, simd)).latency == mvtu.latency == narrow + 2
    run_case(case, Traffic(seed=11, valid_prob=0.6, ready_prob=0.6))
    result = run_case(case, Traffic())
    _check_cycles(result, case, layer, pe, simd, frames=2)
    assert result.out_cycles[0] - result.in_cycles[mvtu.synapse_folds - 1] == mvtu.latency


@pytest.mark.parametrize("pe, simd, match", [(3, 4, "PE"), (0, 4, "PE"), (2, 5, "SIMD"),
                                             (2, 32, "SIMD"), (2, 2.0, "SIMD")])
def test_mvtu_rejects_bad_folding(pe, simd, match):
    layer = matrix_layer(0, (1, 1, 16), 4)
    with pytest.raises(ValueError, match=match):
        MVTU(layer, pe, simd)


def test_mvtu_rejects_unknown_weight_place():
    with pytest.raises(ValueError, match="not 'bram'"):
        MVTU(matrix_layer(0, (1, 1, 16), 4), 2, 4, weights="bram")


def test_mvtu_rejects_pool_layer():
    from finngen.sim.layers import pool_layer
    with pytest.raises(TypeError, match="MatrixLayer"):
        MVTU(pool_layer((4, 4, 2), 2), 1, 1)


@pytest.mark.parametrize("key", ["conv-bin-pad", "fc-u8-last"])
def test_mvtu_reset_in_the_middle_of_a_pixel(key):
    """A reset that cuts a pixel short leaves nothing behind: the running sums start from zero
    again (they are cleared by a flag that a reset sets, not by a reset of their own)."""
    layer, pe, simd = _layer(key)
    fed = max(1, layer.fan_in // simd // 2)
    got, expected = _outputs_after_reset(layer, pe, simd, fed, MVTU.latency_of(layer, pe, simd))
    assert got == expected


@pytest.mark.slow
def test_mvtu_reset_in_any_neuron_fold():
    """The threshold memory copies' fold counters reset with the unit: a reset at every cycle
    after the first pixel's input is in (each copy's counter at every count on the way)."""
    layer, pe, simd = _layer("fc-bin-copies")
    sf = layer.fan_in // simd
    for wait in range(1, cycles_per_pixel(layer, pe, simd) + MVTU.latency_of(layer, pe, simd)):
        got, expected = _outputs_after_reset(layer, pe, simd, sf, wait)
        assert got == expected, wait


def _outputs_after_reset(layer, pe, simd, fed, wait):
    """The unit's output beats for a frame after ``fed`` beats of the frame went in and a reset
    ``wait`` cycles later, and the expected beats."""
    from amaranth.hdl import Module, ResetInserter, Signal, Value
    from amaranth.sim import Simulator

    case = mvtu_case(layer, pe, simd, frames=1, seed=2)
    restart = Signal()
    m = Module()
    m.submodules.mvtu = ResetInserter(restart)(case.component)
    mvtu = case.component
    payload = Value.cast(mvtu.i.payload)
    got = []

    async def testbench(ctx):
        for beat in case.in_beats[:fed]:        # part of the frame, then a reset
            ctx.set(payload, beat)
            ctx.set(mvtu.i.valid, 1)
            await ctx.tick().until(mvtu.i.ready)
        ctx.set(mvtu.i.valid, 0)
        await ctx.tick().repeat(wait)
        ctx.set(restart, 1)
        await ctx.tick()
        ctx.set(restart, 0)
        ctx.set(mvtu.o.ready, 1)
        beats = iter(case.in_beats)
        beat = next(beats)
        for _ in range(20 * len(case.in_beats) + 100):
            ctx.set(payload, beat if beat is not None else 0)
            ctx.set(mvtu.i.valid, beat is not None)
            *_, taken, out_valid, out = await ctx.tick().sample(mvtu.i.ready, mvtu.o.valid, mvtu.o.payload)
            if taken and beat is not None:
                beat = next(beats, None)
            if out_valid:
                got.append(out)
            if len(got) == len(case.expected):
                break

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return got, list(case.expected)
