"""The ``finngen`` command line. Every error is one line on stderr and an exit code (see errors.py)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from . import interrupt
from .builddir import BuildDir
from .errors import FinngenError, InputDataError, MismatchError, UsageError
from .progress import Meter

# seconds of RTL simulation per block of `finngen run --backend rtl` (one simulator start each)
RTL_BLOCK_SECONDS = 10


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _parser():
    p = _Parser(prog="finngen", description="Compile binarized nnabla networks into streaming FPGA "
                                            "accelerators, verified in RTL simulation.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def model_options(q):
        q.add_argument("--input-bits", type=int, default=8, metavar="N",
                       help="bit width of the integer input values (default 8)")
        q.add_argument("--input-signed", action="store_true", help="input values are signed")

    q = sub.add_parser("inspect", help="list the layers of a model and whether they are supported")
    q.add_argument("model", help="a .nnp file")
    model_options(q)

    q = sub.add_parser("run", help="run a model or a build on images and write nnabla's output")
    q.add_argument("model", help="a .nnp file, or a build directory")
    q.add_argument("--input", required=True, metavar="X.npy", help="images as nnabla's input variable takes them")
    q.add_argument("--output", required=True, metavar="Y.npy", help="where to write the output")
    q.add_argument("--backend", choices=["golden", "rtl", "board"], default="golden",
                   help="golden: the exact integer model (default); rtl: the build's Verilog in simulation; "
                        "board: the build's ECP5 bitstream on a board over its USB serial port")
    q.add_argument("--port", metavar="DEV", help="--backend board: the board's serial port, e.g. /dev/ttyUSB0")
    q.add_argument("--baud", type=int, metavar="N", help="--backend board: baud rate (default: the build's)")
    q.add_argument("--progress", action="store_true",
                   help="print images done and images/s to stderr even when it is not a terminal")
    simulator_option(q)
    waves_option(q)
    model_options(q)

    q = sub.add_parser("build", help="compile a model into a verified accelerator")
    q.add_argument("model", help="a .nnp file")
    q.add_argument("--fps", help="target frames per second (at least: a faster plan if it gives more FPS per LUT "
                                 "for a few percent more LUTs), or 'max' for the fastest that fits "
                                 "(needed unless --folding fixes the rate)")
    q.add_argument("--board", required=True, help="a board name (see 'finngen boards') or a board .yaml file")
    q.add_argument("--clock", type=_clock, metavar="MHZ",
                   help="accelerator clock (default: the board's); ECP5 boards: 'auto' for the fastest that routes")
    q.add_argument("--out", metavar="DIR", help="build directory (default: build/<model>)")
    q.add_argument("--verify", type=int, default=2, metavar="N",
                   help="frames to check in RTL simulation against the golden model (0 skips; default 2)")
    q.add_argument("--folding", metavar="F.yaml", help="use this PE/SIMD per layer instead of choosing")
    q.add_argument("--force", action="store_true", help="replace an existing build directory")
    q.add_argument("--estimate", action="store_true", help="also synthesize with yosys (see 'finngen estimate')")
    q.add_argument("--selftest", action="store_true",
                   help="also write DIR/selftest/, a Vivado tree for an LED self-test bitstream (see 'finngen flash')")
    q.add_argument("--timing", action="store_true", help="also place and route with nextpnr-ecp5 (see 'finngen timing')")
    simulator_option(q)
    model_options(q)

    q = sub.add_parser("verify", help="compare a build's RTL, the golden model and nnabla")
    q.add_argument("build", help="a build directory")
    q.add_argument("--frames", type=int, default=4, metavar="N", help="random frames to compare (default 4)")
    q.add_argument("--layers", action="store_true",
                   help="also compare every stage's output with the golden model's and name the first that differs "
                        "(done anyway on a mismatch)")
    simulator_option(q)
    waves_option(q)

    q = sub.add_parser("testbench", help="list a build's stages, or run one alone on its golden input and output")
    q.add_argument("build", help="a build directory")
    q.add_argument("--stage", metavar="NAME", help="the stage to run (without it: list the stages)")
    q.add_argument("--frames", type=int, default=2, metavar="N", help="random frames to feed it (default 2)")
    q.add_argument("--seed", type=int, default=0, help="seed of the frames and the random stalls (default 0)")
    simulator_option(q)
    waves_option(q)

    q = sub.add_parser("synth", help="run Vivado on a build to make its PYNQ overlay (.bit and .hwh)")
    q.add_argument("build", help="a build directory")

    q = sub.add_parser("estimate", help="synthesize a build with yosys and record its resource counts")
    q.add_argument("build", help="a build directory")

    q = sub.add_parser("timing", help="place and route a build with nextpnr-ecp5 and report the clock it reaches")
    q.add_argument("build", help="a build directory")

    q = sub.add_parser("flash", help="load a build's bitstream into the board over JTAG (openFPGALoader)")
    q.add_argument("build", help="a build directory")
    q.add_argument("--cable", metavar="NAME", help="openFPGALoader cable (default: the board's own)")
    q.add_argument("--flash", action="store_true",
                   help="ECP5 boards: write the SPI flash (kept over power-off) instead of the FPGA's SRAM")
    q.add_argument("--selftest", action="store_true", help="ECP5 boards: load the self-test bitstream instead")

    q = sub.add_parser("deploy", help="copy a build's overlay and driver to a PYNQ board over ssh and check it there")
    q.add_argument("build", help="a build directory")
    q.add_argument("--host", required=True, metavar="USER@HOST", help="the board as ssh reaches it (keys only)")
    q.add_argument("--dir", default="finngen", metavar="PATH", help="directory on the board (default: finngen in the home)")
    q.add_argument("--images", type=int, default=8, metavar="N", help="seeded test images to run (default 8)")
    q.add_argument("--python", default="python3", metavar="EXE",
                   help="the board's Python with pynq (PYNQ 3: /usr/local/share/pynq-venv/bin/python)")

    sub.add_parser("boards", help="list the boards finngen knows")
    return p


def _clock(text):
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a clock in MHz or 'auto': {text!r}")


def simulator_option(q):
    q.add_argument("--simulator", choices=["verilator", "icarus"], default="verilator",
                   help="RTL simulator (default verilator)")


def waves_option(q):
    q.add_argument("--waves", action="store_true",
                   help="write a waveform of the simulation (FST: GTKWave or Surfer open it) and print its path")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        with interrupt.handled():
            args = _parser().parse_args(argv)
            return _COMMANDS[args.command](args) or 0
    except FinngenError as e:
        if debug:
            raise
        print(f"finngen: error: {e.line()}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        print("finngen: interrupted", file=sys.stderr)
        return interrupt.exit_code(e)
    except Exception as e:  # a bug in finngen: say so in one line, keep the traceback for --debug
        if debug:
            raise
        print(f"finngen: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback "
              "and please report it)", file=sys.stderr)
        return 1


def _input_type(args):
    from .ir import DataType
    if not 1 <= args.input_bits <= 16:
        raise UsageError(f"--input-bits {args.input_bits} is out of range (1 to 16)")
    return DataType(args.input_bits, signed=args.input_signed)


def _inspect(args):
    from .frontend import nnp
    from .frontend.inspect import describe
    print(describe(nnp.read(args.model), _input_type(args)))


def _run(args):
    from . import host
    from .frontend import nnp
    from .frontend.streamline import streamline
    directory = Path(args.model)
    if directory.is_dir():
        network = BuildDir.open(directory).network()
    elif args.backend in ("rtl", "board"):
        raise UsageError(f"--backend {args.backend} runs a build directory, not a model file",
                         fix=f"run 'finngen build {args.model} --fps F --board B' first")
    else:
        network = streamline(nnp.read(args.model), _input_type(args))
    x = load_array(args.input)
    host.check_input(network, x)
    if args.backend == "golden":
        blocks = host.golden_blocks(network, x)
    elif args.backend == "board":
        blocks = [_run_board(args, directory, network, x)]
    else:
        print(f"finngen: simulating {len(x)} images in {args.simulator}...", file=sys.stderr, flush=True)
        blocks = _rtl_blocks(directory, network, x, args.simulator, args.waves)
    with Meter(len(x), force=args.progress) as meter:
        shape = save_blocks(args.output, len(x), blocks, meter)
    print(f"wrote {args.output}: {shape[0]} images, output {shape[1:]} float32 ({args.backend})",
          file=sys.stderr)


def _rtl_blocks(directory, network, x, simulator, waves):
    """nnabla's output from the build's RTL, simulated in blocks of frames that grow to about
    ``RTL_BLOCK_SECONDS`` each, so that progress shows and only a block is in memory."""
    from . import host
    from .sim.buildsim import BuildSim
    rtl = BuildSim(directory, simulator, waves=waves, network=network)
    for _ in host.encode_blocks(network, x, 4096):
        pass    # every image checked before minutes of simulation
    first, size = 0, 16
    while first < len(x):
        started = time.monotonic()
        (stream,) = host.encode_blocks(network, x[first:first + size], size)
        yield host.decode_output(network, rtl.run(stream, name="run", check=False).stream)
        first += len(stream)
        size = min(4096, max(16, int(size * RTL_BLOCK_SECONDS / max(time.monotonic() - started, 1e-3))))


def _run_board(args, directory, network, x):
    from .board import serial_host
    meta = BuildDir.open(directory).meta
    if meta.baud is None:
        raise UsageError(f"{directory} has no serial link: it was built for {meta.board}",
                         fix="--backend board runs builds for ECP5 boards (finngen boards)")
    if not args.port:
        raise UsageError("--backend board needs --port", fix="give the board's serial port, e.g. --port /dev/ttyUSB0")
    baud = args.baud or meta.baud
    print(f"finngen: running {len(x)} images on the board at {args.port} ({baud} baud)...", file=sys.stderr,
          flush=True)
    return serial_host.run(network, meta.interface, x, args.port, baud)


def load_array(path):
    """The .npy array at ``path``, read a block at a time when it is used (see finngen.npyfile)."""
    from .npyfile import NpyFile
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: no such file", fix="give a .npy file saved with numpy.save")
    try:
        return NpyFile(path)
    except (ValueError, OSError, EOFError) as e:
        raise InputDataError(f"{path}: not a readable .npy array ({e})", fix="save the images with numpy.save")


def save_blocks(path, total, blocks, meter) -> tuple:
    """Write ``blocks`` (arrays of ``total`` rows in all) to ``path`` as one .npy array, through a
    temporary file so that no half-written file is left; return the array's shape."""
    from .npyfile import write_blocks
    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: the output directory does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shape = write_blocks(tmp, total, blocks, meter.update)
        os.replace(tmp, path)
        return shape
    except BaseException:
        os.unlink(tmp)
        raise


def _boards(args):
    from .board import boards
    rows = [boards.load(name) for name in boards.known()]
    print(f"{'board':<12} {'part':<22} {'ps/family':<17} {'clock':>7}  resources")
    for b in rows:
        kind = b.ps or b.family
        resources = ", ".join(f"{count} {key.upper()}" for key, count in b.resources.items())
        print(f"{b.name:<12} {b.part:<22} {kind:<17} {b.clock_mhz:>4g} MHz  {resources}")


def _build(args):
    from . import build, report
    from .board import boards
    if args.verify < 0:
        raise UsageError(f"--verify {args.verify} must be 0 or more")
    if args.estimate and boards.load(args.board).family == "ecp5":
        raise UsageError("--estimate synthesizes for Xilinx 7-series; an ECP5 build reports nextpnr's placed counts",
                         fix="leave --estimate out")
    out = build.build(build.Options(
        model=Path(args.model), fps=args.fps, board=args.board, clock_mhz=args.clock,
        out=Path(args.out) if args.out else None, input_type=_input_type(args), verify=args.verify,
        folding=Path(args.folding) if args.folding else None, force=args.force, simulator=args.simulator,
        selftest=args.selftest))
    built = BuildDir.open(out)
    if args.estimate:
        from .board.estimate import estimate_build
        estimate_build(built)
    if args.timing:
        from .board.timing import time_build
        time_build(built)
    data = built.read_report()
    p, r, v = data["predicted"], data["resources"]["estimate"], data["verification"]
    print(f"built {out}: {p['fps']:,.0f} FPS predicted ({p['cycles_per_frame']:,} cycles/frame at "
          f"{data['clock_mhz']:g} MHz), {report.describe(r)}{report.faster_plan(data)}; " + _verified(v))
    if "place_and_route" in data:
        pnr = data["place_and_route"]
        print(f"bitstream {built.bitstream / 'top.bit'}: nextpnr reached {pnr['fmax_mhz']:.1f} MHz for the "
              f"{pnr['clock_mhz']:g} MHz clock, {pnr['cells']['TRELLIS_COMB']:,} LUT4, {pnr['cells']['TRELLIS_FF']:,} FF, "
              f"{pnr['cells']['DP16KD']} DP16KD; load it with 'finngen flash {out}'")


def _verified(v) -> str:
    if not v:
        return "not verified (--verify 0)"
    if v["sim_cycles_per_frame"] is None:   # one frame gives no period
        return f"RTL bit exact on {_frames(v['frames'])}"
    return f"RTL bit exact on {_frames(v['frames'])}, {v['sim_cycles_per_frame']:,.0f} cycles/frame measured"


def _frames(count: int) -> str:
    return f"{count} frame{'s' if count != 1 else ''}"


def _verify(args):
    import numpy as np

    from . import host
    from .frontend.binary_weight import tie_line
    from .frontend.exactness import rounding_line, rounding_reasons
    from .sim.buildsim import BuildSim
    from .sim.probes import first_difference, layer_streams
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames} must be 1 or more")
    built = BuildDir.open(args.build)
    rtl = BuildSim(built.path, args.simulator, waves=args.waves)
    network = rtl.network
    stream = rtl.random_frames(args.frames, seed=1)
    print(f"finngen: simulating {_frames(args.frames)} in {args.simulator}...", file=sys.stderr, flush=True)
    result = rtl.run(stream, name="verify", check=False, probe=args.layers)
    rtl_golden = np.array_equal(result.stream, rtl.expected(stream))
    scores = host.decode_output(network, result.stream)
    nnabla = _nnabla_forward(built.model, host.nnabla_input(network, stream))
    rtl_nnabla = np.array_equal(scores.view(np.uint32), nnabla.view(np.uint32))
    measured = result.cycles_per_frame
    print(f"RTL == golden model: {'yes' if rtl_golden else 'NO'} ({_frames(args.frames)})")
    print(f"RTL == nnabla (float32, bit for bit): {'yes' if rtl_nnabla else 'NO'}")
    for line in (rounding_line(network, scores, nnabla), tie_line(network, stream, scores, nnabla)):
        if line:
            print(line)
    if measured is None:    # one frame gives no period
        print(f"cycles per frame: {rtl.predicted:,} predicted (measuring needs 2 or more frames)")
    else:
        print(f"cycles per frame: {measured:,.0f} measured, {rtl.predicted:,} predicted "
              f"({(measured - rtl.predicted) / rtl.predicted:+.2%})")
    if args.layers or not rtl_golden:
        if not args.layers:
            print("finngen: comparing every stage's output with the golden model...", file=sys.stderr, flush=True)
        where = (first_difference(rtl.chain, result.probes, layer_streams(network, stream)) if args.layers
                 else rtl.diagnose(stream, name="verify"))
        print(f"stages: {where}" if where else
              f"stages: all {len(rtl.chain)} stage outputs equal the golden model's")
    # a network within float32 rounding of nnabla (frontend/exactness.py) is held to the golden model
    if not (rtl_golden and (rtl_nnabla or rounding_reasons(network))):
        raise MismatchError("the RTL simulation disagrees with the golden model or nnabla")


def _testbench(args):
    from .sim.buildsim import BuildSim
    from .sim.runner import StreamTestFailure
    rtl = BuildSim(BuildDir.open(args.build).path, args.simulator, waves=args.waves)
    if args.stage is None:
        print(f"{'stage':<56} {'kind':<16} {'beats in/out per frame':>24}  layer")
        for name, stage in zip(rtl.stage_names(), rtl.chain):
            print(f"{name:<56} {stage.title:<16} {f'{stage.beats_in:,} / {stage.beats_out:,}':>24}  "
                  f"{stage.layer.name}")
        return
    if args.frames < 1:
        raise UsageError(f"--frames {args.frames} must be 1 or more")
    rtl.stage_index(args.stage)
    print(f"finngen: simulating stage {args.stage} alone in {args.simulator}...", file=sys.stderr, flush=True)
    try:
        result = rtl.run_stage(args.stage, frames=args.frames, seed=args.seed)
    except StreamTestFailure as e:
        raise MismatchError(f"stage {args.stage} differs from the golden model: {e.reason}",
                            fix=f"see {e.log} and the waves {e.waves}") from None
    print(f"{args.stage}: {len(result.in_cycles):,} beats in, {len(result.beats):,} beats out over {args.frames} "
          f"frames under random stalls, all equal to the golden model's ({result.out_cycles[-1] + 1:,} cycles)")


def _nnabla_forward(path, x):
    logging.getLogger("nnabla").setLevel(logging.WARNING)
    from nnabla.utils.nnp_graph import NnpLoader
    loader = NnpLoader(str(path))
    net = loader.get_network(loader.get_network_names()[0], batch_size=len(x))
    (inp,) = net.inputs.values()
    (out,) = net.outputs.values()
    inp.d = x
    out.forward(clear_buffer=True)
    return out.d.copy()


def _estimate(args):
    from .board.estimate import estimate_build
    built = BuildDir.open(args.build)
    counts = estimate_build(built)
    data = built.read_report()
    model = data["resources"]["estimate"]
    print(f"{'':8}{'analytic':>10}{'yosys':>10}{'board':>10}")
    for key in ("lut", "ff", "bram36", "dsp"):
        number = "{:>10,g}" if key == "bram36" else "{:>10,.0f}"
        print(f"{key.upper():8}" + number.format(model[key]) + number.format(counts[key])
              + f"{data['resources']['board'][key]:>10,}")
    print(f"{'CARRY4':8}{'':>10}{counts['carry4']:>10,}")


def _timing(args):
    from .board.timing import time_build
    built = BuildDir.open(args.build)
    directory = built.path
    t = time_build(built)
    print(f"{directory}: Fmax {t['fmax_mhz']:g} MHz on {t['part']} "
          f"({'meets' if t['met'] else 'MISSES'} {t['clock_mhz']:g} MHz); "
          f"{t['lut4']:,} LUT4, {t['ff']:,} FF, {t['dp16kd']} DP16KD placed")
    path = t["worst_path"]
    if path["from"]:
        print(f"worst path ({path['delay_ns']} ns): from {path['from']} to {path['to']}")


def _synth(args):
    from .board import vivado
    built = BuildDir.open(args.build)
    out = vivado.synth(built)
    print(f"wrote {out}: copy the .bit and .hwh into {built.driver} (see its README.md)")


def _flash(args):
    from .board.flash import flash
    bitstream = flash(BuildDir.open(args.build), cable=args.cable, to_flash=args.flash, selftest_image=args.selftest)
    where = "into the SPI flash" if args.flash else "into the FPGA"
    if bitstream.parent.name == "bitstream":
        print(f"loaded {bitstream} {where}: run images with 'finngen run {args.build} --backend board "
              "--port /dev/ttyUSB0 --input X.npy --output Y.npy'")
    else:
        print(f"loaded {bitstream} {where}: LED 0 blinks, LED 1 = all outputs matched, LED 2 = mismatch")


def _deploy(args):
    from .board.deploy import check, deploy
    if args.images < 1:
        raise UsageError(f"--images {args.images} must be 1 or more")
    result = deploy(BuildDir.open(args.build), args.host, args.dir, images=args.images, python=args.python)
    print(f"{args.host}: {result['report']}")
    print(f"board == golden model (float32, bit for bit): {'yes' if result['match'] else 'NO'} "
          f"({result['images']} images)")
    check(result)


_COMMANDS = {"inspect": _inspect, "run": _run, "boards": _boards, "build": _build, "verify": _verify,
             "testbench": _testbench, "timing": _timing,
             "estimate": _estimate, "synth": _synth, "flash": _flash, "deploy": _deploy}

if __name__ == "__main__":
    sys.exit(main())
