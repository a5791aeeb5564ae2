# amaranth: UnusedElaboratable=no
"""The sliding window unit against the golden model's window vectors, beat by beat."""
import numpy as np
import pytest

from finngen import ir
from finngen.compile import kinds
from finngen.hw import SlidingWindow
from finngen.sim.cases import run_case, swu_case
from finngen.sim.layers import matrix_layer, random_config
from finngen.sim.streams import Traffic

I3, U8 = ir.DataType(3, signed=True), ir.DataType(8)

# (in_shape, layer options, SIMD)
CONFIGS = {
    "k3-pad1": ((4, 4, 3), {"kernel": 3, "pad": 1}, 3),
    "k3-pad1-simd1": ((4, 5, 2), {"kernel": 3, "pad": 1}, 1),
    "k3-nopad": ((5, 6, 4), {"kernel": 3}, 2),
    "k3-stride2-pad1": ((5, 6, 4), {"kernel": 3, "stride": 2, "pad": 1}, 2),
    "k3-stride2-drop": ((6, 6, 2), {"kernel": 3, "stride": 2}, 2),
    "k2-stride2-i3": ((5, 5, 2), {"kernel": 2, "stride": 2, "in_type": I3}, 1),
    "k1": ((3, 3, 2), {"kernel": 1}, 2),
    "k1-stride2": ((5, 4, 2), {"kernel": 1, "stride": 2}, 1),
    "k5-pad2": ((6, 5, 2), {"kernel": 5, "pad": 2}, 2),
    "k3-pad1-u8": ((3, 4, 3), {"kernel": 3, "pad": 1, "in_type": U8}, 3),
    "k3-tall": ((7, 3, 1), {"kernel": 3, "pad": 1}, 1),
    "k3-1row": ((1, 6, 2), {"kernel": 3, "pad": 1}, 2),
    "fc-1x1": ((1, 1, 8), {}, 4),
    # a pad of k or more: whole windows in the padding (nnabla-examples' ResNet pads a 3x3 by 3)
    "k3-pad3": ((4, 5, 2), {"kernel": 3, "pad": 3}, 1),
    "k2-stride2-pad3-i3": ((5, 4, 2), {"kernel": 2, "stride": 2, "pad": 3, "in_type": I3}, 2),
    "k1-pad2": ((3, 3, 2), {"kernel": 1, "pad": 2}, 2),
    # nnabla's per-axis padding: rows and columns padded differently
    "k3-pad0x2": ((4, 5, 2), {"kernel": 3, "pad": (0, 2)}, 2),
    "k2-stride2-pad3x1": ((5, 4, 2), {"kernel": 2, "stride": 2, "pad": (3, 1)}, 1),
    # SIMD spanning taps: reads of several words from as many memories (banks)
    "k3-pad1-c3-simd9": ((5, 5, 3), {"kernel": 3, "pad": 1, "in_type": U8}, 9),
    "k5-c1-simd5": ((8, 7, 1), {"kernel": 5, "in_type": U8}, 5),
    # padding on both sides with stride 2; a row of 14 words in 3 banks (rows padded to 15)
    "k3-stride2-pad1-simd6": ((5, 7, 4), {"kernel": 3, "stride": 2, "pad": 1}, 6),
    "k3-pad0x2-simd6": ((4, 5, 2), {"kernel": 3, "pad": (0, 2)}, 6),
    "k3-pad3-simd3": ((4, 5, 2), {"kernel": 3, "pad": 3}, 3),
    "k3-pad1-c64-simd48": ((4, 3, 64), {"kernel": 3, "pad": 1}, 48),
    "k3-c64-simd96": ((4, 4, 64), {"kernel": 3}, 96),
    "k3-pad1-c64-simd192": ((3, 4, 64), {"kernel": 3, "pad": 1}, 192),
    # ... and spanning kernel rows: several reads gathered into one beat
    "k3-pad1-c3-simd27": ((5, 5, 3), {"kernel": 3, "pad": 1, "in_type": U8}, 27),
    "k5-c1-simd25": ((8, 7, 1), {"kernel": 5, "in_type": U8}, 25),
    "k5-pad2-c1-simd25": ((6, 5, 1), {"kernel": 5, "pad": 2, "in_type": I3}, 25),
    "k3-stride2-pad1-simd18": ((5, 7, 4), {"kernel": 3, "stride": 2, "pad": 1}, 18),
    "k3-pad1-c64-simd288": ((3, 3, 64), {"kernel": 3, "pad": 1}, 288),
    "k2-stride2-simd4": ((4, 6, 1), {"kernel": 2, "stride": 2}, 4),
    "k4-pad1-simd16": ((6, 7, 2), {"kernel": 4, "pad": 1}, 16),     # 2 of 4 kernel rows a read
    # a line buffer that may be block RAM (64 x 32 bits): its read registered before the muxes
    "k3-pad1-c32-simd32": ((6, 16, 32), {"kernel": 3, "pad": 1}, 32),
}


def _layer(key, seed=0):
    shape, options, simd = CONFIGS[key]
    return matrix_layer(seed, shape, 4, name=key.replace("-", "_"), **options), simd


# tap-spanning cases whose kind of read a quicker case covers: the slow tier
SLOW_GOLDEN = {"k5-c1-simd5", "k3-pad0x2-simd6", "k3-pad3-simd3", "k3-pad1-c64-simd48", "k3-c64-simd96",
               "k3-pad1-c64-simd192", "k3-pad1-c3-simd27", "k5-c1-simd25", "k2-stride2-simd4"}


@pytest.mark.parametrize("key", [pytest.param(key, marks=pytest.mark.slow) if key in SLOW_GOLDEN else key
                                 for key in sorted(CONFIGS)])
def test_swu_matches_golden(key):
    layer, simd = _layer(key)
    case = swu_case(layer, simd, frames=3, seed=1)
    for seed, (valid, ready) in enumerate([(0.5, 0.9), (0.9, 0.4), (0.7, 0.7)]):
        run_case(case, Traffic(seed=seed, valid_prob=valid, ready_prob=ready))
    run_case(case, Traffic())


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_swu_random_configs(seed):
    """Random legal kernels, strides, paddings, shapes, types and SIMD."""
    layer, _, simd = random_config(100 + seed)
    case = swu_case(layer, simd, frames=2, seed=seed)
    run_case(case, Traffic(seed=seed, valid_prob=0.7, ready_prob=0.6))
    run_case(case, Traffic())


@pytest.mark.parametrize("key", ["k3-pad1", "k3-nopad", "k3-stride2-pad1", "k3-stride2-drop",
                                 "k5-pad2", "k3-1row", "k3-pad3", "k3-pad1-c64-simd48",
                                 "k5-pad2-c1-simd25", "k3-pad1-c64-simd288", "k3-pad1-c32-simd32"])
def test_swu_one_read_per_cycle(key):
    """Without back-pressure, once the first window is in, the reader reads a chunk every
    cycle, across frame boundaries too (the next frame's first rows arrive during the last
    window row): a beat leaves every ``gather`` cycles."""
    layer, simd = _layer(key)
    case = swu_case(layer, simd, frames=3)
    gather = case.component.reads.gather
    assert set(np.diff(run_case(case, Traffic()).out_cycles).tolist()) == {gather}


# writer-bound, nearly balanced, gathered, whole-window reads; the rest in the slow tier
QUICK_PERIODS = {"k2-stride2-simd4", "k3-stride2-pad1-simd6", "k3-pad1-c64-simd288", "k4-pad1-simd16"}


@pytest.mark.parametrize("key", [key if key in QUICK_PERIODS else pytest.param(key, marks=pytest.mark.slow)
                                 for key in sorted(CONFIGS)])
def test_swu_frame_period(key):
    """Without back-pressure, frames follow each other every ``cycles`` of the stage kind, the
    reads or the writes, whichever are more (even when they are nearly equal and the reader
    sometimes waits for the writer within a frame)."""
    layer, simd = _layer(key)
    frames = 5
    case = swu_case(layer, simd, frames=frames)
    out = run_case(case, Traffic()).out_cycles
    periods = np.diff(out[::len(out) // frames])[1:]
    assert set(periods.tolist()) == {kinds.SlidingWindow(layer, simd).cycles}


@pytest.mark.parametrize("key, reads", [
    ("k3-pad1", (3, 1, 1, 3, 1)), ("k3-pad1-c3-simd9", (9, 1, 1, 3, 3)), ("k3-pad1-c3-simd27", (9, 3, 1, 3, 3)),
    ("k5-c1-simd5", (5, 1, 1, 1, 5)), ("k5-c1-simd25", (5, 5, 1, 1, 5)), ("k3-pad1-c64-simd48", (48, 1, 1, 16, 3)),
    ("k3-c64-simd96", (96, 1, 1, 32, 3)), ("k3-pad1-c64-simd192", (192, 1, 1, 64, 3)),
    ("k3-pad1-c64-simd288", (96, 1, 3, 32, 3)), ("k3-stride2-pad1-simd18", (6, 1, 3, 2, 3)),
    ("k4-pad1-simd16", (8, 2, 1, 2, 4))])
def test_swu_reads(key, reads):
    """(chunk, rows, gather, word, banks): a chunk is the largest run of one kernel row a beat is
    made of, from words of as many channels as divide both it and the channels; a read takes a
    beat's whole kernel rows at once, or one chunk of a beat that splits them."""
    layer, simd = _layer(key)
    r = SlidingWindow(layer, simd).reads
    assert (r.chunk, r.rows, r.gather, r.word, r.banks) == reads


def test_swu_registers_a_block_ram_read():
    """Only a line buffer that either family may put in block RAM pays the register stage."""
    registered = {key for key in CONFIGS if kinds.window.read_registered(*_layer(key))}
    assert registered == {"k3-pad1-c32-simd32"}
    layer, simd = _layer("k3-pad1-c32-simd32")
    assert kinds.window.line_buffer(layer, simd) == (64, 32)
    assert SlidingWindow(layer, simd).latency == SlidingWindow.latency_of(1, False) + 1


@pytest.mark.rtl
@pytest.mark.parametrize("key, period", [("k3-stride2-pad1-simd18", 72), ("k5-pad2-c1-simd25", 30)])
def test_swu_rtl_spanning_taps(key, period):
    """Verilator, with back-pressure, then without at the stage kind's frame period: SIMD 18 over
    a 3x3 window of 4 channels with stride 2 and padding on every side (chunks of 3 words from 3
    banks, 3 reads per beat; 70 input beats, 72 reads a frame); SIMD 25 over a 5x5 window of one
    channel padded by 2 (5 rows of 5 banks read at once: 30 beats in, 30 windows out)."""
    layer, simd = _layer(key)
    frames = 4
    case = swu_case(layer, simd, frames=frames, seed=7)
    run_case(case, Traffic(seed=8, valid_prob=0.6, ready_prob=0.7), rtl_name="swu_" + key.replace("-", "_"))
    out = run_case(case, Traffic(), rtl_name="swu_" + key.replace("-", "_")).out_cycles
    assert np.diff(out[::len(out) // frames])[1:].tolist() == [period] * 2
    assert kinds.SlidingWindow(layer, simd).cycles == period


@pytest.mark.rtl
def test_swu_rtl_stride2_signed():
    """Verilator: stride 2 with padding on signed 3-bit data, three frames back to back, with
    random valid gaps and back-pressure, then without (one beat per cycle throughout)."""
    layer = matrix_layer(0, (7, 6, 4), 4, kernel=3, stride=2, pad=1, in_type=I3, name="swu")
    case = swu_case(layer, 2, frames=3, seed=5)
    run_case(case, Traffic(seed=6, valid_prob=0.6, ready_prob=0.7), rtl_name="swu_stride2")
    cycles = run_case(case, Traffic(), rtl_name="swu_stride2").out_cycles
    assert set(np.diff(cycles).tolist()) == {1}


@pytest.mark.parametrize("shape, options, simd, match", [
    ((4, 4, 4), {"kernel": 3}, 5, "SIMD"),
    ((4, 4, 4), {"kernel": 3, "pad": -1, "last": True}, 2, "padding"),
])
def test_swu_rejects(shape, options, simd, match):
    layer = matrix_layer(0, shape, 2, **options)
    with pytest.raises(ValueError, match=match):
        SlidingWindow(layer, simd)


def test_swu_rejects_inconsistent_shape():
    layer = matrix_layer(0, (4, 4, 2), 2, kernel=3)
    layer.out_shape = ir.Shape(4, 4, 2)
    with pytest.raises(ValueError, match="does not follow"):
        SlidingWindow(layer, 2)
