"""Host-side images/s of the board driver's packing and unpacking (finngen/codec.py), for LFC- and CNV-sized frames.

    .venv/bin/python bench/host_codec.py [--images 10000] [--runs 5]

What the PYNQ driver does around one DMA transfer per batch, timed here on this machine (a
PYNQ-Z1's Cortex-A9 is several times slower): check and encode nnabla-shaped images, pack
them into the DMA's words, and unpack the accelerator's output words and finish the float32
scores. The interfaces are those of real builds (LFC-W1A1 at --fps 100000, CNV-W1A1 at
--fps 9000, 100 MHz), with the DMA's memory word widths. Prints a markdown table.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from finngen import codec, host  # noqa: E402
from finngen.board import boards, vivado  # noqa: E402
from finngen.compile import objective, planner  # noqa: E402
from finngen.frontend import nnp  # noqa: E402
from finngen.frontend.streamline import streamline  # noqa: E402
from finngen.hw.accelerator import Accelerator  # noqa: E402
from finngen.ir import DataType  # noqa: E402

MODELS = ROOT / "examples" / "models"
# model, target FPS at 100 MHz, images' values: (low, high)
CASES = [("lfc_w1a1", 100000, (-1, 1)), ("cnv_w1a1", 9000, (0, 255))]


def median_seconds(function, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(model, fps, values, count, runs):
    network = streamline(nnp.read(MODELS / f"{model}.nnp"), DataType(8))
    # the folds `finngen build --fps` builds on the PYNQ-Z1
    folds = objective.choose(network, int(100e6 // fps), planner.Limits.of(boards.load("pynq-z1"))).chosen.folds
    interface = Accelerator(network, folds).interface
    layout = vivado.dma_layout(interface)
    spec = host.spec(network, interface)
    rng = np.random.default_rng(0)
    x = rng.integers(values[0], values[1] + 1, (count,) + tuple(network.input.nnabla_shape)).astype(np.float32)

    def pack():
        return codec.pack_frames(interface, codec.encode_input(spec["input"], x), layout["in_width"])
    pack_s, words = median_seconds(pack, runs)
    # output words as the DMA writes them: each beat zero-extended to the memory word
    beats = rng.integers(0, 1 << interface["out_bits"], (count, interface["out_beats"] * interface["out_lanes"]))
    out = codec.pack_words(beats, interface["out_bits"], interface["out_lanes"], layout["out_width"])
    out = out.reshape(count, -1)
    shape = spec["output"]["stream_shape"]

    def unpack():
        return codec.decode_output(spec["output"], codec.unpack_frames(interface, out, shape))
    unpack_s, _ = median_seconds(unpack, runs)
    return {"model": model, "in": f"{interface['in_lanes']} x {interface['in_bits']} bits in {layout['in_width']}",
            "in_bytes": words[0].nbytes,
            "out": f"{interface['out_lanes']} x {interface['out_bits']} bits in {layout['out_width']}",
            "out_bytes": out[0].nbytes, "pack": count / pack_s, "unpack": count / unpack_s}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=10000, help="images per pass (default 10000)")
    p.add_argument("--runs", type=int, default=5, help="timed passes (median; default 5)")
    args = p.parse_args()
    rows = [measure(*case, args.images, args.runs) for case in CASES]
    print("| frames | input beat (lanes x bits in word) | bytes in | check + encode + pack (images/s) "
          "| output beat | bytes out | unpack + float32 epilogue (images/s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['in']} | {r['in_bytes']:,} | {r['pack']:,.0f} | {r['out']} | {r['out_bytes']:,} "
              f"| {r['unpack']:,.0f} |")


if __name__ == "__main__":
    main()
