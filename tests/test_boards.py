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
    assert set(boards.known()) == {"pynq-z1", "pynq-z2", "ultra96-v2", "zcu104", "kv260"}
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
    (tmp_path / "bad.yaml").write_text(edit(GOOD))
    with pytest.raises(BoardError) as e:
        boards.load(tmp_path / "bad.yaml")
    assert message in str(e.value) and str(tmp_path / "bad.yaml") in str(e.value)


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError) as e:
        boards.load("pynq-z9")
    assert "unknown board 'pynq-z9'" in e.value.line() and "pynq-z1" in e.value.line()
