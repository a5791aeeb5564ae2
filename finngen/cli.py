"""The ``finngen`` command line. Every error is one line on stderr and an exit code (see errors.py)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from .errors import FinngenError, InputDataError, MismatchError, UsageError

INTERRUPTED = 130


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
    simulator_option(q)
    model_options(q)

    q = sub.add_parser("build", help="compile a model into a verified accelerator")
    q.add_argument("model", help="a .nnp file")
    q.add_argument("--fps", required=True, help="target frames per second, or 'max' for the fastest that fits")
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
    simulator_option(q)
    model_options(q)

    q = sub.add_parser("verify", help="compare a build's RTL, the golden model and nnabla")
    q.add_argument("build", help="a build directory")
    q.add_argument("--frames", type=int, default=4, metavar="N", help="random frames to compare (default 4)")
    simulator_option(q)

    q = sub.add_parser("synth", help="run Vivado on a build to make its PYNQ overlay (.bit and .hwh)")
    q.add_argument("build", help="a build directory")

    q = sub.add_parser("estimate", help="synthesize a build with yosys and record its resource counts")
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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args) or 0
    except FinngenError as e:
        if debug:
            raise
        print(f"finngen: error: {e.line()}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("finngen: interrupted", file=sys.stderr)
        return INTERRUPTED
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
    from . import build, host
    from .frontend import nnp
    from .frontend.streamline import streamline
    directory = Path(args.model)
    if directory.is_dir():
        network = _built_network(directory)
    elif args.backend in ("rtl", "board"):
        raise UsageError(f"--backend {args.backend} runs a build directory, not a model file",
                         fix=f"run 'finngen build {args.model} --fps F --board B' first")
    else:
        network = streamline(nnp.read(args.model), _input_type(args))
    x = load_array(args.input)
    if args.backend == "golden":
        y = host.run_golden(network, x)
    elif args.backend == "board":
        y = _run_board(args, directory, network, x)
    else:
        stream = host.encode_input(network, x)
        print(f"finngen: simulating {len(x)} images in {args.simulator}...", file=sys.stderr, flush=True)
        out, _ = build.simulate(directory, network, stream, simulator=args.simulator)
        y = host.decode_output(network, out)
    save_array(args.output, y)
    print(f"wrote {args.output}: {y.shape[0]} images, output {y.shape[1:]} float32 ({args.backend})",
          file=sys.stderr)


def _run_board(args, directory, network, x):
    from .board import serial_host
    meta = _build_meta(directory)
    if "baud" not in meta:
        raise UsageError(f"{directory} has no serial link: it was built for {meta['board']}",
                         fix="--backend board runs builds for ECP5 boards (finngen boards)")
    if not args.port:
        raise UsageError("--backend board needs --port", fix="give the board's serial port, e.g. --port /dev/ttyUSB0")
    baud = args.baud or meta["baud"]
    print(f"finngen: running {len(x)} images on the board at {args.port} ({baud} baud)...", file=sys.stderr,
          flush=True)
    return serial_host.run(network, meta["interface"], x, args.port, baud)


def load_array(path):
    import numpy as np
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: no such file", fix="give a .npy file saved with numpy.save")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputDataError(f"{path}: not a readable .npy array ({e})", fix="save the images with numpy.save")


def save_array(path, array):
    """Write ``array`` to ``path`` through a temporary file, so no half-written file is left."""
    import numpy as np
    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: the output directory does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
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


def _built_network(directory: Path):
    """The network of a build directory, streamlined as it was built."""
    from .frontend import nnp
    from .ir import DataType
    from .frontend.streamline import streamline
    meta = _build_meta(directory)
    return streamline(nnp.read(directory / "model.nnp"), DataType(meta["input"]["bits"], meta["input"]["signed"]))


def _build_meta(directory: Path) -> dict:
    path = directory / "build.json"
    if not path.is_file():
        raise UsageError(f"{directory} is not a finngen build directory (no build.json)",
                         fix="give a directory written by 'finngen build'")
    return json.loads(path.read_text())


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
    if args.estimate:
        from .board.estimate import estimate_build
        estimate_build(out)
    data = json.loads((out / "report.json").read_text())
    p, r, v = data["predicted"], data["resources"]["estimate"], data["verification"]
    print(f"built {out}: {p['fps']:,.0f} FPS predicted ({p['cycles_per_frame']:,} cycles/frame at "
          f"{data['clock_mhz']:g} MHz), {report.describe(r)}"
          + (f"; RTL bit exact on {v['frames']} frames, {v['sim_cycles_per_frame']:,.0f} cycles/frame measured"
             if v else "; not verified (--verify 0)"))
    if "place_and_route" in data:
        pnr = data["place_and_route"]
        print(f"bitstream {out / 'bitstream' / 'top.bit'}: nextpnr reached {pnr['fmax_mhz']:.1f} MHz for the "
              f"{pnr['clock_mhz']:g} MHz clock, {pnr['cells']['TRELLIS_COMB']:,} LUT4, {pnr['cells']['TRELLIS_FF']:,} FF, "
              f"{pnr['cells']['DP16KD']} DP16KD; load it with 'finngen flash {out}'")


def _verify(args):
    import numpy as np

    from . import build, golden, host
    directory = Path(args.build)
    network = _built_network(directory)
    if args.frames < 2:
        raise UsageError(f"--frames {args.frames}: at least 2 frames are needed to measure a frame period")
    stream = build.random_frames(network, args.frames, seed=1)
    print(f"finngen: simulating {args.frames} frames in {args.simulator}...", file=sys.stderr, flush=True)
    rtl, result = build.simulate(directory, network, stream, simulator=args.simulator)
    rtl_golden = np.array_equal(rtl, golden.forward(network, stream))
    scores = host.decode_output(network, rtl)
    nnabla = _nnabla_forward(directory / "model.nnp", host.nnabla_input(network, stream))
    rtl_nnabla = np.array_equal(scores.view(np.uint32), nnabla.view(np.uint32))
    predicted = json.loads((directory / "report.json").read_text())["predicted"]["cycles_per_frame"]
    measured = result.cycles_per_frame
    print(f"RTL == golden model: {'yes' if rtl_golden else 'NO'} ({args.frames} frames)")
    print(f"RTL == nnabla (float32, bit for bit): {'yes' if rtl_nnabla else 'NO'}")
    print(f"cycles per frame: {measured:,.0f} measured, {predicted:,} predicted "
          f"({(measured - predicted) / predicted:+.2%})")
    if not (rtl_golden and rtl_nnabla):
        raise MismatchError("the RTL simulation disagrees with the golden model or nnabla")


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
    directory = Path(args.build)
    _build_meta(directory)
    counts = estimate_build(directory)
    data = json.loads((directory / "report.json").read_text())
    model = data["resources"]["estimate"]
    print(f"{'':8}{'analytic':>10}{'yosys':>10}{'board':>10}")
    for key in ("lut", "ff", "bram36", "dsp"):
        number = "{:>10,g}" if key == "bram36" else "{:>10,.0f}"
        print(f"{key.upper():8}" + number.format(model[key]) + number.format(counts[key])
              + f"{data['resources']['board'][key]:>10,}")
    print(f"{'CARRY4':8}{'':>10}{counts['carry4']:>10,}")


def _synth(args):
    from .board import vivado
    directory = Path(args.build)
    _build_meta(directory)
    out = vivado.synth(directory)
    print(f"wrote {out}: copy the .bit and .hwh into {directory / 'driver'} (see its README.md)")


def _flash(args):
    from .board.flash import flash
    bitstream = flash(Path(args.build), cable=args.cable, to_flash=args.flash, selftest_image=args.selftest)
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
    result = deploy(Path(args.build), args.host, args.dir, images=args.images, python=args.python)
    print(f"{args.host}: {result['report']}")
    print(f"board == golden model (float32, bit for bit): {'yes' if result['match'] else 'NO'} "
          f"({result['images']} images)")
    check(result)


_COMMANDS = {"inspect": _inspect, "run": _run, "boards": _boards, "build": _build, "verify": _verify,
             "estimate": _estimate, "synth": _synth, "flash": _flash, "deploy": _deploy}

if __name__ == "__main__":
    sys.exit(main())
