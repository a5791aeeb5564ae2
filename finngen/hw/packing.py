"""How elements are packed into stream beats, for the hardware and for the testbenches.

A beat of ``count`` elements of a :class:`~finngen.ir.DataType` is a ``count * bits`` wide word
with element ``i`` at bits ``[i * bits, (i + 1) * bits)``, in the IR's encoding (bipolar +1 is
the bit 1; integers are two's complement or plain binary). A matrix layer with padding also
receives a mask of ``count`` bits per beat (1 = a real tap, 0 = padding): :func:`window_shape`.
"""
import numpy as np
from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data

from .. import ir

__all__ = ["require_divisor", "element_shape", "beat_shape", "window_shape", "lanes",
           "pack_beats", "unpack_beats", "pack_windows"]


def require_divisor(total, part, what, of):
    """Raise :exc:`ValueError` unless ``part`` is a positive divisor of ``total``."""
    if not isinstance(part, int) or part < 1 or total % part:
        raise ValueError(f"{what} must be a positive divisor of {of} ({total}), not {part!r}")


# -- Amaranth side ----------------------------------------------------------------------------

def element_shape(dtype: ir.DataType) -> Shape:
    """The shape of one element: signed for signed integers, unsigned otherwise."""
    return signed(dtype.bits) if dtype.signed else unsigned(dtype.bits)


def beat_shape(dtype: ir.DataType, count: int) -> Shape:
    """A plain beat of ``count`` elements."""
    return unsigned(dtype.bits * count)


def window_shape(dtype: ir.DataType, count: int, masked: bool):
    """The beat of a matrix layer's input vector: plain data, or data plus a valid-tap mask when
    the layer pads (``data`` occupies the low bits, ``mask`` the high bits)."""
    if not masked:
        return beat_shape(dtype, count)
    return data.StructLayout({"data": beat_shape(dtype, count), "mask": unsigned(count)})


def lanes(word, dtype: ir.DataType, count: int):
    """The ``count`` elements of a beat ``word`` as values of :func:`element_shape`."""
    bits = dtype.bits
    parts = [word[i * bits:(i + 1) * bits] for i in range(count)]
    return [part.as_signed() if dtype.signed else part for part in parts]


# -- Python side (testbenches, host) ------------------------------------------------------------

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
