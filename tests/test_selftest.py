"""The board self-test: its verdict logic in Amaranth's simulator on a tiny two-layer network,
and the Vivado tree it writes for every board with PL LEDs."""
import pytest
from amaranth.sim import Simulator

from build_dirs import build_dir
from finngen.board import boards, platforms, selftest
from finngen import ir
from finngen.errors import UsageError
from finngen.compile.folding import Fold
from finngen.hw.accelerator import Accelerator
from finngen.sim.layers import matrix_layer

FRAMES = 2
# the fixture's accelerator only describes the stream interface; each test elaborates its own
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


@pytest.fixture(scope="module")
def tiny():
    """16 bipolar inputs -> 8 bits -> 4 integer scores, folded to a few cycles per frame."""
    layers = [matrix_layer(1, (1, 1, 16), 8, name="fc0"), matrix_layer(2, (1, 1, 8), 4, last=True, name="fc1")]
    network = ir.Network("tiny", ir.InputSpec("x", (16,), ir.BIPOLAR), layers, ir.OutputSpec("y", (4,)))
    folds = {"fc0": Fold(2, 4), "fc1": Fold(2, 4)}
    accelerator = Accelerator(network, folds)
    interface = accelerator.interface
    return network, folds, interface


def run(network, folds, inputs, expected, cycles=2000):
    """Simulate the self-test; return (passed, failed, heartbeat toggles) when it decided."""
    top = selftest.SelfTest(Accelerator(network, folds), inputs, expected, heartbeat_bits=3)
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
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result["passed"], result["failed"], result["toggles"]


def test_matching_outputs_light_pass(tiny):
    network, folds, interface = tiny
    inputs, expected = selftest.vectors(network, interface, FRAMES)
    passed, failed, toggles = run(network, folds, inputs, expected)
    assert (passed, failed) == (1, 0)
    assert toggles >= 2


def test_one_wrong_word_lights_fail(tiny):
    network, folds, interface = tiny
    inputs, expected = selftest.vectors(network, interface, FRAMES)
    expected[-1] ^= 1       # the last frame's final beat: everything before it matches
    assert run(network, folds, inputs, expected)[:2] == (0, 1)


@pytest.mark.parametrize("name", ["pynq-z1", "zcu104"])
def test_writes_vivado_tree(tiny, tmp_path, name):
    network, folds, interface = tiny
    board = boards.load(name)
    build = build_dir(tmp_path, model="tiny.nnp", interface=interface)
    out = selftest.write_selftest(build, network, folds, board, frames=FRAMES)
    assert out == build.selftest
    assert {"top.tcl", "top.xdc", "top.v", "build_top.sh", "README.md"} <= {p.name for p in out.iterdir()}
    assert board.part in (out / "top.tcl").read_text()
    xdc = (out / "top.xdc").read_text()
    clock_pin = "H16" if name == "pynq-z1" else "F23"
    assert clock_pin in xdc and "led_2" in xdc


@pytest.mark.parametrize("name", ["ultra96-v2", "kv260"])
def test_refuses_boards_without_pl_clock(tiny, tmp_path, name):
    network, folds, interface = tiny
    with pytest.raises(UsageError, match="PL clock"):
        selftest.write_selftest(build_dir(tmp_path, model="tiny.nnp", interface=interface), network, folds,
                                boards.load(name))


def test_every_board_has_a_platform_of_its_part():
    for name in boards.known():
        board = boards.load(name)
        if board.family == "zynq":      # ECP5 boards: tests/test_boards.py
            assert platforms.platform_for(board)._part == board.part


def test_pynq_pins_match_arty_z7():
    """The PYNQ boards share chip, oscillator and user I/O pins with amaranth-boards' Arty Z7-20."""
    from amaranth_boards.arty_z7 import ArtyZ720Platform

    def pins(platform, kind):
        return [r.ios[0].names for (n, _), r in platform.resources.items() if n == kind]

    arty = ArtyZ720Platform()
    for cls in (platforms.PynqZ1Platform, platforms.PynqZ2Platform):
        for kind in ("clk125", "led", "button", "switch"):
            assert pins(cls(), kind) == pins(arty, kind), kind


def test_unknown_board_is_refused(tmp_path):
    board = boards.load("pynq-z1")
    with pytest.raises(UsageError, match="no pin description"):
        platforms.platform_for(type(board)(**{**board.__dict__, "name": "my-board"}))
