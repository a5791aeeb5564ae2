"""``finngen build``: from a model and a target to a verified build directory.

The directory is written under a temporary name next to its destination and moved into place
only when everything succeeded, so a failed or interrupted build leaves the previous state.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .board import boards, driver, vivado
from . import codec, ir, report
from .compile import folding, pipeline
from .frontend import nnp
from .errors import DoesNotFitError, MismatchError, UsageError
from .frontend.streamline import streamline

RTL_NAME = "finngen_accelerator"


@dataclass
class Options:
    model: Path
    fps: str                        # a number, or "max"
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


def target_budget(fps: str, clock_mhz: float):
    """Cycles per frame for ``--fps`` (None for "max")."""
    if fps == "max":
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
    from .compile import resources
    out = Path(opts.out) if opts.out else Path("build") / Path(opts.model).stem
    if out.exists() and not opts.force:
        raise UsageError(f"{out} already exists", fix="pass --force to replace it, or choose --out")
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

    progress.step("choosing the folding" if opts.folding is None else f"reading the folding {opts.folding}")

    def cost(layer, fold):
        return sum(resources.estimate_stage(s).lut for s in pipeline.stages(_only(network, layer), {layer.name: fold}))

    def fits(folds):
        return board.fits(resources.estimate(pipeline.stages(network, folds))[0])

    if opts.folding is not None:
        folds = folding.load(opts.folding, network)
    else:
        folds = folding.plan(network, budget, cost) if budget is not None else None
        if folds is None or not fits(folds):
            best, best_folds = folding.fastest_fitting(network, cost, fits)
            if budget is not None or best is None:
                raise _does_not_fit(opts, board, clock, best)
            folds = best_folds
    chain = pipeline.stages(network, folds)
    if budget is not None and pipeline.cycles_per_frame(chain) > budget:
        print(f"finngen: warning: the folding takes {pipeline.cycles_per_frame(chain):,} cycles per frame, "
              f"more than the {budget:,} that --fps {opts.fps} allows at {clock:g} MHz", file=sys.stderr)
    total, per_stage = resources.estimate(chain)
    if not board.fits(total):
        raise DoesNotFitError(f"the folding needs {report.describe(board.usage(total.rounded()))}, more than {board.name} has "
                              f"({report.describe(board.resources)})",
                              fix="choose smaller PE/SIMD in the folding file, or a larger board")

    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "rtl").mkdir(parents=True)
        progress.step("generating Verilog")
        interface = _write_rtl(tmp, network, folds)
        shutil.copyfile(opts.model, tmp / "model.nnp")
        (tmp / "folding.yaml").write_text(folding.dump(network, folds))
        meta = {"model": Path(opts.model).name, "network": network.name, "board": board.name,
                "board_file": board.path, "clock_mhz": clock, "target_fps": opts.fps,
                "input": {"bits": opts.input_type.bits, "signed": opts.input_type.signed}, "interface": interface}
        (tmp / "build.json").write_text(json.dumps(meta, indent=2) + "\n")
        if board.family == "zynq":
            vivado.write_project(tmp, meta, board)
            driver.write_driver(tmp, network, meta)
        if opts.selftest and board.family == "zynq":
            from .board.selftest import write_selftest   # selftest imports this module
            write_selftest(tmp, network, folds, meta, board)
        verification = None
        if opts.verify > 0:
            progress.step(f"verifying {opts.verify} frames in RTL simulation ({opts.simulator})")
            verification = verify_rtl(tmp, network, frames=random_frames(network, opts.verify),
                                      simulator=opts.simulator)
            if not verification["bit_exact"]:
                raise MismatchError(f"the RTL output differs from the golden model in frame "
                                    f"{verification['first_mismatch']} of {opts.verify}",
                                    fix="this is a finngen bug: please report it with the model")
        # -- ECP5 bitstream (issue 16): its clock may differ from the request with --clock auto
        place_and_route = None
        if board.family == "ecp5":
            from .board import bitstream
            progress.step("synthesising, placing, routing and packing the ECP5 bitstream")
            place_and_route = bitstream.write_accelerator(
                tmp, network, folds, board, opts.clock_mhz or board.clock_mhz,
                progress=lambda text: print(f"finngen:       {text}", file=sys.stderr, flush=True))
            clock = meta["clock_mhz"] = place_and_route.clock_mhz
            meta["baud"] = board.baud
            (tmp / "build.json").write_text(json.dumps(meta, indent=2) + "\n")
            if opts.selftest:
                from .board.selftest import write_selftest
                progress.step(f"building the self-test bitstream at {clock:g} MHz")
                write_selftest(tmp, network, folds, meta, board)
        # -- end ECP5 bitstream
        progress.step("writing the report")
        summary = report.summary(meta, network, chain, per_stage, total, board, clock, budget, verification)
        if place_and_route is not None:
            summary["place_and_route"] = asdict(place_and_route)
        report.write(tmp, summary)
        progress.done()
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _only(network, layer):
    """A one-layer network, to cost a layer's stages on their own."""
    return ir.Network(network.name, network.input, [layer], network.output)


def _does_not_fit(opts, board, clock, best):
    if best is None:
        return DoesNotFitError(f"{opts.model} does not fit {board.name} at any folding",
                               fix="choose a larger board")
    return DoesNotFitError(f"--fps {opts.fps} does not fit {board.name} at {clock:g} MHz; the highest that fits "
                           f"is {clock * 1e6 / best:,.0f} FPS",
                           fix=f"use --fps {int(clock * 1e6 / best)} or lower, or --fps max")


def _write_rtl(directory: Path, network, folds) -> dict:
    from amaranth.back import verilog

    from .hw.accelerator import Accelerator, AxiStreamTop
    accelerator = Accelerator(network, folds)
    top = AxiStreamTop(accelerator)
    text = verilog.convert(top, name=RTL_NAME, ports=top.ports, emit_src=False)
    (directory / "rtl" / f"{RTL_NAME}.v").write_text(text)
    return accelerator.interface


def random_frames(network: ir.Network, count: int, seed: int = 0) -> np.ndarray:
    """Seeded random input streams (count, H, W, C) covering the whole input range."""
    t = network.input.stream_type
    shape = network.input.stream_shape
    rng = np.random.default_rng(seed)
    return rng.integers(0 if t.bipolar else t.min, 2 if t.bipolar else t.max + 1,
                        (count, shape.height, shape.width, shape.channels))


def simulate(directory: Path, network, stream, *, simulator="verilator", **traffic):
    """Run the build's RTL on an input stream; return (output stream, SimResult). ``traffic``
    passes stalls and a mid-frame reset on to :func:`finngen.rtlsim.run`."""
    from . import rtlsim
    interface = json.loads((directory / "build.json").read_text())["interface"]
    result = rtlsim.run(directory / "rtl" / f"{RTL_NAME}.v", codec.pack_frames(interface, stream),
                        directory / "sim", simulator=simulator, **traffic)
    shape = network.last.out_shape
    return codec.unpack_frames(interface, result.outputs, (shape.height, shape.width, shape.channels)), result


def verify_rtl(directory: Path, network, frames, simulator="verilator") -> dict:
    """Compare the RTL with the golden model on ``frames``; measure steady-state cycles per frame."""
    from . import golden
    got, result = simulate(directory, network, frames, simulator=simulator)
    expected = golden.forward(network, frames)
    wrong = [i for i in range(len(frames)) if not np.array_equal(got[i], expected[i])]
    return {"frames": len(frames), "bit_exact": not wrong, "first_mismatch": wrong[0] if wrong else None,
            "sim_cycles_per_frame": result.cycles_per_frame, "simulator": result.simulator}
