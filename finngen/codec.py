"""Between nnabla arrays and the accelerator's AXI4-Stream words: the host side of a build.

This module needs numpy and nothing from finngen: the build copies this very file into the
board driver, so ``finngen run``, the RTL simulation and the PYNQ driver check, pack, unpack
and finish the float32 scores with one implementation.

What it needs to know about a network is a *spec*, a dict that ``finngen.host.spec`` writes:

* ``input``: nnabla's input shape (without batch), ``binarize`` (BinaryTanh on the host), and
  the stream's ``bits``/``signed`` otherwise;
* ``output``: nnabla's output ``shape``, the last layer's ``stream_shape`` (H, W, C), and
  ``epilogue``, the last layer's float32 arrays (alpha, bias, bn_mean, bn_var, bn_gamma,
  bn_beta, bn_eps, each optional), or None when the last layer outputs bits;
* ``interface``: the accelerator's stream widths as ``build.json`` has them.

Streams are (N, H, W, C) integer arrays, channels innermost; words are little-endian bytes.
"""
import json
from pathlib import Path

import numpy as np

SPEC_FILE = "accelerator.json"
EPILOGUE_FILE = "epilogue.npz"
EPILOGUE_KEYS = ("alpha", "bias", "bn_mean", "bn_var", "bn_gamma", "bn_beta", "bn_eps")


class InputError(ValueError):
    """Images that the model does not take. ``str()`` is the problem; ``fix`` says what to do."""

    def __init__(self, message, fix=None):
        super().__init__(message)
        self.fix = fix


def input_range(bits, signed):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def check_array(spec_input, x):
    """Raise :class:`InputError` unless ``x`` is a non-empty array of numbers (N, *input shape)."""
    expected = tuple(spec_input["shape"])
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise InputError(f"input has shape {x.shape}, but the model takes (N, {', '.join(map(str, expected))})",
                         fix=f"give an array of shape (N,) + {expected}")
    if x.shape[0] == 0:
        raise InputError("input holds no images", fix="give at least one image")
    if x.dtype.kind not in "biuf":
        raise InputError(f"input has dtype {x.dtype}, not a number type", fix="save a float32 or integer array")


def encode_input(spec_input, x, first=0) -> np.ndarray:
    """Check ``x`` (N, *input shape) and return the input stream (N, H, W, C). ``x`` may be a
    block of a larger input that starts at image ``first``: messages give the index in the whole."""
    x = np.asarray(x)
    check_array(spec_input, x)
    _first_bad(x, ~np.isfinite(x) if x.dtype.kind == "f" else None, "is not a finite number", first=first)
    if spec_input["binarize"]:
        # BinaryTanh: exactly 0 gives -1, like any x <= 0
        values = (x > 0).astype(np.uint8)
    else:
        bits, signed = spec_input["bits"], spec_input["signed"]
        lo, hi = input_range(bits, signed)
        _first_bad(x, x != np.round(x) if x.dtype.kind == "f" else None,
                   "is not an integer", "the model's first layer takes integers: quantize the images first", first)
        _first_bad(x, (x < lo) | (x > hi), f"is outside the {'int' if signed else 'uint'}{bits} input range "
                                           f"[{lo}, {hi}]", "set --input-bits/--input-signed to the range the images use",
                   first)
        values = x.astype(np.int64)
    return to_stream(values)


def holding(bits):
    """The narrowest numpy integer type that holds every ``bits``-bit element, signed or not."""
    return np.int16 if bits <= 8 else np.int32 if bits <= 16 else np.int64


def _first_bad(x, bad, what, fix=None, first=0):
    if bad is None or not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    whole = (first + index[0],) + index[1:]
    raise InputError(f"input value at index {whole} ({x[index]!r}) {what}", fix=fix)


def to_stream(values):
    """(N, C, H, W) becomes (N, H, W, C); a flat (N, ...) becomes (N, 1, 1, F)."""
    if values.ndim == 4:
        return values.transpose(0, 2, 3, 1)
    return values.reshape(values.shape[0], 1, 1, -1)


def decode_output(spec_output, y) -> np.ndarray:
    """The last layer's stream (N, H, W, C) as nnabla's float32 output (N, *output shape)."""
    arrays = spec_output["epilogue"]
    if arrays is None:
        values = np.where(np.asarray(y) != 0, np.float32(1), np.float32(-1))
    else:
        values = epilogue(arrays, y)
    # the stream is channels-innermost; nnabla is channels-first
    values = np.asarray(values).transpose(0, 3, 1, 2)
    values = values.reshape((values.shape[0],) + tuple(spec_output["shape"]))
    return output_function(spec_output.get("function"), values)


def epilogue(arrays, s) -> np.ndarray:
    """``BN(alpha * s + bias)`` in float32 on integer sums ``s`` whose last axis is the channel,
    one float32 operation at a time in nnabla's order, so the scores equal nnabla's bit for bit."""
    y = np.asarray(s).astype(np.float32)
    if "alpha" in arrays:
        y = y * arrays["alpha"]
    if "bias" in arrays:
        y = y + arrays["bias"]
    if "bn_mean" in arrays:
        std = np.sqrt(arrays["bn_var"] + arrays["bn_eps"])
        y = ((y - arrays["bn_mean"]) * arrays["bn_gamma"]) / std + arrays["bn_beta"]
    return y


# -- Output functions after the last layer (frontend, issue 13.6) ------------------------------


def output_function(function, y) -> np.ndarray:
    """nnabla's ``Softmax`` or ``Sigmoid`` after the last layer on its scores ``y`` (N, *shape),
    in float32 in the order of nnabla's CPU code; ``function`` is None or ``{"type": ...,
    "axis": ...}`` with the axis counted without the batch. ``np.exp`` and nnabla's ``std::exp``
    may differ in the last bit, so the result is within one ulp of nnabla's."""
    if function is None:
        return y
    y = np.asarray(y, np.float32)
    if function["type"] == "Sigmoid":
        return np.float32(1) / (np.float32(1) + _exp(-y))
    axis = function["axis"] + 1
    e = _exp(y - y.max(axis=axis, keepdims=True))
    total = np.zeros_like(np.take(e, [0], axis=axis))
    for i in range(e.shape[axis]):      # nnabla sums the exponentials one after the other
        total += np.take(e, [i], axis=axis)
    return e / total


def _exp(x):
    """float32 exp as nnabla's ``std::exp`` computes it: the C library's ``expf``, one value at a
    time (numpy's float32 exp differed from nnabla's in 39% of 200,000 values, this in none)."""
    global _expf
    if _expf is None:
        import ctypes
        import ctypes.util
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        libm.expf.restype, libm.expf.argtypes = ctypes.c_float, [ctypes.c_float]
        _expf = np.frompyfunc(libm.expf, 1, 1)
    with np.errstate(over="ignore"):
        return np.asarray(_expf(np.asarray(x, np.float32)), np.float32)


_expf = None


def pack_words(values, bits: int, lanes: int, width: int) -> np.ndarray:
    """Pack elements (..., n) into stream words (..., n / lanes, width / 8) of little-endian bytes:
    element i of a word at bits [i * bits, (i + 1) * bits), two's complement, zero above.

    Whole-array numpy throughout: elements of 8, 16, 32 or 64 bits are their own little-endian
    bytes, 1-bit elements go through ``packbits``; other widths are spread into bits first."""
    v = np.asarray(values)
    shape = v.shape[:-1] + (v.shape[-1] // lanes,)
    v = v.reshape(shape + (lanes,))
    if bits in (8, 16, 32, 64):
        data = v.astype(f"<u{bits // 8}").view(np.uint8)    # astype wraps negatives to two's complement
    elif bits == 1:
        data = np.packbits(v & 1, axis=-1, bitorder="little")
    else:
        v = v.astype(np.int64) & ((1 << bits) - 1)
        b = ((v[..., None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(shape + (lanes * bits,))
        data = np.packbits(b, axis=-1, bitorder="little")
    words = np.zeros(shape + (width // 8,), np.uint8)
    words[..., :data.shape[-1]] = data
    return words


def unpack_words(words, bits: int, lanes: int, signed: bool) -> np.ndarray:
    """The inverse of :func:`pack_words`: words (..., beats, width / 8) to int64 elements (..., beats * lanes)."""
    words = np.asarray(words, dtype=np.uint8)
    if bits in (8, 16, 32, 64):
        data = np.ascontiguousarray(words[..., :lanes * bits // 8])
        v = data.view(f"<{'i' if signed else 'u'}{bits // 8}").astype(np.int64)
    elif bits == 1:
        v = np.unpackbits(words, axis=-1, count=lanes, bitorder="little").astype(np.int64)
        v = -v if signed else v     # a signed 1-bit element is 0 or -1
    else:
        b = np.unpackbits(words, axis=-1, bitorder="little")[..., :lanes * bits]
        b = b.reshape(b.shape[:-1] + (lanes, bits)).astype(np.int64)
        v = (b << np.arange(bits)).sum(axis=-1)
        if signed:
            v = np.where(v >= 1 << (bits - 1), v - (1 << bits), v)
    return v.reshape(v.shape[:-2] + (-1,))


def pack_frames(interface, stream, width=None) -> np.ndarray:
    """Input streams (N, H, W, C) as words (N, beats, width / 8). ``width`` is the word size in
    memory (default: the accelerator's ``in_width``); a wider word carries one beat zero-extended."""
    bits = interface["in_bits"]
    stream = np.ascontiguousarray(stream, dtype=holding(bits))    # one pass into raster order
    return pack_words(stream.reshape(len(stream), -1), bits, interface["in_lanes"], width or interface["in_width"])


def unpack_frames(interface, words, stream_shape) -> np.ndarray:
    """Output words (N, beats * word bytes) of any word size in memory as streams (N, H, W, C)."""
    words = np.asarray(words, dtype=np.uint8)
    beats = words.reshape(len(words), interface["out_beats"], -1)
    values = unpack_words(beats, interface["out_bits"], interface["out_lanes"], interface["out_signed"])
    return values.reshape((len(words),) + tuple(stream_shape))


def save(directory, spec):
    """Write ``spec`` as JSON, with the epilogue's float32 arrays in an .npz beside it."""
    directory = Path(directory)
    output = dict(spec["output"])
    arrays = output.pop("epilogue")
    output["scores"] = arrays is not None
    (directory / SPEC_FILE).write_text(json.dumps(dict(spec, output=output), indent=2) + "\n")
    if arrays is not None:
        np.savez(directory / EPILOGUE_FILE, **arrays)


def load(directory) -> dict:
    """The spec that :func:`save` wrote to ``directory``."""
    directory = Path(directory)
    spec = json.loads((directory / SPEC_FILE).read_text())
    output = spec["output"]
    arrays = None
    if output.pop("scores"):
        with np.load(directory / EPILOGUE_FILE, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    output["epilogue"] = arrays
    return spec
