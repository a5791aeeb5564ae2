# amaranth: UnusedElaboratable=no
"""Timing: a real place and route of an accelerator, and every component's latency as simulated."""
import json
import math

import pytest

from examples_models import MODELS
from finngen import cli, ir
from finngen.board import timing
from finngen.hw import MVTU
from finngen.hw.mvtu import tree_ranks
from finngen.sim.cases import dwc_case, fifo_case, mvtu_case, pool_case, run_case, swu_case
from finngen.sim.layers import matrix_layer, pool_layer
from finngen.sim.streams import Traffic


@pytest.mark.synth
def test_small_accelerator_meets_100_mhz(tmp_path, capsys):
    """digits MLP through yosys synth_ecp5 and nextpnr-ecp5: 100 MHz met on the LFE5U-85F-6,
    recorded in report.json and report.html with the worst path named by its stages."""
    out = tmp_path / "mlp"
    code = cli.main(["build", str(MODELS / "digits_mlp.nnp"), "--fps", "20000", "--board", "pynq-z1",
                     "--out", str(out), "--verify", "0", "--timing"])
    assert code == 0, capsys.readouterr().err
    t = json.loads((out / "report.json").read_text())["timing"]
    assert t["met"] and t["fmax_mhz"] >= t["clock_mhz"] == 100, t
    assert t["part"] == "LFE5U-85F-6 (CABGA381)"
    assert t["lut4"] > 0 and t["ff"] > 0 and t["dp16kd"] > 0
    stages = [s["name"] for s in json.loads((out / "report.json").read_text())["layers"]]
    assert any(name in t["worst_path"]["from"] for name in stages), t["worst_path"]
    assert "Fmax" in (out / "report.html").read_text()
    # the subcommand reports the same figures on a build made without --timing
    assert cli.main(["timing", str(out)]) == 0
    assert "meets 100 MHz" in capsys.readouterr().out


def test_timing_refuses_a_directory_that_is_not_a_build(tmp_path, capsys):
    assert cli.main(["timing", str(tmp_path)]) == 2
    assert "not a finngen build directory" in capsys.readouterr().err


@pytest.mark.parametrize("board_part, part", [
    ("xc7z020clg400-1", "LFE5U-85F-6 (CABGA381)"),
    ("LFE5U-85F-6BG381C", "LFE5U-85F-6 (CABGA381)"),
    ("LFE5U-45F-8BG256I", "LFE5U-45F-8 (CABGA256)"),
    ("LFE5UM5G-85F-8BG554I", "LFE5UM5G-85F-8 (CABGA554)"),
])
def test_part(board_part, part):
    """ECP5 boards are placed on their own part; every other board on the stand-in."""
    assert timing.part_for(board_part).name == part


def test_worst_path_named_by_stage():
    names = ["window_conv", "matrix_conv", "pool_p"]
    # a FIFO's input register is its producer's output register
    assert timing.describe_cell("accelerator.fifo1.i__payload_TRELLIS_FF_Q_3", names) == \
        "stage 1 matrix_conv output register"
    assert timing.describe_cell("accelerator.s0_window_conv.ahead_TRELLIS_FF_Q_2", names) == \
        "stage 0 window_conv (ahead)"
    assert timing.describe_cell("accelerator.fifo0.fifo.r_rdy_TRELLIS_FF_Q", names) == \
        "FIFO after stage 0 window_conv (fifo.r_rdy)"
    assert timing.describe_cell("m_axis_tvalid", names) == "top level (m_axis_tvalid)"


# -- latency: what each component states against what it does in simulation --------------------

MVTU_CONFIGS = [
    # (in_shape, out_channels, layer options, PE, SIMD): narrow and wide trees, bipolar and
    # integer inputs, with and without thresholds and padding, one and many folds
    ((1, 1, 32), 16, {}, 4, 8),
    ((1, 1, 6), 4, {}, 1, 1),
    ((1, 1, 64), 8, {}, 8, 64),
    ((1, 1, 24), 6, {"last": True}, 2, 4),
    ((1, 1, 12), 6, {"in_type": ir.DataType(8, signed=True), "last": True}, 6, 12),
    ((1, 1, 12), 4, {"in_type": ir.DataType(4)}, 2, 1),
    ((4, 4, 3), 4, {"kernel": 3, "pad": 1}, 2, 3),
    ((3, 3, 16), 4, {"kernel": 3, "pad": 1}, 4, 16),
    ((1, 1, 16), 12, {}, 6, 8),        # threshold memory copies of 4 and 2 PEs
]


def _mvtu_latency(result, mvtu):
    """From the cycle the first pixel's last input beat went in to its first output beat."""
    return result.out_cycles[0] - result.in_cycles[mvtu.synapse_folds - 1]


@pytest.mark.rtl
@pytest.mark.parametrize("config", MVTU_CONFIGS, ids=lambda c: f"{c[0]}-{c[1]}-pe{c[3]}-simd{c[4]}")
def test_mvtu_latency(config):
    """The same latency with the weights in block RAM or in LUTs."""
    shape, out_channels, options, pe, simd = config
    layer = matrix_layer(3, shape, out_channels, name="latency", **options)
    for weights in ("block", "logic"):
        case = mvtu_case(layer, pe, simd, frames=1, weights=weights)
        assert _mvtu_latency(run_case(case, Traffic()), case.component) == case.component.latency, weights


def test_mvtu_depth_follows_the_width():
    """A narrow SIMD adds no tree register; a wider one adds one every two adder levels."""
    def tree_registers(simd, **options):
        return tree_ranks(matrix_layer(0, (1, 1, 64), 2, **options), simd)
    assert [tree_registers(s) for s in (1, 2, 4, 8, 16, 32, 64)] == [0, 0, 1, 1, 2, 2, 3]
    # integer inputs negate before they add: one level more
    assert [tree_registers(s, in_type=ir.DataType(8)) for s in (1, 2, 4)] == [0, 1, 1]


@pytest.mark.rtl
def test_mvtu_latency_rtl():
    """Verilator: a tree with two register ranks, against its stated latency."""
    layer = matrix_layer(3, (1, 1, 64), 4, name="latency_wide")
    case = mvtu_case(layer, 2, 32, frames=2)
    result = run_case(case, Traffic(), rtl_name="mvtu_latency")
    # memory read, its register, two tree ranks, accumulator, sum, compare, output FIFO
    assert _mvtu_latency(result, case.component) == case.component.latency == 1 + 1 + 2 + 1 + 1 + 1 + 2


@pytest.mark.rtl
@pytest.mark.parametrize("n_in, n_out", [(4, 4), (4, 2), (2, 4), (2, 3)])
def test_dwc_latency(n_in, n_out):
    """From the input beat that completes the first output beat (or its lcm group) to it."""
    case = dwc_case(ir.BIPOLAR, n_in, n_out, 24)
    result = run_case(case, Traffic())
    completes = math.lcm(n_in, n_out) // n_in - 1
    assert result.out_cycles[0] - result.in_cycles[completes] == case.component.latency


@pytest.mark.rtl
@pytest.mark.parametrize("depth, lanes", [(1, 2), (2, 2), (4, 2), (16, 2), (128, 9)])
def test_fifo_latency(depth, lanes):
    """128 x 36 bits: block RAM, read through a register into a tail FIFO (5 cycles)."""
    case = fifo_case(ir.DataType(4), lanes, depth, 8)
    result = run_case(case, Traffic())
    assert result.out_cycles[0] - result.in_cycles[0] == case.component.latency


@pytest.mark.rtl
@pytest.mark.parametrize("kernel, lanes", [(2, 2), (3, 1)])
def test_pool_latency(kernel, lanes):
    layer = pool_layer((6, 6, 2), kernel)
    case = pool_case(layer, lanes, frames=1)
    result = run_case(case, Traffic())
    # the first output beat (the first channels of the first window) completes with the first
    # beat of pixel (kernel - 1, kernel - 1)
    completes = ((kernel - 1) * 6 + kernel - 1) * (2 // lanes)
    assert result.out_cycles[0] - result.in_cycles[completes] == case.component.latency


@pytest.mark.rtl
@pytest.mark.parametrize("shape, options, simd", [
    ((5, 6, 4), {"kernel": 3, "pad": 1}, 2), ((5, 6, 4), {"kernel": 3}, 4),
    ((6, 6, 2), {"kernel": 2, "stride": 2}, 1),
    # SIMD spanning taps: three reads of 3 banks gathered per beat; a whole window per read
    ((5, 6, 4), {"kernel": 3, "pad": 1}, 18), ((6, 5, 1), {"kernel": 5, "pad": 2}, 25),
    # a line buffer that may be block RAM: its read registered
    ((6, 16, 32), {"kernel": 3, "pad": 1}, 32)])
def test_swu_latency(shape, options, simd):
    layer = matrix_layer(0, shape, 2, name="swu", **options)
    case = swu_case(layer, simd, frames=1)
    result = run_case(case, Traffic())
    k, p = layer.kernel, layer.pad
    y, x = min(k - 1 - p, shape[0] - 1), min(k - 1 - p, shape[1] - 1)
    per_pixel = shape[2] // case.component.reads.word
    completes = (y * shape[1] + x) * per_pixel + per_pixel - 1
    assert result.out_cycles[0] - result.in_cycles[completes] == case.component.latency

