"""The planner plans the pipeline that will be built: budgets, ``--fps max``, FIFO depths and
the board's limits, with the regressions of issues 10.2 (a pool on the input), 11.2 (a padded
3x3 convolution on a 1x1 map) and 11.3 (the AXI DMA width).

Expected values are worked out by hand in the comments. Only the tests marked ``rtl`` run a
simulator: one verified build per regression that needs the RTL.
"""
import dataclasses
import json

import pytest
import yaml

import planner_models
from examples_models import MODELS
from finngen import cli, ir
from finngen.board import boards
from finngen.compile import folding, kinds, pipeline, planner
from finngen.compile.folding import Fold
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline
from finngen.sim.layers import matrix_layer, pool_layer

PYNQ = planner.Limits.of(boards.load("pynq-z1"))
U4, U8 = ir.DataType(4), ir.DataType(8)


def _network(in_shape, in_type, layers):
    h, w, c = in_shape
    return ir.Network("n", ir.InputSpec("x", (c, h, w), in_type), layers,
                      ir.OutputSpec("y", (layers[-1].out_shape.size,)))


def _example(name):
    return streamline(nnp.read(MODELS / f"{name}.nnp"), U8)


def _pool_then_1x1():
    """Issue 10.2: 16x32x32 4-bit input -> 2x2 max pool -> 1x1 convolution 16 -> 8 (scores)."""
    return _network((32, 32, 16), U4, [pool_layer((32, 32, 16), 2, U4, name="pool"),
                                       matrix_layer(1, (16, 16, 16), 8, in_type=U4, last=True, name="conv")])


def _small_cnn():
    """u8 8x8x3 -> 3x3 pad 1 conv 16 -> pool 2 -> 3x3 conv 32 -> fc 10."""
    layers = [matrix_layer(1, (8, 8, 3), 16, kernel=3, pad=1, in_type=U8, name="conv0"),
              pool_layer((8, 8, 16), 2, name="pool0"),
              matrix_layer(2, (4, 4, 16), 32, kernel=3, name="conv1"),
              matrix_layer(3, (1, 1, 128), 10, last=True, name="fc")]
    return _network((8, 8, 3), U8, layers)


# -- plans and budgets -------------------------------------------------------------------------

def test_small_cnn_floor_and_plans_meet_budgets():
    """The input sets the floor: 64 pixels of 3 channels, a beat each. conv0's window reads a
    whole 3x3x3 window per cycle (3 kernel rows at once), 64 reads, and its unit at PE 16,
    SIMD 27 takes 64 x 1 x 1 = 64 cycles; at 192 cycles SIMD 9 (a kernel row per read) will do."""
    net = _small_cnn()
    assert planner.plan(net, 63) is None
    assert planner.plan(net, 64)["conv0"] == Fold(16, 27)
    assert planner.plan(net, 192)["conv0"] == Fold(16, 9)
    for budget in (64, 192, 576, 1000, 2000, 5000, 20000):
        chain = pipeline.stages(net, planner.plan(net, budget))
        assert all(stage.cycles <= budget for stage in chain), budget
    # the loosest budget: conv0 at PE 1, SIMD 1 takes 64 x 16 x 27 = 27,648 cycles, the most of
    # any fold of any layer
    assert planner.budgets(net)[-1] == 27648
    assert planner.plan(net, 27648)["conv0"] == Fold(1, 1)


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn", pytest.param("lfc_w1a1", marks=pytest.mark.slow)])
def test_luts_never_rise_as_the_budget_loosens(name):
    """Any plan meeting a budget meets every looser one, so the cheapest plan's LUTs (the
    planner's cost, which is the whole estimate's) can only fall."""
    net = _example(name)
    luts = [pipeline.estimate(pipeline.stages(net, folds))[0].lut for _, folds in planner.plans(net)]
    assert len(luts) > 10 and all(a >= b for a, b in zip(luts, luts[1:])), luts


def test_ff_and_bram_can_rise_so_fps_max_does_not_bisect():
    """The monotonicity a bisection over the budgets would assume fails for block RAM: digits_mlp's
    cheapest plan at 320 cycles keeps its weight ROMs in logic, at 512 cycles they are deep
    enough for block RAM (4.5 BRAM36). On a board with one BRAM36 the budgets that fit are
    16 to 320 but none slower, and --fps max still finds 16."""
    net = _example("digits_mlp")
    one_bram = dataclasses.replace(boards.load("pynq-z1"), resources={"lut": 53200, "ff": 106400, "bram36": 1, "dsp": 220})
    board = planner.Limits.of(one_bram)
    at = {b: pipeline.estimate(pipeline.stages(net, planner.plan(net, b)))[0] for b in (320, 512)}
    assert at[320].bram36 == 0 and at[512].bram36 == 4.5
    fitting = [b for b, folds in planner.plans(net, board) if board.fits(pipeline.stages(net, folds))]
    assert fitting[0] == 16 and 320 in fitting and 512 not in fitting and fitting[-1] == 320
    assert planner.fastest(net, board)[0] == 16


def test_fastest_on_the_pynq_z1():
    """The examples' --fps max on the PYNQ-Z1: a plan one budget faster does not fit. (digits_cnn
    takes its 8x8 one-channel image at a pixel per cycle, 64 cycles, its first window a whole
    3x3 window per cycle; with SIMD confined to the channels, a tap per cycle, it took 576.)"""
    for name, expected in (("digits_mlp", 16), ("digits_cnn", 64)):
        net = _example(name)
        budget, folds = planner.fastest(net, PYNQ)
        assert budget == expected and PYNQ.fits(pipeline.stages(net, folds))
        faster = planner.budgets(net)[planner.budgets(net).index(budget) - 1]
        plan = planner.plan(net, faster, PYNQ)
        assert plan is None or not PYNQ.fits(pipeline.stages(net, plan))


def test_idle_block_ram_takes_weights_while_luts_are_scarcer():
    """CNV-W1A1 at 10,368 cycles per frame (--fps 9000) on the PYNQ-Z1. The rule alone leaves
    the wide convolutions' weights in LUTs (45 of 140 BRAM36 used, LUTs the larger share);
    placing moves conv3's (96 words of 1,536 bits: 21.5 BRAM36), conv0's (9 words of 192 bits: 3)
    and the last layer's into block RAM, each move lowering the larger share, and stops before
    block RAM becomes it."""
    net = _example("cnv_w1a1")
    by_rule = planner._Planner(net, PYNQ).plan(10368)
    placed = planner.plan(net, 10368, PYNQ)
    assert {name: (f.pe, f.simd) for name, f in placed.items()} == \
        {name: (f.pe, f.simd) for name, f in by_rule.items()}
    moved = sorted(name for name, f in placed.items() if f.weights == "block")
    assert moved == ["@cnv_w1a1/BinaryConnectAffine_2", "@cnv_w1a1/BinaryConnectConvolution",
                     "@cnv_w1a1/BinaryConnectConvolution_3"]
    before, after = (pipeline.estimate(pipeline.stages(net, f))[0] for f in (by_rule, placed))
    share = {key: [getattr(r, key) / PYNQ.board.resources[key] for r in (before, after)] for key in ("lut", "bram36")}
    assert after.lut < before.lut and after.bram36 == before.bram36 + 25
    assert max(share["lut"][1], share["bram36"][1]) < share["lut"][0]
    # one move more (conv2's weights) would make block RAM the larger share than now
    more = {**placed, "@cnv_w1a1/BinaryConnectConvolution_2":
            dataclasses.replace(placed["@cnv_w1a1/BinaryConnectConvolution_2"], weights="block")}
    assert pipeline.estimate(pipeline.stages(net, more))[0].bram36 / 140 > max(share["lut"][1], share["bram36"][1])


def test_deep_weights_take_block_ram_while_the_board_fits():
    """CNV-W1A1 at 28,800 cycles per frame (--fps 3000's plan before this rule) on the PYNQ-Z1.
    The rule leaves conv2's weights (192 words) and the last layer's (1,280) in logic, with
    block RAM already the larger share; both still move to block RAM, as a ROM in logic deeper
    than planner.LOGIC_ROM_WORDS sets the clock. With 52 BRAM36 on the board, the last layer's
    weights move and conv2's, which would not fit, stay in logic."""
    net = _example("cnv_w1a1")
    deep = ["@cnv_w1a1/BinaryConnectAffine_2", "@cnv_w1a1/BinaryConnectConvolution_2"]
    by_rule = planner._Planner(net, PYNQ).plan(28800)
    in_logic = {s.layer.name: s.weight_words for s in pipeline.stages(net, by_rule)
                if isinstance(s, kinds.MatrixUnit) and s.memory_styles[0] == "logic"}
    assert [in_logic[name] for name in deep] == [1280, 192]
    before = pipeline.estimate(pipeline.stages(net, by_rule))[0]
    assert before.bram36 / 140 > before.lut / 53200
    placed = planner.plan(net, 28800, PYNQ)
    assert sorted(name for name, f in placed.items() if f.weights == "block") == deep
    chain = pipeline.stages(net, placed)
    assert PYNQ.fits(chain) and all(s.weight_words <= planner.LOGIC_ROM_WORDS for s in chain
                                    if isinstance(s, kinds.MatrixUnit) and s.memory_styles[0] == "logic")
    small = planner.Limits.of(dataclasses.replace(PYNQ.board, resources={**PYNQ.board.resources, "bram36": 52}))
    kept = planner.plan(net, 28800, small)
    assert [kept[name].weights for name in deep] == ["block", None] and small.fits(pipeline.stages(net, kept))


# -- FIFO depths ---------------------------------------------------------------------------------

def test_fifo_depths_absorb_the_bursts():
    """Twice the larger burst on either side, at least 4, a power of two. In the small CNN at
    conv0 PE 4 SIMD 3, conv1 PE 8 SIMD 8, fc PE 2 SIMD 16:
    window0 -> mvtu0: a window gives a pixel's 27 taps / 3 = 9 beats, the unit takes 9: 32;
    mvtu0 -> pool0: 16 / PE 4 = 4 beats per pixel out, the pool takes a pixel's 16 / 4: 8;
    pool0 -> dwc0: the pool gives an output row, 4 pixels x 4 beats = 16: 32;
    dwc0 -> window1: 256 / 8 = 32 beats for conv1's 4 output pixels (8), the window takes 2: 16;
    window1 -> mvtu1: 144 / 8 = 18 both sides: 64;
    mvtu1 -> dwc1: 32 / 8 = 4 out; the converter takes the fc's whole 128 / 8 = 16 beats: 32;
    dwc1 -> mvtu2: 128 / 16 = 8 both sides: 16.
    Widths: the padded window beat carries a mask bit per lane (3 x 8 + 3), the last unit
    2 lanes of its sums."""
    net = _small_cnn()
    chain = pipeline.stages(net, {"conv0": Fold(4, 3), "conv1": Fold(8, 8), "fc": Fold(2, 16)})
    assert pipeline.labels(chain) == ["swu0", "mvtu0", "pool0", "dwc0", "swu1", "mvtu1", "dwc1", "mvtu2"]
    fifos = pipeline.fifos(chain)
    assert [f.depth for f in fifos] == [32, 8, 32, 16, 64, 32, 16]
    assert [f.width for f in fifos] == [27, 4, 4, 8, 8, 8, 16]
    assert chain[-1].payload_bits == 2 * net.layers[-1].acc_bits


# -- issue 10.2: a pool on the raw input ---------------------------------------------------------

def test_pool_on_the_input_gets_the_lanes_the_budget_needs():
    """--fps 80000 at 100 MHz allows 1,250 cycles. The pool reads 32 x 32 x 16 elements, so it
    needs 16 lanes (1,024 cycles; 8 lanes took 2,048, i.e. 48,828 FPS). The convolution needs
    256 pixels x 8 x 16 / 1,250 = 26.2, so 32 MAC lanes, which take exactly 1,024 cycles."""
    net = _pool_then_1x1()
    folds = planner.plan(net, 1250, PYNQ)
    chain = pipeline.stages(net, folds)
    assert folds["pool"] == Fold(16, 16)
    assert pipeline.cycles_per_frame(chain) == 1024
    conv = [s for s in chain if s.mac_lanes][0]
    assert conv.mac_lanes == 32 and conv.cycles == 1024
    # --fps max: the pool at all 16 channels sets the pace; the convolution is not given more
    # than that pace needs
    budget, folds = planner.fastest(net, PYNQ)
    chain = pipeline.stages(net, folds)
    assert budget == 1024 and folds["pool"] == Fold(16, 16)
    assert [s for s in chain if s.mac_lanes][0].mac_lanes == 32


def test_folding_file_names_the_input_pool(tmp_path):
    net = _pool_then_1x1()
    folds = planner.plan(net, 1250)
    path = tmp_path / "folding.yaml"
    path.write_text(folding.dump(net, folds))
    assert yaml.safe_load(path.read_text())["layers"] == {"pool": {"pe": 16}, "conv": {"pe": folds["conv"].pe,
                                                                                       "simd": folds["conv"].simd}}
    assert folding.load(path, net) == folds
    path.write_text("layers: {pool: {pe: 5}, conv: {pe: 1, simd: 1}}\n")
    with pytest.raises(folding.UsageError, match="PE 5 does not divide its 16 channels"):
        folding.load(path, net)
    path.write_text("layers: {conv: {pe: 1, simd: 1}}\n")
    with pytest.raises(folding.UsageError, match=r"'pool' needs \{pe: P\}"):
        folding.load(path, net)


def test_folding_file_places_weights(tmp_path):
    """``weights: block`` (or ``logic``) in a folding file places a layer's weight memory; the
    planner writes it where it moves weights into idle block RAM."""
    net = _pool_then_1x1()
    folds = {"pool": Fold(16, 16), "conv": Fold(2, 4, "block")}
    path = tmp_path / "folding.yaml"
    path.write_text(folding.dump(net, folds))
    assert yaml.safe_load(path.read_text())["layers"]["conv"] == {"pe": 2, "simd": 4, "weights": "block"}
    assert folding.load(path, net) == folds
    assert pipeline.stages(net, folds)[-1].details()["weights"] == "block"
    path.write_text("layers: {pool: {pe: 16}, conv: {pe: 2, simd: 4, weights: bram}}\n")
    with pytest.raises(folding.UsageError, match="weights: 'bram' is not a place for its weights"):
        folding.load(path, net)


def test_folding_file_simd_spans_taps(tmp_path):
    """Issue 17.2: a convolution's SIMD is any divisor of its k * k * C window elements; the
    refusal names the fan-in and what it is made of."""
    net = _small_cnn()
    path = tmp_path / "folding.yaml"
    path.write_text("layers: {conv0: {pe: 16, simd: 27}, conv1: {pe: 4, simd: 72}, fc: {pe: 5, simd: 4}}\n")
    assert folding.load(path, net)["conv0"] == Fold(16, 27)
    assert pipeline.cycles_per_frame(pipeline.stages(net, folding.load(path, net))) == 64
    path.write_text("layers: {conv0: {pe: 16, simd: 6}, conv1: {pe: 4, simd: 72}, fc: {pe: 5, simd: 4}}\n")
    with pytest.raises(folding.UsageError, match=r"SIMD 6 does not divide its fan-in 27 \(3x3 taps x 3 channels\)"):
        folding.load(path, net)


# -- issue 11.3: the AXI DMA width -----------------------------------------------------------------

def test_dma_width_is_part_of_the_fit():
    """A 1x12x12 uint8 image into a 144 -> 2 affine layer: SIMD 144 would need a 1,152-bit input
    stream, more than the 1,024 an AXI DMA carries. The fastest buildable design is PE 2,
    SIMD 72 (576 bits), at 1 x 2 = 2 cycles per frame. (Its weights, 2 words of 144 bits, go to
    the idle block RAM: the design is all LUTs.)"""
    net = _network((12, 12, 1), U8, [matrix_layer(1, (1, 1, 144), 2, in_type=U8, last=True, name="fc")])
    assert planner.plan(net, 1) == {"fc": Fold(2, 144)}     # what fits a board without the DMA
    assert planner.plan(net, 1, PYNQ) is None
    assert planner.fastest(net, PYNQ) == (2, {"fc": Fold(2, 72, "block")})


@pytest.fixture(scope="module")
def regressions(tmp_path_factory):
    root = tmp_path_factory.mktemp("regressions")
    return lambda name: planner_models.make(name, root)


def _build(path, out, *args):
    code = cli.main(["build", str(path), "--board", "pynq-z1", "--out", str(out), *args])
    report = json.loads((out / "report.json").read_text()) if code == 0 else None
    return code, report


@pytest.mark.parametrize("fps", ["max", "50000000"])
def test_dma_width_build(regressions, tmp_path, capsys, fps):
    code, report = _build(regressions("affine_144"), tmp_path / "b", "--fps", fps, "--verify", "0")
    assert code == 0, capsys.readouterr().err
    assert report["predicted"]["cycles_per_frame"] == 2
    assert report["interface"]["in_width"] == 576
    assert yaml.safe_load((tmp_path / "b" / "folding.yaml").read_text())["layers"] == \
        {"@affine_144/BinaryConnectAffine": {"pe": 2, "simd": 72, "weights": "block"}}


def test_pool_on_the_input_build(regressions, tmp_path, capsys):
    code, report = _build(regressions("pool_then_1x1"), tmp_path / "b", "--fps", "80000", "--input-bits", "4",
                          "--verify", "0")
    err = capsys.readouterr().err
    assert code == 0 and "warning" not in err, err
    assert report["predicted"]["fps"] >= 80000


# -- issue 11.2: a padded 3x3 convolution on a 1x1 map -------------------------------------------

def test_padded_conv_on_one_pixel_reads_through_a_window():
    """The matrix unit of a padded 3x3 convolution expects 9 masked taps per pixel, also on a
    1x1 map: the window unit makes them (8 of them padding)."""
    first = matrix_layer(1, (1, 1, 8), 8, kernel=3, pad=1, in_type=U8, name="conv")
    net = _network((1, 1, 8), U8, [first, matrix_layer(2, (1, 1, 8), 4, last=True, name="fc")])
    chain = pipeline.stages(net, planner.plan(net, 100))
    assert [s.kind for s in chain][:2] == ["window", "matrix"]
    assert chain[0].beats_out == 9 * 8 // chain[0].lanes_out


# -- the regressions in RTL ------------------------------------------------------------------------

RTL_CASES = {
    # model: (build arguments, frames per second it must reach at 100 MHz)
    "pool_then_1x1": (["--fps", "80000", "--input-bits", "4"], 80000),
    "affine_144": (["--fps", "max"], 50e6),
    "conv3_on_1x1_hidden": (["--fps", "max"], None),
    "conv3_on_1x1_first": (["--fps", "max"], None),
}


@pytest.mark.rtl
@pytest.mark.parametrize("name", sorted(RTL_CASES))
def test_regression_builds_verify_at_the_predicted_speed(regressions, tmp_path, capsys, name):
    """Bit exact against the golden model, and the measured frame period is the prediction."""
    args, fps = RTL_CASES[name]
    code, report = _build(regressions(name), tmp_path / "b", *args, "--verify", "3")
    assert code == 0, capsys.readouterr().err
    verification = report["verification"]
    assert verification["bit_exact"]
    assert verification["sim_cycles_per_frame"] == report["predicted"]["cycles_per_frame"]
    if fps:
        assert report["predicted"]["fps"] >= fps
