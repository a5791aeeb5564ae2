"""How elements are packed into stream beats (the testbenches' side: :mod:`finngen.sim.beats`).

A beat of ``count`` elements of a :class:`~finngen.ir.DataType` is a ``count * bits`` wide word
with element ``i`` at bits ``[i * bits, (i + 1) * bits)``, in the IR's encoding (bipolar +1 is
the bit 1; integers are two's complement or plain binary). A matrix layer with padding also
receives a mask of ``count`` bits per beat (1 = a real tap, 0 = padding): :func:`window_shape`.
"""
from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data

from .. import ir

__all__ = ["require_divisor", "element_shape", "beat_shape", "window_shape", "lanes"]


def require_divisor(total, part, what, of):
    """Raise :exc:`ValueError` unless ``part`` is a positive divisor of ``total``."""
    if not isinstance(part, int) or part < 1 or total % part:
        raise ValueError(f"{what} must be a positive divisor of {of} ({total}), not {part!r}")


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
