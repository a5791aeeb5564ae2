"""``python -m finngen_driver --input X.npy --output Y.npy``: run images through the overlay.

Errors are one line on stderr with finngen's exit codes: 2 usage, 4 bad images, 6 no PYNQ.
"""
import argparse
import sys
import time

import numpy as np

from . import DEFAULT_BATCH, Accelerator, OverlayError, codec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m finngen_driver",
                                description="Run images through the finngen overlay and write nnabla's output.")
    p.add_argument("--input", required=True, metavar="X.npy", help="images shaped like nnabla's input, batch first")
    p.add_argument("--output", required=True, metavar="Y.npy", help="where to write the float32 output")
    p.add_argument("--bitfile", metavar="F.bit", help="the overlay (default: the build's, next to this package)")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N",
                   help=f"images per DMA transfer (default {DEFAULT_BATCH})")
    args = p.parse_args(argv)
    if args.batch < 1:
        return _fail(f"--batch {args.batch} must be 1 or more", 2)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        return _fail(f"{args.input}: not a readable .npy array ({e})", 4)
    try:
        accelerator = Accelerator(args.bitfile, args.batch)
        start = time.perf_counter()
        y = accelerator.run(x)
        elapsed = time.perf_counter() - start
        np.save(args.output, y)
    except codec.InputError as e:
        return _fail(f"{e} ({e.fix})" if e.fix else str(e), 4)
    except ImportError as e:
        return _fail(f"{e}: run this on a board with PYNQ (pip install pynq)", 6)
    except (OSError, ValueError, OverlayError) as e:
        return _fail(str(e), 2)
    print(f"{len(y)} images in {elapsed:.3f} s: {len(y) / elapsed:,.0f} images/s "
          f"(batches of {accelerator.batch}, with packing and the float32 epilogue); wrote {args.output}")
    return 0


def _fail(message, code):
    print(f"finngen_driver: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
