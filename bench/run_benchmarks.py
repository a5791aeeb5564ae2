"""finngen's speed and size benchmarks: prints a markdown report (docs/benchmarks.md).

    .venv/bin/python -m bench.run_benchmarks [--quick] [--case MODEL:FPS ...]

For every example it builds the accelerator, simulates it in Verilator and compares the
measured cycles per frame with the prediction; for CNV-W1A1 it also checks the fit at 9,000
FPS on the PYNQ-Z1, the estimate at BNN-PYNQ's published folding, and the build time; for CNV
and LFC the frames per second per LUT against BNN-PYNQ's. --quick simulates only the digits
examples (a Verilator build and run of LFC or CNV takes ten minutes); --case runs only the
cases named (the CNV section only with cnv_w1a1:9000), to refresh those rows. It prints the
sections of docs/benchmarks.md that it measures; the others come from their own commands, named there.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from finngen.report import faster_plan

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "examples" / "models"
FINNGEN = [sys.executable, "-m", "finngen.cli"]

# model, --fps at 100 MHz on the PYNQ-Z1, simulate?
CASES = [
    ("digits_mlp", "20000", True),
    ("digits_cnn", "20000", True),
    ("lfc_w1a1", "100000", True),
    ("lfc_w1a1", "max", False),
    ("cnv_w1a1", "9000", True),
    ("cnv_w1a1", "max", False),
]
# BNN-PYNQ on the PYNQ-Z1 at 100 MHz (../shared/design/anchors.md): Vivado's LUTs; CNV's rate
# is measured, LFC's follows from its published bottleneck of 512 cycles per frame.
BNN_PYNQ = {"cnv_w1a1": {"lut": 26072, "bram36": 124, "fps": 3020},
            "lfc_w1a1": {"lut": 28360, "bram36": 110, "fps": 100e6 / 512}}


def build(model, out, *extra):
    started = time.monotonic()
    run = subprocess.run(FINNGEN + ["build", str(MODELS / f"{model}.nnp"), "--board", "pynq-z1", "--out", str(out),
                                    "--force", *extra], capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"build of {model} failed: {run.stderr.strip().splitlines()[-1]}")
    return json.loads((out / "report.json").read_text()), time.monotonic() - started


def row(model, fps, report, seconds):
    p, r, v = report["predicted"], report["resources"]["estimate"], report["verification"]
    measured = v["sim_cycles_per_frame"] if v else None
    error = f"{(measured - p['cycles_per_frame']) / p['cycles_per_frame']:+.2%}" if measured else "not simulated"
    return (f"| {model} | {fps} | {p['cycles_per_frame']:,} | {measured and f'{measured:,.0f}' or '-'} | {error} | "
            f"{p['fps']:,.0f} | {r['lut']:,.0f} | {r['bram36']:g} | {p['xnor_lanes']:,} | "
            f"{p['lane_utilisation']:.1%} | {fps_per_lut(report):.3f} | {seconds:.0f} s |")


def fps_per_lut(report):
    return report["predicted"]["fps"] / report["resources"]["estimate"]["lut"]


def against_bnn_pynq(model, fps, report):
    ours, theirs = fps_per_lut(report), BNN_PYNQ[model]
    per_lut = theirs["fps"] / theirs["lut"]
    return (f"| {model} | {fps} | {report['predicted']['fps']:,.0f} | {report['resources']['estimate']['lut']:,.0f} | "
            f"{ours:.3f} | {theirs['fps']:,.0f} | {theirs['lut']:,} | {per_lut:.3f} | {ours / per_lut:.2f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="simulate only the digits examples")
    parser.add_argument("--case", nargs="+", metavar="MODEL:FPS", choices=[f"{m}:{f}" for m, f, _ in CASES],
                        help="only these cases")
    args = parser.parse_args()
    cases = [case for case in CASES if args.case is None or f"{case[0]}:{case[1]}" in args.case]
    lines = ["| model | --fps | predicted cycles/frame | simulated | difference | predicted FPS | LUT (est.) "
             "| BRAM36 (est.) | XNOR lanes | lane utilisation | FPS per LUT | build time |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    per_lut = ["| network | finngen --fps | FPS | LUT (est.) | FPS per LUT | BNN-PYNQ FPS | BNN-PYNQ LUT "
               "| BNN-PYNQ FPS per LUT | ratio |", "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model, fps, simulate in cases:
            verify = "0" if (args.quick and not model.startswith("digits")) or not simulate else "3"
            report, seconds = build(model, tmp / f"{model}_{fps}", "--fps", fps, "--verify", verify)
            lines.append(row(model, fps, report, seconds))
            print(lines[-1], flush=True)
            if model in BNN_PYNQ:
                per_lut.append(against_bnn_pynq(model, fps, report))
        cnv = cnv_section(tmp) if ("cnv_w1a1", "9000", True) in cases else []
    print("\n".join(["## Throughput and size (PYNQ-Z1, 100 MHz)", "", *lines, "",
                     "## Frames per second per LUT against BNN-PYNQ (PYNQ-Z1, 100 MHz)", "", *per_lut, "", *cnv]))


def cnv_section(tmp):
    """CNV-W1A1 at --fps 9000 (built in ``tmp`` by the cases), at BNN-PYNQ's folding, and its build time."""
    cnv_folding = ROOT / "bench" / "cnv_bnn_pynq_folding.yaml"
    report, _ = build("cnv_w1a1", tmp / "cnv_pynq", "--fps", "3000", "--folding", str(cnv_folding), "--verify", "0")
    est = report["resources"]["estimate"]
    times = [build("cnv_w1a1", tmp / "cnv_time", "--fps", "9000", "--verify", "0")[1] for _ in range(3)]
    fit = json.loads((tmp / "cnv_w1a1_9000" / "report.json").read_text())
    return [
        "## CNV-W1A1 against BNN-PYNQ", "",
        f"- At `--fps 9000` on the PYNQ-Z1: predicted {fit['predicted']['fps']:,.0f} FPS{faster_plan(fit)}, estimate "
        f"{fit['resources']['estimate']['lut']:,.0f} LUT and {fit['resources']['estimate']['bram36']:g} BRAM36 of "
        f"53,200 and 140 (BNN-PYNQ runs this network at {BNN_PYNQ['cnv_w1a1']['fps']:,} FPS on the same chip).",
        f"- At BNN-PYNQ's published folding (`bench/cnv_bnn_pynq_folding.yaml`): predicted "
        f"{report['predicted']['cycles_per_frame']:,} cycles/frame, estimate {est['lut']:,.0f} LUT (BNN-PYNQ: "
        f"{BNN_PYNQ['cnv_w1a1']['lut']:,}) and {est['bram36']:g} BRAM36 (BNN-PYNQ: {BNN_PYNQ['cnv_w1a1']['bram36']}).",
        f"- `finngen build cnv_w1a1.nnp --fps 9000 --board pynq-z1 --verify 0`: median {statistics.median(times):.1f} s "
        f"of 3 runs ({', '.join(f'{t:.1f}' for t in times)}).",
    ]


if __name__ == "__main__":
    main()
