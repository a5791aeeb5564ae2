"""Run an Amaranth component in an RTL simulator through cocotb's Python runner.

The component is converted to Verilog into ``build/sim/<name>/``; the Verilator build there is
reused while the Verilog is unchanged. The simulator is Verilator unless ``FINNGEN_SIM=icarus``
(pytest: ``--sim icarus``). A failing run is repeated with waveforms on (same seeds, so the same
failure) and the path of the waveform file is printed and put in the error.
"""
import json
import os
import shutil
import sys
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value

from finngen.sim.streams import Result, Traffic

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "sim"
SIMULATORS = ("verilator", "icarus")


def simulator_name(sim=None):
    """The simulator to use: ``sim``, else ``$FINNGEN_SIM``, else Verilator."""
    sim = sim or os.environ.get("FINNGEN_SIM") or "verilator"
    if sim not in SIMULATORS:
        raise ValueError(f"FINNGEN_SIM must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    return sim


def to_verilog(component, name):
    """Verilog text of ``component`` with top module ``name`` (ports as in its signature)."""
    return verilog.convert(component, name=name, emit_src=False)


def build(component, name, sim=None, waves=False):
    """Convert and build ``component``; return (runner, build directory)."""
    from cocotb_tools.runner import get_runner
    sim = simulator_name(sim)
    build_dir = BUILD / f"{name}-{sim}{'-waves' if waves else ''}"
    source = build_dir / f"{name}.v"
    text = to_verilog(component, name)
    runner = get_runner(sim)
    # Verilator builds take tens of seconds: reuse one whose Verilog is unchanged. Icarus
    # compiles in a fraction of a second, so it always rebuilds.
    cached = (sim == "verilator" and source.exists() and source.read_text() == text
              and (build_dir / name).exists())
    if not cached:
        # a failed build leaves stale objects behind: always start from an empty directory
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        source.write_text(text)
        build_args = ["-Wno-fatal", "-Wno-lint"] if sim == "verilator" else []
        runner.build(sources=[source], hdl_toplevel=name, build_dir=build_dir,
                     build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                     log_file=build_dir / "build.log")
    return runner, build_dir


def run_stream_test(component, name, in_beats, expected, traffic=Traffic(), *, lane_bits=None,
                    sim=None, max_cycles=None):
    """Drive ``component.i`` with ``in_beats`` and compare every beat of ``component.o`` with
    ``expected`` in an RTL simulator (:mod:`finngen.sim.tb_stream`); return a :class:`Result` with the
    cycle of every beat. Raises :exc:`AssertionError` naming the waveform file on failure."""
    if max_cycles is None:
        max_cycles = 100 + 20 * (len(in_beats) + len(expected))
        max_cycles = int(max_cycles / min(traffic.valid_prob, traffic.ready_prob))
    spec = {
        "in_beats": [int(b) for b in in_beats], "expected": [int(b) for b in expected],
        "traffic": vars(traffic), "lane_bits": lane_bits,
        "out_width": len(Value.cast(component.o.payload)), "max_cycles": max_cycles,
    }
    if _run(component, name, spec, sim, waves=False):
        with open(BUILD / "tests" / name / "result.json") as f:
            return Result(**json.load(f))
    log = BUILD / "tests" / name / "sim.log"
    why = [line.strip() for line in log.read_text(errors="replace").splitlines()
           if "Error" in line or "error" in line][:5] if log.exists() else []
    _run(component, name, spec, sim, waves=True)
    test_dir = BUILD / "tests" / f"{name}-waves"
    dumps = sorted(p for d in (test_dir, BUILD / f"{name}-{simulator_name(sim)}-waves")
                   for p in d.glob("*") if p.suffix in (".vcd", ".fst"))
    where = str(dumps[0]) if dumps else f"(no waveform file in {test_dir})"
    print(f"waveform of the failing run: {where}", file=sys.stderr)
    raise AssertionError(f"RTL test {name} failed ({log}):\n" + "\n".join(why)
                         + f"\nwaveform of a rerun with the same seeds: {where}")


def _run(component, name, spec, sim, waves):
    from cocotb_tools.runner import get_results
    runner, build_dir = build(component, name, sim, waves)
    test_dir = BUILD / "tests" / (f"{name}-waves" if waves else name)
    shutil.rmtree(test_dir, ignore_errors=True)
    test_dir.mkdir(parents=True)
    spec_path = test_dir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    results = test_dir / "results.xml"
    try:
        runner.test(test_module="finngen.sim.tb_stream", hdl_toplevel=name, hdl_toplevel_lang="verilog",
                    build_dir=build_dir,
                    test_dir=test_dir, results_xml=str(results), waves=waves,
                    extra_env={"FINNGEN_TB_SPEC": str(spec_path)},
                    log_file=test_dir / "sim.log")
    except SystemExit:
        return False
    tests, failed = get_results(results)
    return tests > 0 and failed == 0 and (test_dir / "result.json").exists()
