"""Folding: how much parallelism each layer gets, and what that costs in cycles.

A matrix layer's folding is (PE, SIMD): PE output channels and SIMD input elements per cycle.
PE divides the output channels; SIMD divides the fan-in and, for a convolution, the input
channels (the sliding window hands out SIMD channels of one tap per beat). Every other stage
takes its width from its neighbours: a pool runs at the PE of the layer before it.

The cycle counts here are the hardware's own (``finngen.hw``), so the prediction and the RTL
agree by construction.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import ir
from ..errors import UsageError


@dataclass(frozen=True)
class Fold:
    pe: int
    simd: int


def divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


def legal_simd(layer: ir.MatrixLayer) -> list:
    if layer.is_conv:
        return divisors(layer.in_shape.channels)
    return divisors(layer.fan_in)


def check(layer: ir.MatrixLayer, fold: Fold):
    """Raise :class:`UsageError` unless ``fold`` is legal for ``layer``."""
    if fold.pe not in divisors(layer.out_channels):
        raise UsageError(f"layer {layer.name!r}: PE {fold.pe} does not divide its {layer.out_channels} output channels",
                         fix=f"choose PE from {divisors(layer.out_channels)}")
    if fold.simd not in legal_simd(layer):
        what = f"its {layer.in_shape.channels} input channels" if layer.is_conv else f"its fan-in {layer.fan_in}"
        raise UsageError(f"layer {layer.name!r}: SIMD {fold.simd} does not divide {what}",
                         fix=f"choose SIMD from {legal_simd(layer)}")


def cycles_per_pixel(layer: ir.MatrixLayer, pe: int, simd: int) -> int:
    """Cycles the matrix-vector-threshold unit spends on one output pixel in steady state: it
    reads the MW/SIMD beats of the pixel's vector once and replays them for MH/PE neuron folds."""
    return (layer.out_channels // pe) * (layer.fan_in // simd)


def matrix_cycles(layer: ir.MatrixLayer, fold: Fold) -> int:
    """Cycles per frame of the matrix-vector-threshold unit."""
    return layer.out_shape.pixels * cycles_per_pixel(layer, fold.pe, fold.simd)


def window_cycles(layer: ir.MatrixLayer, fold: Fold) -> int:
    """Cycles per frame of the sliding window unit: it reads each input beat once and writes
    each window beat once, at most one of each per cycle."""
    per_pixel = layer.in_shape.channels // fold.simd
    return max(layer.in_shape.pixels * per_pixel, layer.out_shape.pixels * layer.fan_in // fold.simd)


def pool_cycles(layer: ir.PoolLayer, lanes: int) -> int:
    return layer.in_shape.pixels * layer.in_shape.channels // lanes


def candidates(layer: ir.MatrixLayer) -> list:
    """Every legal fold of ``layer``, slowest first."""
    folds = [Fold(pe, simd) for pe in divisors(layer.out_channels) for simd in legal_simd(layer)]
    return sorted(folds, key=lambda f: (-matrix_cycles(layer, f), f.pe * f.simd, f.simd))


# -- folding files ------------------------------------------------------------------------------

def dump(network: ir.Network, folds: dict) -> str:
    """The folding file: ``layers: {name: {pe: P, simd: S}}`` in network order."""
    lines = ["# finngen folding: PE (output channels per cycle) and SIMD (inputs per cycle) per layer",
             "layers:"]
    for layer in network.matrix_layers:
        f = folds[layer.name]
        lines.append(f"  {yaml.safe_dump(layer.name).strip().removesuffix('...').strip()}: "
                     f"{{pe: {f.pe}, simd: {f.simd}}}")
    return "\n".join(lines) + "\n"


def load(path, network: ir.Network) -> dict:
    """Read a folding file for ``network``; every layer must be named, with a legal fold."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such folding file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML ({e})".replace("\n", " "))
    entries = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise UsageError(f"{path}: a folding file holds 'layers:' mapping each layer name to {{pe: P, simd: S}}")
    names = [layer.name for layer in network.matrix_layers]
    unknown = [k for k in entries if k not in names]
    if unknown:
        raise UsageError(f"{path}: no layer named {unknown[0]!r} in the model", fix=f"layers: {', '.join(names)}")
    folds = {}
    for layer in network.matrix_layers:
        entry = entries.get(layer.name)
        if not (isinstance(entry, dict) and isinstance(entry.get("pe"), int) and isinstance(entry.get("simd"), int)):
            raise UsageError(f"{path}: layer {layer.name!r} needs {{pe: P, simd: S}} with integers, not {entry!r}")
        fold = Fold(entry["pe"], entry["simd"])
        check(layer, fold)
        folds[layer.name] = fold
    return folds


# -- choosing the folds -------------------------------------------------------------------------

def slowest_stage_cycles(layer: ir.MatrixLayer, fold: Fold) -> int:
    """The cycles per frame of a matrix layer's own stages (its unit and its sliding window)."""
    from .pipeline import needs_window
    cycles = matrix_cycles(layer, fold)
    return max(cycles, window_cycles(layer, fold)) if needs_window(layer) else cycles


def plan(network: ir.Network, budget: int, cost) -> dict | None:
    """The cheapest fold of every matrix layer that meets ``budget`` cycles per frame, or None
    if some layer cannot meet it at any fold. ``cost(layer, fold)`` ranks the folds that do.

    Widths converters and pools run at the pace of the matrix layers around them, so meeting
    the budget in every matrix layer and window meets it everywhere."""
    folds = {}
    for layer in network.matrix_layers:
        fast_enough = [f for f in candidates(layer) if slowest_stage_cycles(layer, f) <= budget]
        if not fast_enough:
            return None
        folds[layer.name] = min(fast_enough, key=lambda f: (cost(layer, f), f.pe * f.simd))
    return folds


def budgets(network: ir.Network) -> list:
    """Every cycles-per-frame value some fold of some layer reaches, fastest first: the only
    budgets at which the cheapest plan can change."""
    values = {slowest_stage_cycles(layer, f) for layer in network.matrix_layers for f in candidates(layer)}
    return sorted(values)


def fastest_fitting(network: ir.Network, cost, fits) -> tuple:
    """(budget, folds) of the fastest plan for which ``fits(folds)`` holds, or (None, None).

    Slower budgets never need more resources, so a bisection over the reachable budgets finds
    the boundary."""
    values = budgets(network)
    floor = max(min(slowest_stage_cycles(l, f) for f in candidates(l)) for l in network.matrix_layers)
    values = [v for v in values if v >= floor]
    lo, hi = 0, len(values) - 1
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        folds = plan(network, values[mid], cost)
        if folds is not None and fits(folds):
            best, hi = (values[mid], folds), mid - 1
        else:
            lo = mid + 1
    return best if best else (None, None)
