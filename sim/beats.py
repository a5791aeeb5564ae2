"""Stream beats as Python integers, for the testbenches: the bit layout of
:mod:`finngen.hw.packing` (element ``i`` at bits ``[i * bits, (i + 1) * bits)``, a matrix
layer's valid-tap mask above the data when it pads).
"""
import numpy as np

from finngen import ir

def pack_beats(values, bits: int, count: int) -> list:
    """Pack a flat sequence of integer elements into beats of ``count`` elements (Python ints)."""
    flat = [int(v) & ((1 << bits) - 1) for v in _flat(values)]
    if len(flat) % count:
        raise ValueError(f"{len(flat)} elements do not fill beats of {count}")
    beats = []
    for start in range(0, len(flat), count):
        word = 0
        for i, v in enumerate(flat[start:start + count]):
            word |= v << (i * bits)
        beats.append(word)
    return beats


def unpack_beats(beats, dtype: ir.DataType, count: int) -> list:
    """The flat list of elements in ``beats``, sign-extended for signed types."""
    bits, mask = dtype.bits, (1 << dtype.bits) - 1
    values = []
    for word in beats:
        for i in range(count):
            v = (int(word) >> (i * bits)) & mask
            if dtype.signed and v >> (bits - 1):
                v -= 1 << bits
            values.append(v)
    return values


def pack_windows(layer: ir.MatrixLayer, vectors, valid, simd: int) -> list:
    """Beats of a matrix layer's input, from :func:`finngen.golden.windows` output: per output
    pixel ``fan_in / simd`` beats, with the mask above the data when the layer pads."""
    bits = layer.in_type.bits
    data_beats = pack_beats(vectors, bits, simd)
    if not layer.has_padding:
        return data_beats
    n = len(data_beats) // (valid.size // simd)
    mask_beats = pack_beats([v for _ in range(n) for v in _flat(valid)], 1, simd)
    return [d | (m << (bits * simd)) for d, m in zip(data_beats, mask_beats)]


def _flat(values):
    return np.asarray(values).reshape(-1).tolist()
