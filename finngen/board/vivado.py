"""The Vivado project that turns a build into a PYNQ overlay, and ``finngen synth`` to run it.

:func:`write_project` fills ``templates/vivado_project.tcl`` into ``DIR/vivado/build_overlay.tcl``.
Every value put into the script is quoted as one literal Tcl word, so nothing from a model, a
board file or a path is ever evaluated by Tcl. Paths are not put in at all: the script finds the
build directory from its own location.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from ..builddir import TOP, BuildDir, BuildMeta
from ..errors import DoesNotFitError, MissingToolError, ToolError, UsageError

TEMPLATE = Path(str(resources.files("finngen.templates"))) / "vivado_project.tcl"
SCRIPT = "build_overlay.tcl"        # in the build's vivado/, beside vivado.log
LOG = "vivado.log"
VERSIONS = "2022.2 to 2024.2"

# AXI DMA's stream widths, and its widest length register: one transfer moves up to 64 MiB - 1.
DMA_WIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024)
LENGTH_BITS = 26
HP_WIDTHS = {"zynq-7000": (32, 64), "zynq-ultrascale+": (32, 64, 128)}
# Vivado board parts of the shipped boards (their presets apply when the board files are installed)
BOARD_PARTS = {"pynq-z1": "*:pynq-z1:*", "pynq-z2": "*:pynq-z2:*", "ultra96-v2": "*:ultra96v2:*",
               "zcu104": "*:zcu104:*", "kv260": "*:kv260_som:*"}


class VivadoError(ToolError):
    """Vivado ran but did not produce the overlay."""


def tcl_word(value) -> str:
    """``value`` as one Tcl word that stands for exactly its text: braced when that is literal
    (no braces, backslashes or control characters, which reading the file may translate),
    otherwise every special character backslash-escaped."""
    text = str(value)
    if text and not re.search(r"[{}\\\x00-\x1f\x7f]", text):
        return "{" + text + "}"
    return "".join(_escape(c) for c in text) or "{}"


def _escape(char: str) -> str:
    # a control character as \uXXXX: escaped as is, a newline would join lines and a
    # carriage return would be translated on reading
    if char < " " or char == "\x7f":
        return f"\\u{ord(char):04x}"
    return "\\" + char if char in '[]{}$\\";# ' or char.isspace() else char


def dma_width(bits: int, what: str, fix: str) -> int:
    """The AXI DMA stream width for a stream of ``bits``: its beats sit zero-extended in it."""
    for width in DMA_WIDTHS:
        if width >= bits:
            return width
    raise DoesNotFitError(f"the accelerator's {what} stream is {bits} bits wide, more than the "
                          f"{DMA_WIDTHS[-1]} bits an AXI DMA stream can carry", fix=fix)


def dma_layout(interface: dict) -> dict:
    """How the overlay's DMA lays the streams out in memory: one word per beat, of these widths."""
    return {"in_width": dma_width(interface["in_width"], "input", "choose a smaller SIMD for the first layer "
                                                                  "in the folding file"),
            "out_width": dma_width(interface["out_width"], "output", "choose a smaller PE for the last layer "
                                                                     "in the folding file"),
            "max_transfer_bytes": (1 << LENGTH_BITS) - 1}


def overlay_name(meta: BuildMeta) -> str:
    """The overlay's file name (without .bit/.hwh): the model's, in characters any file system takes."""
    stem = Path(meta.model).stem
    return re.sub(r"[^A-Za-z0-9_-]", "_", stem) or "finngen"


def render(meta: BuildMeta, board) -> str:
    """The Tcl script for a build with ``meta`` on ``board``."""
    if board.dma_width_bits not in HP_WIDTHS[board.ps]:
        raise UsageError(f"{board.path}: dma_width_bits {board.dma_width_bits} is not a width of the "
                         f"{board.ps} HP port", fix=f"use one of {', '.join(map(str, HP_WIDTHS[board.ps]))}")
    interface = meta.interface
    layout = dma_layout(interface)
    values = {"MODEL": meta.model, "OVERLAY": overlay_name(meta), "BOARD": board.name,
              "BOARD_PARTS": BOARD_PARTS.get(board.name, ""), "PART": board.part, "PS_KIND": board.ps,
              "CLOCK_MHZ": f"{meta.clock_mhz:g}", "HP_WIDTH": board.dma_width_bits,
              "IN_WIDTH": interface["in_width"], "IN_DMA_WIDTH": layout["in_width"],
              "OUT_WIDTH": interface["out_width"], "OUT_DMA_WIDTH": layout["out_width"],
              "LENGTH_BITS": LENGTH_BITS, "TOP": TOP}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", tcl_word(value))
    left = re.search(r"@[A-Z_]+@", text)
    assert left is None, f"{TEMPLATE} has a placeholder finngen does not fill: {left.group()}"
    return text


def write_project(build: BuildDir, board) -> Path:
    """Write ``DIR/vivado/build_overlay.tcl`` and its README; return the script's path."""
    script = build.vivado / SCRIPT
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(render(build.meta, board))
    name = overlay_name(build.meta)
    (script.parent / "README.md").write_text(
        f"# Vivado project for the {board.name} overlay\n\n"
        f"`build_overlay.tcl` builds the bitstream for this accelerator with Vivado {VERSIONS}.\n"
        "From the build directory (the one holding `build.json`):\n\n"
        "    vivado -mode batch -source vivado/build_overlay.tcl\n\n"
        "or `finngen synth .` (which logs to `vivado/vivado.log`). It writes\n"
        f"`vivado/output/{name}.bit` and `vivado/output/{name}.hwh`; copy both into `driver/` and see\n"
        "`driver/README.md` for running it on the board. The project is left in `vivado/project`.\n")
    return script


def synth(build: BuildDir) -> Path:
    """Run the build's Vivado script (``finngen synth``); return the directory with .bit and .hwh."""
    directory = build.path
    script = build.vivado / SCRIPT
    if not script.is_file():
        raise UsageError(f"{directory} has no {script.relative_to(directory)}",
                         fix="give a build directory written by 'finngen build'")
    command = f"cd {shlex.quote(str(directory))} && vivado -mode batch -source {script.relative_to(directory)}"
    vivado = shutil.which("vivado")
    if vivado is None:
        raise MissingToolError("vivado is not on PATH",
                               fix=f"install Vivado {VERSIONS}, source its settings64.sh, then run "
                                   f"'finngen synth {directory}' or '{command}'")
    log = build.vivado / LOG
    print(f"finngen: running Vivado (log: {log}); this takes 10 to 60 minutes", file=sys.stderr, flush=True)
    errors = []
    # Vivado's own log and journal would land in the working directory: the log is written here
    with open(log, "w") as out, subprocess.Popen(
            [vivado, "-mode", "batch", "-nojournal", "-nolog", "-notrace", "-source", SCRIPT],
            cwd=script.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace") as process:
        for line in process.stdout:
            out.write(line)
            if line.startswith("finngen:"):
                print(line.rstrip(), file=sys.stderr, flush=True)
            elif line.startswith("ERROR:"):
                errors.append(line.strip())
    if process.returncode != 0:
        reason = errors[0] if errors else f"exit status {process.returncode}"
        raise VivadoError(f"Vivado failed: {reason}", fix=f"see {log}")
    return build.overlay
