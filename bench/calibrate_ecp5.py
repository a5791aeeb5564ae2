"""Fit finngen.compile.ecp5 to nextpnr's placed counts of real ECP5 builds.

    .venv/bin/python bench/calibrate_ecp5.py BUILD_DIR...

Each BUILD_DIR is a ``finngen build ... --board ulx3s-85f`` (its ``bitstream/timing.json`` has
nextpnr's device utilisation). The script recomputes the build's Xilinx-unit estimate from its
model and folding, fits ``a`` of ``LUT4 = a * LUT6 + LUT4_FIXED`` (least squares on the relative
error; ``LUT4_FIXED``, the serial link, is measured apart with synth_ecp5) and prints the table
for docs/calibration.md with the errors of the coefficients in finngen.compile.ecp5.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from finngen import ir  # noqa: E402
from finngen.compile import ecp5, folding, pipeline  # noqa: E402
from finngen.frontend import nnp  # noqa: E402
from finngen.frontend.streamline import streamline  # noqa: E402


def point(directory: Path) -> dict:
    meta = json.loads((directory / "build.json").read_text())
    network = streamline(nnp.read(directory / "model.nnp"), ir.DataType(meta["input"]["bits"], meta["input"]["signed"]))
    total, _ = pipeline.estimate(pipeline.stages(network, folding.load(directory / "folding.yaml", network)))
    cells = json.loads((directory / "bitstream" / "timing.json").read_text())["cells"]
    return {"build": directory.name, "lut6": total.lut, "ff": total.ff, "bram36": total.bram36,
            "lut4": cells["TRELLIS_COMB"], "ff_placed": cells["TRELLIS_FF"], "dp16kd": cells["DP16KD"],
            "estimate": ecp5.usage(total)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+", type=Path)
    points = [point(d) for d in parser.parse_args().builds]
    x = np.array([p["lut6"] for p in points])
    y = np.array([p["lut4"] for p in points])
    # minimise sum(((a * x + fixed) / y - 1) ** 2)
    a = np.sum((y - ecp5.LUT4_FIXED) / y * x / y) / np.sum((x / y) ** 2)
    print(f"fit: LUT4 = {a:.3f} * LUT6 + {ecp5.LUT4_FIXED} (finngen.compile.ecp5 has {ecp5.LUT4_PER_LUT6}); "
          f"placed FF minus estimated FF: median {statistics.median(p['ff_placed'] - p['ff'] for p in points):.0f}")
    print("| build | LUT6 (xc7 est.) | LUT4 est. / placed | FF est. / placed | DP16KD est. / placed |")
    print("|---|---|---|---|---|")
    for p in points:
        e = p["estimate"]
        print(f"| {p['build']} | {p['lut6']:,.0f} | {e['lut4']:,} / {p['lut4']:,} ({e['lut4'] / p['lut4'] - 1:+.1%}) "
              f"| {e['ff']:,} / {p['ff_placed']:,} | {e['dp16kd']} / {p['dp16kd']} |")


if __name__ == "__main__":
    main()
