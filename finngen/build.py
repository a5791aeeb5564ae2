"""``finngen build``: from a model and a target to a verified build directory.

The directory is staged by :meth:`finngen.builddir.BuildDir.staged`: written under a temporary
name next to its destination and moved into place only when everything succeeded, so a failed
or interrupted build leaves the previous state.
"""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .board import boards, driver, selftest, vivado
from . import ir, report
from .builddir import TOP, BuildDir, BuildMeta
from .compile import folding, objective, pipeline, planner
from .frontend import nnp
from .errors import DoesNotFitError, ModelError, UsageError
from .frames import random_frames
from .frontend.binary_weight import tie_warnings
from .frontend.exactness import golden_only
from .frontend.streamline import streamline
from .sim.buildsim import write_testbench


@dataclass
class Options:
    model: Path
    fps: str | None                 # a number, or "max"; None: the folding file fixes the rate
    board: str
    clock_mhz: float | str | None = None     # MHz, or "auto" (ECP5 boards: the fastest that routes)
    out: Path | None = None
    input_type: ir.DataType = ir.DataType(8)
    verify: int = 2
    folding: Path | None = None
    force: bool = False
    simulator: str = "verilator"
    selftest: bool = False


class Progress:
    """Numbered steps on stderr, each with the time it took."""

    def __init__(self, steps):
        self.steps, self.n, self.started = steps, 0, None

    def step(self, text):
        self.done()
        self.n += 1
        self.started = time.monotonic()
        print(f"finngen: [{self.n}/{self.steps}] {text}...", file=sys.stderr, flush=True)

    def done(self):
        if self.started is not None:
            print(f"finngen:       done in {time.monotonic() - self.started:.1f} s", file=sys.stderr, flush=True)
            self.started = None


def target_budget(fps: str | None, clock_mhz: float):
    """Cycles per frame for ``--fps`` (None for "max" or no target)."""
    if fps is None or fps == "max":
        return None
    try:
        value = float(fps)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise UsageError(f"--fps {fps!r} is not a positive number", fix="give frames per second, e.g. --fps 9000, "
                                                                         "or --fps max")
    return max(1, int(clock_mhz * 1e6 // value))


def build(opts: Options) -> Path:
    out = Path(opts.out) if opts.out else Path("build") / Path(opts.model).stem
    BuildDir.check_free(out, opts.force)    # before the work; staging checks again at the end
    if opts.fps is None and opts.folding is None:
        raise UsageError("no target: give --fps (a number, or max), or a folding file with --folding")
    board = boards.load(opts.board)
    if opts.clock_mhz == "auto" and board.family != "ecp5":
        raise UsageError(f"--clock auto needs place and route, which finngen runs for ECP5 boards, not {board.name}",
                         fix="give --clock in MHz")
    clock = float(board.clock_mhz if opts.clock_mhz in (None, "auto") else opts.clock_mhz)
    if not 1 <= clock <= 1000:
        raise UsageError(f"--clock {clock:g} MHz is out of range (1 to 1000 MHz)")
    budget = target_budget(opts.fps, clock)
    progress = Progress(4 + (opts.verify > 0) + (board.family == "ecp5") * (1 + opts.selftest))

    progress.step(f"reading {opts.model}")
    network = streamline(nnp.read(opts.model), opts.input_type)
    for line in tie_warnings(network):
        print(f"finngen: {line}", file=sys.stderr)
    if golden_only(network):
        raise ModelError(f"{opts.model}: {golden_only(network)[0][6:]}", fix="use 'finngen run' for now")

    progress.step("choosing the folding" if opts.folding is None else f"reading the folding {opts.folding}")
    if opts.folding is not None:
        folds, choice = folding.load(opts.folding, network), None
    else:
        folds, choice = _plan(opts, network, board, clock, budget)
    chain = pipeline.stages(network, folds)
    if budget is not None and pipeline.cycles_per_frame(chain) > budget:
        print(f"finngen: warning: the folding takes {pipeline.cycles_per_frame(chain):,} cycles per frame, "
              f"more than the {budget:,} that --fps {opts.fps} allows at {clock:g} MHz", file=sys.stderr)
    total, per_stage = pipeline.estimate(chain)
    if not board.fits(total):
        raise DoesNotFitError(f"the folding needs {report.describe(board.usage(total.rounded()))}, more than {board.name} has "
                              f"({report.describe(board.resources)})",
                              fix="choose smaller PE/SIMD in the folding file, or a larger board")

    with BuildDir.staged(out, opts.force) as staged:
        progress.step("generating Verilog")
        interface = _write_rtl(staged, network, folds)
        shutil.copyfile(opts.model, staged.model)
        staged.folding.write_text(folding.dump(network, folds))
        meta = BuildMeta(model=Path(opts.model).name, network=network.name, board=board.name,
                         board_file=board.path, clock_mhz=clock, target_fps=opts.fps,
                         input_type=opts.input_type, interface=interface)
        staged.write_meta(meta)
        if board.family == "zynq":
            vivado.write_project(staged, board)
            driver.write_driver(staged, network)
        write_testbench(staged.path)
        if opts.selftest and board.family == "zynq":
            selftest.write_selftest(staged, network, folds, board)
        verification = None
        if opts.verify > 0:
            progress.step(f"verifying {opts.verify} frame{'s' if opts.verify > 1 else ''} in RTL simulation "
                          f"({opts.simulator})")
            verification = verify_rtl(staged.path, network, folds, random_frames(network, opts.verify),
                                      opts.simulator)
        place_and_route = None
        if board.family == "ecp5":
            # its clock may differ from the request with --clock auto
            from .board import bitstream
            progress.step("synthesising, placing, routing and packing the ECP5 bitstream")
            place_and_route = bitstream.write_accelerator(
                staged.bitstream, network, folds, board, opts.clock_mhz or board.clock_mhz,
                progress=lambda text: print(f"finngen:       {text}", file=sys.stderr, flush=True))
            clock = place_and_route.clock_mhz
            meta = replace(meta, clock_mhz=clock, baud=board.baud)
            staged.write_meta(meta)
            if opts.selftest:
                progress.step(f"building the self-test bitstream at {clock:g} MHz")
                selftest.write_selftest(staged, network, folds, board)
        progress.step("writing the report")
        summary = report.summary(meta.to_json(), network, chain, per_stage, total, board, clock, budget, verification,
                                 choice)
        if place_and_route is not None:
            summary["place_and_route"] = asdict(place_and_route)
        staged.write_report(summary)
        progress.done()
    return out


def _plan(opts, network, board, clock, budget) -> tuple:
    """(folds, :class:`~finngen.compile.objective.Choice`) for ``budget`` cycles per frame (the
    objective's plan), or (the fastest that fits, None) for ``--fps max``."""
    limits = planner.Limits.of(board)
    choice = objective.choose(network, budget, limits) if budget is not None else None
    if choice is None or not choice.chosen.fits:
        best, best_folds = planner.fastest(network, limits)
        if budget is not None or best is None:
            raise _does_not_fit(opts, board, clock, best)
        return best_folds, None
    return choice.chosen.folds, choice


def _does_not_fit(opts, board, clock, best):
    if best is None:
        return DoesNotFitError(f"{opts.model} does not fit {board.name} at any folding",
                               fix="choose a larger board")
    return DoesNotFitError(f"--fps {opts.fps} does not fit {board.name} at {clock:g} MHz; the highest that fits "
                           f"is {clock * 1e6 / best:,.0f} FPS",
                           fix=f"use --fps {int(clock * 1e6 / best)} or lower, or --fps max")


def _write_rtl(staged: BuildDir, network, folds) -> dict:
    from amaranth.back import verilog

    from .hw.accelerator import Accelerator, AxiStreamTop
    accelerator = Accelerator(network, folds)
    top = AxiStreamTop(accelerator)
    text = verilog.convert(top, name=TOP, ports=top.ports, emit_src=False)
    staged.rtl.mkdir()
    staged.verilog.write_text(text)
    return accelerator.interface


def verify_rtl(directory: Path, network, folds, frames, simulator="verilator") -> dict:
    """Run ``frames`` through the RTL, every output word checked against the golden model (a
    difference raises MismatchError naming the first stage that differs); the report's
    ``verification`` entry, with the steady-state cycles per frame when there are two frames or more."""
    from .sim.buildsim import BuildSim
    result = BuildSim(directory, simulator, network=network, folds=folds).run(frames, name="build-verify")
    return {"frames": len(frames), "bit_exact": True, "first_mismatch": None,
            "sim_cycles_per_frame": result.cycles_per_frame, "simulator": result.simulator}
