"""The host side of the accelerator: nnabla arrays in, nnabla arrays out.

The checking, packing and float32 epilogue live in :mod:`finngen.codec`, which the board
driver carries as a copy; this module describes a network to it (:func:`spec`) and turns its
input errors into finngen's. The golden model, RTL simulation and the board driver all go
through the codec, so they pack and unpack the same way.
"""
import numpy as np

from . import codec, golden, ir
from .errors import InputDataError


def spec(network: ir.Network, interface: dict | None = None) -> dict:
    """What :mod:`finngen.codec` needs to know about ``network`` (and a build's ``interface``)."""
    last = network.last
    scores = isinstance(last, ir.MatrixLayer) and last.threshold is None
    arrays = last.epilogue.arrays() if scores else None
    t = network.input.stream_type
    out = last.out_shape
    return {"input": {"shape": list(network.input.nnabla_shape), "binarize": network.input.binarize,
                      "bits": t.bits, "signed": t.signed},
            "output": {"shape": list(network.output.nnabla_shape),
                       "stream_shape": [out.height, out.width, out.channels], "epilogue": arrays,
                       "function": network.output.function},
            "interface": interface}


def encode_input(network: ir.Network, x) -> np.ndarray:
    """Check ``x`` (N, *input shape) and return the input stream (N, H, W, C)."""
    x = np.asarray(x)
    return next(encode_blocks(network, x, max(len(x), 1) if x.ndim else 1))


def check_input(network: ir.Network, x):
    """Raise :class:`InputDataError` unless ``x`` is a non-empty array of numbers (N, *input shape)."""
    try:
        codec.check_array(spec(network)["input"], x)
    except codec.InputError as e:
        raise InputDataError(str(e), fix=e.fix) from None


def encode_blocks(network: ir.Network, x, size: int):
    """Check ``x`` (N, *input shape) and yield its input stream in blocks of ``size`` images, so
    that only one block is in memory; an error names the
    index in the whole of ``x`` (an array, or an array-like with its shape, ndim, dtype and
    slices, such as :class:`finngen.npyfile.NpyFile`)."""
    x = x if hasattr(x, "shape") else np.asarray(x)
    spec_input = spec(network)["input"]
    check_input(network, x)
    try:
        for first in range(0, len(x), size):
            yield codec.encode_input(spec_input, x[first:first + size], first)
    except codec.InputError as e:
        raise InputDataError(str(e), fix=e.fix) from None


def decode_output(network: ir.Network, y) -> np.ndarray:
    """The last layer's stream (N, H, W, C) as nnabla's float32 output (N, *output shape)."""
    return codec.decode_output(spec(network)["output"], y)


def run_golden(network: ir.Network, x) -> np.ndarray:
    """nnabla's output for input ``x``, computed by the golden model."""
    return np.concatenate(list(golden_blocks(network, x)))


def golden_blocks(network: ir.Network, x):
    """nnabla's output for input ``x`` block by block, in bounded memory (see :func:`encode_blocks`)."""
    streams = encode_blocks(network, x, golden.block_images(network))
    for y in golden.forward_blocks(network, streams):
        yield decode_output(network, y)


def nnabla_input(network: ir.Network, stream) -> np.ndarray:
    """An nnabla input array whose encoding is ``stream``: the inverse of :func:`encode_input`
    (a binarized input's bits become +1.0/-1.0)."""
    stream = np.asarray(stream)
    values = np.where(stream > 0, 1.0, -1.0) if network.input.binarize else stream
    if len(network.input.nnabla_shape) == 3:
        values = values.transpose(0, 3, 1, 2)
    return values.reshape((len(stream),) + tuple(network.input.nnabla_shape)).astype(np.float32)
