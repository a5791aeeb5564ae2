"""Place and route the widest matrix unit of a build on its own, out of context (nextpnr-ecp5).

    .venv/bin/python bench/time_matrix_unit.py BUILD [--clock 150]

BUILD is a directory written by ``finngen build`` (e.g. CNV-W1A1 at ``--fps 9000``); the unit
with the largest PE x SIMD of its folding is timed at ``--clock`` MHz on the LFE5U-85F-6.
"""
import argparse
import json
from pathlib import Path

from amaranth.back import verilog

from finngen.board import timing
from finngen.compile import folding
from finngen.frontend import nnp
from finngen.frontend.streamline import streamline
from finngen.hw import MVTU
from finngen.ir import DataType


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build", type=Path)
    parser.add_argument("--clock", type=float, default=150.0, metavar="MHZ")
    args = parser.parse_args()
    meta = json.loads((args.build / "build.json").read_text())
    network = streamline(nnp.read(args.build / "model.nnp"),
                         DataType(meta["input"]["bits"], meta["input"]["signed"]))
    folds = folding.load(args.build / "folding.yaml", network)
    layer = max(network.matrix_layers, key=lambda l: folds[l.name].pe * folds[l.name].simd)
    fold = folds[layer.name]
    unit = MVTU(layer, fold.pe, fold.simd, weights=fold.weights)
    text = verilog.convert(unit, name="mvtu", emit_src=False)
    report = timing.place_and_route(text, "mvtu", args.build / "timing-mvtu", clock_mhz=args.clock)
    t = timing.summarize(report, args.clock, timing.STAND_IN)
    print(f"{layer.name}: PE {fold.pe}, SIMD {fold.simd} (MH {layer.out_channels}, MW {layer.fan_in}), "
          f"latency {unit.latency} cycles")
    print(f"Fmax {t['fmax_mhz']:g} MHz on {t['part']} ({'meets' if t['met'] else 'MISSES'} {args.clock:g} MHz); "
          f"{t['lut4']:,} LUT4, {t['ff']:,} FF, {t['dp16kd']} DP16KD")
    print(f"worst path ({t['worst_path']['delay_ns']} ns): {t['worst_path']['from_cell']} -> "
          f"{t['worst_path']['to_cell']}")


if __name__ == "__main__":
    main()
