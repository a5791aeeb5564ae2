"""The analytic resource model against its yosys calibration (bench/calibration.json).

The cached sweep needs no yosys; one small MVTU is synthesized live (about 10 s) so a change in
the hardware or in yosys that the cache hides still shows up.
"""
import dataclasses
import statistics

import pytest

from finngen.board import boards
from finngen.compile import folding, kinds, pipeline, resources
from finngen import ir
from finngen.compile.folding import Fold
from finngen.compile.kinds.matrix import memory_styles, weight_slices
from finngen.compile.resources import Resources
from finngen.sim.layers import matrix_layer

from bench import calibrate_resources as calib

POINTER = resources.LUT["fifo_pointer"]     # LUTs per FIFO pointer bit, fitted


@pytest.fixture(scope="module")
def measured():
    cache = calib.load_cache()
    return cache, {key: calib.summarize(entry["cells"]) for key, entry in cache["configs"].items()}


def test_cache_covers_the_sweep(measured):
    cache, results = measured
    assert set(calib.SWEEP) | set(calib.VALIDATION) <= set(results)
    assert [m["spec"] for m in cache["memories"]] == [list(s) for s in calib.MEMORIES]


def _errors(measured, configurations):
    _, results = measured
    errors = {}
    for key, (kind, subject, _) in configurations.items():
        y, m = results[key], calib.model(kind, subject).rounded()
        errors[key] = (abs(calib.rel(m.lut, y["lut"])), abs(calib.rel(m.ff, y["ff"])), m, y)
    return errors


def test_sweep_within_documented_error(measured):
    """The shipped model on every calibrated component: median relative LUT error, BRAM36 per
    stage, no DSP."""
    errors = _errors(measured, calib.SWEEP)
    for key, (_, _, m, y) in errors.items():
        assert abs(m.bram36 - y["bram36"]) <= calib.MAX_BRAM36_ERROR, (key, m, y)
        assert m.dsp == y["dsp"] == 0, key
    assert statistics.median(e[0] for e in errors.values()) <= calib.MEDIAN_LUT_ERROR, errors


def test_validation_within_documented_error(measured):
    """Not fitted: two whole accelerators (FIFOs and top level included) and a low-SIMD pair:
    every block RAM where the model puts it."""
    for key, (_, _, m, y) in _errors(measured, calib.VALIDATION).items():
        assert m.bram36 == y["bram36"], (key, m, y)


def test_worst_case_within_documented_error(measured):
    """Every calibrated component within the worst-case LUT bound, and the whole accelerators
    of the validation within the median LUT bound."""
    errors = _errors(measured, calib.SWEEP)
    assert max(e[0] for e in errors.values()) <= calib.MAX_LUT_ERROR, errors
    for key, (lut, _, m, y) in _errors(measured, calib.VALIDATION).items():
        if key.startswith("accelerator"):
            assert lut <= calib.MEDIAN_LUT_ERROR, (key, m, y)


def test_worst_case_flip_flops_within_documented_error(measured):
    """Every calibrated component within the worst-case FF bound."""
    errors = _errors(measured, calib.SWEEP)
    assert max(e[1] for e in errors.values()) <= calib.MAX_FF_ERROR, errors


def test_shipped_coefficients_are_the_fit(measured):
    """resources.LUT is what the calibration fits from the cached data (refit and paste)."""
    _, results = measured
    fitted = calib.fit(results)
    for name, value in fitted.items():
        assert value == pytest.approx(resources.LUT[name], abs=0.01), name


def test_memory_mapping_rule(measured):
    """The model's LUT-versus-BRAM decision and block count agree with yosys memory_libmap."""
    cache, _ = measured
    for entry in cache["memories"]:
        kind, depth, width = entry["spec"]
        assert calib.model_memory(kind, depth, width) == calib.yosys_mapping(entry["cells"]), entry


@pytest.mark.synth
def test_live_yosys_small_mvtu():
    key = "mvtu fc 64x64 PE4 SIMD16"
    kind, stage, build = calib.SWEEP[key]
    y = calib.summarize(calib.synthesize(build())[0])
    m = stage.resources().rounded()
    assert abs(calib.rel(m.lut, y["lut"])) <= calib.MAX_LUT_ERROR, (m, y)
    assert abs(calib.rel(m.ff, y["ff"])) <= calib.MAX_FF_ERROR, (m, y)
    assert m.bram36 == y["bram36"] and m.dsp == y["dsp"]


LAYERS = {
    "fc": (((1, 1, 256), 256), {}),
    "fc-wide": (((1, 1, 1024), 512), {}),
    "conv-pad": (((8, 8, 64), 64), {"kernel": 3, "pad": 1}),
    "conv-u8": (((32, 32, 3), 64), {"kernel": 3, "in_type": ir.DataType(8)}),
    "fc-last": (((1, 1, 64), 10), {"last": True}),
}


@pytest.mark.parametrize("name", LAYERS)
def test_more_parallelism_more_luts(name):
    """More PEs or more SIMD lanes cost more LUTs, from SIMD 4 and PE 2 up, between folds whose
    memories sit in the same places (a ROM that moves to block RAM as it widens takes its LUTs
    with it). Below that the deep threshold ROMs and the replay buffer, which shrink as the
    folds do, outweigh the tiny datapath, and the model can dip by a few percent
    (docs/calibration.md). SIMDs that span kernel taps are left out: at those a weight ROM can
    fit a block RAM's aspect ratio exactly (2048 x 9) where a smaller SIMD's does not (2304 x 8),
    and LUTs fall as the ROM leaves logic. Nor are folds whose weights are read in different
    numbers of block RAM slices compared: joining 128 slices of 8 bits (``fc-wide`` at PE 2,
    SIMD 4) takes more muxes than joining 64 of 16 (SIMD 8)."""
    args, kw = LAYERS[name]
    layer = matrix_layer(0, *args, **kw)

    def luts(pe, simd):
        return ((memory_styles(layer, pe, simd), weight_slices(layer, pe, simd)),
                calib.matrix_stage(layer, pe, simd).resources().lut)

    def rising(row):
        return all(a[1] < b[1] for a, b in zip(row, row[1:]) if a[0] == b[0])

    pes = folding.divisors(layer.out_channels)
    simds = folding.divisors(layer.in_shape.channels if layer.is_conv else layer.fan_in)
    for simd in (s for s in simds if s >= 4):
        row = [luts(pe, simd) for pe in pes if pe >= 2]
        assert rising(row), (simd, row)
    for pe in (p for p in pes if p >= 2):
        row = [luts(pe, simd) for simd in simds if simd >= 4]
        assert rising(row), (pe, row)


def test_bram_of_packed_words_from_aspect_ratios():
    """The weights of all PEs are one memory: 512 words of 16 x 64 bits fill 29 RAMB18 (512 x 36;
    one 512 x 64 memory per PE took a RAMB36 each, 16), 2048 words of 2 x 8 bits one RAMB36
    (2K x 18; per PE, a RAMB18 each). yosys measured the first (bench/calibration.json)."""
    wide = matrix_layer(0, (1, 1, 1024), 512)
    assert calib.matrix_stage(wide, 16, 64).resources().bram36 == 14.5
    deep = matrix_layer(0, (1, 1, 256), 128)
    assert memory_styles(deep, 2, 8) == ("block", "logic")
    assert calib.matrix_stage(deep, 2, 8).resources().bram36 == 1
    assert resources.memory(128, 32, rom=True).bram36 == 0          # logic: cheaper for yosys
    assert resources.memory(1023, 32).bram36 == 1                   # a RAM: RAMB36 1K x 36


def test_fifo_by_hand():
    """A 16-bit FIFO of 32 beats: a 31 x 16 memory is three RAM32M (32 x 6 each, 4 LUTs) with a
    16-bit read register; its two 5-bit pointers and level counter are 5 x `fifo_pointer` LUTs and
    3 x 5 + 1 FFs. yosys: 38 LUTs, 32 FFs (bench/calibration.json, "fifo 16x32")."""
    assert kinds.Fifo(16, 32).resources() == Resources(lut=12 + 5 * POINTER, ff=16 + 16)


def test_block_ram_fifo_by_hand():
    """LFC's FIFO after its first matrix unit, 2048 beats of 1 bit: block RAM (a 16K x 1
    RAMB18), so it reads through two registers into a tail. A SyncFIFOBuffered of 2043 beats (a
    2042-word memory, 11-bit pointers and level: 3 x 11 + 1 FFs, 11 x `fifo_pointer` LUTs), the
    registers and their valid flags (4 FFs), the free count (3 FFs, 3 LUTs), and a 5-beat tail
    FIFO (4 bits in flip-flops read through 3 LUTs, its read register, 3-bit pointers and level:
    15 FFs, 3 x `fifo_pointer` LUTs). yosys synth_xilinx on StreamFIFO(1, 2048): 74 LUTs, 54 FFs,
    one RAMB18."""
    fifo = kinds.Fifo(1, 2048)
    assert fifo.registered and not kinds.Fifo(16, 32).registered and not kinds.Fifo(1, fifo.TAIL).registered
    assert fifo.resources() == Resources(lut=3 + 11 * POINTER + 3 + 3 * POINTER, ff=34 + 4 + 3 + 15, bram36=0.5)


def test_chain_estimate_by_hand():
    """Two FC layers 16 -> 8 (PE 8, SIMD 16) -> 4 (the last, PE 4, SIMD 8): one output beat per
    frame on either side. The FIFO between them holds bursts of one beat: depth 4, a 3 x 8 LUT
    RAM (two RAM32M, 8 LUTs) with its read register (8 FFs), 2-bit pointers (2 x `fifo_pointer` LUTs,
    7 FFs). The top level counts the last unit's single output beat: a 0-bit counter."""
    first = matrix_layer(1, (1, 1, 16), 8, name="fc0")
    last = matrix_layer(2, (1, 1, 8), 4, last=True, name="fc1")
    net = ir.Network("n", ir.InputSpec("x", (16,), ir.BIPOLAR), [first, last], ir.OutputSpec("y", (4,)))
    chain = pipeline.stages(net, {"fc0": Fold(8, 16), "fc1": Fold(4, 8)})
    total, per_stage = pipeline.estimate(chain)
    assert per_stage[0] == chain[0].resources()
    fifo = per_stage[1] + (-1) * chain[1].resources()
    assert fifo.lut == pytest.approx(8 + 2 * POINTER) and fifo.ff == 8 + 7
    assert dataclasses.asdict(total) == pytest.approx(dataclasses.asdict(per_stage[0] + per_stage[1]))


def test_top_level_counter_by_hand():
    """A last unit with PE 2 on 10 outputs gives 5 beats per frame: a 3-bit beat counter, 2 LUTs
    and 1 FF per bit."""
    layer = matrix_layer(1, (1, 1, 64), 10, last=True, name="fc")
    net = ir.Network("n", ir.InputSpec("x", (64,), ir.BIPOLAR), [layer], ir.OutputSpec("y", (10,)))
    chain = pipeline.stages(net, {"fc": Fold(2, 16)})
    total, per_stage = pipeline.estimate(chain)
    extra = total + (-1) * per_stage[0]
    assert extra.lut == pytest.approx(6) and extra.ff == 3


def test_resources_arithmetic_and_fit():
    a, b = Resources(100, 50, 1.5, 0), Resources(10.4, 5, 0.5, 2)
    assert a + b == Resources(110.4, 55, 2.0, 2)
    assert sum([a, b]) == a + b
    assert 2 * b == Resources(20.8, 10, 1.0, 4)
    assert (a + b).rounded() == Resources(110, 55, 2.0, 2)
    assert Resources(bram36=1.2).rounded().bram36 == 1.5        # whole RAMB18s
    assert dataclasses.asdict(a) == {"lut": 100, "ff": 50, "bram36": 1.5, "dsp": 0}
    board = {"lut": 1000, "ff": 1000, "bram36": 2, "dsp": 1}
    assert a.utilisation(board) == {"lut": 0.1, "ff": 0.05, "bram36": 0.75, "dsp": 0}
    assert a.fits(board) and not (a + b).fits(board)            # 2 DSPs of 1
    pynq = boards.load("pynq-z1")
    assert a.fits(pynq) and a.fits(pynq.resources)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.lut = 1


def test_weight_slices_take_no_more_blocks():
    """A matrix unit reads weights deeper than a column of blocks in 512-word slices side by
    side (finngen.hw.mvtu, for timing): as many blocks as the memory unsliced, on any shape."""
    for width in [*range(1, 80), 96, 128, 256, 1024]:
        for depth in (513, 600, 1024, 1500, 2048, 3000, 4096, 9216, 18432, 20000, 32768):
            if depth > resources.column_depth(width):
                slices = -(-depth // resources.SLICE_DEPTH)
                assert resources.bram36(resources.SLICE_DEPTH, slices * width) == \
                    resources.bram36(depth, width), (depth, width)
