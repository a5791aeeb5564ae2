"""The ECP5 self-test: a real (seeded random) nnabla model's accelerator checked against its
golden vectors in Amaranth's simulator, as the ECP5 top level clocks it (the PLL bypassed), with
a flipped expected word lighting the fail LED; and its LEDs on the boards' pins."""
import pytest

from finngen.board import bitstream, boards, platforms, selftest
from finngen.board.ecp5_top import Ecp5Top, pll_for
from finngen.compile import planner
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline
from finngen.hw.accelerator import Accelerator
from test_selftest import run       # the self-test's verdict in Amaranth's simulator

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
FRAMES = 2


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    import modelgen
    path = tmp_path_factory.mktemp("model") / "small.nnp"
    modelgen.make(4, path, modelgen.Options(conv=True))
    network = streamline(nnp.read(path))
    folds = planner.plan(network, 1000)     # the cheapest plan at 1,000 cycles per frame
    return network, folds, Accelerator(network, folds).interface


@pytest.mark.slow      # three runs of Amaranth's simulator, a few thousand cycles each
def test_golden_vectors_pass_and_a_flipped_word_fails(small):
    network, folds, interface = small
    inputs, expected = selftest.vectors(network, interface, FRAMES)
    passed, failed, toggles = run(network, folds, inputs, expected, cycles=5000)
    assert (passed, failed) == (1, 0) and toggles >= 2
    expected[len(expected) // 2] ^= 1 << 2          # one bit of one word in the middle of the run
    assert run(network, folds, inputs, expected, cycles=5000)[:2] == (0, 1)


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
        assert f'LOCATE COMP "led_{number}__io" SITE "{pin}"' in lpf
