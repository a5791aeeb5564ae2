"""The host side of the accelerator: nnabla arrays in, nnabla arrays out.

Turns the array that nnabla's input variable takes into the accelerator's input stream, and
the last layer's output stream into what nnabla's output variable holds (running the float32
epilogue of the last layer). The golden model, RTL simulation and the board driver all use
these functions, so they pack and unpack the same way.
"""
import numpy as np

from . import golden, ir
from .errors import InputDataError


def encode_input(network: ir.Network, x) -> np.ndarray:
    """Check ``x`` (N, *input shape) and return the input stream (N, H, W, C)."""
    spec = network.input
    x = np.asarray(x)
    expected = tuple(spec.nnabla_shape)
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise InputDataError(f"input has shape {x.shape}, but the model takes (N, {', '.join(map(str, expected))})",
                             fix=f"give an array of shape (N,) + {expected}")
    if x.shape[0] == 0:
        raise InputDataError("input holds no images", fix="give at least one image")
    if x.dtype.kind not in "biuf":
        raise InputDataError(f"input has dtype {x.dtype}, not a number type", fix="save a float32 or integer array")
    _first_bad(x, ~np.isfinite(x) if x.dtype.kind == "f" else None, "is not a finite number")
    if spec.binarize:
        # BinaryTanh: exactly 0 gives -1, like any x <= 0
        values = (x > 0).astype(np.uint8)
    else:
        t = spec.stream_type
        _first_bad(x, x != np.round(x) if x.dtype.kind == "f" else None,
                   "is not an integer", "the model's first layer takes integers: quantize the images first")
        _first_bad(x, (x < t.min) | (x > t.max), f"is outside the {t} input range [{t.min}, {t.max}]",
                   "set --input-bits/--input-signed to the range the images use")
        values = x.astype(np.int64)
    return to_stream(values)


def _first_bad(x, bad, what, fix=None):
    if bad is None or not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    raise InputDataError(f"input value at index {index} ({x[index]!r}) {what}", fix=fix)


def to_stream(values):
    """(N, C, H, W) becomes (N, H, W, C); a flat (N, ...) becomes (N, 1, 1, F)."""
    if values.ndim == 4:
        return values.transpose(0, 2, 3, 1)
    return values.reshape(values.shape[0], 1, 1, -1)


def decode_output(network: ir.Network, y) -> np.ndarray:
    """The last layer's stream (N, H, W, C) as nnabla's float32 output (N, *output shape)."""
    last = network.last
    if isinstance(last, ir.MatrixLayer) and last.threshold is None:
        values = last.epilogue(y)
    else:
        values = np.where(np.asarray(y) != 0, np.float32(1), np.float32(-1))
    # the stream is channels-innermost; nnabla is channels-first
    values = np.asarray(values).transpose(0, 3, 1, 2)
    return values.reshape((values.shape[0],) + tuple(network.output.nnabla_shape))


def run_golden(network: ir.Network, x) -> np.ndarray:
    """nnabla's output for input ``x``, computed by the golden model."""
    return decode_output(network, golden.forward(network, encode_input(network, x)))


def pack_words(values, bits: int, lanes: int, width: int) -> np.ndarray:
    """Pack elements (..., n) into stream words (..., n / lanes, width / 8) of little-endian bytes:
    element i of a word at bits [i * bits, (i + 1) * bits), two's complement, zero above."""
    v = np.asarray(values, dtype=np.int64) & ((1 << bits) - 1)
    v = v.reshape(v.shape[:-1] + (v.shape[-1] // lanes, lanes))
    b = ((v[..., None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(v.shape[:-1] + (lanes * bits,))
    b = np.concatenate([b, np.zeros(b.shape[:-1] + (width - lanes * bits,), np.uint8)], axis=-1)
    return np.packbits(b, axis=-1, bitorder="little")


def unpack_words(words, bits: int, lanes: int, signed: bool) -> np.ndarray:
    """The inverse of :func:`pack_words`: words (..., beats, width / 8) to elements (..., beats * lanes)."""
    words = np.asarray(words, dtype=np.uint8)
    b = np.unpackbits(words, axis=-1, bitorder="little")[..., :lanes * bits]
    b = b.reshape(b.shape[:-1] + (lanes, bits)).astype(np.int64)
    v = (b << np.arange(bits)).sum(axis=-1)
    if signed:
        v = np.where(v >= 1 << (bits - 1), v - (1 << bits), v)
    return v.reshape(v.shape[:-2] + (-1,))


def nnabla_input(network: ir.Network, stream) -> np.ndarray:
    """An nnabla input array whose encoding is ``stream``: the inverse of :func:`encode_input`
    (a binarized input's bits become +1.0/-1.0)."""
    stream = np.asarray(stream)
    values = np.where(stream > 0, 1.0, -1.0) if network.input.binarize else stream
    if len(network.input.nnabla_shape) == 3:
        values = values.transpose(0, 3, 1, 2)
    return values.reshape((len(stream),) + tuple(network.input.nnabla_shape)).astype(np.float32)
