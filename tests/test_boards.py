"""Board files: the shipped ones load, bad ones are reported with file, line and key."""
import pytest

from finngen.board import boards
from finngen import cli
from finngen.board.boards import BoardError

GOOD = """name: mine
part: xc7z020clg400-1
ps: zynq-7000
clock_mhz: 100
dma_width_bits: 64
resources:
  lut: 53200
  ff: 106400
  bram36: 140
  dsp: 220
"""


def test_shipped_boards_load_and_are_listed(capsys):
    assert set(boards.known()) == {"pynq-z1", "pynq-z2", "ultra96-v2", "zcu104", "kv260",
                                   "ulx3s-85f", "ulx3s-45f", "ulx3s-25f", "ecpix5-85f"}
    z1 = boards.load("pynq-z1")
    assert (z1.part, z1.ps, z1.resources["lut"], z1.resources["bram36"]) == ("xc7z020clg400-1", "zynq-7000",
                                                                            53200, 140)
    assert cli.main(["boards"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in boards.known())


def test_user_board_file_by_path(tmp_path):
    (tmp_path / "mine.yaml").write_text(GOOD)
    assert boards.load(tmp_path / "mine.yaml").name == "mine"


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace("  lut: 53200", "  lut: lots"), "line 7: key 'resources.lut' must be a positive integer"),
    (lambda t: t.replace("ps: zynq-7000", "ps: zynq"), "line 3: key 'ps' must be one of"),
    (lambda t: t.replace("clock_mhz: 100\n", ""), "key 'clock_mhz' is missing"),
    (lambda t: t.replace("dma_width_bits: 64", "dma_width_bits: 12"), "line 5: key 'dma_width_bits'"),
    (lambda t: t + "colour: red\n", "line 11: key 'colour' is not a board key"),
    (lambda t: t.replace("resources:", "resources: ["), "not valid YAML"),
])
def test_bad_board_files_name_line_and_key(tmp_path, edit, message):
    assert_refused(tmp_path, edit(GOOD), message)


def assert_refused(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(BoardError) as e:
        boards.load(tmp_path / "bad.yaml")
    assert message in str(e.value) and str(tmp_path / "bad.yaml") in str(e.value)


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError) as e:
        boards.load("pynq-z9")
    assert "unknown board 'pynq-z9'" in e.value.line() and "pynq-z1" in e.value.line()


ECP5 = """name: mine
family: ecp5
part: LFE5U-85F
package: CABGA381
speed: 6
oscillator_mhz: 25
clock_mhz: 40
baud: 115200
resources: {lut4: 83640, ff: 83640, dp16kd: 208, mult18: 156}
"""


def test_ecp5_boards_load():
    b = boards.load("ulx3s-85f")
    assert (b.family, b.part, b.package, b.speed, b.oscillator_mhz, b.ps) == ("ecp5", "LFE5U-85F", "CABGA381", 6,
                                                                              25.0, None)
    assert b.resources == {"lut4": 83640, "ff": 83640, "dp16kd": 208, "mult18": 156}
    assert boards.load("ecpix5-85f").part == "LFE5UM5G-85F"


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace("family: ecp5", "family: ice40"), "line 2: key 'family' must be one of zynq, ecp5"),
    (lambda t: t.replace("LFE5U-85F", "xc7z020clg400-1"), "line 3: key 'part' must be an ECP5 device"),
    (lambda t: t.replace("CABGA381", "BGA381"), "line 4: key 'package' must be one of CABGA256"),
    (lambda t: t.replace("speed: 6", "speed: 9"), "line 5: key 'speed' must be a speed grade 6, 7 or 8"),
    (lambda t: t.replace("oscillator_mhz: 25\n", ""), "key 'oscillator_mhz' is missing"),
    (lambda t: t.replace("baud: 115200", "baud: fast"), "line 8: key 'baud' must be a UART baud rate"),
    (lambda t: t.replace("lut4: 83640", "lut: 83640"), "line 9: key 'resources.lut4' is missing"),
    (lambda t: t + "ps: zynq-7000\n", "line 10: key 'ps' is not a board key (the keys of ecp5 boards"),
])
def test_bad_ecp5_board_files_name_line_and_key(tmp_path, edit, message):
    assert_refused(tmp_path, edit(ECP5), message)


def test_fit_test_uses_the_boards_own_resources():
    from finngen.compile import ecp5
    from finngen.compile.resources import Resources
    estimate = Resources(lut=10000, ff=8000, bram36=10.5, dsp=0)
    assert boards.load("pynq-z1").usage(estimate) == {"lut": 10000, "ff": 8000, "bram36": 10.5, "dsp": 0}
    used = boards.load("ulx3s-25f").usage(estimate)
    assert used == {"lut4": round(ecp5.LUT4_PER_LUT6 * 10000 + ecp5.LUT4_FIXED), "ff": round(8000 + ecp5.FF_FIXED),
                    "dp16kd": 21, "mult18": 0}
    assert boards.load("ulx3s-85f").fits(estimate)
    assert not boards.load("ulx3s-25f").fits(estimate * 3)


def test_ecp5_platforms_are_the_boards_parts():
    from finngen.board import platforms
    for name in boards.known():
        board = boards.load(name)
        if board.family == "ecp5":
            platform = platforms.platform_for(board)
            package = platform._nextpnr_package_options[platform.package].upper()      # what nextpnr is told
            assert (platform.device, package, int(platform.speed)) == (board.part, board.package, board.speed)
            assert platform.default_clk_frequency == board.oscillator_mhz * 1e6
