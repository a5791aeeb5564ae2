"""``finngen flash`` against a stand-in openFPGALoader on PATH that records its arguments and
answers as the real one does: success, a missing system library, no cable, another failure."""
import json
import sys

import pytest

from build_dirs import build_dir as make_build_dir
from finngen.board import flash, selftest
from finngen.errors import MissingToolError, ToolError, UsageError

# what the real tool prints in each case (the library error comes from the dynamic loader)
OUTPUTS = {
    "ok": (0, "Load SRAM: [====] 100.00%\nDone\n"),
    "nolib": (127, "openFPGALoader: error while loading shared libraries: libusb-1.0.so.0: cannot open shared "
                   "object file: No such file or directory\n"),
    "nocable": (1, "JTAG init failed with: unable to open ftdi device: -3 (device not found)\n"),
    "other": (1, "Error: bitstream is for another part\n"),
}
STAND_IN = """#!{python}
import json, pathlib, sys
here = pathlib.Path(__file__).parent
(here / "args.json").write_text(json.dumps(sys.argv[1:]))
code, text = json.loads((here / "answer.json").read_text())
sys.stderr.write(text)
sys.exit(code)
"""


@pytest.fixture
def tool(tmp_path, monkeypatch):
    """The stand-in's directory, alone on PATH; write answer.json to choose its answer."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "openFPGALoader"
    script.write_text(STAND_IN.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.fixture
def build_dir(tmp_path):
    build = make_build_dir(tmp_path / "build", board="pynq-z2")
    build.selftest.mkdir()
    selftest.bitstream(build).write_bytes(b"bitstream")
    return build


def answer(tool, case):
    (tool / "answer.json").write_text(json.dumps(OUTPUTS[case]))


def test_loads_the_selftest_bitstream(tool, build_dir):
    answer(tool, "ok")
    assert flash.flash(build_dir) == selftest.bitstream(build_dir)
    assert json.loads((tool / "args.json").read_text()) == ["--board", "pynq_z2", str(selftest.bitstream(build_dir))]
    assert "Done" in (build_dir.path / flash.LOG).read_text()


def test_cable_replaces_the_board(tool, build_dir):
    answer(tool, "ok")
    flash.flash(build_dir, cable="digilent_hs2")
    assert json.loads((tool / "args.json").read_text())[:2] == ["--cable", "digilent_hs2"]


@pytest.mark.parametrize("case, error, text", [
    ("nolib", MissingToolError, "libusb-1.0.so.0 is missing (apt-get install libusb-1.0-0 libftdi1-2"),
    ("nocable", ToolError, "found no JTAG cable"),
    ("other", ToolError, "failed: Error: bitstream is for another part"),
])
def test_failures_are_one_line(tool, build_dir, case, error, text):
    answer(tool, case)
    with pytest.raises(error) as e:
        flash.flash(build_dir)
    assert text in e.value.line() and "\n" not in e.value.line()


def test_missing_bitstream_names_the_vivado_command(tool, build_dir):
    selftest.bitstream(build_dir).unlink()
    with pytest.raises(UsageError) as e:
        flash.flash(build_dir)
    assert selftest.build_command(build_dir.path) in e.value.line()


def test_missing_selftest_names_the_build_option(tool, build_dir):
    selftest.bitstream(build_dir).unlink()
    build_dir.selftest.rmdir()
    with pytest.raises(UsageError) as e:
        flash.flash(build_dir)
    assert "finngen build ... --selftest" in e.value.line()


def test_missing_tool(tool, build_dir):
    (tool / "openFPGALoader").unlink()
    with pytest.raises(MissingToolError) as e:
        flash.flash(build_dir)
    assert flash.INSTALL in e.value.line()


def _ecp5_build(path, board):
    """An ECP5 build directory with its accelerator and self-test bitstreams."""
    build = make_build_dir(path, board=board, board_file=board, baud=115200)
    build.bitstream.mkdir()
    build.selftest.mkdir()
    (build.bitstream / "top.bit").write_bytes(b"bitstream")
    selftest.bitstream(build).write_bytes(b"selftest")
    return build


@pytest.fixture
def ecp5_build(tmp_path):
    return _ecp5_build(tmp_path / "ecp5", "ulx3s-85f")


@pytest.mark.parametrize("board, name", [("ulx3s-85f", "ulx3s"), ("ulx3s-25f", "ulx3s"), ("ecpix5-85f", "ecpix5")])
def test_ecp5_loads_the_accelerator_into_sram(tool, tmp_path, board, name):
    build = _ecp5_build(tmp_path / board, board)
    answer(tool, "ok")
    assert flash.flash(build) == build.bitstream / "top.bit"
    assert json.loads((tool / "args.json").read_text()) == ["--board", name, str(build.bitstream / "top.bit")]


def test_ecp5_writes_the_spi_flash(tool, ecp5_build):
    answer(tool, "ok")
    flash.flash(ecp5_build, to_flash=True)
    assert json.loads((tool / "args.json").read_text()) == ["--board", "ulx3s", "--write-flash",
                                                            str(ecp5_build.bitstream / "top.bit")]


def test_ecp5_selftest_image(tool, ecp5_build):
    answer(tool, "ok")
    assert flash.flash(ecp5_build, selftest_image=True) == selftest.bitstream(ecp5_build)


def test_ecp5_missing_bitstream_names_the_build(tool, ecp5_build):
    (ecp5_build.bitstream / "top.bit").unlink()
    with pytest.raises(UsageError) as e:
        flash.flash(ecp5_build)
    assert "no bitstream" in e.value.line() and "--board ulx3s-85f" in e.value.line()


def test_spi_flash_is_refused_for_zynq_boards(tool, build_dir):
    with pytest.raises(UsageError, match="--flash writes the SPI flash of ECP5 boards, not of pynq-z2"):
        flash.flash(build_dir, to_flash=True)


@pytest.mark.parametrize("case, error, text", [
    ("nolib", MissingToolError, "apt-get install libusb-1.0-0 libftdi1-2"),
    ("nocable", ToolError, "found no JTAG cable"),
])
def test_ecp5_failures_are_one_line(tool, ecp5_build, case, error, text):
    answer(tool, case)
    with pytest.raises(error) as e:
        flash.flash(ecp5_build, to_flash=True)
    assert text in e.value.line() and "\n" not in e.value.line()
