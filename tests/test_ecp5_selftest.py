"""The ECP5 self-test: a real (seeded random) nnabla model's accelerator checked against its
golden vectors in Amaranth's simulator, as the ECP5 top level clocks it (the PLL bypassed), with
a flipped expected word lighting the fail LED; and its LEDs on the boards' pins."""
import pytest
from amaranth.sim import Simulator

from finngen.board import bitstream, boards, platforms, selftest
from finngen.board.ecp5_top import Ecp5Top, pll_for
from finngen.compile import folding
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline
from finngen.hw.accelerator import Accelerator

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
FRAMES = 2


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    import modelgen
    path = tmp_path_factory.mktemp("model") / "small.nnp"
    modelgen.make(4, path, modelgen.Options(conv=True))
    network = streamline(nnp.read(path))
    folds = folding.plan(network, 1000, lambda layer, fold: fold.pe * fold.simd)
    return network, folds, Accelerator(network, folds).interface


def verdict(network, folds, inputs, expected, cycles=20000):
    top = selftest.SelfTest(Accelerator(network, folds), inputs, expected, heartbeat_bits=4)
    result = {}

    async def bench(ctx):
        toggles, previous = 0, 0
        for _ in range(cycles):
            await ctx.tick()
            beat = ctx.get(top.heartbeat)
            toggles, previous = toggles + (beat != previous), beat
            if ctx.get(top.passed) or ctx.get(top.failed):
                break
        result.update(passed=ctx.get(top.passed), failed=ctx.get(top.failed), toggles=toggles)

    sim = Simulator(top)
    sim.add_clock(1 / 40e6)
    sim.add_testbench(bench)
    sim.run()
    return result


def test_golden_vectors_pass_and_a_flipped_word_fails(small):
    network, folds, interface = small
    inputs, expected = selftest.vectors(network, interface, FRAMES)
    good = verdict(network, folds, inputs, expected)
    assert (good["passed"], good["failed"]) == (1, 0) and good["toggles"] >= 2
    middle = len(expected) // 2
    expected[middle] ^= 1 << 2          # one bit of one word in the middle of the run
    bad = verdict(network, folds, inputs, expected)
    assert (bad["passed"], bad["failed"]) == (0, 1)


@pytest.mark.slow      # Amaranth's ECP5 plan converts the design to Verilog with yosys too
@pytest.mark.parametrize("name, leds", [("ulx3s-85f", ("B2", "C2", "C1")), ("ecpix5-85f", ("T22", "W21", "K21"))])
def test_selftest_leds_on_the_boards_pins(tmp_path, small, name, leds):
    network, folds, interface = small
    board = boards.load(name)
    inputs, expected = selftest.vectors(network, interface, FRAMES)
    top = Ecp5Top(selftest.SelfTest(Accelerator(network, folds), inputs, expected, heartbeat_bits=26),
                  pll_for(board.oscillator_mhz, board.clock_mhz))
    platforms.platform_for(board).prepare(top, name=bitstream.NAME).extract(str(tmp_path))
    lpf = (tmp_path / "top.lpf").read_text()
    for number, pin in enumerate(leds):
        assert f'LOCATE COMP "led_{number}__o" SITE "{pin}"' in lpf
