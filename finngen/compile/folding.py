"""Folding: how much parallelism each layer gets, its legal values, and folding files.

A matrix layer's folding is (PE, SIMD): PE output channels and SIMD input elements per cycle.
PE divides the output channels; SIMD divides the fan-in, for a convolution ``k * k * C`` (the
sliding window hands out SIMD elements of the window in (ky, kx, c) order, spanning taps and
kernel rows as needed). Every other stage takes its width from its neighbours: a pool runs at
the PE of the layer before it, and a pool on the accelerator's input at a PE of its own
(``Fold(pe, pe)``). What a folding costs in
cycles and resources is the stage kinds' business (:mod:`finngen.compile.kinds`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import ir
from ..errors import UsageError
from .resources import ROM_PLACES


@dataclass(frozen=True)
class Fold:
    pe: int
    simd: int
    # where a matrix layer's weight memory goes, "block" or "logic"; None: where
    # finngen.compile.resources.rom_style puts it (the planner moves some to idle block RAM)
    weights: str | None = None



@functools.lru_cache(maxsize=None)
def divisors(n: int) -> list:
    """The divisors of ``n``, ascending (the planner asks for the same few thousands of times)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def legal_simd(layer: ir.MatrixLayer) -> list:
    return divisors(layer.fan_in)


def check(layer: ir.MatrixLayer, fold: Fold):
    """Raise :class:`UsageError` unless ``fold`` is legal for ``layer``."""
    if fold.pe not in divisors(layer.out_channels):
        raise UsageError(f"layer {layer.name!r}: PE {fold.pe} does not divide its {layer.out_channels} output channels",
                         fix=f"choose PE from {divisors(layer.out_channels)}")
    if fold.simd not in legal_simd(layer):
        what = (f"its fan-in {layer.fan_in} ({layer.kernel}x{layer.kernel} taps x {layer.in_shape.channels} channels)"
                if layer.is_conv else f"its fan-in {layer.fan_in}")
        raise UsageError(f"layer {layer.name!r}: SIMD {fold.simd} does not divide {what}",
                         fix=f"choose SIMD from {legal_simd(layer)}")


def input_pools(network: ir.Network) -> list:
    """The pools in front of the first matrix layer: they read the accelerator's input, so no
    layer before them sets their lanes and the folding does (as their PE)."""
    pools = []
    for layer in network.layers:
        if isinstance(layer, (ir.MatrixLayer, ir.Residual)):
            break
        pools.append(layer)
    return pools


def folded_layers(network: ir.Network) -> list:
    """The layers a folding names: every matrix layer and the input pools, in network order."""
    pools = input_pools(network)
    return [layer for layer in ir.walk(network.layers) if isinstance(layer, ir.MatrixLayer) or layer in pools]


def check_pool(layer: ir.PoolLayer, fold: Fold):
    """Raise :class:`UsageError` unless ``fold`` (PE lanes) is legal for the input pool ``layer``."""
    if fold.pe not in divisors(layer.in_shape.channels) or fold.simd != fold.pe:
        raise UsageError(f"layer {layer.name!r}: PE {fold.pe} does not divide its {layer.in_shape.channels} channels",
                         fix=f"choose PE from {divisors(layer.in_shape.channels)}")


# -- folding files ------------------------------------------------------------------------------

def dump(network: ir.Network, folds: dict) -> str:
    """The folding file: ``layers: {name: {pe: P, simd: S}}`` in network order (a pool on the
    input: ``{pe: P}``, its channels per beat), with ``weights: block`` or ``logic`` where the
    folding places a layer's weight memory itself."""
    lines = ["# finngen folding: PE (output channels per cycle) and SIMD (inputs per cycle) per layer",
             "layers:"]
    for layer in folded_layers(network):
        f = folds[layer.name]
        entry = f"{{pe: {f.pe}}}" if isinstance(layer, ir.PoolLayer) else \
            f"{{pe: {f.pe}, simd: {f.simd}{f', weights: {f.weights}' if f.weights else ''}}}"
        lines.append(f"  {yaml.safe_dump(layer.name).strip().removesuffix('...').strip()}: {entry}")
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
    layers = folded_layers(network)
    names = [layer.name for layer in layers]
    unknown = [k for k in entries if k not in names]
    if unknown:
        raise UsageError(f"{path}: no layer named {unknown[0]!r} in the model", fix=f"layers: {', '.join(names)}")
    folds = {}
    for layer in layers:
        entry = entries.get(layer.name)
        pool = isinstance(layer, ir.PoolLayer)
        keys = ("pe",) if pool else ("pe", "simd")
        if not (isinstance(entry, dict) and all(isinstance(entry.get(k), int) for k in keys)):
            wanted = "{pe: P}" if pool else "{pe: P, simd: S}"
            raise UsageError(f"{path}: layer {layer.name!r} needs {wanted} with integers, not {entry!r}")
        if pool:
            fold = Fold(entry["pe"], entry["pe"])
            check_pool(layer, fold)
        else:
            weights = entry.get("weights")
            if weights is not None and weights not in ROM_PLACES:
                raise UsageError(f"{path}: layer {layer.name!r}: weights: {weights!r} is not a place for its weights",
                                 fix=f"write weights: {' or '.join(ROM_PLACES)}, or leave it out")
            fold = Fold(entry["pe"], entry["simd"], weights)
            check(layer, fold)
        folds[layer.name] = fold
    return folds
