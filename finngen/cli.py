"""The ``finngen`` command line. Every error is one line on stderr and an exit code (see errors.py)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .errors import FinngenError, InputDataError, UsageError

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

    q = sub.add_parser("run", help="run a model on images and write nnabla's output")
    q.add_argument("model", help="a .nnp file")
    q.add_argument("--input", required=True, metavar="X.npy", help="images as nnabla's input variable takes them")
    q.add_argument("--output", required=True, metavar="Y.npy", help="where to write the output")
    q.add_argument("--backend", choices=["golden"], default="golden",
                   help="golden: the exact integer model (default)")
    model_options(q)
    sub.add_parser("boards", help="list the boards finngen knows")
    return p


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
    from . import nnp
    from .inspect import describe
    print(describe(nnp.read(args.model), _input_type(args)))


def _run(args):
    from . import host, nnp
    from .streamline import streamline
    network = streamline(nnp.read(args.model), _input_type(args))
    x = load_array(args.input)
    y = host.run_golden(network, x)
    save_array(args.output, y)
    print(f"wrote {args.output}: {y.shape[0]} images, output {y.shape[1:]} float32 ({args.backend})",
          file=sys.stderr)


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
    from . import boards
    rows = [boards.load(name) for name in boards.known()]
    print(f"{'board':<12} {'part':<22} {'ps':<17} {'clock':>7} {'LUT':>8} {'FF':>8} {'BRAM36':>7} {'DSP':>6}")
    for b in rows:
        r = b.resources
        print(f"{b.name:<12} {b.part:<22} {b.ps:<17} {b.clock_mhz:>4g} MHz {r['lut']:>8} {r['ff']:>8} "
              f"{r['bram36']:>7} {r['dsp']:>6}")


_COMMANDS = {"inspect": _inspect, "run": _run, "boards": _boards}

if __name__ == "__main__":
    sys.exit(main())
